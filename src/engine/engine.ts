import { join } from "node:path";
import { BackburnerError } from "../errors.ts";
import type {
  Executor,
  ExecutorSnapshot,
  ExitRecord,
  SpawnedTask,
  TaskTarget,
  WrapperExit,
} from "../executors/executor.ts";
import { LocalExecutor } from "../executors/local/local_executor.ts";
import {
  cancelJob,
  type CommandRunner,
  denoCommandRunner,
  pingController,
  readJobs,
  SlurmError,
  slurmOutcome,
  submitJob,
  validateSlurmSettings,
} from "../executors/slurm/mod.ts";
import { endFromRecord, slurmJobName, slurmStep, writeJobScript } from "./slurm_task.ts";
import { grepLog } from "../logs/grep.ts";
import { readHead, readRange, readTail } from "../logs/slice.ts";
import type { PolicyGate } from "../policy/gate.ts";
import { unsafeInheritedEnv } from "../policy/rules.ts";
import { type OutputState, ProgressTracker, secondsSince } from "../logs/progress.ts";
import type { KeyDecision, QueueCounts, Store, TaskEnd } from "../store.ts";
import {
  deadlineFrom,
  DEFAULT_QUEUE,
  type ExecutorName,
  isTaskId,
  isTerminal,
  newTaskId,
  statusForStop,
  type StopReason,
  type Task,
} from "../task.ts";
import { type Action, afterWrapperExit, decide, type TaskFacts, triage } from "./reconcile.ts";
import {
  checkCwdExists as checkCwd,
  type CheckedStart,
  checkList,
  checkOutput,
  checkQueue,
  checkQueueLimit,
  checkStart,
  type ListRequest,
  type OutputRequest,
  resolveCwd,
  type StartRequest,
  type TaskOutput,
} from "./requests.ts";
import { Deadlines, endOfStop, waitStartWindow } from "./stop.ts";
import { exitEventPath, pendingExitEvents, removeExitEvent } from "./exit_events.ts";
import { Monitor } from "./monitor.ts";
import {
  holdServerLock,
  removeServerLock,
  serverLiveness,
  type ServerLock,
} from "./server_lock.ts";
import {
  checkInteractive,
  inputPaths,
  type InputState,
  inputState,
  isInteractive,
  markInteractive,
  sendInput,
  type SendInputOutcome,
  type SendInputRequest,
} from "./input.ts";
import {
  planDispatch,
  queuedMessage,
  type QueueState,
  queueStateOf,
  retryDelayMs,
  retryMarker,
} from "./queue.ts";
import {
  createTaskFolder,
  hasStdin,
  listTaskFolders,
  outputBytes,
  outputModified,
  prepareAttempt,
  readCommandPid,
  readExitRecord,
  readSignalMark,
  readTaskCgroup,
  readWrapperStop,
  removeTaskFolder,
  spawnMark,
  taskPaths,
  tasksDir,
} from "./task_files.ts";

export type { ListRequest, OutputRequest, StartRequest, TaskOutput } from "./requests.ts";
export type { QueueState } from "./queue.ts";
export type { QueueCounts } from "../store.ts";

export interface EngineOptions {
  readonly store: Store;
  /** The state directory; task folders live in its "tasks" folder. */
  readonly home: string;
  /** The command policy and its checks (rules.ts openPolicyGate). */
  readonly policy: PolicyGate;
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
  /**
   * How often the monitor's cheap checks run (has the store changed, has a server died), in ms,
   * while something happens. Default 500.
   */
  readonly monitorIntervalMs?: number;
  /** How often a full look runs whatever the events said (the safety sweep), in ms. Default 5000. */
  readonly sweepIntervalMs?: number;
  /** Where diagnostics go. Default: stderr. */
  readonly log?: (message: string) => void;
  /**
   * False for a short-lived engine such as the command line's: open() only registers it, so that a
   * task it is starting is not taken for an orphan, and it adopts, sweeps and watches nothing by
   * itself (tick() makes one pass on demand). Once it has closed, a watching engine adopts the
   * tasks it started. Default true.
   */
  readonly watch?: boolean;
  /** What runs the tasks' processes. Default: a LocalExecutor (this machine's processes). */
  readonly executor?: Executor;
  /** Queue limits for queues the store has no row for yet (BACKBURNER_QUEUES). Default none. */
  readonly queueLimits?: ReadonlyMap<string, number>;
  /** The executor of tasks started without one (BACKBURNER_EXECUTOR). Default "local". */
  readonly defaultExecutor?: ExecutorName;
  /** How Slurm's commands are run for slurm tasks. Default: the real ones (denoCommandRunner). */
  readonly slurmRunner?: CommandRunner;
}

export interface CancelOutcome {
  readonly task: Task;
  /** True when the task had ended before the cancel arrived; nothing was signalled. */
  readonly alreadyEnded: boolean;
  /** Processes the task had left running in the background that this cancel stopped. */
  readonly leftoversStopped: number;
}

const RETENTION_SWEEP_MS = 60_000;
/** How long a stop waits for the spawn of a task claimed from its queue to be recorded. */
const SPAWN_WAIT_STEP_MS = 10;
const SPAWN_WAIT_TRIES = 50;
/** How long (in SPAWN_WAIT_STEP_MS steps) a stop waits for a wrapper to note its command's pid. */
const COMMAND_WAIT_TRIES = 200;
const CANCELLED_QUEUED_MESSAGE = "Cancelled on request before it started; it never ran";
const SHUTDOWN_QUEUED_MESSAGE =
  "Cancelled before it started because the server that queued it shut down with BACKBURNER_ON_EXIT=cancel; it never ran";
/** Final output states of ended tasks kept for task_status; the oldest go first. */
const ENDED_OUTPUT_ENTRIES = 1000;
/** How often the log sizes of running tasks are compared with the cap. */
const LOG_CHECK_MS = 2000;
/** How long a process scan's verdict on lockless servers' liveness is trusted. */
const OWNER_CHECK_MS = 2000;
/** The monitor's safety sweep: a full look this often, whatever the events said. */
const SAFETY_SWEEP_MS = 5000;
/**
 * The monitor's longest wait between checks while nothing happens: the sweep's period, so that an
 * idle server wakes about as often as its sweep needs anyway.
 */
const IDLE_CHECK_MS = 5000;
/** A task folder without a record this old is a leftover of a failed start, not one starting. */
const STRAY_FOLDER_MS = 60_000;
/**
 * How long after it ended a task keeps its idempotency key (a start with the key returns it),
 * capped by the retention period.
 */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3600 * 1000;

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
  readonly #deadlines = new Deadlines((id) => this.#stopInBackground(id, "timeout"));
  readonly #executor: Executor;
  readonly #log: (message: string) => void;
  #monitor: Monitor | undefined;
  /** The lock this engine holds while it lives (server_lock.ts); null where none could be taken. */
  #serverLock: ServerLock | null = null;
  /** The other servers registered at the last look, whose locks the monitor tries. */
  #otherServers: string[] = [];
  /** Whether the last look found Slurm tasks to follow (nothing announces their changes). */
  #slurmActive = false;
  /** The last process scan that told servers without a lock alive or dead. */
  #ownerScan: { at: number; table: ExecutorSnapshot } | undefined;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #logsCheckedAt = 0;
  readonly #listeners = new Set<(id: string) => void>();
  readonly #storeListeners = new Set<() => void>();
  readonly #progress = new ProgressTracker();
  readonly #endedOutput = new Map<string, OutputState>();
  /** The look under way, and whether another was asked for meanwhile. */
  #tickRun: Promise<void> | null = null;
  #tickAgain = false;
  #closed = false;
  #dispatchQueued = false;
  /** Set once open() registered this engine: only a registered engine claims queued tasks. */
  #registered = false;
  /** Submissions of Slurm tasks under way here, by task id: each resolves with its error. */
  readonly #submitting = new Map<string, Promise<BackburnerError | null>>();
  /** Submissions whose start call waits for them (settle), by task id. */
  readonly #ownSubmissions = new Map<string, Promise<BackburnerError | null>>();
  /** Tasks whose start call awaits its submission (settle was called before it ended). */
  readonly #settling = new Set<string>();
  #slurmRunner: CommandRunner | undefined;
  /** When a reconcile pass last found slurmctld not answering (logged once per outage). */
  #slurmDown = false;
  /** Timers that run a dispatch when a retry's backoff has passed. */
  readonly #retryTimers = new Set<ReturnType<typeof setTimeout>>();
  /** The database file as opened, to notice it removed or replaced under the server. */
  readonly #stateFile: { dev: number; ino: number | null } | null;
  /** Why the state can no longer be trusted, once it cannot. */
  #stateLost: string | null = null;

  constructor(options: EngineOptions) {
    this.#store = options.store;
    this.#options = options;
    this.#executor = options.executor ?? new LocalExecutor();
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
      throw new BackburnerError(
        "state_lost",
        `Cannot start task: ${lost}; nothing started now could be found again: restart backburner`,
      );
    }
  }

  get serverId(): string {
    return this.#serverId;
  }

  /** Registers this server, adopts orphaned tasks, and starts watching (unless `watch` is false). */
  async open(): Promise<void> {
    Deno.mkdirSync(tasksDir(this.#options.home), { recursive: true, mode: 0o700 });
    this.#store.registerServer({
      id: this.#serverId,
      pid: Deno.pid,
      startTime: await this.#executor.ownStartTime(),
      startedAt: Date.now(),
    });
    this.#registered = true;
    try {
      this.#serverLock = holdServerLock(this.#options.home, this.#serverId);
    } catch (error) {
      this.#log(
        `cannot hold a server lock (${
          error instanceof Error ? error.message : error
        }): other servers tell this one is alive by a process scan`,
      );
    }
    const note = await this.#executor.prepare();
    if (note !== null) this.#log(note);
    if (this.#options.queueLimits?.size) this.#store.seedQueueLimits(this.#options.queueLimits);
    if (this.#options.watch === false) return;
    this.sweep();
    const sweeper = setInterval(() => this.sweep(), RETENTION_SWEEP_MS);
    Deno.unrefTimer(sweeper);
    this.#sweeper = sweeper;
    await this.tick();
    const intervalMs = this.#options.monitorIntervalMs ?? 500;
    const monitor = new Monitor({
      home: this.#options.home,
      intervalMs,
      idleIntervalMs: Math.max(intervalMs, IDLE_CHECK_MS),
      sweepMs: this.#options.sweepIntervalMs ?? SAFETY_SWEEP_MS,
      exitEvents: this.#executor.announcesExits,
      dataVersion: () => this.#store.dataVersion(),
      storeChanged: () => this.#storeChanged(),
      otherServers: () => this.#otherServers,
      busy: () => this.#slurmActive,
      watchedHere: (id) => this.#children.has(id),
      look: () => this.tick(),
      log: this.#log,
    });
    monitor.start();
    this.#monitor = monitor;
  }

  /**
   * Stops watching. With `cancelRunning`, first stops every task this server owns and waits until
   * their processes are gone; otherwise they keep running and the next server adopts them.
   */
  async close(options: { cancelRunning: boolean }): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#monitor?.close();
    clearInterval(this.#sweeper);
    for (const timer of this.#retryTimers) clearTimeout(timer);
    this.#deadlines.clear();
    if (options.cancelRunning) {
      for (const id of this.#store.queuedStartedBy(this.#serverId)) {
        this.#store.cancelQueued(id, Date.now(), SHUTDOWN_QUEUED_MESSAGE);
      }
      // Only what this server started: a task it adopted, or one a person started with
      // `backburner run`, was never its to cancel.
      const own = [
        ...this.#store.workingTasks(),
        // Slurm tasks waiting in Slurm's queue have a job to cancel too.
        ...this.#store.slurmTasks().filter((t) => t.status === "queued"),
      ].filter((t) => t.owner === this.#serverId && t.startedBy === this.#serverId);
      await Promise.all(own.map((task) => this.#stop(task.id, "shutdown")));
    }
    await Promise.all(this.#stopping.values());
    await Promise.all(this.#submitting.values());
    this.#store.unregisterServer(this.#serverId);
    this.#serverLock?.release();
  }

  #paths(id: string) {
    return taskPaths(this.#options.home, id);
  }

  /** What an executor needs to find a task's processes. */
  #target(task: Task, withCgroup: boolean): TaskTarget {
    return {
      taskId: task.id,
      pid: task.pid,
      cgroup: withCgroup ? readTaskCgroup(this.#paths(task.id).dir, task.id) : null,
    };
  }

  #require(id: unknown): Task {
    const task = typeof id === "string" && isTaskId(id) ? this.#store.getTask(id) : undefined;
    if (!task) {
      const shown = typeof id === "string" ? id.slice(0, 80) : String(id);
      throw new BackburnerError(
        "unknown_task",
        `Unknown task_id "${shown}": call list_tasks to see the task ids`,
      );
    }
    return task;
  }

  /** The state directory. */
  get home(): string {
    return this.#options.home;
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
        removeTaskFolder(this.#paths(id).dir);
      } catch (error) {
        this.#log(`removing the folder of task ${id} failed: ${String(error)}`);
      }
    }
    if (removed.length) {
      this.#log(`removed ${removed.length} tasks past the retention period`);
      this.#storeChanged();
    }
    this.#executor.sweep().catch((error) =>
      this.#log(`removing empty task cgroups failed: ${String(error)}`)
    );
    this.#removeStrayFolders(now);
    return removed.length;
  }

  /**
   * Removes task folders that have no record: what a start that failed half-way left (a crash
   * between the folder and the record). A folder younger than a minute may be a start under way.
   */
  #removeStrayFolders(now: number): void {
    if (this.#checkState() !== null) return;
    const folders = listTaskFolders(this.#options.home);
    if (folders.length === 0) return;
    const known = this.#store.taskIds();
    for (const { id, dir, changedAt } of folders) {
      if (known.has(id)) continue;
      try {
        if (now - (changedAt() ?? now) < STRAY_FOLDER_MS) continue;
        // Looked up again: a start that was under way may have recorded it meanwhile.
        if (this.#store.getTask(id)) continue;
        if (!removeTaskFolder(dir)) continue;
        this.#log(
          `removed the folder of task ${id}: no task is recorded for it (a start that failed)`,
        );
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) {
          this.#log(`removing the stray folder ${dir} failed: ${String(error)}`);
        }
      }
    }
  }

  /** Starts a command in the background (or queues it) and returns at once with the task. */
  start(request: StartRequest): Task {
    return this.startOrFind(request).task;
  }

  /**
   * Starts a command, or queues it while its queue is full or its dependencies have not completed;
   * with an idempotency key held by a task still queued or working, or ended within the
   * idempotency window, returns that task instead (`existing: true`).
   */
  startOrFind(request: StartRequest): { task: Task; existing: boolean } {
    const checked = checkStart(
      request,
      this.#options.defaultCwd,
      this.#options.defaultExecutor ?? "local",
    );
    return this.#enqueue(checked, {
      ttlMs: request.ttlMs === undefined ? null : this.effectiveTtl(request.ttlMs),
      restartOf: null,
    });
  }

  /**
   * A new task with the command, cwd, environment, label, queue, timeout and retries of task `id`
   * (in any state), which it names as the task it restarts.
   */
  restart(id: unknown): Task {
    const old = this.#require(id);
    let stdin: Uint8Array | undefined;
    try {
      stdin = Deno.readFileSync(this.#paths(old.id).stdin);
    } catch {
      // Started without stdin, or its folder is gone: empty stdin.
    }
    return this.#enqueue({
      command: old.command,
      cwd: old.cwd,
      timeoutSeconds: old.timeoutSeconds,
      env: this.#store.taskEnv(old.id),
      label: old.label,
      stdin,
      interactive: isInteractive(this.#paths(old.id).dir),
      queue: old.queue,
      after: [],
      retries: old.retries,
      retryDelayMs: old.retryDelayMs,
      idempotencyKey: null,
      executor: old.executor,
      slurm: old.executor === "slurm" ? old.slurm : null,
    }, { ttlMs: null, restartOf: old.id }).task;
  }

  /** How long an idempotency key keeps returning the task that holds it after that task ended. */
  get idempotencyWindowMs(): number {
    return Math.min(IDEMPOTENCY_WINDOW_MS, this.retentionMs);
  }

  #enqueue(
    checked: CheckedStart,
    extra: { ttlMs: number | null; restartOf: string | null },
  ): { task: Task; existing: boolean } {
    const { command, cwd, env, stdin } = checked;
    const decision = this.#options.policy.checkCommand(command);
    if (!decision.allowed) throw new BackburnerError("refused_by_policy", decision.reason);
    const envDecision = this.#options.policy.checkEnv(env);
    if (!envDecision.allowed) throw new BackburnerError("refused_by_policy", envDecision.reason);
    if (checked.interactive) {
      checkInteractive(checked.executor, this.#options.policy, Deno.build.os);
    }
    this.#requireState();
    checkCwd(cwd);

    const id = newTaskId();
    const paths = this.#paths(id);
    const createdAt = Date.now();
    let result: KeyDecision;
    try {
      // The folder first: no record without its stdin. A folder left without a record (a crash
      // now) is removed by the sweep.
      createTaskFolder(paths, stdin);
      if (checked.interactive) markInteractive(paths.dir);
      result = this.#store.insertQueued({
        id,
        command,
        cwd,
        createdAt,
        timeoutSeconds: checked.timeoutSeconds,
        owner: this.#serverId,
        label: checked.label,
        ttlMs: extra.ttlMs,
        queue: checked.queue,
        after: checked.after,
        retries: checked.retries,
        retryDelayMs: checked.retryDelayMs,
        idempotencyKey: checked.idempotencyKey,
        restartOf: extra.restartOf,
        env,
        executor: checked.executor,
        slurm: checked.slurm,
      }, {
        onKey: (holder) => this.#keyDecision(holder, command, cwd, createdAt),
        onUnknownDependency: (dep) => {
          throw new BackburnerError(
            "invalid_argument",
            `Cannot start task: after names unknown task "${dep}": pass ids that start_task or list_tasks returned`,
          );
        },
        onCycle: (path) => {
          throw new BackburnerError(
            "invalid_argument",
            `Cannot start task: after would make a cycle (${
              path.join(" -> ")
            }): a task cannot wait on itself`,
          );
        },
      });
    } catch (error) {
      this.#removeFolder(id);
      if (error instanceof BackburnerError) throw error;
      throw new BackburnerError(
        "storage_failure",
        `Cannot start task: the state directory "${this.#options.home}" could not record it (${
          error instanceof Error ? error.message : String(error)
        }): free disk space or fix the directory, then try again`,
      );
    }
    if (result.kind === "existing") {
      this.#removeFolder(id);
      return { task: result.task, existing: true };
    }
    this.#storeChanged();
    let spawnError: BackburnerError | null;
    try {
      spawnError = this.#dispatch(id);
    } catch (error) {
      // Not even queued for sure: take it back, so that a start reported failed never runs.
      try {
        if (this.#store.deleteQueued(id)) this.#removeFolder(id);
        this.#storeChanged();
      } catch (undo) {
        this.#log(`removing the record of failed start ${id} failed: ${String(undo)}`);
      }
      throw new BackburnerError(
        "storage_failure",
        `Cannot start task: the state directory "${this.#options.home}" could not record it (${
          error instanceof Error ? error.message : String(error)
        }): free disk space or fix the directory, then try again`,
      );
    }
    if (spawnError) {
      // Its own start failed to spawn: as before queues, nothing of it is kept.
      this.#undoStart(id);
      throw spawnError;
    }
    return { task: this.#require(id), existing: false };
  }

  /** What a start with an idempotency key held by `holder` does. */
  #keyDecision(holder: Task, command: string, cwd: string, now: number): KeyDecision {
    const holds = holder.endedAt === null || holder.endedAt > now - this.idempotencyWindowMs;
    if (!holds) return { kind: "insert" };
    if (holder.command !== command || holder.cwd !== cwd) {
      throw new BackburnerError(
        "invalid_argument",
        `Cannot start task: idempotency_key "${
          holder.idempotencyKey?.slice(0, 80)
        }" is held by task ${holder.id}, started with a different ${
          holder.command !== command ? "command" : "cwd"
        }: use a new key for a different command`,
      );
    }
    return { kind: "existing", task: holder };
  }

  #removeFolder(id: string): void {
    try {
      removeTaskFolder(this.#paths(id).dir);
    } catch (error) {
      this.#log(`removing the folder of failed start ${id} failed: ${String(error)}`);
    }
  }

  /** Runs a dispatch soon (once per turn however many ask): a slot freed, a task queued. */
  #dispatchSoon(): void {
    if (this.#dispatchQueued || this.#closed) return;
    this.#dispatchQueued = true;
    queueMicrotask(() => {
      this.#dispatchQueued = false;
      if (this.#closed) return;
      try {
        this.#dispatch(null);
      } catch (error) {
        this.#log(
          `starting queued tasks failed: ${error instanceof Error ? error.message : error}`,
        );
      }
    });
  }

  /**
   * Claims what may start now (queue.ts decides, one transaction) and spawns it here; fails the
   * queued tasks whose dependencies did not complete. Returns the spawn error of task `own` (the
   * start that asked), which its caller reports; other spawn failures end their task as failed.
   */
  #dispatch(own: string | null): BackburnerError | null {
    // An engine no other server knows of (a command line that did not open() it) must not claim:
    // its claims would look like a dead server's to every other one.
    if (!this.#registered || this.#closed || this.#checkState() !== null) return null;
    if (!this.#store.hasQueued()) return null;
    const { claimed, failed } = this.#store.dispatch(
      this.#serverId,
      Date.now(),
      (snapshot) => planDispatch(snapshot, Date.now()),
    );
    for (const id of failed) this.#changed(id);
    let ownError: BackburnerError | null = null;
    for (const task of claimed) {
      if (task.executor === "slurm") {
        const submission = this.#submitSlurm(task);
        this.#submitting.set(task.id, submission);
        submission.finally(() => this.#submitting.delete(task.id));
        // The start that asked reports its own failure when it awaits it (settle); otherwise
        // the task ends failed with it.
        if (task.id === own) this.#ownSubmissions.set(task.id, submission);
        void submission.then((error) => {
          if (this.#settling.has(task.id)) return;
          this.#ownSubmissions.delete(task.id);
          this.#failSubmission(task.id, error);
        });
        continue;
      }
      const error = this.#launch(task);
      if (error === null) continue;
      if (task.id === own) {
        ownError = error;
        continue;
      }
      this.#log(`task ${task.id} could not start: ${error.message}`);
      this.#store.finish(task.id, {
        status: "failed",
        exitCode: null,
        signal: null,
        statusMessage: error.message,
        endedAt: Date.now(),
      });
      this.#changed(task.id);
    }
    return ownError;
  }

  /**
   * Spawns a task this server has just claimed. The spawn mark (the attempt number) is written
   * before the spawn: a claimed task without it for its attempt never ran, and reconcile puts it
   * back in its queue when its owner died (never twice: with the mark, it is looked for instead).
   */
  #launch(task: Task): BackburnerError | null {
    const { id } = task;
    const paths = this.#paths(id);
    let child: SpawnedTask;
    const startedAt = Date.now();
    try {
      prepareAttempt(paths, task.attempt);
      child = this.#executor.spawn({
        taskId: id,
        command: task.command,
        cwd: task.cwd,
        logPath: paths.log,
        exitPath: paths.exit,
        stdinPath: hasStdin(paths) ? paths.stdin : undefined,
        inputPath: isInteractive(paths.dir) ? inputPaths(paths.dir, task.attempt).fifo : undefined,
        // The server's own BASH_ENV, PS4, exported functions… would run code no rule saw.
        env: {
          ...unsafeInheritedEnv(this.#options.policy, Deno.env.toObject()),
          ...this.#store.taskEnv(id),
        },
        // The wrapper enforces these itself, so they hold with no server running.
        maxLogBytes: this.#options.maxLogBytes,
        timeoutSeconds: task.timeoutSeconds,
        graceSeconds: this.#options.graceSeconds,
        exitEventPath: exitEventPath(this.#options.home, id),
      });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound && /cwd/.test(error.message)) {
        const why = /not a directory/.test(error.message) ? "is not a directory" : "does not exist";
        return new BackburnerError(
          "spawn_failed",
          `Cannot start task: cwd "${task.cwd}" ${why}: pass an existing directory`,
        );
      }
      return new BackburnerError(
        "spawn_failed",
        `Cannot start task: the shell could not be started (${String(error)})`,
      );
    }
    const deadlineAt = deadlineFrom(startedAt, task.timeoutSeconds);
    let started: boolean;
    try {
      started = this.#store.markStarted(id, child.pid, startedAt, deadlineAt);
    } catch (error) {
      // Just spawned, it has done nothing worth a grace period; its exit is not a task's end.
      this.#executor.stop({ taskId: id, pid: child.pid, cgroup: null }, {
        requestedAt: 0,
        graceMs: 0,
      }).catch((error) =>
        this.#log(`stopping the process of failed start ${id} failed: ${String(error)}`)
      );
      return new BackburnerError(
        "storage_failure",
        `Cannot start task: the state directory "${this.#options.home}" could not record it (${
          error instanceof Error ? error.message : String(error)
        }): free disk space or fix the directory, then try again`,
      );
    }
    this.#children.set(id, child);
    child.exited.then((exit) => {
      // A wrapper of an earlier attempt that exits after the next attempt started says nothing
      // of that one.
      if (this.#children.has(id) && this.#children.get(id) !== child) return;
      this.#onWrapperExit(id, exit);
    }).catch((error) => this.#log(`watching task ${id} failed: ${String(error)}`));
    if (!started) {
      // Ended between its claim and its spawn (a stop that gave up waiting for the spawn).
      this.#executor.stop({ taskId: id, pid: child.pid, cgroup: null }, {
        requestedAt: 0,
        graceMs: 0,
      }).catch((error) => this.#log(`stopping the process of task ${id} failed: ${error}`));
      return null;
    }
    // A stop asked between its claim and its spawn waits for the spawn's record (#stop); this
    // server drives it too, in case that stopper is gone.
    const now = this.#store.getTask(id);
    if (now?.stopReason) {
      this.#stopInBackground(id, now.stopReason);
      return null;
    }
    if (deadlineAt !== null) this.#deadlines.arm(id, deadlineAt);
    this.#changed(id);
    return null;
  }

  /** The runner of Slurm's commands, made on first use (a server without Slurm never needs it). */
  #slurm(): CommandRunner {
    return this.#slurmRunner ??= this.#options.slurmRunner ?? denoCommandRunner();
  }

  /**
   * Waits until the start of `task` is complete: for a slurm task claimed by its own start, until
   * its job was submitted. A refused or failed submission removes the task (nothing half created)
   * and throws its one sentence. Returns the task as recorded now.
   */
  async settle(task: Task): Promise<Task> {
    const submission = this.#ownSubmissions.get(task.id);
    if (submission === undefined) return task;
    this.#settling.add(task.id);
    let error: BackburnerError | null;
    try {
      error = await submission;
    } finally {
      this.#settling.delete(task.id);
      this.#ownSubmissions.delete(task.id);
    }
    if (error !== null) {
      this.#undoStart(task.id);
      throw error;
    }
    return this.#require(task.id);
  }

  /**
   * Submits a claimed slurm task: the wrapper and the job script into its folder, then a ping of
   * slurmctld (it answers at once, where sbatch retries for ~9 s) and sbatch. The job id is
   * recorded and the task waits in Slurm's queue. Resolves with the error, or null.
   */
  async #submitSlurm(task: Task): Promise<BackburnerError | null> {
    const { id } = task;
    const paths = this.#paths(id);
    let script: string;
    try {
      prepareAttempt(paths, task.attempt);
      const inherited = unsafeInheritedEnv(this.#options.policy, Deno.env.toObject());
      script = writeJobScript({
        taskId: id,
        command: task.command,
        dir: paths.dir,
        logPath: paths.log,
        exitPath: paths.exit,
        stdinPath: hasStdin(paths) ? paths.stdin : undefined,
        env: this.#store.taskEnv(id),
        unset: Object.keys(inherited),
        maxLogBytes: this.#options.maxLogBytes,
        timeoutSeconds: task.timeoutSeconds,
        graceSeconds: this.#options.graceSeconds,
        exitEventPath: exitEventPath(this.#options.home, id),
      });
    } catch (error) {
      return new BackburnerError(
        "storage_failure",
        `Cannot start task: its job script could not be written to "${paths.dir}" (${
          error instanceof Error ? error.message : String(error)
        }): free disk space or fix the state directory, then try again`,
      );
    }
    let jobId: string;
    try {
      await pingController(this.#slurm());
      jobId = await submitJob(this.#slurm(), {
        name: slurmJobName(id),
        cwd: task.cwd,
        script,
        output: join(paths.dir, "slurm.out"),
        resources: task.slurm ?? validateSlurmSettings({}),
        timeoutSeconds: task.timeoutSeconds,
      });
    } catch (error) {
      return new BackburnerError(
        "executor_unavailable",
        error instanceof SlurmError
          ? `Cannot start task: ${error.message}`
          : `Cannot start task: sbatch could not be run (${String(error)})`,
      );
    }
    // Nothing announces a Slurm job's changes: the monitor looks every interval while one runs.
    this.#slurmActive = true;
    try {
      if (
        !this.#store.recordSlurmJob(
          id,
          jobId,
          `Slurm job ${jobId}: submitted, waiting in Slurm's queue`,
        )
      ) {
        // Ended meanwhile (its record removed, or ended by hand): its job must not run.
        this.#log(
          `task ${id} ended while its Slurm job ${jobId} was submitted: cancelling the job`,
        );
        cancelJob(this.#slurm(), jobId).catch((error) =>
          this.#log(`cancelling Slurm job ${jobId} failed: ${String(error)}`)
        );
        return null;
      }
    } catch (error) {
      cancelJob(this.#slurm(), jobId).catch((error) =>
        this.#log(`cancelling Slurm job ${jobId} failed: ${String(error)}`)
      );
      return new BackburnerError(
        "storage_failure",
        `Cannot start task: the state directory "${this.#options.home}" could not record its Slurm job (${
          error instanceof Error ? error.message : String(error)
        }): free disk space or fix the directory, then try again`,
      );
    }
    this.#changed(id);
    return null;
  }

  /** A queued slurm task whose submission failed ends failed with Slurm's words. */
  #failSubmission(id: string, error: BackburnerError | null): void {
    if (error === null) return;
    this.#log(`task ${id} could not be submitted to Slurm: ${error.message}`);
    if (
      this.#store.finishSlurm(id, {
        status: "failed",
        exitCode: null,
        signal: null,
        statusMessage: error.message,
        endedAt: Date.now(),
      })
    ) this.#changed(id);
  }

  /**
   * One pass over the slurm tasks: adopts those whose server died, finds the job of a task whose
   * server died between sbatch and its record (by the job's name), and moves each task as its exit
   * record (first) or Slurm says. A controller that does not answer changes nothing.
   */
  async #reconcileSlurm(): Promise<void> {
    const tasks = this.#store.slurmTasks();
    this.#slurmActive = tasks.length > 0;
    if (tasks.length === 0) return;
    const owners = new Set<string>();
    for (const task of tasks) if (task.owner !== null) owners.add(task.owner);
    owners.delete(this.#serverId);
    const live = owners.size > 0
      ? await this.#liveOwners(owners, () => this.#executor.snapshot())
      : new Set([this.#serverId]);
    let controllerUp: boolean | undefined;
    const controller = async () => {
      if (controllerUp !== undefined) return controllerUp;
      try {
        await pingController(this.#slurm());
        controllerUp = true;
        if (this.#slurmDown) this.#log("Slurm answers again");
        this.#slurmDown = false;
      } catch (error) {
        controllerUp = false;
        if (!this.#slurmDown) {
          this.#log(
            `Slurm is not answering, so Slurm tasks keep their status until it does: ${
              error instanceof Error ? error.message : error
            }`,
          );
        }
        this.#slurmDown = true;
      }
      return controllerUp;
    };
    const asking: { task: Task; jobId: string; record: ExitRecord | null }[] = [];
    for (let task of tasks) {
      const { id } = task;
      if (this.#submitting.has(id) || this.#stopping.has(id)) continue;
      if (task.owner !== this.#serverId) {
        if (task.owner !== null && live.has(task.owner)) continue;
        if (!this.#store.claimSlurm(id, task.owner, this.#serverId)) continue;
        this.#log(`adopted Slurm task ${id}: the process that watched it is gone`);
        task = this.#store.getTask(id) ?? task;
      }
      if (task.stopReason) {
        // A stop its dead server began, finished here.
        this.#stopInBackground(id, task.stopReason);
        continue;
      }
      const exitPath = this.#paths(id).exit;
      const record = readExitRecord(exitPath);
      // The command's own end: final at once, as for a local task.
      if (record !== null && record.reason === null) {
        this.#performSlurm(task, { kind: "end", end: endFromRecord(task, record) });
        continue;
      }
      if (!await controller()) continue;
      if (task.slurmJobId === null) {
        await this.#findSlurmJob(task);
        continue;
      }
      asking.push({ task, jobId: task.slurmJobId, record });
    }
    if (asking.length === 0) return;
    let jobs;
    try {
      // One squeue for every job; scontrol only for those that ended.
      jobs = await readJobs(this.#slurm(), asking.map((entry) => entry.jobId));
    } catch (error) {
      this.#log(`reading the Slurm jobs failed: ${error instanceof Error ? error.message : error}`);
      return;
    }
    for (const { task, jobId, record: seen } of asking) {
      if (this.#stopping.has(task.id) || this.#submitting.has(task.id)) continue;
      const outcome = slurmOutcome(jobs.get(jobId) ?? null, jobId);
      let record = seen;
      // The wrapper writes its record before the job ends: look again once Slurm says ended.
      if (record === null && outcome.ended) record = readExitRecord(this.#paths(task.id).exit);
      // The wrapper's own stop (timeout, log cap) is final once Slurm says the job is gone.
      if (record !== null && record.reason !== null && !outcome.ended) continue;
      this.#performSlurm(task, slurmStep(task, record, outcome, Date.now()));
    }
  }

  #performSlurm(task: Task, step: ReturnType<typeof slurmStep>): void {
    if (step.kind === "state") {
      const at = this.#commandNoteTime(task.id) ?? Date.now();
      if (this.#store.setSlurmState(task.id, step.status, step.message, at)) {
        this.#changed(task.id);
      }
      return;
    }
    if (this.#retry(task.id, step.end)) return;
    if (this.#store.finishSlurm(task.id, step.end, this.#commandNoteTime(task.id))) {
      this.#ended(task.id);
      this.#changed(task.id);
      if (step.end.status === "interrupted") this.#log(`task ${task.id} was interrupted`);
    }
  }

  /** When the wrapper noted its command's start (on the node): the note's mtime, if any. */
  #commandNoteTime(id: string): number | null {
    try {
      return Deno.statSync(join(this.#paths(id).dir, "command")).mtime?.getTime() ?? null;
    } catch {
      return null;
    }
  }

  /**
   * A claimed slurm task with no job recorded and no submission here: its server died around
   * sbatch. Its job is found by name; with none, it never ran and goes back to its queue.
   */
  async #findSlurmJob(task: Task): Promise<void> {
    let result;
    try {
      result = await this.#slurm()(
        "squeue",
        ["-h", "-t", "all", "-n", slurmJobName(task.id), "-o", "%i"],
        { timeoutMs: 15_000 },
      );
    } catch (error) {
      this.#log(`looking for the Slurm job of task ${task.id} failed: ${String(error)}`);
      return;
    }
    const jobId = result.code === 0 ? result.stdout.trim().split("\n")[0]?.trim() : undefined;
    if (jobId && /^\d+$/.test(jobId)) {
      if (
        this.#store.recordSlurmJob(task.id, jobId, `Slurm job ${jobId}: found again by its name`)
      ) {
        this.#log(`task ${task.id}: found its Slurm job ${jobId} by name`);
        this.#changed(task.id);
      }
      return;
    }
    if (result.code === 0 && this.#store.requeueUnspawned(task.id, this.#serverId)) {
      this.#log(`task ${task.id} went back to its queue: its server died before submitting it`);
      this.#changed(task.id);
    }
  }

  /**
   * The stop of a slurm task: scancel, and the status changes only once Slurm says the job is gone
   * (final state, not COMPLETING). A task whose job ended by itself first keeps that end.
   */
  async #stopSlurm(id: string, reason: StopReason): Promise<Task | undefined> {
    await this.#submitting.get(id);
    let task = this.#store.getTask(id);
    if (!task || isTerminal(task.status)) return task;
    if (task.slurmJobId === null) {
      if (task.status === "queued") {
        this.#store.cancelQueued(id, Date.now(), CANCELLED_QUEUED_MESSAGE);
      } else {
        this.#store.finishSlurm(id, {
          status: statusForStop(reason),
          exitCode: null,
          signal: null,
          statusMessage: "Stopped before its Slurm job was submitted; it never ran",
          endedAt: Date.now(),
        });
      }
      this.#changed(id);
      return this.#store.getTask(id);
    }
    const jobId = task.slurmJobId;
    task = this.#store.requestSlurmStop(id, reason, Date.now()) ?? task;
    let job;
    try {
      job = await cancelJob(this.#slurm(), jobId);
    } catch (error) {
      throw new BackburnerError(
        "executor_unavailable",
        error instanceof SlurmError
          ? `Cannot cancel task ${id}: ${error.message}`
          : `Cannot cancel task ${id}: scancel could not be run (${String(error)})`,
      );
    }
    const outcome = slurmOutcome(job, jobId);
    const record = readExitRecord(this.#paths(id).exit);
    const stoppedBy = task.stopReason ?? reason;
    // A command that ended by itself before scancel reached it keeps its own end; one that died
    // of the signal (128 + TERM or KILL, with the wrapper still there to record it) was stopped.
    const ownEnd = record !== null && (record.reason !== null || ![143, 137].includes(record.code));
    let end: TaskEnd | null;
    if (ownEnd) {
      end = endFromRecord(task, record);
    } else if (outcome.status === "cancelled" || outcome.status === "interrupted" || record) {
      end = {
        status: statusForStop(stoppedBy),
        exitCode: null,
        signal: null,
        statusMessage: `${
          stoppedBy === "timeout" ? "Timed out" : "Cancelled"
        }: Slurm says job ${jobId} is gone (${job?.state ?? "no longer known to Slurm"})`,
        endedAt: Date.now(),
      };
    } else {
      const step = slurmStep(task, null, outcome, Date.now());
      end = step.kind === "end" ? step.end : null;
    }
    if (end !== null && this.#store.finishSlurm(id, end, this.#commandNoteTime(id))) {
      this.#ended(id);
      this.#changed(id);
    }
    return this.#store.getTask(id);
  }

  /** Removes what a failed start made: its record and its folder (its process never ran). */
  #undoStart(id: string): void {
    try {
      this.#store.deleteTask(id);
      this.#storeChanged();
    } catch (error) {
      // The monitor ends it as interrupted once it sees no process.
      this.#log(`removing the record of failed start ${id} failed: ${String(error)}`);
    }
    this.#removeFolder(id);
  }

  #onWrapperExit(id: string, exit: WrapperExit): void {
    this.#children.delete(id);
    this.#wrapperExits.set(id, exit);
    if (this.#closed) return;
    const task = this.#store.getTask(id);
    const record = task && task.status === "working" && !task.stopReason
      ? readExitRecord(this.#paths(id).exit)
      : null;
    this.#perform(id, afterWrapperExit({ task, exit, record, now: Date.now() }).action);
  }

  /** Does what reconcile.ts decided for a task. */
  #perform(id: string, action: Action): void {
    switch (action.kind) {
      case "nothing":
      case "adopt":
      case "look_for_processes":
        return;
      case "forget":
        return this.#ended(id);
      case "stop":
        return this.#stopInBackground(id, action.reason);
      case "requeue":
        if (this.#store.requeueUnspawned(id, action.from)) {
          this.#log(
            `task ${id} went back to its queue: the server that claimed it died before starting it`,
          );
          this.#changed(id);
        }
        return;
      case "end": {
        if (this.#retry(id, action.end)) return;
        if (this.#store.finishExited(id, action.end)) {
          this.#ended(id);
          this.#changed(id);
          if (action.end.status === "interrupted") this.#log(`task ${id} was interrupted`);
          return;
        }
        if (action.onRace === "nothing") return;
        // A stop was asked meanwhile: that stop decides how the task ends.
        const now = this.#store.getTask(id);
        if (now?.status === "working" && now.stopReason) this.#stopInBackground(id, now.stopReason);
      }
    }
  }

  /**
   * Sends a task whose command exited non-zero back to its queue for its next attempt when it has
   * retries left, after its backoff, with a marker line in its log; false when it has none (or a
   * stop was asked: a cancel, a timeout or a log cap is never retried).
   */
  #retry(id: string, end: TaskEnd): boolean {
    if (end.status !== "failed" || end.exitCode === null) return false;
    const task = this.#store.getTask(id);
    // A slurm task may end unseen while it waited in Slurm's queue (queued with a job id).
    const running = task?.status === "working" ||
      (task?.executor === "slurm" && task.status === "queued");
    if (!task || !running || task.stopReason || task.attempt > task.retries) {
      return false;
    }
    const delay = retryDelayMs(task.retryDelayMs, task.attempt);
    try {
      Deno.writeTextFileSync(
        this.#paths(id).log,
        retryMarker(task.attempt, task.retries + 1, end.exitCode, delay),
        { append: true },
      );
    } catch (error) {
      this.#log(`marking the retry of task ${id} in its log failed: ${String(error)}`);
    }
    const scheduled = task.executor === "slurm"
      ? this.#store.scheduleSlurmRetry(id, task.attempt, Date.now() + delay)
      : this.#store.scheduleRetry(id, task.attempt, Date.now() + delay);
    if (!scheduled) return false;
    this.#ended(id);
    this.#changed(id);
    const timer = setTimeout(() => {
      this.#retryTimers.delete(timer);
      this.#dispatchSoon();
    }, delay);
    Deno.unrefTimer(timer);
    this.#retryTimers.add(timer);
    return true;
  }

  /** Forgets what was kept for a task while it ran. */
  #ended(id: string): void {
    this.#deadlines.disarm(id);
    this.#wrapperExits.delete(id);
    removeExitEvent(this.#options.home, id);
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
      if (this.#store.getTask(id)?.executor === "slurm") return await this.#stopSlurm(id, reason);
      const requestedAt = Date.now();
      const task = this.#store.requestStop(id, reason, requestedAt);
      // A queued task has nothing to stop: cancel() takes it out of its queue.
      if (!task || task.status !== "working") return task;
      // A task claimed from its queue is working before its spawn is recorded (by this server or
      // another): its start-up window counts from that record, so wait for it (briefly: a spawn
      // takes milliseconds, and a claim whose server died has no spawn to wait for).
      let started = task;
      for (let tries = 0; started.startedAt === null && tries < SPAWN_WAIT_TRIES; tries++) {
        await new Promise((resolve) => setTimeout(resolve, SPAWN_WAIT_STEP_MS));
        started = this.#store.getTask(id) ?? started;
      }
      await waitStartWindow(
        started.startedAt === null ? { ...started, startedAt: Date.now() } : started,
      );
      const dir = this.#paths(id).dir;
      const outcome = await this.#executor.stop(
        { ...this.#target(started, true), commandPid: await this.#commandPid(started) },
        {
          requestedAt: task.stopRequestedAt ?? Date.now(),
          graceMs: this.#options.graceSeconds * 1000,
          signalMark: join(dir, "signalled"),
        },
      );
      const record = readExitRecord(this.#paths(id).exit);
      const wrapper = await this.#children.get(id)?.exited ?? this.#wrapperExits.get(id);
      this.#store.finish(
        id,
        endOfStop({
          task,
          reason: task.stopReason ?? reason,
          record,
          wrapperCode: wrapper?.code ?? null,
          // Another server's stop may have signalled the task first: the mark says when.
          firstSignalAt: readSignalMark(join(dir, "signalled")) ?? outcome.firstSignalAt,
          // The wrapper's own stop may have needed SIGKILL before this server looked.
          forced: outcome.forced || (readWrapperStop(dir)?.forced ?? false),
          gone: outcome.gone,
          graceSeconds: this.#options.graceSeconds,
          now: Date.now(),
        }),
      );
      this.#ended(id);
      this.#changed(id);
      return this.#store.getTask(id);
    })().finally(() => this.#stopping.delete(id));
    this.#stopping.set(id, stopping);
    return stopping;
  }

  /**
   * The pid of a task's command, which its wrapper notes first thing. A stop that signalled the
   * wrapper's children before that note could not tell the command from the wrapper's helpers,
   * and would take the command's death of its signal for an exit of its own; on a loaded machine
   * the note can come later than the start-up window, so it is waited for (bounded: a wrapper
   * that died, or never ran, writes none). POSIX only: the Windows wrapper notes none.
   */
  async #commandPid(task: Task): Promise<number | null> {
    const paths = this.#paths(task.id);
    let pid = readCommandPid(paths.dir);
    if (Deno.build.os === "windows" || task.startedAt === null) return pid;
    for (let tries = 0; pid === null && tries < COMMAND_WAIT_TRIES; tries++) {
      if (readExitRecord(paths.exit) !== null) break;
      await new Promise((resolve) => setTimeout(resolve, SPAWN_WAIT_STEP_MS));
      pid = readCommandPid(paths.dir);
    }
    return pid;
  }

  /**
   * One pass over the working tasks: adopts those whose owner is gone, records ends that nobody
   * saw, enforces deadlines, and marks tasks whose processes vanished without an exit record as
   * interrupted. Tasks owned by another live server are left to it.
   */
  tick(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    // A look asked for while one runs is made once that one ends: what prompted it (an exit event,
    // a change in the store) may have come after the running look read the tasks.
    if (this.#tickRun) {
      this.#tickAgain = true;
      return this.#tickRun;
    }
    const run = (async () => {
      do {
        this.#tickAgain = false;
        await this.#look();
      } while (this.#tickAgain && !this.#closed);
    })().finally(() => {
      this.#tickRun = null;
    });
    this.#tickRun = run;
    return run;
  }

  async #look(): Promise<void> {
    if (this.#closed) return;
    this.#checkState();
    try {
      this.#otherServers = this.#store.listServers().map((server) => server.id)
        .filter((id) => id !== this.#serverId);
      await this.#reconcile();
      await this.#reconcileSlurm();
      // Slots other servers (or the command line) freed, backoffs that passed.
      this.#dispatch(null);
      // A command line prints what it finds: let it finish the stops its pass began (a wrapper's
      // recorded timeout or log cap, a deadline that passed) before it looks.
      if (this.#options.watch === false) await Promise.all(this.#stopping.values());
      this.#clearExitEvents();
    } catch (error) {
      this.#log(`checking tasks failed: ${error instanceof Error ? error.message : error}`);
    }
  }

  /** Removes the exit events of tasks that no longer run (their ends are recorded). */
  #clearExitEvents(): void {
    for (const id of pendingExitEvents(this.#options.home)) {
      const task = this.#store.getTask(id);
      if (!task || (task.status !== "working" && task.status !== "queued")) {
        removeExitEvent(this.#options.home, id);
      }
    }
  }

  /**
   * The servers (by id) that are alive: by their locks (server_lock.ts), exact and cheap; a server
   * without one (an older version) by a process scan at most OWNER_CHECK_MS old.
   */
  async #liveOwners(_owners: Set<string>, snapshot: () => Promise<ExecutorSnapshot>) {
    const live = new Set<string>([this.#serverId]);
    let table: ExecutorSnapshot | undefined;
    const scanned = async () => {
      const cached = this.#ownerScan;
      if (cached && Date.now() - cached.at < OWNER_CHECK_MS) return cached.table;
      table ??= await snapshot();
      this.#ownerScan = { at: Date.now(), table };
      return table;
    };
    for (const server of this.#store.listServers()) {
      if (server.id === this.#serverId) continue;
      const liveness = serverLiveness(this.#options.home, server.id);
      if (
        liveness === "alive" ||
        (liveness === "unknown" && (await scanned()).isAlive(server.pid, server.startTime))
      ) {
        live.add(server.id);
      } else {
        this.#store.unregisterServer(server.id);
        removeServerLock(this.#options.home, server.id);
      }
    }
    return live;
  }

  async #reconcile(): Promise<void> {
    const now = Date.now();
    const checkLogs = now - this.#logsCheckedAt >= LOG_CHECK_MS;
    if (checkLogs) this.#logsCheckedAt = now;
    // Most passes find only tasks this server watches through their child handles: read the
    // whole rows only of those that need a look.
    const working: Task[] = [];
    for (const row of this.#store.workingSummary()) {
      // Slurm tasks have no process here: #reconcileSlurm looks at them.
      if (row.executor === "slurm") continue;
      const mineUnstopped = row.owner === this.#serverId && row.stopReason === null;
      const first = triage({
        mineUnstopped,
        watchedHere: this.#children.has(row.id),
        logOverCap: mineUnstopped && checkLogs &&
          this.#outputBytes(row.id) > this.#options.maxLogBytes,
      });
      if (first) {
        this.#perform(row.id, first.action);
        continue;
      }
      const task = this.#store.getTask(row.id);
      if (task?.status === "working") working.push(task);
    }
    if (working.length === 0) return;
    let snapshot: ExecutorSnapshot | undefined;
    const look = async () => snapshot ??= await this.#executor.snapshot();
    const owners = new Set<string>();
    for (const task of working) if (task.owner !== null) owners.add(task.owner);
    owners.delete(this.#serverId);
    const liveOwners = owners.size > 0
      ? await this.#liveOwners(owners, look)
      : new Set([this.#serverId]);
    const unwatched: TaskFacts[] = [];
    for (const task of working) {
      const ownership = task.owner === this.#serverId
        ? "mine"
        : task.owner !== null && liveOwners.has(task.owner)
        ? "owner_alive"
        : "owner_dead";
      let facts = this.#facts(task, ownership, now);
      let decision = decide(facts);
      if (decision.action.kind === "adopt") {
        if (!this.#store.claim(task.id, task.owner, this.#serverId)) continue;
        this.#log(`adopted task ${task.id}: the process that watched it is gone`);
        // Its server died between its spawn and the spawn's record: the spawn mark says when.
        const startedAt = task.startedAt ?? this.#spawnMarkTime(task);
        if (task.startedAt === null && startedAt !== null) {
          this.#store.recordStart(task.id, startedAt);
        }
        facts = this.#facts({ ...task, owner: this.#serverId, startedAt }, "adopted", now);
        decision = decide(facts);
      }
      const { action } = decision;
      if (action.kind === "look_for_processes") {
        if (action.deadlineAt !== null && !this.#deadlines.has(task.id)) {
          this.#deadlines.arm(task.id, action.deadlineAt);
        }
        unwatched.push(facts);
      } else this.#perform(task.id, action);
    }
    if (unwatched.length === 0) return;
    const processes = await look();
    for (const facts of unwatched) {
      const { task } = facts;
      // The wrapper writes its exit record before it exits, so a record may have appeared
      // between the first look and the process scan.
      const left = processes.count(this.#target(task, false)) > 0;
      const decision = decide({
        ...facts,
        stoppingHere: this.#stopping.has(task.id),
        record: left ? facts.record : readExitRecord(this.#paths(task.id).exit),
        processesLeft: left,
        commandStarted: left || Deno.build.os === "windows" || task.pid !== null
          ? undefined
          : readCommandPid(this.#paths(task.id).dir) !== null,
        now: Date.now(),
      });
      this.#perform(task.id, decision.action);
    }
  }

  /** What reconcile.ts decides a working task from. */
  #facts(task: Task, ownership: TaskFacts["ownership"], now: number): TaskFacts {
    const stoppingHere = this.#stopping.has(task.id);
    // The exit record is only read where it can decide: not for a task left to its owner, being
    // stopped, or with a stop asked.
    const looksAtRecord = (ownership === "mine" || ownership === "adopted") && !stoppingHere &&
      !task.stopReason;
    return {
      task,
      ownership,
      spawnBegun: ownership === "owner_dead" && task.pid === null
        ? this.#spawnBegun(task)
        : undefined,
      stoppingHere,
      watchedHere: this.#children.has(task.id),
      record: looksAtRecord ? readExitRecord(this.#paths(task.id).exit) : null,
      processesLeft: null,
      graceMs: this.#options.graceSeconds * 1000,
      now,
    };
  }

  /**
   * Whether a spawn of the task's current attempt may have begun: its spawn mark, or (a first
   * attempt recorded by an older backburner, which made the log before the record) its log.
   */
  #spawnBegun(task: Task): boolean {
    const paths = this.#paths(task.id);
    if (spawnMark(paths.dir) >= task.attempt) return true;
    if (task.attempt > 1) return false;
    try {
      Deno.statSync(paths.log);
      return true;
    } catch (error) {
      return !(error instanceof Deno.errors.NotFound);
    }
  }

  /** When the spawn of the task's current attempt began (its spawn mark's time), if it did. */
  #spawnMarkTime(task: Task): number | null {
    const dir = this.#paths(task.id).dir;
    if (spawnMark(dir) < task.attempt) return null;
    try {
      return Deno.statSync(join(dir, "spawned")).mtime?.getTime() ?? null;
    } catch {
      return null;
    }
  }

  status(id: unknown): { task: Task; outputBytes: number } {
    const task = this.#require(id);
    return { task, outputBytes: this.#outputBytes(task.id) };
  }

  /**
   * The status plus what the output shows (progress, silence, a prompt waiting for input) and
   * whether it can be answered.
   */
  async inspect(
    id: unknown,
  ): Promise<{ task: Task; outputBytes: number; output: OutputState; input: InputState }> {
    const { task, outputBytes } = this.status(id);
    const input = inputState(task, this.#paths(task.id).dir);
    const ended = this.#endedOutput.get(task.id);
    if (ended) {
      // A log removed meanwhile has no output time to give.
      const mtime = outputModified(this.#paths(task.id).log);
      const secondsSinceOutput = secondsSince(mtime, Date.now());
      return { task, outputBytes, output: { ...ended, secondsSinceOutput }, input };
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
    // A prompt answered since it was printed waits no more.
    const answered = input.sentAtBytes !== null && input.sentAtBytes >= outputBytes;
    if (answered && output.waitingForInput) {
      return { task, outputBytes, output: { ...output, waitingForInput: false }, input };
    }
    return { task, outputBytes, output, input };
  }

  /**
   * Writes text to a working interactive task's stdin, and/or closes it (input.ts); works for a
   * task any server on this state directory started.
   */
  async sendInput(
    id: unknown,
    request: SendInputRequest,
  ): Promise<SendInputOutcome & { task: Task }> {
    const task = this.#require(id);
    const outcome = await sendInput(
      task,
      this.#paths(task.id).dir,
      request,
      this.#outputBytes(task.id),
    );
    return { ...outcome, task: this.#require(task.id) };
  }

  #outputBytes(id: string): number {
    return outputBytes(this.#paths(id).log);
  }

  /**
   * A bounded piece of a task's output (works while it runs): the tail by default, or the head,
   * a byte range from a cursor, or the lines matching a pattern. Every reply fits the output cap.
   */
  async output(id: unknown, request: OutputRequest = {}): Promise<TaskOutput> {
    const task = this.#require(id);
    checkOutput(request);
    const path = this.#paths(task.id).log;
    const read = {
      maxChars: this.#options.maxOutputChars,
      raw: request.raw ?? false,
      complete: isTerminal(task.status),
    };
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

  /**
   * Stops a task and its whole process tree; resolves once every process is gone. A queued task
   * is cancelled at once and never starts.
   */
  async cancel(id: unknown): Promise<CancelOutcome> {
    for (let tries = 0;; tries++) {
      const task = this.#require(id);
      if (isTerminal(task.status)) {
        return { task, alreadyEnded: true, leftoversStopped: await this.#stopLeftovers(task) };
      }
      if (task.status === "queued" && task.slurmJobId === null) {
        if (this.#store.cancelQueued(task.id, Date.now(), CANCELLED_QUEUED_MESSAGE)) {
          this.#changed(task.id);
          return { task: this.#require(task.id), alreadyEnded: false, leftoversStopped: 0 };
        }
        // Claimed meanwhile: stopped like any working task.
        continue;
      }
      const ended = await this.#stop(task.id, "cancel") ?? this.#require(task.id);
      // Its attempt ended and a retry queued it just before the stop was asked.
      if (ended.status === "queued" && tries < 5) continue;
      return { task: ended, alreadyEnded: ended.stopReason === null, leftoversStopped: 0 };
    }
  }

  /** Where a queued task stands in its queue; null for a task that is not queued. */
  queueState(id: unknown): QueueState | null {
    const task = this.#require(id);
    if (task.status !== "queued" || task.slurmJobId !== null) return null;
    const { rows, dependencies } = this.#store.queuedIn(task.queue);
    return queueStateOf(task.id, rows, dependencies);
  }

  /** One sentence saying why a queued task waits (its queue, position, dependencies, backoff). */
  queuedMessage(task: Task): string {
    return queuedMessage(task.queue, this.queueState(task.id), Date.now());
  }

  /** Every queue with a limit or a task in it, "default" always, by name. */
  queues(): QueueCounts[] {
    const queues = this.#store.queueCounts();
    if (!queues.some((queue) => queue.name === DEFAULT_QUEUE)) {
      queues.unshift({ name: DEFAULT_QUEUE, limit: null, working: 0, queued: 0 });
      queues.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    }
    return queues;
  }

  /**
   * Sets how many tasks of queue `name` may work at once, for every server on this state
   * directory (null: no limit). Tasks already working keep working; a raised limit starts waiting
   * tasks at once.
   */
  setQueueLimit(name: string, limit: number | null): QueueCounts {
    const queue = checkQueue(name);
    this.#store.setQueueLimit(queue, checkQueueLimit(limit));
    this.#dispatch(null);
    return this.queues().find((counts) => counts.name === queue)!;
  }

  /**
   * An ended task may have left background processes (`server &`) running; a cancel of it stops
   * them too, so that no process of a cancelled task is left. Its recorded status stays.
   */
  async #stopLeftovers(task: Task): Promise<number> {
    // A Slurm job's processes are on its node, not here: Slurm ended them with the job.
    if (task.executor === "slurm") return 0;
    const target = this.#target(task, true);
    const leftovers = (await this.#executor.snapshot([target])).count(target);
    if (leftovers === 0) return 0;
    await this.#executor.stop(target, {
      requestedAt: Date.now(),
      graceMs: this.#options.graceSeconds * 1000,
    });
    return leftovers;
  }

  /** The newest tasks matching the filter, and how many match in all. */
  list(
    request: ListRequest & {
      before?: { createdAt: number; id: string };
      /** Only this queue's tasks (the dashboard's filter). */
      queue?: string;
      /** Only tasks whose command, label or id contains this text. */
      text?: string;
      /** Count at most this many (total is then a lower bound). */
      maxTotal?: number;
    } = {},
  ): { tasks: Task[]; total: number } {
    const { limit, status } = checkList(request);
    return this.#store.listTasks({
      limit,
      status,
      queue: request.queue,
      text: request.text,
      maxTotal: request.maxTotal,
      label: request.label?.trim(),
      cwd: request.cwd === undefined
        ? undefined
        : resolveCwd(request.cwd, this.#options.defaultCwd),
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

  /**
   * Calls `listener` whenever tasks may have been added or removed, or changed by someone else:
   * this engine recorded a new task or removed some, or another connection (another server, the
   * command line) committed to the store, noticed by the monitor within its interval (only while
   * open() watches). Returns the unsubscribe function.
   */
  onStoreChange(listener: () => void): () => void {
    this.#storeListeners.add(listener);
    return () => this.#storeListeners.delete(listener);
  }

  #storeChanged(): void {
    this.#tell(this.#storeListeners, "store");
  }

  /** Calls each listener; one that throws is logged and does not stop the others. */
  #tell<T extends unknown[]>(listeners: Set<(...args: T) => void>, kind: string, ...args: T): void {
    for (const listener of listeners) {
      try {
        listener(...args);
      } catch (error) {
        this.#log(`a ${kind} listener failed: ${error instanceof Error ? error.message : error}`);
      }
    }
  }

  #changed(id: string): void {
    // A task ended (a slot freed, a dependency settled) or was queued: start what may start.
    this.#dispatchSoon();
    this.#tell(this.#listeners, "status", id);
  }

  /** Paths of a task's files, for readers of its output. */
  logPath(id: string): string {
    return this.#paths(id).log;
  }

  outputBytes(id: string): number {
    return this.#outputBytes(id);
  }
}
