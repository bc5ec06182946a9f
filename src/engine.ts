import { isAbsolute, join, resolve } from "node:path";
import { checkCommand, checkEnv, type Policy, unsafeInheritedEnv } from "./policy/policy.ts";
import {
  describeGone,
  ownStartTime,
  probeCgroup,
  ProcessTable,
  readCommandPid,
  readExitRecord,
  readSignalMark,
  readTaskCgroup,
  readWrapperStop,
  type SpawnedTask,
  spawnTask,
  START_WINDOW_MS,
  sweepCgroups,
  TASK_MARKER,
  terminateTree,
  type WrapperExit,
} from "./process.ts";
import { grepLog, type GrepResult } from "./logs/grep.ts";
import { readHead, readRange, readTail, type Slice } from "./logs/slice.ts";
import { type OutputState, ProgressTracker, secondsSince } from "./logs/progress.ts";
import type { Store, TaskEnd } from "./store.ts";
import {
  isTaskId,
  isTerminal,
  naturalExitCode,
  newTaskId,
  signalFromExitCode,
  statusForExit,
  statusForStop,
  type StopReason,
  type Task,
  TASK_STATUSES,
  type TaskStatus,
} from "./task.ts";

export interface EngineOptions {
  readonly store: Store;
  /** The state directory; task folders live in its "tasks" folder. */
  readonly home: string;
  readonly policy: Policy;
  /** Seconds between SIGTERM and SIGKILL. */
  readonly graceSeconds: number;
  /** Most characters of output one reply returns. */
  readonly maxOutputChars: number;
  /** Working directory for tasks started without one. */
  readonly defaultCwd: string;
  /** A task whose log grows past this many bytes is stopped. */
  readonly maxLogBytes: number;
  /** Ended tasks and their logs are removed this many days after they ended. */
  readonly retentionDays: number;
  /** How often tasks nobody else watches are checked, in ms. Default 500. */
  readonly monitorIntervalMs?: number;
  /** Where diagnostics go. Default: stderr. */
  readonly log?: (message: string) => void;
  /**
   * False for a short-lived engine such as the command line's: open() only registers it, so that a
   * task it is starting is not taken for an orphan, and it adopts, sweeps and watches nothing by
   * itself (tick() makes one pass on demand). Once it has closed, a watching engine adopts the
   * tasks it started. Default true.
   */
  readonly watch?: boolean;
}

export interface StartRequest {
  readonly command: string;
  readonly cwd?: string;
  readonly timeoutSeconds?: number;
  /** Extra environment variables for this task. */
  readonly env?: Record<string, string>;
  /** A short name shown in lists. */
  readonly label?: string;
  /** Text fed to the command's stdin, which is then closed. Default: empty stdin. */
  readonly stdin?: string;
  /**
   * A protocol task's ttl: keep it this long after creation (ms), capped at the retention period;
   * null for the retention period. Left out (plain tasks), a task is kept for the retention
   * period after it ends.
   */
  readonly ttlMs?: number | null;
}

export interface ListRequest {
  readonly limit?: number;
  readonly status?: string;
  readonly label?: string;
  readonly cwd?: string;
}

export interface CancelOutcome {
  readonly task: Task;
  /** True when the task had ended before the cancel arrived; nothing was signalled. */
  readonly alreadyEnded: boolean;
  /** Processes the task had left running in the background that this cancel stopped. */
  readonly leftoversStopped: number;
}

/** Which part of a task's output to read; at most one of tail, head, offset and grep. */
export interface OutputRequest {
  readonly tailLines?: number;
  readonly headLines?: number;
  readonly offset?: number;
  readonly maxBytes?: number;
  readonly grep?: RegExp;
  readonly context?: number;
  readonly maxMatches?: number;
  /** The bytes as written instead of clean text. */
  readonly raw?: boolean;
}

export interface TaskOutput {
  readonly task: Task;
  /** Set for tail, head and range reads. */
  readonly slice?: Slice;
  /** Set for a grep. */
  readonly grep?: GrepResult;
}

const MAX_COMMAND_CHARS = 100_000;
const MAX_STDIN_BYTES = 10 * 1024 * 1024;
const MAX_LABEL_CHARS = 100;
const MAX_ENV_ENTRIES = 200;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RETENTION_SWEEP_MS = 60_000;
const MAX_TIMEOUT_SECONDS = 30 * 24 * 3600;
/** Final output states of ended tasks kept for task_status; the oldest go first. */
const ENDED_OUTPUT_ENTRIES = 1000;
/** How often the log sizes of running tasks are compared with the cap. */
const LOG_CHECK_MS = 2000;
/** How long a verdict on another server's liveness is trusted before the next process scan. */
const OWNER_CHECK_MS = 2000;
/** A stop still unfinished this long after its grace period is taken over by another server. */
const STOPPER_GIVE_UP_MS = 10_000;
/** setTimeout fires at once for delays past 2^31 - 1 ms: longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A task folder without a record this old is a leftover of a failed start, not one starting. */
const STRAY_FOLDER_MS = 60_000;

/** `gone` says what was checked to know that every process is gone (describeGone). */
function stopMessage(
  reason: StopReason,
  task: Task,
  forced: boolean,
  graceSeconds: number,
  gone: string,
) {
  const how = forced ? `; SIGKILL was needed after the ${graceSeconds} s grace period` : "";
  const all = `all of its processes are gone (${gone})${how}`;
  switch (reason) {
    case "cancel":
      return `Cancelled on request; ${all}`;
    case "timeout":
      return `Timed out after ${task.timeoutSeconds} s; ${all}`;
    case "shutdown":
      return `Cancelled because the server shut down with BACKBURNER_ON_EXIT=cancel; ${all}`;
    case "log_limit":
      return `Stopped because its output passed the BACKBURNER_MAX_LOG_BYTES limit; the log so far is kept; ${all}`;
  }
}

function validateEnv(env: Record<string, string> | undefined): Record<string, string> {
  if (env === undefined) return {};
  const entries = Object.entries(env);
  if (entries.length > MAX_ENV_ENTRIES) {
    throw new RangeError(
      `Cannot start task: env has ${entries.length} variables, more than ${MAX_ENV_ENTRIES}: pass fewer`,
    );
  }
  for (const [name, value] of entries) {
    if (!ENV_NAME.test(name)) {
      throw new RangeError(
        `Cannot start task: env name "${
          name.slice(0, 80)
        }" is not a valid variable name: use letters, digits and _, not starting with a digit`,
      );
    }
    if (name === TASK_MARKER) {
      throw new RangeError(`Cannot start task: env may not set ${TASK_MARKER}: backburner sets it`);
    }
    if (typeof value !== "string" || value.includes("\0")) {
      throw new RangeError(
        `Cannot start task: env value of "${name}" must be a string without NUL characters`,
      );
    }
  }
  return env;
}

function validateLabel(label: string | undefined): string | null {
  if (label === undefined) return null;
  const trimmed = label.trim();
  if (trimmed === "" || trimmed.length > MAX_LABEL_CHARS || /\p{Cc}/u.test(trimmed)) {
    throw new RangeError(
      `Cannot start task: label "${
        label.slice(0, 80)
      }" must be 1 to ${MAX_LABEL_CHARS} printable characters`,
    );
  }
  return trimmed;
}

function validateStdin(stdin: string | undefined): Uint8Array | undefined {
  if (stdin === undefined) return undefined;
  const bytes = new TextEncoder().encode(stdin);
  if (bytes.length > MAX_STDIN_BYTES) {
    throw new RangeError(
      `Cannot start task: stdin is ${bytes.length} bytes, more than ${MAX_STDIN_BYTES}: write large input to a file and redirect it in the command`,
    );
  }
  return bytes;
}

/**
 * Starts, watches, stops and adopts tasks: the only owner of status changes. Any number of
 * engines (in separate server processes) may share one state directory; each task is watched by
 * one live engine, its owner, and a task whose owner died is adopted by the next engine that looks.
 */
export class Engine {
  readonly #store: Store;
  readonly #options: EngineOptions;
  readonly #serverId = crypto.randomUUID();
  readonly #children = new Map<string, SpawnedTask>();
  /** How this server's own wrappers exited, until the end of their task is recorded. */
  readonly #wrapperExits = new Map<string, WrapperExit>();
  readonly #stopping = new Map<string, Promise<Task | undefined>>();
  readonly #deadlines = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #log: (message: string) => void;
  #monitor: ReturnType<typeof setInterval> | undefined;
  #owners: { at: number; live: Set<string>; known: Set<string> } | undefined;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #logsCheckedAt = 0;
  readonly #listeners = new Set<(id: string) => void>();
  readonly #progress = new ProgressTracker();
  readonly #endedOutput = new Map<string, OutputState>();
  #ticking = false;
  #closed = false;
  /** The database file as opened, to notice it removed or replaced under the server. */
  readonly #stateFile: { dev: number; ino: number | null } | null;
  /** Why the state can no longer be trusted, once it cannot. */
  #stateLost: string | null = null;
  /** Where each task gets a cgroup of its own (probeCgroup); null where tasks get none. */
  #cgroupBase: string | null = null;

  constructor(options: EngineOptions) {
    this.#store = options.store;
    this.#options = options;
    this.#log = options.log ?? ((message) => console.error(`backburner: ${message}`));
    let file: Deno.FileInfo | null = null;
    try {
      file = Deno.statSync(options.store.path);
    } catch {
      // An in-memory store, or one opened elsewhere: nothing to compare with.
    }
    this.#stateFile = file && { dev: file.dev, ino: file.ino };
  }

  /**
   * Null while the database file the store opened is still the one at its path. A task that
   * deletes the state directory leaves the server writing to a deleted file: every task started
   * or ended from then on would vanish at the next restart. Says so once, loudly.
   */
  #checkState(): string | null {
    if (this.#stateLost !== null || this.#stateFile === null) return this.#stateLost;
    let why: string | null = null;
    try {
      const now = Deno.statSync(this.#store.path);
      if (
        this.#stateFile.ino !== null &&
        (now.ino !== this.#stateFile.ino || now.dev !== this.#stateFile.dev)
      ) why = "replaced";
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) why = "removed";
    }
    if (why === null) return null;
    this.#stateLost =
      `the state database "${this.#store.path}" was ${why} while this server ran (was the state directory "${this.#options.home}" deleted?)`;
    const running = [...this.#children.keys()];
    this.#log(
      `ERROR: ${this.#stateLost}: new tasks are refused until backburner is restarted. ` +
        (running.length
          ? `The ${running.length} tasks this server runs (${
            running.join(", ")
          }) keep running and are watched until they end, but what is recorded of them now lives only in this server's memory and is gone once it exits.`
          : "This server runs no tasks."),
    );
    return this.#stateLost;
  }

  #requireState(): void {
    const lost = this.#checkState();
    if (lost !== null) {
      throw new Error(
        `Cannot start task: ${lost}; nothing started now could be found again: restart backburner`,
      );
    }
  }

  get serverId(): string {
    return this.#serverId;
  }

  /** Registers this server, adopts orphaned tasks, and starts watching (unless `watch` is false). */
  async open(): Promise<void> {
    Deno.mkdirSync(join(this.#options.home, "tasks"), { recursive: true, mode: 0o700 });
    this.#store.registerServer({
      id: this.#serverId,
      pid: Deno.pid,
      startTime: await ownStartTime(),
      startedAt: Date.now(),
    });
    const cgroup = await probeCgroup();
    if ("base" in cgroup) this.#cgroupBase = cgroup.base;
    else if (Deno.build.os === "linux") {
      this.#log(
        `tasks run without a cgroup of their own (${cgroup.reason}): a stop finds their processes by marker, process group, session and parent`,
      );
    }
    if (this.#options.watch === false) return;
    this.sweep();
    const sweeper = setInterval(() => this.sweep(), RETENTION_SWEEP_MS);
    Deno.unrefTimer(sweeper);
    this.#sweeper = sweeper;
    await this.tick();
    const monitor = setInterval(() => void this.tick(), this.#options.monitorIntervalMs ?? 500);
    Deno.unrefTimer(monitor);
    this.#monitor = monitor;
  }

  /**
   * Stops watching. With `cancelRunning`, first stops every task this server owns and waits until
   * their processes are gone; otherwise they keep running and the next server adopts them.
   */
  async close(options: { cancelRunning: boolean }): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#monitor);
    clearInterval(this.#sweeper);
    for (const timer of this.#deadlines.values()) clearTimeout(timer);
    if (options.cancelRunning) {
      // Only what this server started: a task it adopted, or one a person started with
      // `backburner run`, was never its to cancel.
      const own = this.#store.workingTasks().filter((t) =>
        t.owner === this.#serverId && t.startedBy === this.#serverId
      );
      await Promise.all(own.map((task) => this.#stop(task.id, "shutdown")));
    }
    await Promise.all(this.#stopping.values());
    this.#store.unregisterServer(this.#serverId);
  }

  #paths(id: string) {
    const dir = join(this.#options.home, "tasks", id);
    return {
      dir,
      log: join(dir, "output.log"),
      exit: join(dir, "exit"),
      stdin: join(dir, "stdin"),
    };
  }

  #require(id: unknown): Task {
    const task = typeof id === "string" && isTaskId(id) ? this.#store.getTask(id) : undefined;
    if (!task) {
      const shown = typeof id === "string" ? id.slice(0, 80) : String(id);
      throw new RangeError(`Unknown task_id "${shown}": call list_tasks to see the task ids`);
    }
    return task;
  }

  /** How long ended tasks are kept, in ms. */
  get retentionMs(): number {
    return this.#options.retentionDays * 86_400_000;
  }

  /** The ttl a task gets for a requested one: never longer than the retention period. */
  effectiveTtl(requestedMs: number | null | undefined): number {
    if (requestedMs === null || requestedMs === undefined || !Number.isFinite(requestedMs)) {
      return this.retentionMs;
    }
    return Math.max(0, Math.min(Math.round(requestedMs), this.retentionMs));
  }

  /**
   * Removes ended tasks (records and folders) past the retention period or their ttl; never a
   * running one.
   */
  sweep(): number {
    const now = Date.now();
    const removed = this.#store.deleteExpired(now - this.retentionMs, now);
    for (const id of removed) {
      this.#progress.forget(id);
      this.#endedOutput.delete(id);
      try {
        Deno.removeSync(this.#paths(id).dir, { recursive: true });
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) {
          this.#log(`removing the folder of task ${id} failed: ${String(error)}`);
        }
      }
    }
    if (removed.length) this.#log(`removed ${removed.length} tasks past the retention period`);
    // A task's wrapper removes its cgroup unless a background process was still in it.
    if (this.#cgroupBase !== null) {
      sweepCgroups(this.#cgroupBase).catch((error) =>
        this.#log(`removing empty task cgroups failed: ${String(error)}`)
      );
    }
    this.#removeStrayFolders(now);
    return removed.length;
  }

  /**
   * Removes task folders that have no record: what a start that failed half-way left (a crash
   * between the folder and the record). A folder younger than a minute may be a start under way.
   */
  #removeStrayFolders(now: number): void {
    if (this.#checkState() !== null) return;
    const tasks = join(this.#options.home, "tasks");
    let names: string[];
    try {
      names = [...Deno.readDirSync(tasks)].filter((entry) =>
        entry.isDirectory && isTaskId(entry.name)
      )
        .map((entry) => entry.name);
    } catch {
      return;
    }
    if (names.length === 0) return;
    const known = this.#store.taskIds();
    for (const name of names) {
      if (known.has(name)) continue;
      const dir = join(tasks, name);
      try {
        const changed = Deno.statSync(dir).mtime?.getTime() ?? now;
        if (now - changed < STRAY_FOLDER_MS) continue;
        // Looked up again: a start that was under way may have recorded it meanwhile.
        if (this.#store.getTask(name)) continue;
        Deno.removeSync(dir, { recursive: true });
        this.#log(
          `removed the folder of task ${name}: no task is recorded for it (a start that failed)`,
        );
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) {
          this.#log(`removing the stray folder ${dir} failed: ${String(error)}`);
        }
      }
    }
  }

  /** Starts a command in the background and returns at once with the working task. */
  start(request: StartRequest): Task {
    const command = request.command;
    if (typeof command !== "string" || command.trim() === "") {
      throw new RangeError("Cannot start task: command is empty: pass the shell command to run");
    }
    if (command.length > MAX_COMMAND_CHARS) {
      throw new RangeError(
        `Cannot start task: command is ${command.length} characters, more than ${MAX_COMMAND_CHARS}: put long scripts in a file and run that`,
      );
    }
    if (command.includes("\0")) {
      throw new RangeError("Cannot start task: command contains a NUL character: remove it");
    }
    const timeoutSeconds = request.timeoutSeconds ?? null;
    if (
      timeoutSeconds !== null &&
      !(Number.isFinite(timeoutSeconds) && timeoutSeconds > 0 &&
        timeoutSeconds <= MAX_TIMEOUT_SECONDS)
    ) {
      throw new RangeError(
        `Cannot start task: timeout_seconds ${timeoutSeconds} is out of range: pass a number of seconds above 0 and at most ${MAX_TIMEOUT_SECONDS}, or leave it out for no timeout`,
      );
    }
    const cwd = this.#resolveCwd(request.cwd);
    const env = validateEnv(request.env);
    const label = validateLabel(request.label);
    const stdin = validateStdin(request.stdin);
    const decision = checkCommand(this.#options.policy, command);
    if (!decision.allowed) throw new Error(decision.reason);
    const envDecision = checkEnv(this.#options.policy, env);
    if (!envDecision.allowed) throw new Error(envDecision.reason);

    this.#requireState();
    const id = newTaskId();
    const paths = this.#paths(id);
    // Every step that fails undoes the ones before it: no folder without a record, no record
    // without a process, no process nobody knows of.
    let inserted = false;
    let child: SpawnedTask | undefined;
    let spawnError: Error | undefined;
    const createdAt = Date.now();
    let startedAt = createdAt;
    try {
      Deno.mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
      Deno.writeFileSync(paths.log, new Uint8Array(), { mode: 0o600 });
      if (stdin !== undefined) Deno.writeFileSync(paths.stdin, stdin, { mode: 0o600 });
      this.#store.insertTask({
        id,
        command,
        cwd,
        createdAt,
        timeoutSeconds,
        owner: this.#serverId,
        label,
        ttlMs: request.ttlMs === undefined ? null : this.effectiveTtl(request.ttlMs),
      });
      inserted = true;
      startedAt = Date.now();
      try {
        child = spawnTask({
          taskId: id,
          command,
          cwd,
          logPath: paths.log,
          exitPath: paths.exit,
          stdinPath: stdin === undefined ? undefined : paths.stdin,
          // The server's own BASH_ENV, PS4, exported functions… would run code no rule saw.
          env: { ...unsafeInheritedEnv(this.#options.policy, Deno.env.toObject()), ...env },
          // The wrapper enforces these itself, so they hold with no server running.
          maxLogBytes: this.#options.maxLogBytes,
          timeoutSeconds,
          graceSeconds: this.#options.graceSeconds,
          cgroupBase: this.#cgroupBase,
        });
      } catch (error) {
        if (error instanceof Deno.errors.NotFound && /cwd/.test(error.message)) {
          const why = /not a directory/.test(error.message)
            ? "is not a directory"
            : "does not exist";
          spawnError = new RangeError(
            `Cannot start task: cwd "${cwd}" ${why}: pass an existing directory`,
          );
        } else {
          spawnError = new Error(
            `Cannot start task: the shell could not be started (${String(error)})`,
          );
        }
        throw spawnError;
      }
      this.#store.markStarted(id, child.pid, startedAt);
    } catch (error) {
      this.#undoStart(id, inserted, child);
      throw spawnError ?? new Error(
        `Cannot start task: the state directory "${this.#options.home}" could not record it (${
          error instanceof Error ? error.message : String(error)
        }): free disk space or fix the directory, then try again`,
      );
    }
    this.#children.set(id, child);
    child.exited.then((exit) => this.#onWrapperExit(id, exit)).catch((error) =>
      this.#log(`watching task ${id} failed: ${String(error)}`)
    );
    if (timeoutSeconds !== null) this.#armDeadline(id, startedAt + timeoutSeconds * 1000);
    return this.#require(id);
  }

  /** Removes what a failed start made: its process, its record, its folder. */
  #undoStart(id: string, inserted: boolean, child: SpawnedTask | undefined): void {
    if (child) {
      // Just spawned, it has done nothing worth a grace period; its exit is not a task's end.
      terminateTree({ taskId: id, pgid: child.pid, requestedAt: 0, graceMs: 0 }).catch((error) =>
        this.#log(`stopping the process of failed start ${id} failed: ${String(error)}`)
      );
    }
    if (inserted) {
      try {
        this.#store.deleteTask(id);
      } catch (error) {
        // The monitor ends it as interrupted once it sees no process.
        this.#log(`removing the record of failed start ${id} failed: ${String(error)}`);
      }
    }
    try {
      Deno.removeSync(this.#paths(id).dir, { recursive: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        this.#log(`removing the folder of failed start ${id} failed: ${String(error)}`);
      }
    }
  }

  #resolveCwd(cwd: string | undefined): string {
    if (cwd === undefined) return this.#options.defaultCwd;
    if (typeof cwd !== "string" || cwd.trim() === "") {
      throw new RangeError(
        "Cannot start task: cwd is empty: pass a directory, or leave cwd out to use the server's",
      );
    }
    if (cwd.includes("\0")) {
      throw new RangeError("Cannot start task: cwd contains a NUL character: remove it");
    }
    return isAbsolute(cwd) ? resolve(cwd) : resolve(this.#options.defaultCwd, cwd);
  }

  #armDeadline(id: string, at: number): void {
    const timer = setTimeout(() => {
      if (at > Date.now()) return this.#armDeadline(id, at);
      this.#deadlines.delete(id);
      this.#stopInBackground(id, "timeout");
    }, Math.min(Math.max(0, at - Date.now()), MAX_TIMER_MS));
    Deno.unrefTimer(timer);
    this.#deadlines.set(id, timer);
  }

  #disarmDeadline(id: string): void {
    clearTimeout(this.#deadlines.get(id));
    this.#deadlines.delete(id);
  }

  #onWrapperExit(id: string, exit: WrapperExit): void {
    this.#children.delete(id);
    this.#wrapperExits.set(id, exit);
    if (this.#closed) return;
    const task = this.#store.getTask(id);
    if (!task || isTerminal(task.status)) return this.#ended(id);
    if (task.stopReason) {
      this.#stopInBackground(id, task.stopReason);
      return;
    }
    if (this.#recordExit(task)) return;
    // No record, yet the wrapper exited by itself with its command's code: the record could not
    // be written (the task removed its folder, the disk is full). What this server saw is the end.
    if (exit.code !== null && readExitRecord(this.#paths(id).exit) === null) {
      const recorded = this.#store.finishExited(id, {
        status: statusForExit(exit.code),
        exitCode: exit.code,
        signal: signalFromExitCode(exit.code),
        statusMessage:
          "The exit code is the one the task's shell returned: its exit record could not be written (its folder removed, or the disk full)",
        endedAt: Date.now(),
      });
      if (recorded) {
        this.#ended(id);
        this.#changed(id);
        return;
      }
      const now = this.#store.getTask(id);
      if (now?.status === "working" && now.stopReason) this.#stopInBackground(id, now.stopReason);
    }
    // Killed from outside, the wrapper left no code: the monitor decides, once the rest of the
    // tree is gone too.
  }

  /** Forgets what was kept for a task while it ran. */
  #ended(id: string): void {
    this.#disarmDeadline(id);
    this.#wrapperExits.delete(id);
  }

  /** Records the end of a task from its exit record; false when there is none or it lost a race. */
  #recordExit(task: Task): boolean {
    const record = readExitRecord(this.#paths(task.id).exit);
    if (!record) return false;
    if (record.reason) {
      // The wrapper stopped the command itself (its timeout or log cap): finish it as that stop,
      // once this server has checked that nothing of the task is left.
      this.#stopInBackground(task.id, record.reason);
      return true;
    }
    const end: TaskEnd = {
      status: statusForExit(record.code),
      exitCode: record.code,
      signal: signalFromExitCode(record.code),
      statusMessage: null,
      // File times are kernel-tick coarse; never let a quick task end before it started.
      endedAt: Math.max(record.at, task.startedAt ?? task.createdAt),
    };
    if (this.#store.finishExited(task.id, end)) {
      this.#ended(task.id);
      this.#changed(task.id);
      return true;
    }
    const now = this.#store.getTask(task.id);
    if (now?.status === "working" && now.stopReason) {
      this.#stopInBackground(task.id, now.stopReason);
    }
    return false;
  }

  /** A stop nobody waits for: a failure is logged, and the monitor tries again on its next pass. */
  #stopInBackground(id: string, reason: StopReason): void {
    this.#stop(id, reason).catch((error) =>
      this.#log(`stopping task ${id} failed: ${error instanceof Error ? error.message : error}`)
    );
  }

  /** Asks for a stop and drives it to the end: the status changes only once the tree is gone. */
  #stop(id: string, reason: StopReason): Promise<Task | undefined> {
    const running = this.#stopping.get(id);
    if (running) return running;
    const stopping = (async () => {
      const requestedAt = Date.now();
      const task = this.#store.requestStop(id, reason, requestedAt);
      if (!task || isTerminal(task.status)) return task;
      const effective = task.stopReason ?? reason;
      // No signal goes into a task's start-up window, where a shell would lose it.
      const young = (task.startedAt ?? 0) + START_WINDOW_MS - Date.now();
      if (young > 0) await new Promise((resolve) => setTimeout(resolve, young));
      const dir = this.#paths(id).dir;
      const { forced: killed, method, firstSignalAt } = await terminateTree({
        taskId: id,
        pgid: task.pid,
        cgroup: readTaskCgroup(dir, id),
        commandPid: readCommandPid(dir),
        signalMark: join(dir, "signalled"),
        requestedAt: task.stopRequestedAt ?? Date.now(),
        graceMs: this.#options.graceSeconds * 1000,
      });
      const record = readExitRecord(this.#paths(id).exit);
      const wrapper = await this.#children.get(id)?.exited ?? this.#wrapperExits.get(id);
      // Another server's stop may have signalled the task first: the mark says when.
      const natural = naturalExitCode({
        record,
        wrapperCode: wrapper?.code ?? null,
        firstSignalAt: readSignalMark(join(dir, "signalled")) ?? firstSignalAt,
      });
      // The wrapper's own stop may have needed SIGKILL before this server looked.
      const forced = killed || (readWrapperStop(dir)?.forced ?? false);
      this.#store.finish(
        id,
        natural !== null
          ? {
            status: statusForExit(natural),
            exitCode: natural,
            signal: signalFromExitCode(natural),
            statusMessage: null,
            endedAt: record ? Math.max(record.at, task.startedAt ?? task.createdAt) : Date.now(),
            natural: true,
          }
          : {
            status: statusForStop(effective),
            exitCode: record?.code ?? null,
            signal: forced ? "SIGKILL" : record ? signalFromExitCode(record.code) : null,
            statusMessage: stopMessage(
              effective,
              task,
              forced,
              this.#options.graceSeconds,
              describeGone(method),
            ),
            endedAt: Date.now(),
          },
      );
      this.#ended(id);
      this.#changed(id);
      return this.#store.getTask(id);
    })().finally(() => this.#stopping.delete(id));
    this.#stopping.set(id, stopping);
    return stopping;
  }

  /**
   * One pass over the working tasks: adopts those whose owner is gone, records ends that nobody
   * saw, enforces deadlines, and marks tasks whose processes vanished without an exit record as
   * interrupted. Tasks owned by another live server are left to it.
   */
  async tick(): Promise<void> {
    if (this.#ticking || this.#closed) return;
    this.#checkState();
    this.#ticking = true;
    try {
      await this.#reconcile();
      // A command line prints what it finds: let it finish the stops its pass began (a wrapper's
      // recorded timeout or log cap, a deadline that passed) before it looks.
      if (this.#options.watch === false) await Promise.all(this.#stopping.values());
    } catch (error) {
      this.#log(`checking tasks failed: ${error instanceof Error ? error.message : error}`);
    } finally {
      this.#ticking = false;
    }
  }

  /** The servers (by id) that are alive, from a process scan at most OWNER_CHECK_MS old. */
  async #liveOwners(owners: Set<string>, snapshot: () => Promise<ProcessTable>) {
    const cached = this.#owners;
    if (
      cached && Date.now() - cached.at < OWNER_CHECK_MS &&
      [...owners].every((owner) => cached.known.has(owner))
    ) return cached.live;
    const table = await snapshot();
    const live = new Set<string>([this.#serverId]);
    const known = new Set<string>([this.#serverId]);
    for (const server of this.#store.listServers()) {
      known.add(server.id);
      if (server.id === this.#serverId || table.isAlive(server.pid, server.startTime)) {
        live.add(server.id);
      } else {
        this.#store.unregisterServer(server.id);
      }
    }
    for (const owner of owners) known.add(owner);
    this.#owners = { at: Date.now(), live, known };
    return live;
  }

  async #reconcile(): Promise<void> {
    const now = Date.now();
    const checkLogs = now - this.#logsCheckedAt >= LOG_CHECK_MS;
    if (checkLogs) this.#logsCheckedAt = now;
    // Most passes find only tasks this server watches through their child handles: read the
    // whole rows only of those that need a look.
    const summary = this.#store.workingSummary();
    const working: Task[] = [];
    for (const row of summary) {
      const mine = row.owner === this.#serverId && row.stopReason === null;
      if (mine && checkLogs && this.#outputBytes(row.id) > this.#options.maxLogBytes) {
        this.#stopInBackground(row.id, "log_limit");
        continue;
      }
      if (mine && this.#children.has(row.id)) continue;
      const task = this.#store.getTask(row.id);
      if (task?.status === "working") working.push(task);
    }
    if (working.length === 0) return;
    let table: ProcessTable | undefined;
    const snapshot = async () => table ??= await ProcessTable.read();
    const owners = new Set<string>();
    for (const task of working) if (task.owner !== null) owners.add(task.owner);
    owners.delete(this.#serverId);
    const liveOwners = owners.size > 0
      ? await this.#liveOwners(owners, snapshot)
      : new Set([this.#serverId]);
    const unwatched: Task[] = [];
    for (const task of working) {
      if (task.owner !== this.#serverId) {
        if (task.owner !== null && liveOwners.has(task.owner)) continue;
        if (!this.#store.claim(task.id, task.owner, this.#serverId)) continue;
        this.#log(`adopted task ${task.id}: the process that watched it is gone`);
      }
      if (this.#stopping.has(task.id)) continue;
      if (task.stopReason) {
        // A stop another server began and did not finish (it died, or is far past its grace).
        const giveUpAt = (task.stopRequestedAt ?? 0) + this.#options.graceSeconds * 1000 +
          STOPPER_GIVE_UP_MS;
        if (task.owner !== this.#serverId || now >= giveUpAt || !this.#children.has(task.id)) {
          this.#stopInBackground(task.id, task.stopReason);
        }
        continue;
      }
      if (this.#children.has(task.id)) continue;
      if (this.#recordExit(task)) continue;
      if (task.deadlineAt !== null && task.deadlineAt <= now) {
        this.#stopInBackground(task.id, "timeout");
        continue;
      }
      if (task.deadlineAt !== null && !this.#deadlines.has(task.id)) {
        this.#armDeadline(task.id, task.deadlineAt);
      }
      unwatched.push(task);
    }
    if (unwatched.length === 0) return;
    const processes = await snapshot();
    for (const task of unwatched) {
      if (processes.tree(task.id, task.pid).length > 0) continue;
      // The wrapper writes its exit record before it exits, so a record may have appeared
      // between the first look and the process scan.
      if (this.#recordExit(task)) continue;
      const ended = this.#store.finishExited(task.id, {
        status: "interrupted",
        exitCode: null,
        signal: null,
        statusMessage:
          "Interrupted: the task's processes are gone and it left no exit code (killed from outside, or the machine restarted)",
        endedAt: Date.now(),
      });
      if (ended) {
        this.#ended(task.id);
        this.#changed(task.id);
        this.#log(`task ${task.id} was interrupted`);
      }
    }
  }

  status(id: unknown): { task: Task; outputBytes: number } {
    const task = this.#require(id);
    return { task, outputBytes: this.#outputBytes(task.id) };
  }

  /** The status plus what the output shows: progress, silence, a prompt waiting for input. */
  async inspect(id: unknown): Promise<{ task: Task; outputBytes: number; output: OutputState }> {
    const { task, outputBytes } = this.status(id);
    const ended = this.#endedOutput.get(task.id);
    if (ended) {
      let mtime: Date | null = null;
      try {
        mtime = Deno.statSync(this.#paths(task.id).log).mtime;
      } catch {
        // removed meanwhile: no output time to give
      }
      const secondsSinceOutput = secondsSince(mtime, Date.now());
      return { task, outputBytes, output: { ...ended, secondsSinceOutput } };
    }
    const output = await this.#progress.read(task.id, this.#paths(task.id).log, {
      working: task.status === "working",
      now: Date.now(),
      endedAt: task.endedAt,
    });
    if (isTerminal(task.status)) {
      // An ended task's output no longer changes: keep its small final state, not the parse
      // buffers, so looking at thousands of ended tasks does not hold their last lines.
      this.#progress.forget(task.id);
      this.#endedOutput.set(task.id, output);
      if (this.#endedOutput.size > ENDED_OUTPUT_ENTRIES) {
        this.#endedOutput.delete(this.#endedOutput.keys().next().value!);
      }
    }
    return { task, outputBytes, output };
  }

  #outputBytes(id: string): number {
    try {
      return Deno.statSync(this.#paths(id).log).size;
    } catch {
      return 0;
    }
  }

  /**
   * A bounded piece of a task's output (works while it runs): the tail by default, or the head,
   * a byte range from a cursor, or the lines matching a pattern. Every reply fits the output cap.
   */
  async output(id: unknown, request: OutputRequest = {}): Promise<TaskOutput> {
    const task = this.#require(id);
    const modes = [
      request.tailLines !== undefined && "tail_lines",
      request.headLines !== undefined && "head_lines",
      request.offset !== undefined && "offset",
      request.grep !== undefined && "grep",
    ].filter(Boolean);
    if (modes.length > 1) {
      throw new RangeError(
        `Pass only one of tail_lines, head_lines, offset and grep, not ${modes.join(" and ")}`,
      );
    }
    if (request.maxBytes !== undefined && request.offset === undefined) {
      throw new RangeError("max_bytes goes with offset: pass offset too (0 reads from the start)");
    }
    if (
      (request.context !== undefined || request.maxMatches !== undefined) &&
      request.grep === undefined
    ) {
      throw new RangeError("context and max_matches go with grep: pass a grep pattern too");
    }
    const path = this.#paths(task.id).log;
    const read = {
      maxChars: this.#options.maxOutputChars,
      raw: request.raw ?? false,
      complete: isTerminal(task.status),
    };
    // Checked here in the tool's own words; logs.ts checks again in its own.
    const ranges = [
      ["tail_lines", request.tailLines, 1, 1_000_000],
      ["head_lines", request.headLines, 1, 1_000_000],
      ["offset", request.offset, 0, Number.MAX_SAFE_INTEGER],
      ["max_bytes", request.maxBytes, 1, Number.MAX_SAFE_INTEGER],
      ["context", request.context, 0, 20],
      ["max_matches", request.maxMatches, 1, 1000],
    ] as const;
    for (const [name, value, min, max] of ranges) {
      if (value !== undefined && !(Number.isSafeInteger(value) && value >= min && value <= max)) {
        throw new RangeError(
          `${name} ${value} is out of range: pass a whole number from ${min}${
            max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ""
          }${name === "offset" ? ", such as next_offset from the previous reply" : ""}`,
        );
      }
    }
    if (request.grep !== undefined) {
      const grep = await grepLog(path, {
        ...read,
        pattern: request.grep,
        context: request.context,
        maxMatches: request.maxMatches,
      });
      return { task, grep };
    }
    if (request.headLines !== undefined) {
      return { task, slice: await readHead(path, { ...read, lines: request.headLines }) };
    }
    if (request.offset !== undefined) {
      return {
        task,
        slice: await readRange(path, {
          ...read,
          offset: request.offset,
          maxBytes: request.maxBytes,
        }),
      };
    }
    return { task, slice: await readTail(path, { ...read, lines: request.tailLines }) };
  }

  /** Stops a task and its whole process tree; resolves once every process is gone. */
  async cancel(id: unknown): Promise<CancelOutcome> {
    const task = this.#require(id);
    if (isTerminal(task.status)) {
      return { task, alreadyEnded: true, leftoversStopped: await this.#stopLeftovers(task) };
    }
    const ended = await this.#stop(task.id, "cancel") ?? this.#require(task.id);
    return { task: ended, alreadyEnded: ended.stopReason === null, leftoversStopped: 0 };
  }

  /**
   * An ended task may have left background processes (`server &`) running; a cancel of it stops
   * them too, so that no process of a cancelled task is left. Its recorded status stays.
   */
  async #stopLeftovers(task: Task): Promise<number> {
    const cgroup = readTaskCgroup(this.#paths(task.id).dir, task.id);
    const table = await ProcessTable.read({ cgroups: cgroup === null ? [] : [cgroup] });
    const leftovers = table.tree(task.id, task.pid, cgroup);
    if (leftovers.length === 0) return 0;
    await terminateTree({
      taskId: task.id,
      pgid: task.pid,
      cgroup,
      requestedAt: Date.now(),
      graceMs: this.#options.graceSeconds * 1000,
    });
    return leftovers.length;
  }

  /** The newest tasks matching the filter, and how many match in all. */
  list(
    request: ListRequest & { before?: { createdAt: number; id: string } } = {},
  ): { tasks: Task[]; total: number } {
    const limit = request.limit ?? 20;
    if (!(Number.isInteger(limit) && limit >= 1 && limit <= 1000)) {
      throw new RangeError(`limit ${limit} is out of range: pass a whole number from 1 to 1000`);
    }
    const status = request.status;
    if (status !== undefined && !(TASK_STATUSES as readonly string[]).includes(status)) {
      throw new RangeError(
        `Unknown status "${String(status).slice(0, 40)}": pass one of ${TASK_STATUSES.join(", ")}`,
      );
    }
    return this.#store.listTasks({
      limit,
      status: status as TaskStatus | undefined,
      label: request.label?.trim(),
      cwd: request.cwd === undefined ? undefined : this.#resolveCwd(request.cwd),
      before: request.before && { createdAt: request.before.createdAt, id: request.before.id },
    });
  }

  /**
   * Calls `listener` with a task id whenever this engine records a status change. Changes other
   * servers record are not seen here; read the store for those. Returns the unsubscribe function.
   */
  onChange(listener: (id: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(id: string): void {
    for (const listener of this.#listeners) {
      try {
        listener(id);
      } catch (error) {
        this.#log(`a status listener failed: ${error instanceof Error ? error.message : error}`);
      }
    }
  }

  /** Paths of a task's files, for readers of its output. */
  logPath(id: string): string {
    return this.#paths(id).log;
  }

  outputBytes(id: string): number {
    return this.#outputBytes(id);
  }
}
