/**
 * One look at the working local tasks: what reconcile.ts decides each from (its owner alive or
 * dead, its wrapper watched here, its exit record, its log against the cap, its spawn mark, its
 * processes in one executor snapshot), adoption of the tasks of dead servers, and the deadlines
 * of tasks no child handle watches. The engine performs each action.
 *
 * @module
 */
import type { Executor, ExecutorSnapshot } from "../executors/executor.ts";
import type { Store } from "../store.ts";
import type { Task } from "../task.ts";
import type { LiveServers } from "./live_servers.ts";
import { type Action, decide, type TaskFacts, triage } from "./reconcile.ts";
import type { Deadlines } from "./stop.ts";
import {
  outputBytes,
  readCommandPid,
  readExitRecord,
  spawnMark,
  spawnMarkedAt,
  taskPaths,
  taskTarget,
} from "./task_files.ts";

/** How often the log sizes of running tasks are compared with the cap. */
const LOG_CHECK_MS = 2000;

export interface LocalLookOptions {
  readonly store: Store;
  readonly executor: Executor;
  /** The state directory. */
  readonly home: string;
  /** This server: the owner of what it adopts. */
  readonly serverId: string;
  /** A task whose log grows past this many bytes is stopped. */
  readonly maxLogBytes: number;
  readonly graceSeconds: number;
  readonly liveServers: LiveServers;
  /** The tasks whose deadline timers run here. */
  readonly deadlines: Deadlines;
  /** Whether this server holds the task's wrapper as a child (its exit is awaited). */
  readonly watchedHere: (id: string) => boolean;
  /** Whether this server is stopping the task. */
  readonly stoppingHere: (id: string) => boolean;
  /** Does what reconcile.ts decided. */
  readonly perform: (id: string, action: Action) => void;
  readonly log: (message: string) => void;
}

/** Looks at the working local tasks, one pass at a time. */
export class LocalLook {
  readonly #options: LocalLookOptions;
  #logsCheckedAt = 0;

  constructor(options: LocalLookOptions) {
    this.#options = options;
  }

  #paths(id: string) {
    return taskPaths(this.#options.home, id);
  }

  /**
   * One pass: adopts the tasks whose owner is gone, records ends nobody saw, arms deadlines,
   * stops a log past its cap, and looks for the processes of tasks no child handle watches.
   */
  async run(): Promise<void> {
    const now = Date.now();
    const checkLogs = now - this.#logsCheckedAt >= LOG_CHECK_MS;
    if (checkLogs) this.#logsCheckedAt = now;
    // Most passes find only tasks this server watches through their child handles: read the
    // whole rows only of those that need a look.
    const working: Task[] = [];
    for (const row of this.#options.store.workingSummary()) {
      // Slurm tasks have no process here: slurm_tasks.ts looks at them.
      if (row.executor === "slurm") continue;
      const mineUnstopped = row.owner === this.#options.serverId && row.stopReason === null;
      const first = triage({
        mineUnstopped,
        watchedHere: this.#options.watchedHere(row.id),
        logOverCap: mineUnstopped && checkLogs &&
          outputBytes(this.#paths(row.id).log) > this.#options.maxLogBytes,
      });
      if (first) {
        this.#options.perform(row.id, first.action);
        continue;
      }
      const task = this.#options.store.getTask(row.id);
      if (task?.status === "working") working.push(task);
    }
    if (working.length === 0) return;
    let snapshot: ExecutorSnapshot | undefined;
    const look = async () => snapshot ??= await this.#options.executor.snapshot();
    const owners = new Set<string>();
    for (const task of working) if (task.owner !== null) owners.add(task.owner);
    owners.delete(this.#options.serverId);
    const liveOwners = owners.size > 0
      ? await this.#options.liveServers.live(look)
      : new Set([this.#options.serverId]);
    const unwatched: TaskFacts[] = [];
    for (const task of working) {
      const ownership = task.owner === this.#options.serverId
        ? "mine"
        : task.owner !== null && liveOwners.has(task.owner)
        ? "owner_alive"
        : "owner_dead";
      let facts = this.#facts(task, ownership, now);
      let decision = decide(facts);
      if (decision.action.kind === "adopt") {
        if (!this.#options.store.claim(task.id, task.owner, this.#options.serverId)) continue;
        this.#options.log(`adopted task ${task.id}: the process that watched it is gone`);
        // Its server died between its spawn and the spawn's record: the spawn mark says when.
        const startedAt = task.startedAt ?? this.#spawnMarkTime(task);
        if (task.startedAt === null && startedAt !== null) {
          this.#options.store.recordStart(task.id, startedAt);
        }
        facts = this.#facts({ ...task, owner: this.#options.serverId, startedAt }, "adopted", now);
        decision = decide(facts);
      }
      const { action } = decision;
      if (action.kind === "look_for_processes") {
        if (action.deadlineAt !== null && !this.#options.deadlines.has(task.id)) {
          this.#options.deadlines.arm(task.id, action.deadlineAt);
        }
        unwatched.push(facts);
      } else this.#options.perform(task.id, action);
    }
    if (unwatched.length === 0) return;
    const processes = await look();
    for (const facts of unwatched) {
      const { task } = facts;
      // The wrapper writes its exit record before it exits, so a record may have appeared
      // between the first look and the process scan.
      const left = processes.count(taskTarget(this.#options.home, task, false)) > 0;
      const decision = decide({
        ...facts,
        stoppingHere: this.#options.stoppingHere(task.id),
        record: left ? facts.record : readExitRecord(this.#paths(task.id).exit),
        processesLeft: left,
        commandStarted: left || Deno.build.os === "windows" || task.pid !== null
          ? undefined
          : readCommandPid(this.#paths(task.id).dir) !== null,
        now: Date.now(),
      });
      this.#options.perform(task.id, decision.action);
    }
  }

  /** What reconcile.ts decides a working task from. */
  #facts(task: Task, ownership: TaskFacts["ownership"], now: number): TaskFacts {
    const stoppingHere = this.#options.stoppingHere(task.id);
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
      watchedHere: this.#options.watchedHere(task.id),
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
    return spawnMark(dir) < task.attempt ? null : spawnMarkedAt(dir);
  }
}
