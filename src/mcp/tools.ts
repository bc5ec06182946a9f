import { z } from "zod";
import type { Engine, TaskOutput } from "../engine/engine.ts";
import { isBackburnerError } from "../errors.ts";
import { describe, TASK_STATUSES, viewStatus, viewTask } from "../task.ts";
import { LINE_WINDOW_CHARS, waitForTasks } from "../engine/wait.ts";
import { compileLinePattern } from "../logs/pattern.ts";
import { grepText } from "../logs/grep.ts";
import type { CallToolResult, McpServer } from "./sdk.ts";

const taskView = {
  task_id: z.string().describe("The task's id"),
  label: z.string().nullable().describe("The label given at start, if any"),
  status: z.enum(TASK_STATUSES).describe(
    "working, completed (exit 0), failed (non-zero exit), cancelled, timed_out or interrupted",
  ),
  command: z.string(),
  cwd: z.string(),
  exit_code: z.number().int().nullable().describe("null while working or when none was recorded"),
  signal: z.string().nullable().describe("The signal that ended the command, if one did"),
  status_message: z.string().describe("One sentence on the state the task is in"),
  created_at: z.string().describe("ISO 8601"),
  started_at: z.string().nullable().describe("ISO 8601"),
  ended_at: z.string().nullable().describe("ISO 8601; null while working"),
  duration_seconds: z.number().nullable().describe("Run time so far, or in all once ended"),
  timeout_seconds: z.number().nullable(),
  pid: z.number().int().nullable().describe("Process group id of the task's process tree"),
  output_bytes: z.number().int().describe("Size of the output log so far"),
};

const statusView = {
  ...taskView,
  progress: z.object({
    percent: z.number().optional(),
    current: z.number().optional(),
    total: z.number().optional(),
    message: z.string().optional(),
    updated_at: z.string().describe("ISO 8601: when this progress was first seen"),
  }).nullable().describe("The latest progress the output shows, or null"),
  seconds_since_output: z.number().nullable().describe("Seconds since the output last grew"),
  waiting_for_input: z.boolean().describe(
    "True when the last output line looks like a prompt: the task will not finish by itself",
  ),
};

const commandResultFields = {
  task_id: z.string(),
  status: z.enum(TASK_STATUSES),
  exit_code: z.number().int().nullable(),
  signal: z.string().nullable(),
  status_message: z.string(),
  output: z.string().describe("The output read, as text; for grep, the matches as text"),
  output_bytes: z.number().int().describe("Size of the whole output log"),
  start_offset: z.number().int().describe("Byte offset where the returned output starts"),
  next_offset: z.number().int().describe("Byte offset to pass as offset to read what follows"),
  omitted_before: z.number().int().describe("Bytes before start_offset not returned"),
  omitted_after: z.number().int().describe("Bytes after next_offset not returned"),
  output_truncated: z.boolean().describe("True when any output was left out"),
  note: z.string().nullable().describe("What was left out and how to get it"),
};

/** The result of run_command and the default task_result: status plus the end of the output. */
export const commandResultShape = commandResultFields;

const taskResultShape = {
  ...commandResultFields,
  matches: z.array(z.object({
    line: z.number().int().describe("Line number, from 1"),
    offset: z.number().int().describe("Byte offset of the line: pass it as offset to read on"),
    text: z.string(),
    before: z.array(z.string()),
    after: z.array(z.string()),
  })).optional().describe("With grep: the matching lines"),
  total_matches: z.number().int().optional().describe("With grep: every match in the log"),
};

function resultView(output: TaskOutput): Record<string, unknown> {
  const { task } = output;
  const base = {
    task_id: task.id,
    status: task.status,
    exit_code: task.exitCode,
    signal: task.signal,
    status_message: describe(task),
  };
  if (output.grep) {
    const grep = output.grep;
    const text = grepText(grep.matches);
    return {
      ...base,
      output: text,
      output_bytes: grep.totalBytes,
      start_offset: 0,
      next_offset: grep.totalBytes,
      omitted_before: 0,
      omitted_after: 0,
      output_truncated: grep.truncated,
      note: grep.note,
      matches: grep.matches,
      total_matches: grep.totalMatches,
    };
  }
  const slice = output.slice!;
  return {
    ...base,
    output: slice.text,
    output_bytes: slice.totalBytes,
    start_offset: slice.startOffset,
    next_offset: slice.nextOffset,
    omitted_before: slice.omittedBefore,
    omitted_after: slice.omittedAfter,
    output_truncated: slice.omittedBefore > 0 || slice.omittedAfter > 0,
    note: slice.note,
  };
}

/** What run_command returns, plain or as a task's result: an error result when it did not succeed. */
export async function commandResult(engine: Engine, id: string): Promise<CallToolResult> {
  const structured = resultView(await engine.output(id));
  return {
    content: [{ type: "text", text: JSON.stringify(structured, null, 2) }],
    structuredContent: structured,
    isError: structured.status !== "completed",
  };
}

const taskIdInput = z.string().describe(
  'The task_id that start_task returned, e.g. "k3x9m2p7q4wz"',
);

const LIST_COMMAND_CHARS = 300;

function reply(structured: Record<string, unknown>): CallToolResult {
  return {
    content: [{ type: "text", text: JSON.stringify(structured, null, 2) }],
    structuredContent: structured,
  };
}

/**
 * Runs a handler and turns any error into an isError result of one sentence: an agent can act on
 * the message, and no stack trace reaches it (the stack goes to stderr for the person running us).
 */
async function guarded(
  log: (message: string) => void,
  handler: () => Promise<Record<string, unknown>> | Record<string, unknown>,
): Promise<CallToolResult> {
  try {
    return reply(await handler());
  } catch (error) {
    const expected = error instanceof RangeError || error instanceof TypeError ||
      (error instanceof Error && error.constructor === Error) || isBackburnerError(error);
    if (!expected) log(`tool failed: ${error instanceof Error ? error.stack : String(error)}`);
    const message = error instanceof Error ? error.message : String(error);
    return { isError: true, content: [{ type: "text", text: message }] };
  }
}

/** The plain tools every MCP client can use: start a task, look at it, stop it, list tasks. */
export function registerTaskTools(
  server: McpServer,
  engine: Engine,
  log: (message: string) => void,
): void {
  server.registerTool("start_task", {
    title: "Start a background task",
    description:
      "Run a shell command in the background and return at once with its task_id. Use it for anything that may take more than a few seconds — test suites, builds, installs, scrapes, batch jobs — so you can keep working and collect the result later with task_status / task_result. The command runs with bash (sh if bash is missing), stdin empty, stdout and stderr captured together. It keeps running if the MCP server restarts.",
    inputSchema: {
      command: z.string().describe(
        'Shell command line, e.g. "npm test 2>&1" or "make -j4 && ./run"',
      ),
      cwd: z.string().optional().describe(
        "Working directory (absolute, or relative to the server's). Default: the server's working directory",
      ),
      timeout_seconds: z.number().optional().describe(
        "Stop the task (whole process tree) after this many seconds; it ends as timed_out. Default: no timeout",
      ),
      env: z.record(z.string(), z.string()).optional().describe(
        'Extra environment variables for this task only, e.g. {"CI": "1", "NODE_ENV": "test"}',
      ),
      label: z.string().optional().describe(
        'A short name shown in lists and usable as a list_tasks filter, e.g. "unit-tests"',
      ),
      stdin: z.string().optional().describe(
        "Text fed to the command's standard input, which is then closed. Default: empty stdin, so nothing waits for input",
      ),
    },
    outputSchema: taskView,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
  }, ({ command, cwd, timeout_seconds, env, label, stdin }) =>
    guarded(log, () => {
      const task = engine.start({
        command,
        cwd,
        timeoutSeconds: timeout_seconds,
        env,
        label,
        stdin,
      });
      return viewTask(task, 0, Date.now()) as unknown as Record<string, unknown>;
    }));

  server.registerTool("task_status", {
    title: "Task status",
    description:
      "Check a task's status without reading its output: working, completed, failed, cancelled, timed_out or interrupted, with exit code, times, duration, output size, the progress its output shows, seconds since it last printed, and whether it seems to wait for input. Cheap; use it to see whether a task has ended or how far it got.",
    inputSchema: { task_id: taskIdInput },
    outputSchema: statusView,
    annotations: { readOnlyHint: true, idempotentHint: true },
  }, ({ task_id }) =>
    guarded(log, async () => {
      const { task, outputBytes, output } = await engine.inspect(task_id);
      return viewStatus(task, outputBytes, output, Date.now()) as unknown as Record<
        string,
        unknown
      >;
    }));

  server.registerTool("task_result", {
    title: "Task output",
    description:
      "Read a task's status, exit code and output (stdout and stderr interleaved); works while it runs. Default: the end of the output, as clean text. tail_lines / head_lines for the last / first N lines; offset (+ max_bytes) to read from a byte offset and follow a running task with next_offset, reading only what is new; grep for the matching lines with line numbers. Every reply is capped and its note says what was left out and how to get it.",
    inputSchema: {
      task_id: taskIdInput,
      tail_lines: z.number().optional().describe("The last N lines"),
      head_lines: z.number().optional().describe("The first N lines"),
      offset: z.number().optional().describe(
        "Read from this byte offset; pass the previous reply's next_offset to get only new output",
      ),
      max_bytes: z.number().optional().describe("With offset: read at most this many bytes"),
      grep: z.string().optional().describe(
        'A regular expression: return the matching lines with line numbers, e.g. "FAIL|Error". Matched in linear time: with unbounded repetition (*, +, {n,}), backreferences and lookaheads are refused',
      ),
      context: z.number().optional().describe("With grep: lines around each match, 0 to 20"),
      max_matches: z.number().optional().describe("With grep: most matches returned, 1 to 1000"),
      raw: z.boolean().optional().describe(
        "true: bytes as written. Default: clean text (ANSI escapes removed, \\r redraws collapsed, very long lines cut)",
      ),
    },
    outputSchema: taskResultShape,
    annotations: { readOnlyHint: true, idempotentHint: true },
  }, (args) =>
    guarded(log, async () => {
      const output = await engine.output(args.task_id, {
        tailLines: args.tail_lines,
        headLines: args.head_lines,
        offset: args.offset,
        maxBytes: args.max_bytes,
        grep: args.grep === undefined ? undefined : compilePattern(args.grep),
        context: args.context,
        maxMatches: args.max_matches,
        raw: args.raw,
      });
      return resultView(output);
    }));

  server.registerTool("cancel_task", {
    title: "Cancel a task",
    description:
      "Stop a running task and every process it started (SIGTERM, then SIGKILL after a grace period). Returns only when all of them are gone, with the final status. Cancelling a task that already ended keeps its status and stops any background processes it left running.",
    inputSchema: { task_id: taskIdInput },
    outputSchema: {
      ...taskView,
      already_ended: z.boolean().describe("True when the task had ended before this cancel"),
      leftover_processes_stopped: z.number().int().describe(
        "Background processes an already-ended task had left running, stopped by this cancel",
      ),
    },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  }, ({ task_id }) =>
    guarded(log, async () => {
      const { task, alreadyEnded, leftoversStopped } = await engine.cancel(task_id);
      return {
        ...viewTask(task, engine.outputBytes(task.id), Date.now()),
        already_ended: alreadyEnded,
        leftover_processes_stopped: leftoversStopped,
      };
    }));

  server.registerTool("list_tasks", {
    title: "List tasks",
    description:
      "List recent tasks, newest first, with their status — to find a task_id again or see what is still running. Filter by status, label or cwd. Long commands are shortened here; task_status shows them whole.",
    inputSchema: {
      limit: z.number().optional().describe("How many tasks, from 1 to 1000. Default 20"),
      status: z.enum(TASK_STATUSES).optional().describe(
        'Only tasks with this status, e.g. "working"',
      ),
      label: z.string().optional().describe("Only tasks started with this label"),
      cwd: z.string().optional().describe("Only tasks that run in this directory"),
    },
    outputSchema: {
      tasks: z.array(z.object(taskView)),
      count: z.number().int().describe("Tasks in this reply"),
      total: z.number().int().describe("Tasks that match the filter in all"),
    },
    annotations: { readOnlyHint: true, idempotentHint: true },
  }, ({ limit, status, label, cwd }) =>
    guarded(log, () => {
      const { tasks, total } = engine.list({ limit, status, label, cwd });
      const shown = tasks.map((task) => {
        const view = viewTask(task, engine.outputBytes(task.id), Date.now());
        if (view.command.length > LIST_COMMAND_CHARS) {
          view.command = `${view.command.slice(0, LIST_COMMAND_CHARS)}…`;
        }
        return view;
      });
      return { tasks: shown, count: shown.length, total };
    }));

  server.registerTool("wait_for_task", {
    title: "Wait for tasks",
    description:
      'Wait until one ("any") or every ("all") listed task has ended, or until a regex appears in their output (until_pattern, e.g. "listening on"), or until the timeout; returns each task\'s status either way. Use it instead of polling task_status in a loop. Returns at once for tasks already ended. The timeout is capped at 50 s so the call ends before clients give up; call again to keep waiting.',
    inputSchema: {
      task_ids: z.array(z.string()).describe("The task_ids to wait for (1 to 50)"),
      mode: z.enum(["any", "all"]).optional().describe(
        '"any": return when one has ended; "all": when every one has. Default "any"',
      ),
      timeout_seconds: z.number().optional().describe(
        `Most seconds to wait, up to ${MAX_WAIT_SECONDS}. Default ${DEFAULT_WAIT_SECONDS}`,
      ),
      until_pattern: z.string().optional().describe(
        `A regular expression: return as soon as a line of output matches it, the last line too before its newline is printed (a prompt such as "Password: "). A line longer than ${
          LINE_WINDOW_CHARS / 1024
        } KiB is tested on its last ${
          LINE_WINDOW_CHARS / 1024
        } KiB. Matched in linear time: with unbounded repetition (*, +, {n,}), backreferences and lookaheads are refused`,
      ),
    },
    outputSchema: {
      reason: z.enum(["ended", "pattern", "timeout"]).describe(
        "Why the wait ended: the tasks ended, the pattern appeared, or the timeout passed",
      ),
      waited_seconds: z.number(),
      tasks: z.array(z.object(taskView)),
      match: z.object({ task_id: z.string(), line: z.string() }).nullable().describe(
        "The task and line that matched until_pattern",
      ),
      note: z.string().nullable().describe("A remark on how the arguments were taken, if any"),
    },
    annotations: { readOnlyHint: true, idempotentHint: true },
  }, ({ task_ids, mode, timeout_seconds, until_pattern }, extra) =>
    guarded(log, async () => {
      const ids = validateWaitIds(task_ids);
      for (const id of ids) engine.status(id);
      const requested = timeout_seconds ?? DEFAULT_WAIT_SECONDS;
      if (!(Number.isFinite(requested) && requested >= 0)) {
        throw new RangeError(
          `timeout_seconds ${requested} is out of range: pass 0 to ${MAX_WAIT_SECONDS} seconds`,
        );
      }
      const seconds = Math.min(requested, MAX_WAIT_SECONDS);
      const pattern = until_pattern === undefined ? undefined : compilePattern(until_pattern);
      const progressToken = extra._meta?.progressToken;
      let lastProgress = -1;
      let lastSent = 0;
      const outcome = await waitForTasks(engine, {
        taskIds: ids,
        mode: mode ?? "any",
        timeoutMs: seconds * 1000,
        pattern,
        onProgress: progressToken === undefined ? undefined : async (ended, total) => {
          // One notification per second at most, plus one whenever the count changes.
          const now = Date.now();
          if (ended === lastProgress && now - lastSent < 1000) return;
          lastProgress = ended;
          lastSent = now;
          await extra.sendNotification({
            method: "notifications/progress",
            params: {
              progressToken,
              progress: ended,
              total,
              message: `${ended} of ${total} tasks ended`,
            },
          }).catch(() => {});
        },
      });
      return {
        reason: outcome.reason,
        waited_seconds: Math.round(outcome.waitedMs) / 1000,
        tasks: outcome.tasks.map((task) => viewTask(task, engine.outputBytes(task.id), Date.now())),
        match: outcome.match && { task_id: outcome.match.taskId, line: outcome.match.line },
        note: requested > MAX_WAIT_SECONDS
          ? `timeout_seconds ${requested} was capped at ${MAX_WAIT_SECONDS}; call again to keep waiting`
          : null,
      };
    }));
}

const DEFAULT_WAIT_SECONDS = 30;
const MAX_WAIT_SECONDS = 50;

function validateWaitIds(ids: string[]): string[] {
  if (ids.length === 0 || ids.length > 50) {
    throw new RangeError(
      `task_ids has ${ids.length} ids: pass 1 to 50 task_ids from start_task or list_tasks`,
    );
  }
  return [...new Set(ids)];
}

/**
 * A user's regex, or a RangeError saying what is wrong with it: invalid, or one that could only be
 * matched by backtracking without bound (see pattern.ts), refused before any output is read.
 */
export function compilePattern(source: string): RegExp {
  if (source.length === 0 || source.length > 1000) {
    throw new RangeError("The pattern must be 1 to 1000 characters: pass a regular expression");
  }
  compileLinePattern(source);
  return new RegExp(source);
}
