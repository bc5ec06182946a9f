/**
 * The dispatcher: claims the queued tasks that may start now (queue.ts plans, the store applies
 * the plan in one transaction) and hands each to its executor's start, fails those whose
 * dependencies did not complete, runs again soon once a slot frees, and sends a failed attempt
 * with retries left back to its queue after its backoff.
 *
 * @module
 */
import type { BackburnerError } from "../errors.ts";
import type { Store, TaskEnd } from "../store.ts";
import type { Task } from "../task.ts";
import { appendToRegularFile } from "../task_folder_io.ts";
import { planDispatch, retryDelayMs, retryMarker } from "./queue.ts";
import { taskPaths } from "./task_files.ts";

export interface DispatcherOptions {
  readonly store: Store;
  /** The state directory. */
  readonly home: string;
  /** The server that claims. */
  readonly serverId: string;
  /**
   * Whether this engine may claim now. An engine no other server knows of (a command line that
   * did not open() it) must not: its claims would look like a dead server's to every other one.
   */
  readonly mayClaim: () => boolean;
  /** Spawns a claimed local task here; its spawn error, or null. */
  readonly launch: (task: Task) => BackburnerError | null;
  /** Submits a claimed slurm task; `own`: its start awaits the submission. */
  readonly submit: (task: Task, own: boolean) => void;
  /** A status change was recorded. */
  readonly changed: (id: string) => void;
  /** The task's attempt ended: forget what was kept for it while it ran. */
  readonly ended: (id: string) => void;
  readonly log: (message: string) => void;
}

/** Starts queued tasks as their queues, dependencies and backoffs allow. */
export class Dispatcher {
  readonly #options: DispatcherOptions;
  readonly #store: Store;
  #queued = false;
  #closed = false;
  /** Timers that run a dispatch when a retry's backoff has passed. */
  readonly #retryTimers = new Set<ReturnType<typeof setTimeout>>();

  constructor(options: DispatcherOptions) {
    this.#options = options;
    this.#store = options.store;
  }

  /** Runs no more dispatches. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#retryTimers) clearTimeout(timer);
  }

  /** Runs a dispatch soon (once per turn however many ask): a slot freed, a task queued. */
  soon(): void {
    if (this.#queued || this.#closed) return;
    this.#queued = true;
    queueMicrotask(() => {
      this.#queued = false;
      if (this.#closed) return;
      try {
        this.run(null);
      } catch (error) {
        this.#options.log(
          `starting queued tasks failed: ${error instanceof Error ? error.message : error}`,
        );
      }
    });
  }

  /**
   * Claims what may start now and starts it here; fails the queued tasks whose dependencies did
   * not complete. Returns the spawn error of task `own` (the start that asked), which its caller
   * reports; other spawn failures end their task as failed.
   */
  run(own: string | null): BackburnerError | null {
    if (this.#closed || !this.#options.mayClaim()) return null;
    if (!this.#store.hasQueued()) return null;
    const { claimed, failed } = this.#store.dispatch(
      this.#options.serverId,
      Date.now(),
      (snapshot) => planDispatch(snapshot, Date.now()),
    );
    for (const id of failed) this.#options.changed(id);
    let ownError: BackburnerError | null = null;
    for (const task of claimed) {
      if (task.executor === "slurm") {
        this.#options.submit(task, task.id === own);
        continue;
      }
      const error = this.#options.launch(task);
      if (error === null) continue;
      if (task.id === own) {
        ownError = error;
        continue;
      }
      this.#options.log(`task ${task.id} could not start: ${error.message}`);
      this.#store.finish(task.id, {
        status: "failed",
        exitCode: null,
        signal: null,
        statusMessage: error.message,
        endedAt: Date.now(),
      });
      this.#options.changed(task.id);
    }
    return ownError;
  }

  /**
   * Sends a task whose command exited non-zero back to its queue for its next attempt when it has
   * retries left, after its backoff, with a marker line in its log; false when it has none (or a
   * stop was asked: a cancel, a timeout or a log cap is never retried).
   */
  retry(id: string, end: TaskEnd): boolean {
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
      appendToRegularFile(
        taskPaths(this.#options.home, id).log,
        retryMarker(task.attempt, task.retries + 1, end.exitCode, delay),
      );
    } catch (error) {
      this.#options.log(`marking the retry of task ${id} in its log failed: ${String(error)}`);
    }
    const scheduled = task.executor === "slurm"
      ? this.#store.scheduleSlurmRetry(id, task.attempt, Date.now() + delay)
      : this.#store.scheduleRetry(id, task.attempt, Date.now() + delay);
    if (!scheduled) return false;
    this.#options.ended(id);
    this.#options.changed(id);
    const timer = setTimeout(() => {
      this.#retryTimers.delete(timer);
      this.soon();
    }, delay);
    Deno.unrefTimer(timer);
    this.#retryTimers.add(timer);
    return true;
  }
}
