import { join } from "node:path";
import { BackburnerError } from "../errors.ts";
import type {
  Executor,
  ExecutorSnapshot,
  SpawnedTask,
  TaskTarget,
  WrapperExit,
} from "../executors/executor.ts";
import { LocalExecutor } from "../executors/local/local_executor.ts";
import { grepLog } from "../logs/grep.ts";
import { readHead, readRange, readTail } from "../logs/slice.ts";
import { checkCommand, checkEnv, type Policy, unsafeInheritedEnv } from "../policy/policy.ts";
import { type OutputState, ProgressTracker, secondsSince } from "../logs/progress.ts";
import type { Store } from "../store.ts";
import {
  deadlineFrom,
  isTaskId,
  isTerminal,
  newTaskId,
  type StopReason,
  type Task,
} from "../task.ts";
import { type Action, afterWrapperExit, decide, type TaskFacts, triage } from "./reconcile.ts";
import {
  checkList,
  checkOutput,
  checkStart,
  type ListRequest,
  type OutputRequest,
  resolveCwd,
  type StartRequest,
  type TaskOutput,
} from "./requests.ts";
import { Deadlines, endOfStop, waitStartWindow } from "./stop.ts";
import {
  createTaskFolder,
  listTaskFolders,
  outputBytes,
  outputModified,
  readCommandPid,
  readExitRecord,
  readSignalMark,
  readTaskCgroup,
  readWrapperStop,
  removeTaskFolder,
  taskPaths,
  tasksDir,
} from "./task_files.ts";

export type { ListRequest, OutputRequest, StartRequest, TaskOutput } from "./requests.ts";

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
  /** What runs the tasks' processes. Default: a LocalExecutor (this machine's processes). */
  readonly executor?: Executor;
}

export interface CancelOutcome {
  readonly task: Task;
  /** True when the task had ended before the cancel arrived; nothing was signalled. */
  readonly alreadyEnded: boolean;
  /** Processes the task had left running in the background that this cancel stopped. */
  readonly leftoversStopped: number;
}

const RETENTION_SWEEP_MS = 60_000;
/** Final output states of ended tasks kept for task_status; the oldest go first. */
const ENDED_OUTPUT_ENTRIES = 1000;
/** How often the log sizes of running tasks are compared with the cap. */
const LOG_CHECK_MS = 2000;
/** How long a verdict on another server's liveness is trusted before the next process scan. */
const OWNER_CHECK_MS = 2000;
/** A task folder without a record this old is a leftover of a failed start, not one starting. */
const STRAY_FOLDER_MS = 60_000;

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
    const note = await this.#executor.prepare();
    if (note !== null) this.#log(note);
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
    this.#deadlines.clear();
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
    if (removed.length) this.#log(`removed ${removed.length} tasks past the retention period`);
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

  /** Starts a command in the background and returns at once with the working task. */
  start(request: StartRequest): Task {
    const { command, cwd, timeoutSeconds, env, label, stdin } = checkStart(
      request,
      this.#options.defaultCwd,
    );
    const decision = checkCommand(this.#options.policy, command);
    if (!decision.allowed) throw new BackburnerError("refused_by_policy", decision.reason);
    const envDecision = checkEnv(this.#options.policy, env);
    if (!envDecision.allowed) throw new BackburnerError("refused_by_policy", envDecision.reason);

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
    let deadlineAt: number | null = null;
    try {
      createTaskFolder(paths, stdin);
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
        child = this.#executor.spawn({
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
        });
      } catch (error) {
        if (error instanceof Deno.errors.NotFound && /cwd/.test(error.message)) {
          const why = /not a directory/.test(error.message)
            ? "is not a directory"
            : "does not exist";
          spawnError = new BackburnerError(
            "spawn_failed",
            `Cannot start task: cwd "${cwd}" ${why}: pass an existing directory`,
          );
        } else {
          spawnError = new BackburnerError(
            "spawn_failed",
            `Cannot start task: the shell could not be started (${String(error)})`,
          );
        }
        throw spawnError;
      }
      deadlineAt = deadlineFrom(startedAt, timeoutSeconds);
      this.#store.markStarted(id, child.pid, startedAt, deadlineAt);
    } catch (error) {
      this.#undoStart(id, inserted, child);
      throw spawnError ?? new BackburnerError(
        "storage_failure",
        `Cannot start task: the state directory "${this.#options.home}" could not record it (${
          error instanceof Error ? error.message : String(error)
        }): free disk space or fix the directory, then try again`,
      );
    }
    this.#children.set(id, child);
    child.exited.then((exit) => this.#onWrapperExit(id, exit)).catch((error) =>
      this.#log(`watching task ${id} failed: ${String(error)}`)
    );
    if (deadlineAt !== null) this.#deadlines.arm(id, deadlineAt);
    return this.#require(id);
  }

  /** Removes what a failed start made: its process, its record, its folder. */
  #undoStart(id: string, inserted: boolean, child: SpawnedTask | undefined): void {
    if (child) {
      // Just spawned, it has done nothing worth a grace period; its exit is not a task's end.
      this.#executor.stop({ taskId: id, pid: child.pid, cgroup: null }, {
        requestedAt: 0,
        graceMs: 0,
      }).catch((error) =>
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
      removeTaskFolder(this.#paths(id).dir);
    } catch (error) {
      this.#log(`removing the folder of failed start ${id} failed: ${String(error)}`);
    }
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
      case "end": {
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
      await waitStartWindow(task);
      const dir = this.#paths(id).dir;
      const outcome = await this.#executor.stop(
        { ...this.#target(task, true), commandPid: readCommandPid(dir) },
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
  async #liveOwners(owners: Set<string>, snapshot: () => Promise<ExecutorSnapshot>) {
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
    const working: Task[] = [];
    for (const row of this.#store.workingSummary()) {
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
        facts = this.#facts(task, "adopted", now);
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
      stoppingHere,
      watchedHere: this.#children.has(task.id),
      record: looksAtRecord ? readExitRecord(this.#paths(task.id).exit) : null,
      processesLeft: null,
      graceMs: this.#options.graceSeconds * 1000,
      now,
    };
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
      // A log removed meanwhile has no output time to give.
      const mtime = outputModified(this.#paths(task.id).log);
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
    request: ListRequest & { before?: { createdAt: number; id: string } } = {},
  ): { tasks: Task[]; total: number } {
    const { limit, status } = checkList(request);
    return this.#store.listTasks({
      limit,
      status,
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
