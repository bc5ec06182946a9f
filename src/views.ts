/**
 * The wire views: what the MCP tools, the resources and the command line's --json show of a task,
 * defined once as zod schemas (the tools' output schemas) with their types inferred from them, and
 * the functions that build them from the domain model.
 *
 * @module
 */

import { z } from "zod";
import type { Engine, TaskOutput } from "./engine/engine.ts";
import { type InputState, NO_INPUT } from "./engine/input.ts";
import { grepText } from "./logs/grep.ts";
import type { OutputState } from "./logs/progress.ts";
import { describe, type Task, TASK_STATUSES } from "./task.ts";

const statusSchema = z.enum(TASK_STATUSES);

/** A task as tools and the command line show it. */
export const TaskViewSchema = z.object({
  task_id: z.string().describe("The task's id"),
  label: z.string().nullable().describe("The label given at start, if any"),
  status: statusSchema.describe(
    "queued (waits for a free slot in its queue or for the tasks it runs after), working, completed (exit 0), failed (non-zero exit), cancelled, timed_out or interrupted",
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
  queue: z.string().describe('The queue the task runs in ("default" unless one was given)'),
  position: z.number().int().nullable().describe(
    "While queued for a slot in its queue: its place in line, from 1; else null",
  ),
  after: z.array(z.string()).describe("The task_ids this task was started after"),
  waiting_on: z.array(z.string()).describe(
    "While queued: the task_ids of `after` that have not completed yet",
  ),
  next_attempt_at: z.string().nullable().describe(
    "While queued for a retry: ISO 8601, the earliest the next attempt starts",
  ),
  attempt: z.number().int().describe("Which run of the command this is, from 1"),
  attempts: z.number().int().describe("Most runs: 1 plus the retries asked for"),
  restart_of: z.string().nullable().describe("The task this one restarts, if it is a restart"),
  idempotency_key: z.string().nullable().describe("The idempotency_key given at start, if any"),
  executor: z.enum(["local", "slurm"]).describe(
    'Where it runs: "local" (next to the server) or "slurm" (a Slurm job)',
  ),
  slurm_job_id: z.string().nullable().describe("Its Slurm job id once submitted (slurm tasks)"),
});
export type TaskView = z.infer<typeof TaskViewSchema>;

/** task_status, the status resource and `backburner show --json` / `ls --json`. */
export const StatusViewSchema = TaskViewSchema.extend({
  progress: z.object({
    percent: z.number().optional(),
    current: z.number().optional(),
    total: z.number().optional(),
    message: z.string().optional(),
    updated_at: z.string().describe("ISO 8601: when this progress was first seen"),
  }).nullable().describe("The latest progress the output shows, or null"),
  seconds_since_output: z.number().nullable().describe("Seconds since the output last grew"),
  waiting_for_input: z.boolean().describe(
    "True when the last output line looks like a prompt not answered yet: the task will not finish by itself",
  ),
  interactive: z.boolean().describe(
    "True when it was started with interactive: true, so send_input can answer it",
  ),
  input_open: z.boolean().describe(
    "True while send_input can write to its stdin: interactive, working, and its input not closed",
  ),
});
export type StatusView = z.infer<typeof StatusViewSchema>;

/** run_command's result and the default task_result: status plus the end of the output. */
export const CommandResultSchema = z.object({
  task_id: z.string(),
  status: statusSchema,
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
});
export type CommandResult = z.infer<typeof CommandResultSchema>;

/** task_result: a command result, with the matching lines for a grep. */
export const TaskResultSchema = CommandResultSchema.extend({
  matches: z.array(z.object({
    line: z.number().int().describe("Line number, from 1"),
    offset: z.number().int().describe("Byte offset of the line: pass it as offset to read on"),
    text: z.string(),
    before: z.array(z.string()),
    after: z.array(z.string()),
  })).optional().describe("With grep: the matching lines"),
  total_matches: z.number().int().optional().describe("With grep: every match in the log"),
});
export type TaskResult = z.infer<typeof TaskResultSchema>;

/** cancel_task: the task once stopped, and what the cancel found. */
export const CancelViewSchema = TaskViewSchema.extend({
  already_ended: z.boolean().describe("True when the task had ended before this cancel"),
  leftover_processes_stopped: z.number().int().describe(
    "Background processes an already-ended task had left running, stopped by this cancel",
  ),
});
export type CancelView = z.infer<typeof CancelViewSchema>;

/** send_input: the task, and what was written. */
export const SendInputViewSchema = TaskViewSchema.extend({
  bytes_written: z.number().int().describe("Bytes written to the task's stdin"),
  input_closed: z.boolean().describe("True when this call closed the task's input"),
  note: z.string().describe("What was done, and how to see the task's answer"),
});
export type SendInputView = z.infer<typeof SendInputViewSchema>;

/** start_task: the task, and whether an idempotency_key found it already started. */
export const StartViewSchema = TaskViewSchema.extend({
  existing: z.boolean().describe(
    "True when idempotency_key matched a task already started: that task is returned and nothing new was started",
  ),
  note: z.string().nullable().describe("Says so when an existing task was returned"),
});
export type StartView = z.infer<typeof StartViewSchema>;

/** restart_task: the new task, and which one it restarts. */
export const RestartViewSchema = TaskViewSchema.extend({
  note: z.string().describe("Which task was restarted as which"),
});
export type RestartView = z.infer<typeof RestartViewSchema>;

/** A queue as `backburner queue --json` shows it. */
export const QueueViewSchema = z.object({
  name: z.string(),
  limit: z.number().int().nullable().describe("Most tasks working at once; null: no limit"),
  working: z.number().int(),
  queued: z.number().int(),
});
export type QueueView = z.infer<typeof QueueViewSchema>;

/** list_tasks. */
export const ListViewSchema = z.object({
  tasks: z.array(TaskViewSchema),
  count: z.number().int().describe("Tasks in this reply"),
  total: z.number().int().describe("Tasks that match the filter in all"),
});
export type ListView = z.infer<typeof ListViewSchema>;

/** wait_for_task. */
export const WaitViewSchema = z.object({
  reason: z.enum(["ended", "pattern", "timeout"]).describe(
    "Why the wait ended: the tasks ended, the pattern appeared, or the timeout passed",
  ),
  waited_seconds: z.number(),
  tasks: z.array(TaskViewSchema),
  match: z.object({ task_id: z.string(), line: z.string() }).nullable().describe(
    "The task and line that matched until_pattern",
  ),
  note: z.string().nullable().describe("A remark on how the arguments were taken, if any"),
});
export type WaitView = z.infer<typeof WaitViewSchema>;

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** Why a queued task waits, as the engine tells it (engine.queueState). */
export interface QueueWait {
  /** Its place in line for a slot of its queue, from 1; null while it waits for dependencies. */
  readonly position: number | null;
  /** Dependencies that have not completed yet. */
  readonly waitingOn: readonly string[];
  /** A retry's backoff: not before this moment (ms since the epoch). */
  readonly notBefore: number | null;
}

/** Why a task waits, when it is queued; null otherwise (or when it is gone meanwhile). */
export function queueWait(engine: Engine, task: Task): QueueWait | null {
  if (task.status !== "queued") return null;
  try {
    return engine.queueState(task.id);
  } catch {
    return null;
  }
}

/** A task's view as the engine stands now: its output size and, when queued, why it waits. */
export function viewOf(engine: Engine, task: Task): TaskView {
  return viewTask(task, engine.outputBytes(task.id), Date.now(), queueWait(engine, task));
}

function taskList(ids: readonly string[]): string {
  const shown = ids.slice(0, 5).join(", ") + (ids.length > 5 ? ` and ${ids.length - 5} more` : "");
  return `${ids.length === 1 ? "task" : "tasks"} ${shown}`;
}

/**
 * Why a queued task waits and when it starts, as the end of a sentence: the tasks it runs after,
 * a retry's backoff, or its place in a full queue.
 */
export function queuedReason(task: Task, wait: QueueWait | null, now: number): string {
  const attempts = task.retries + 1;
  const attempt = task.attempt > 1 ? ` (attempt ${task.attempt} of ${attempts})` : "";
  if (wait !== null && wait.waitingOn.length > 0) {
    return `waits for ${taskList(wait.waitingOn)} to complete${attempt}`;
  }
  if (wait !== null && wait.notBefore !== null && wait.notBefore > now) {
    const seconds = Math.ceil((wait.notBefore - now) / 1000);
    return `attempt ${task.attempt} of ${attempts} starts in ${seconds} s, after the last one failed`;
  }
  if (wait !== null && wait.position !== null) {
    return `waits for a slot in queue "${task.queue}"; position ${wait.position} in line${attempt}`;
  }
  return `waits in queue "${task.queue}" to start${attempt}`;
}

/** One sentence saying why a queued task waits: "Queued: waits for task k3x9m2p7q4wz to complete". */
export function queuedMessage(task: Task, wait: QueueWait | null, now: number): string {
  // Submitted: it waits in Slurm's own queue, for the reason Slurm gives.
  if (task.slurmJobId !== null && task.statusMessage !== null) return task.statusMessage;
  return `Queued: ${queuedReason(task, wait, now)}`;
}

/**
 * `now` gives a running task's duration so far; `wait`, for a queued task, why it waits (see
 * engine.queueState).
 */
export function viewTask(
  task: Task,
  outputBytes: number,
  now: number,
  wait: QueueWait | null = null,
): TaskView {
  const end = task.endedAt ?? (task.status === "working" ? now : null);
  const queued = task.status === "queued";
  return {
    task_id: task.id,
    status: task.status,
    label: task.label,
    command: task.command,
    cwd: task.cwd,
    exit_code: task.exitCode,
    signal: task.signal,
    status_message: queued ? queuedMessage(task, wait, now) : describe(task),
    created_at: new Date(task.createdAt).toISOString(),
    started_at: iso(task.startedAt),
    ended_at: iso(task.endedAt),
    duration_seconds: task.startedAt !== null && end !== null
      ? Math.max(0, Math.round(end - task.startedAt) / 1000)
      : null,
    timeout_seconds: task.timeoutSeconds,
    pid: task.pid,
    output_bytes: outputBytes,
    queue: task.queue,
    position: queued ? wait?.position ?? null : null,
    after: [...task.after],
    waiting_on: queued ? [...wait?.waitingOn ?? []] : [],
    next_attempt_at: queued && wait?.notBefore != null && wait.notBefore > now
      ? iso(wait.notBefore)
      : null,
    attempt: task.attempt,
    attempts: task.retries + 1,
    restart_of: task.restartOf,
    idempotency_key: task.idempotencyKey,
    executor: task.executor,
    slurm_job_id: task.slurmJobId,
  };
}

/** A task's view plus what its output shows. */
export function viewStatus(
  task: Task,
  outputBytes: number,
  output: OutputState,
  now: number,
  wait: QueueWait | null = null,
  input: InputState = NO_INPUT,
): StatusView {
  return {
    ...viewTask(task, outputBytes, now, wait),
    progress: output.progress,
    seconds_since_output: output.secondsSinceOutput,
    waiting_for_input: output.waitingForInput,
    interactive: input.interactive,
    input_open: input.open,
  };
}

/** A read of a task's output: a slice (tail, head, range) or a grep's matches. */
export function viewResult(output: TaskOutput): TaskResult {
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
