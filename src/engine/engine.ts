import { BackburnerError } from "../errors.ts";
import type { Executor, SpawnedTask, WrapperExit } from "../executors/executor.ts";
import { LocalExecutor } from "../executors/local/local_executor.ts";
import type { CommandRunner } from "../executors/slurm/mod.ts";
import type { OutputState } from "../logs/progress.ts";
import type { PolicyGate } from "../policy/gate.ts";
import type { QueueCounts, Store } from "../store.ts";
import {
  DEFAULT_QUEUE,
  type ExecutorName,
  isTaskId,
  isTerminal,
  type StopReason,
  type Task,
} from "../task.ts";
import { Dispatcher } from "./dispatcher.ts";
import { pendingExitEvents, removeExitEvent } from "./exit_events.ts";
import {
  type InputState,
  inputState,
  sendInput,
  type SendInputOutcome,
  type SendInputRequest,
} from "./input.ts";
import { launch, stopFreshSpawn } from "./launch.ts";
import { LiveServers } from "./live_servers.ts";
import { LocalLook } from "./local_look.ts";
import { type LocalStopOptions, stopLeftovers, stopLocalTask } from "./local_stop.ts";
import { Monitor } from "./monitor.ts";
import { OutputStates, readOutput } from "./output.ts";
import { queuedMessage, type QueueState, queueStateOf } from "./queue.ts";
import { type Action, afterWrapperExit } from "./reconcile.ts";
import {
  type CheckedStart,
  checkList,
  checkQueue,
  checkQueueLimit,
  checkStart,
  type ListRequest,
  type OutputRequest,
  resolveCwd,
  type StartRequest,
  type TaskOutput,
} from "./requests.ts";
import { RETENTION_SWEEP_MS, sweepExpired } from "./retention.ts";
import { holdServerLock, type ServerLock } from "./server_lock.ts";
import { SlurmTasks } from "./slurm_tasks.ts";
import { enqueue, restartRequest, type StartExtra, undoStart } from "./start.ts";
import { StateFile } from "./state_file.ts";
import { CANCELLED_QUEUED_MESSAGE, Deadlines, SHUTDOWN_QUEUED_MESSAGE } from "./stop.ts";
import { outputBytes, readExitRecord, taskPaths, tasksDir } from "./task_files.ts";

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

/** The monitor's safety sweep: a full look this often, whatever the events said. */
const SAFETY_SWEEP_MS = 5000;
/**
 * The monitor's longest wait between checks while nothing happens: the sweep's period, so that an
 * idle server wakes about as often as its sweep needs anyway.
 */
const IDLE_CHECK_MS = 5000;
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
  /** Which servers sharing the state directory are alive. */
  readonly #liveServers: LiveServers;
  /** The look at the working local tasks (the slurm ones are #slurm's). */
  readonly #localLook: LocalLook;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  readonly #listeners = new Set<(id: string) => void>();
  readonly #storeListeners = new Set<() => void>();
  /** What tasks' output shows (progress, prompts), kept small for ended tasks. */
  readonly #outputs = new OutputStates();
  /** The look under way, and whether another was asked for meanwhile. */
  #tickRun: Promise<void> | null = null;
  #tickAgain = false;
  #closed = false;
  /** Set once open() registered this engine: only a registered engine claims queued tasks. */
  #registered = false;
  /** The tasks run as Slurm jobs. */
  readonly #slurm: SlurmTasks;
  /** Starts queued tasks: claims, launches here or submits to Slurm, retries. */
  readonly #dispatcher: Dispatcher;
  /** The database file as opened, to notice it removed or replaced under the server. */
  readonly #stateFile: StateFile;

  constructor(options: EngineOptions) {
    this.#store = options.store;
    this.#options = options;
    this.#executor = options.executor ?? new LocalExecutor();
    this.#log = options.log ?? ((message) => console.error(`backburner: ${message}`));
    this.#stateFile = new StateFile({
      path: options.store.path,
      home: options.home,
      running: () => [...this.#children.keys()],
      log: this.#log,
    });
    this.#liveServers = new LiveServers({
      store: options.store,
      home: options.home,
      serverId: this.#serverId,
    });
    this.#localLook = new LocalLook({
      store: options.store,
      executor: this.#executor,
      home: options.home,
      serverId: this.#serverId,
      maxLogBytes: options.maxLogBytes,
      graceSeconds: options.graceSeconds,
      liveServers: this.#liveServers,
      deadlines: this.#deadlines,
      watchedHere: (id) => this.#children.has(id),
      stoppingHere: (id) => this.#stopping.has(id),
      perform: (id, action) => this.#perform(id, action),
      log: this.#log,
    });
    this.#slurm = new SlurmTasks({
      store: options.store,
      home: options.home,
      serverId: this.#serverId,
      policy: options.policy,
      maxLogBytes: options.maxLogBytes,
      graceSeconds: options.graceSeconds,
      runner: options.slurmRunner,
      log: this.#log,
      liveOwners: () => this.#liveServers.live(() => this.#executor.snapshot()),
      stoppingHere: (id) => this.#stopping.has(id),
      stopInBackground: (id, reason) => this.#stopInBackground(id, reason),
      changed: (id) => this.#changed(id),
      ended: (id) => this.#ended(id),
      retry: (id, end) => this.#dispatcher.retry(id, end),
    });
    this.#dispatcher = new Dispatcher({
      store: options.store,
      home: options.home,
      serverId: this.#serverId,
      // Only a registered engine claims (open() registers it), and none once the state is lost.
      mayClaim: () => this.#registered && !this.#closed && this.#stateFile.lost() === null,
      launch: (task) => this.#launch(task),
      submit: (task, own) => this.#slurm.submit(task, own),
      changed: (id) => this.#changed(id),
      ended: (id) => this.#ended(id),
      log: this.#log,
    });
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
      busy: () => this.#slurm.active,
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
    this.#dispatcher.close();
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
    await this.#slurm.submitted();
    this.#store.unregisterServer(this.#serverId);
    this.#serverLock?.release();
  }

  #paths(id: string) {
    return taskPaths(this.#options.home, id);
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
    const removed = sweepExpired({
      store: this.#store,
      executor: this.#executor,
      home: this.#options.home,
      retentionMs: this.retentionMs,
      stateTrusted: () => this.#stateFile.lost() === null,
      forget: (id) => this.#outputs.forget(id),
      log: this.#log,
      now: Date.now(),
    });
    if (removed > 0) this.#storeChanged();
    return removed;
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
    return this.#enqueue(restartRequest(this.#store, this.#options.home, old), {
      ttlMs: null,
      restartOf: old.id,
    }).task;
  }

  /** How long an idempotency key keeps returning the task that holds it after that task ended. */
  get idempotencyWindowMs(): number {
    return Math.min(IDEMPOTENCY_WINDOW_MS, this.retentionMs);
  }

  #enqueue(checked: CheckedStart, extra: StartExtra): { task: Task; existing: boolean } {
    try {
      return this.#enqueueChecked(checked, extra);
    } finally {
      // A task recorded (or one recorded and taken back): the task list may have changed.
      this.#storeChanged();
    }
  }

  #enqueueChecked(checked: CheckedStart, extra: StartExtra): { task: Task; existing: boolean } {
    return enqueue(
      {
        store: this.#store,
        home: this.#options.home,
        policy: this.#options.policy,
        serverId: this.#serverId,
        idempotencyWindowMs: this.idempotencyWindowMs,
        requireState: () => this.#stateFile.require(),
        dispatch: (own) => this.#dispatcher.run(own),
        require: (id) => this.#require(id),
        log: this.#log,
      },
      checked,
      extra,
    );
  }

  /** Spawns a task this server has just claimed (launch.ts) and watches its wrapper. */
  #launch(task: Task): BackburnerError | null {
    const { id } = task;
    const launched = launch({
      store: this.#store,
      executor: this.#executor,
      home: this.#options.home,
      policy: this.#options.policy,
      maxLogBytes: this.#options.maxLogBytes,
      graceSeconds: this.#options.graceSeconds,
      log: this.#log,
    }, task);
    if (launched instanceof BackburnerError) return launched;
    const { child, started, deadlineAt } = launched;
    this.#children.set(id, child);
    child.exited.then((exit) => {
      // A wrapper of an earlier attempt that exits after the next attempt started says nothing
      // of that one.
      if (this.#children.has(id) && this.#children.get(id) !== child) return;
      this.#onWrapperExit(id, exit);
    }).catch((error) => this.#log(`watching task ${id} failed: ${String(error)}`));
    if (!started) {
      // Ended between its claim and its spawn (a stop that gave up waiting for the spawn).
      stopFreshSpawn(this.#executor, id, child.pid)
        .catch((error) => this.#log(`stopping the process of task ${id} failed: ${error}`));
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

  /**
   * Waits until the start of `task` is complete: for a slurm task claimed by its own start, until
   * its job was submitted. A refused or failed submission removes the task (nothing half created)
   * and throws its one sentence. Returns the task as recorded now.
   */
  async settle(task: Task): Promise<Task> {
    const error = await this.#slurm.settle(task.id);
    if (error === undefined) return task;
    if (error !== null) {
      undoStart(this.#store, this.#options.home, task.id, this.#log);
      this.#storeChanged();
      throw error;
    }
    return this.#require(task.id);
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
        if (this.#dispatcher.retry(id, action.end)) return;
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
      if (this.#store.getTask(id)?.executor === "slurm") return await this.#slurm.stop(id, reason);
      const stopped = await stopLocalTask(this.#localStop(), id, reason);
      if ("task" in stopped) return stopped.task;
      this.#store.finish(id, stopped.end);
      this.#ended(id);
      this.#changed(id);
      return this.#store.getTask(id);
    })().finally(() => this.#stopping.delete(id));
    this.#stopping.set(id, stopping);
    return stopping;
  }

  /** What a stop of a local task is driven with (local_stop.ts). */
  #localStop(): LocalStopOptions {
    return {
      store: this.#store,
      executor: this.#executor,
      home: this.#options.home,
      graceSeconds: this.#options.graceSeconds,
      wrapperExit: async (id) => await this.#children.get(id)?.exited ?? this.#wrapperExits.get(id),
    };
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
    this.#stateFile.lost();
    try {
      this.#otherServers = this.#store.listServers().map((server) => server.id)
        .filter((id) => id !== this.#serverId);
      await this.#localLook.run();
      await this.#slurm.reconcile();
      // Slots other servers (or the command line) freed, backoffs that passed.
      this.#dispatcher.run(null);
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
    const paths = this.#paths(task.id);
    const input = inputState(task, paths.dir);
    const output = await this.#outputs.read(task, paths.log, outputBytes, input.sentAtBytes);
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
      this.#options.policy,
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
    return await readOutput(task, this.#paths(task.id).log, request, this.#options.maxOutputChars);
  }

  /**
   * Stops a task and its whole process tree; resolves once every process is gone. A queued task
   * is cancelled at once and never starts.
   */
  async cancel(id: unknown): Promise<CancelOutcome> {
    for (let tries = 0;; tries++) {
      const task = this.#require(id);
      if (isTerminal(task.status)) {
        return {
          task,
          alreadyEnded: true,
          leftoversStopped: await stopLeftovers(this.#localStop(), task),
        };
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
    this.#dispatcher.run(null);
    return this.queues().find((counts) => counts.name === queue)!;
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
    this.#dispatcher.soon();
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
