/**
 * The human command line: the same engine and state directory as the MCP server, for a terminal
 * and for scripts. Each command parses its arguments, asks the engine, and formats the answer.
 *
 * How it shares tasks with servers: a command is a passer-by, not a watcher. It does not appear in
 * the servers table, so it never holds a task away from a live server; a command that reads makes
 * one reconcile pass (engine.tick), and one that waits makes one every half second, which records
 * the ends of tasks nobody watches and adopts orphans, but leaves every task a live server owns to
 * that server. Only `run` registers, for the moment it takes to start the task, so that no server
 * takes the task, recorded but not yet spawned, for an orphan and marks it interrupted; once `run`
 * has exited, the task is an orphan that the running server adopts on its next pass, or the next
 * server at start, or any command that looks at it meanwhile.
 */

import {
  describe,
  isTerminal,
  type StatusView,
  type Task,
  TASK_STATUSES,
  type TaskStatus,
} from "./task.ts";
import type { GrepResult } from "./logs/grep.ts";
import type { Progress } from "./logs/progress.ts";
import { waitForTasks } from "./engine/wait.ts";
import { compileLinePattern } from "./logs/pattern.ts";
import {
  noPositionals,
  oneId,
  parse,
  positiveSeconds,
  UsageError,
  wholeNumber,
} from "./cli/args.ts";
import {
  type Cell,
  dim,
  durationOf,
  formatAgo,
  formatBytes,
  formatDuration,
  jsonText,
  localTime,
  oneLine,
  outcome,
  paintStatus,
  progressText,
  renderFields,
  renderTable,
  shellJoin,
  shorten,
} from "./cli/format.ts";
import { LogCursor } from "./logs/cursor.ts";
import {
  type CliContext,
  Failure,
  inspect,
  keepReconciling,
  requireTask,
  withEngine,
} from "./cli/session.ts";
import { Terminal } from "./cli/terminal.ts";
import { cleanLine, terminalText } from "./logs/text.ts";

export type { CliContext } from "./cli/session.ts";

/** How often `logs --follow` looks for new output, in ms. */
const FOLLOW_INTERVAL_MS = 200;
const MAX_LABEL_COLUMN = 24;

// The commands.

interface Command {
  readonly name: string;
  /** One line for the overview. */
  readonly summary: string;
  readonly help: string;
  run(args: string[], context: CliContext, terminal: Terminal): Promise<number>;
}

const ls: Command = {
  name: "ls",
  summary: "list recent tasks, newest first",
  help: `Usage: backburner ls [--status S] [--label L] [--limit N] [--json]

List recent tasks, newest first: id, status, label, progress, start, run time and command.

Options:
  --status S   only tasks with this status: ${TASK_STATUSES.join(", ")}
  --label L    only tasks started with this label
  --limit N    at most N tasks, 1 to 1000 (default 20)
  --json       a JSON array of the objects the task_status tool returns

Examples:
  backburner ls
  backburner ls --status working
  backburner ls --label nightly --limit 5 --json`,
  async run(args, context, terminal) {
    const { values, positionals } = parse("ls", args, {
      status: { type: "string" },
      label: { type: "string" },
      limit: { type: "string" },
      json: { type: "boolean" },
    });
    if (values.help) return help(terminal, this);
    noPositionals("ls", positionals);
    const status = values.status;
    if (status !== undefined && !(TASK_STATUSES as readonly string[]).includes(status)) {
      throw new UsageError(
        `--status "${status}" is not a status: pass one of ${TASK_STATUSES.join(", ")}`,
      );
    }
    const limit = wholeNumber("limit", values.limit, { min: 1, max: 1000 }) ?? 20;
    return await withEngine(context, {}, async (engine) => {
      await engine.tick();
      const { tasks, total } = engine.list({
        limit,
        status: status as TaskStatus | undefined,
        label: values.label,
      });
      const shown = [];
      for (const task of tasks) shown.push(await inspect(engine, task.id));
      if (values.json) {
        terminal.print(jsonText(shown.map(({ view }) => view)));
        return 0;
      }
      if (shown.length === 0) {
        terminal.print(status || values.label ? "No tasks match." : "No tasks yet.");
        return 0;
      }
      const now = Date.now();
      const rows: Cell[][] = shown.map(({ task, view }) => {
        const seconds = durationOf(task, now);
        return [
          { text: task.id },
          {
            text: task.status,
            paint: (padded) => paintStatus(task.status, padded, terminal.color),
          },
          { text: shorten(oneLine(task.label ?? "-"), MAX_LABEL_COLUMN) },
          { text: task.status === "working" ? progressText(view.progress) : "" },
          { text: formatAgo(task.startedAt ?? task.createdAt, now) },
          { text: seconds === null ? "-" : formatDuration(seconds) },
          { text: oneLine(task.command) },
        ];
      });
      const header = ["ID", "STATUS", "LABEL", "PROGRESS", "STARTED", "DURATION", "COMMAND"];
      for (const line of renderTable(header, rows, { width: terminal.columns })) {
        terminal.print(line);
      }
      if (total > shown.length && terminal.interactive) {
        terminal.print(
          dim(`${shown.length} of ${total} tasks; --limit ${total} shows more`, terminal.color),
        );
      }
      return 0;
    });
  },
};

const show: Command = {
  name: "show",
  summary: "everything about one task",
  help: `Usage: backburner show ID [--json]

Show everything task_status knows about a task: status and how it ended, command, directory,
times, run time, timeout, process group, output size, the progress its output shows, and whether
it seems to wait for input.

Options:
  --json   the object the task_status tool returns

Examples:
  backburner show k3x9m2p7q4wz
  backburner show k3x9m2p7q4wz --json | jq .exit_code`,
  async run(args, context, terminal) {
    const { values, positionals } = parse("show", args, { json: { type: "boolean" } });
    if (values.help) return help(terminal, this);
    const id = oneId("show", positionals);
    return await withEngine(context, {}, async (engine) => {
      requireTask(engine, id);
      await engine.tick();
      const { task, view } = await inspect(engine, id);
      if (values.json) {
        terminal.print(jsonText(view));
        return 0;
      }
      for (const line of showLines(task, view, terminal.color)) terminal.print(line);
      return 0;
    });
  },
};

function showLines(task: Task, view: StatusView<Progress>, color: boolean): string[] {
  const now = Date.now();
  const fields: [string, string | Cell][] = [["ID", task.id]];
  if (task.label !== null) fields.push(["Label", task.label]);
  fields.push(
    ["Status", {
      text: `${task.status}: ${describe(task)}`,
      paint: (line) =>
        paintStatus(task.status, task.status, color) + line.slice(task.status.length),
    }],
    ["Command", task.command],
    ["Directory", task.cwd],
  );
  if (task.exitCode !== null) fields.push(["Exit code", String(task.exitCode)]);
  if (task.signal !== null) fields.push(["Signal", task.signal]);
  fields.push(["Created", `${localTime(task.createdAt)} (${formatAgo(task.createdAt, now)})`]);
  if (task.startedAt !== null) fields.push(["Started", localTime(task.startedAt)]);
  if (task.endedAt !== null) fields.push(["Ended", localTime(task.endedAt)]);
  const seconds = durationOf(task, now);
  if (seconds !== null) {
    fields.push([
      "Duration",
      formatDuration(seconds) + (task.status === "working" ? " so far" : ""),
    ]);
  }
  fields.push(["Timeout", task.timeoutSeconds === null ? "none" : `${task.timeoutSeconds} s`]);
  if (task.pid !== null) fields.push(["Process group", String(task.pid)]);
  const silence = view.seconds_since_output === null
    ? ""
    : `, last written ${formatDuration(view.seconds_since_output)} ago`;
  fields.push(["Output", `${formatBytes(view.output_bytes)}${silence}`]);
  const progress = view.progress;
  if (progress) {
    const amount = progressText(view.progress);
    const message = progress.message ? ` ${oneLine(progress.message)}` : "";
    fields.push(["Progress", `${amount}${message}`]);
  }
  if (view.waiting_for_input) {
    fields.push([
      "Waiting",
      "the last line looks like a prompt, and stdin is closed: cancel it and run it non-interactively",
    ]);
  }
  return renderFields(fields);
}

const logs: Command = {
  name: "logs",
  summary: "print a task's output (--follow streams it until the task ends)",
  help: `Usage: backburner logs ID [--tail N] [--follow] [--raw]
       backburner logs ID --grep REGEX [--raw]

Print a task's output (stdout and stderr as written, interleaved), as clean text: escape sequences
removed and carriage-return redraws collapsed to what a terminal would show.

Options:
  -n, --tail N       only the last N lines
  -f, --follow       keep printing new output until the task ends, then say on stderr how it
                     ended, e.g. "[backburner] task k3x9m2p7q4wz completed (exit 0) after 12.3 s"
  -g, --grep REGEX   only the lines matching a JavaScript regular expression, with line numbers
                     (the first 1000)
  --raw              the bytes exactly as written

Examples:
  backburner logs k3x9m2p7q4wz
  backburner logs k3x9m2p7q4wz --tail 50 --follow
  backburner logs k3x9m2p7q4wz --grep 'FAIL|Error'`,
  async run(args, context, terminal) {
    const { values, positionals } = parse("logs", args, {
      tail: { type: "string", short: "n" },
      follow: { type: "boolean", short: "f" },
      grep: { type: "string", short: "g" },
      raw: { type: "boolean" },
    });
    if (values.help) return help(terminal, this);
    const id = oneId("logs", positionals);
    const tail = wholeNumber("tail", values.tail, { min: 1, max: 1_000_000 });
    const raw = values.raw ?? false;
    if (values.grep !== undefined && (tail !== undefined || values.follow)) {
      throw new UsageError(
        "--grep goes alone: it reads the whole log; pipe --follow into grep to filter new output",
      );
    }
    const pattern = values.grep === undefined ? undefined : compile(values.grep);
    return await withEngine(context, {}, async (engine) => {
      requireTask(engine, id);
      await engine.tick();
      if (pattern) {
        const { grep } = await engine.output(id, { grep: pattern, maxMatches: 1000, raw });
        printMatches(terminal, grep!, raw);
        return 0;
      }
      const from = tail === undefined
        ? 0
        : (await engine.output(id, { tailLines: tail, raw })).slice!.startOffset;
      const cursor = new LogCursor(engine.logPath(id), {
        offset: from,
        maxPendingChars: MAX_PENDING_CHARS,
        longLine: "flush",
        lines: !raw,
      });
      if (!values.follow) {
        await copyLog(cursor, terminal, { raw, final: true });
        return 0;
      }
      const stop = keepReconciling(engine);
      try {
        for (;;) {
          const task = requireTask(engine, id);
          await copyLog(cursor, terminal, { raw, final: isTerminal(task.status) });
          if (isTerminal(task.status)) {
            terminal.note(`[backburner] task ${id} ${outcome(task, Date.now())}`);
            return 0;
          }
          await new Promise((resolve) => setTimeout(resolve, FOLLOW_INTERVAL_MS));
        }
      } finally {
        stop();
      }
    });
  },
};

/** Bytes read at a time. */
const COPY_BYTES = 1024 * 1024;
/** An unfinished line longer than this is written as it is instead of waiting for its end. */
const MAX_PENDING_CHARS = 1024 * 1024;

/**
 * Copies what the log gained to the terminal: unlike the engine's bounded reads, sized for an
 * agent's reply, a person asking for a log wants all of it, and --follow each line once, as it
 * is written. Clean text holds an unfinished last line back until its newline arrives, unless
 * `final` (the task has ended, or this is a one-off read): then it is written too, with a newline.
 */
async function copyLog(
  cursor: LogCursor,
  terminal: Terminal,
  options: { raw: boolean; final: boolean },
): Promise<void> {
  // A line as a terminal would finally show it, with nothing left that a terminal acts on.
  const shown = (line: string) => terminalText(cleanLine(line), { lines: true });
  do {
    const gain = await cursor.read({ maxBytes: COPY_BYTES });
    if (gain === null) return;
    if (options.raw) {
      if (gain.bytes.length > 0) terminal.write(gain.bytes);
      continue;
    }
    let text = gain.lines.map((line) => `${shown(line)}\n`).join("");
    if (gain.flushed !== null) text += shown(gain.flushed);
    if (text !== "") terminal.write(new TextEncoder().encode(text));
  } while (cursor.behind);
  if (options.final && !options.raw) {
    const rest = cursor.takePending();
    if (rest !== "") terminal.write(new TextEncoder().encode(`${shown(rest)}\n`));
  }
}

/** The --grep pattern, validated as the server does (see pattern.ts). */
function compile(source: string): RegExp {
  try {
    compileLinePattern(source);
    return new RegExp(source);
  } catch (error) {
    throw new UsageError(`--grep: ${(error as Error).message}`);
  }
}

function printMatches(terminal: Terminal, found: GrepResult, raw: boolean): void {
  for (const match of found.matches) {
    terminal.print(`${match.line}:${raw ? match.text : terminalText(match.text)}`);
  }
  if (found.matches.length < found.totalMatches) {
    terminal.note(
      `[backburner] showed the first ${found.matches.length} of ${found.totalMatches} matching lines`,
    );
  }
}

const run: Command = {
  name: "run",
  summary: "start a command as a background task and print its id",
  help: `Usage: backburner run [--cwd DIR] [--timeout S] [--label L] [--env K=V]... -- COMMAND...

Start a command in the background and print its task id (only the id, for scripts). The task
keeps running after this command returns; a running backburner server watches it, or the next
one to start (any backburner command that looks at tasks brings it up to date meanwhile).
BACKBURNER_ALLOW and BACKBURNER_DENY apply, as for the server.

One argument after -- is a shell command line, run by bash (sh where bash is missing); several are
a program and its arguments, quoted for the shell exactly as given.

Options:
  --cwd DIR      working directory (default: the current one)
  --timeout S    stop the whole process tree after S seconds; the task ends timed_out (the
                 task's own wrapper keeps it, and BACKBURNER_MAX_LOG_BYTES, with no server running)
  --label L      a short name shown in lists and usable as a filter
  --env K=V      an extra environment variable for the task; repeat for more

Examples:
  backburner run -- npm test
  backburner run --label build --timeout 600 -- 'make -j8 && make check'
  id=$(backburner run --env CI=1 -- ./slow-job.sh) && backburner wait "$id"`,
  async run(args, context, terminal) {
    const { values, positionals } = parse("run", args, {
      cwd: { type: "string" },
      timeout: { type: "string" },
      label: { type: "string" },
      env: { type: "string", multiple: true },
    });
    if (values.help) return help(terminal, this);
    if (positionals.length === 0) {
      throw new UsageError(
        "run needs a command: pass it after --, as in backburner run -- npm test",
      );
    }
    const command = positionals.length === 1 ? positionals[0] : shellJoin(positionals);
    const timeoutSeconds = positiveSeconds("timeout", values.timeout);
    const env: Record<string, string> = {};
    for (const entry of values.env ?? []) {
      const equals = entry.indexOf("=");
      if (equals < 1) {
        throw new UsageError(`--env "${entry.slice(0, 80)}" is not NAME=VALUE, as in --env CI=1`);
      }
      env[entry.slice(0, equals)] = entry.slice(equals + 1);
    }
    // Registered while it starts the task, so no server takes the task, not yet spawned, for an
    // orphan; once this process ends, the task is an orphan, and the next watcher adopts it.
    return await withEngine(context, { register: true }, (engine) => {
      let task: Task;
      try {
        task = engine.start({ command, cwd: values.cwd, timeoutSeconds, label: values.label, env });
      } catch (error) {
        throw new Failure((error as Error).message);
      }
      terminal.print(task.id);
      return Promise.resolve(0);
    });
  },
};

const cancel: Command = {
  name: "cancel",
  summary: "stop tasks and every process they started",
  help: `Usage: backburner cancel ID...

Stop a task and every process it started: SIGTERM, then SIGKILL after BACKBURNER_GRACE_SECONDS.
Returns once they are all gone and prints the final status. A task that had already ended keeps
its status; any background processes it left running are stopped.

Examples:
  backburner cancel k3x9m2p7q4wz
  backburner ls --status working --json | jq -r '.[].task_id' | xargs backburner cancel`,
  async run(args, context, terminal) {
    const { values, positionals } = parse("cancel", args, {});
    if (values.help) return help(terminal, this);
    if (positionals.length === 0) {
      throw new UsageError("cancel needs a task id: see backburner cancel --help");
    }
    return await withEngine(context, {}, async (engine) => {
      for (const id of positionals) requireTask(engine, id);
      // A task that ended with nobody watching gets its real end recorded, not "cancelled".
      await engine.tick();
      for (const id of new Set(positionals)) {
        const { task, alreadyEnded, leftoversStopped } = await engine.cancel(id);
        const notes = [
          alreadyEnded ? "it had already ended" : null,
          leftoversStopped > 0
            ? `stopped ${leftoversStopped} background process${
              leftoversStopped === 1 ? "" : "es"
            } it left`
            : null,
        ].filter((note) => note !== null);
        const suffix = notes.length ? ` (${notes.join("; ")})` : "";
        const prefix = positionals.length > 1 ? `${id} ` : "";
        terminal.print(
          `${prefix}${paintStatus(task.status, task.status, terminal.color)}: ${
            oneLine(describe(task))
          }${suffix}`,
        );
      }
      return 0;
    });
  },
};

const wait: Command = {
  name: "wait",
  summary: "wait until tasks end; exit 0 only if they completed",
  help: `Usage: backburner wait ID... [--all] [--timeout S]

Wait until one of the tasks ends (with --all: every one), then print how each one stands. Exits 0
when every task that ended completed (exit code 0) and the wait did not time out; 1 otherwise.

Options:
  --all          wait for every task, not just the first to end
  --timeout S    give up after S seconds (default: wait as long as it takes)

Examples:
  backburner wait k3x9m2p7q4wz && echo passed
  backburner wait --all --timeout 600 k3x9m2p7q4wz p7q4wzk3x9m2`,
  async run(args, context, terminal) {
    const { values, positionals } = parse("wait", args, {
      all: { type: "boolean" },
      timeout: { type: "string" },
    });
    if (values.help) return help(terminal, this);
    if (positionals.length === 0) {
      throw new UsageError("wait needs a task id: see backburner wait --help");
    }
    const timeout = positiveSeconds("timeout", values.timeout);
    const ids = [...new Set(positionals)];
    return await withEngine(context, {}, async (engine) => {
      for (const id of ids) requireTask(engine, id);
      await engine.tick();
      const stop = keepReconciling(engine);
      let result;
      try {
        result = await waitForTasks(engine, {
          taskIds: ids,
          mode: values.all ? "all" : "any",
          timeoutMs: timeout === undefined ? Infinity : timeout * 1000,
        });
      } finally {
        stop();
      }
      const now = Date.now();
      for (const task of result.tasks) {
        terminal.print(
          `${task.id} ${paintStatus(task.status, outcome(task, now), terminal.color)}`,
        );
      }
      const ended = result.tasks.filter((task) => isTerminal(task.status));
      const passed = result.reason !== "timeout" &&
        ended.every((task) => task.status === "completed");
      return passed ? 0 : 1;
    });
  },
};

const prune: Command = {
  name: "prune",
  summary: "remove ended tasks and their logs",
  help: `Usage: backburner prune [--older-than DAYS]

Remove tasks that ended more than DAYS days ago, with their logs, and print how many. Running tasks
are never removed. Servers do this by themselves for tasks past BACKBURNER_RETENTION_DAYS.

Options:
  --older-than DAYS   default: BACKBURNER_RETENTION_DAYS (30); 0 removes every ended task

Examples:
  backburner prune --older-than 7
  backburner prune --older-than 0.5`,
  async run(args, context, terminal) {
    const { values, positionals } = parse("prune", args, {
      "older-than": { type: "string" },
    });
    if (values.help) return help(terminal, this);
    noPositionals("prune", positionals);
    const raw = values["older-than"];
    let days: number | undefined;
    if (raw !== undefined) {
      days = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(days) || days < 0 || days > 36_500) {
        throw new UsageError(`--older-than "${raw}" is not a number of days from 0 to 36500`);
      }
    }
    return await withEngine(context, { retentionDays: days }, async (engine) => {
      await engine.tick();
      const removed = engine.sweep();
      terminal.print(`removed ${removed} ended task${removed === 1 ? "" : "s"}`);
      return 0;
    });
  },
};

const serve: Command = {
  name: "serve",
  summary: "run the MCP server on stdio (what an MCP client starts; the default)",
  help: `Usage: backburner [serve [--cwd DIR]]

Run the MCP server on stdio: what an MCP client starts. It keeps running until stdin closes or it
gets SIGTERM, SIGINT or SIGHUP.

Options:
  --cwd DIR   where tasks started without a cwd run (default: the directory the server was
              started in; deno task start passes the one it was run from)

Settings come from the environment; see the README for each:
  BACKBURNER_HOME, BACKBURNER_GRACE_SECONDS, BACKBURNER_MAX_OUTPUT_CHARS,
  BACKBURNER_MAX_LOG_BYTES, BACKBURNER_RETENTION_DAYS, BACKBURNER_ON_EXIT,
  BACKBURNER_ALLOW, BACKBURNER_DENY

Example (Claude Code):
  claude mcp add backburner -- deno run --no-prompt \\
    --allow-read=$HOME/.backburner --allow-write=$HOME/.backburner --allow-run --allow-env \\
    /path/to/backburner/main.ts`,
  run(args, _context, terminal) {
    // main.ts serves for `backburner` and `backburner serve`; only a call with options lands here.
    const { values, positionals } = parse("serve", args, {});
    if (values.help) return Promise.resolve(help(terminal, this));
    noPositionals("serve", positionals);
    throw new UsageError("serve takes only --cwd DIR: see backburner serve --help");
  },
};

const COMMANDS: readonly Command[] = [serve, ls, show, logs, run, cancel, wait, prune];

function help(terminal: Terminal, command: Command): number {
  terminal.print(command.help);
  return 0;
}

function overview(version: string): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length)) + 2;
  return `backburner ${version}: run shell commands as background tasks, for AI agents and people

Usage: backburner [COMMAND] [OPTIONS]

Commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(width)}${command.summary}`).join("\n")}

  backburner COMMAND --help   options and examples of a command
  backburner --version        the version

Settings come from the environment, as for the server: see backburner serve --help.

The command line and every server share the state directory (BACKBURNER_HOME, default
~/.backburner), so a task started by an agent can be followed and cancelled here, and the other
way round.

Exit codes: 0 success, 1 the thing asked for failed (an unknown task, a refused command, a wait
that did not end in success), 2 bad usage.`;
}

/**
 * Runs one command of the command line (everything but serving) and returns its exit code; the
 * caller exits. Errors become one line on stderr, never a stack trace.
 */
export async function runCli(args: string[], context: CliContext): Promise<number> {
  const terminal = new Terminal();
  try {
    const [name, ...rest] = args;
    if (name === undefined || name === "--help" || name === "-h" || name === "help") {
      const topic = name === "help" ? rest[0] : undefined;
      const command = COMMANDS.find((candidate) => candidate.name === topic);
      if (topic !== undefined && !command) throw unknownCommand(topic);
      terminal.print(command ? command.help : overview(context.version));
      return 0;
    }
    if (name === "--version" || name === "-V") {
      if (rest.length > 0) throw new UsageError("--version takes no arguments");
      terminal.print(context.version);
      return 0;
    }
    const command = COMMANDS.find((candidate) => candidate.name === name);
    if (!command) throw unknownCommand(name);
    return await command.run(rest, context, terminal);
  } catch (error) {
    if (error instanceof Deno.errors.BrokenPipe) return 0;
    const message = error instanceof Error ? error.message : String(error);
    // An error may quote a command or a directory: it reaches the terminal as one safe line.
    console.error(`backburner: ${oneLine(message).replaceAll(" ⏎ ", " ")}`);
    return error instanceof UsageError ? 2 : 1;
  }
}

function unknownCommand(name: string): UsageError {
  return new UsageError(
    name.startsWith("-")
      ? `unknown option "${name.slice(0, 80)}": see backburner --help`
      : `unknown command "${name.slice(0, 80)}": see backburner --help`,
  );
}
