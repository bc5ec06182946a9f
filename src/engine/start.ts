/**
 * A start: a checked request becoming a recorded task. The policy, the state database and the cwd
 * are checked; the task's folder (with its stdin) is made before its record, which the store
 * inserts queued (idempotency keys, dependencies, cycles); then a dispatch starts it if it may.
 * A start that fails leaves nothing: no record, no folder. Also what a restart starts again.
 *
 * @module
 */
import { BackburnerError } from "../errors.ts";
import type { PolicyGate } from "../policy/gate.ts";
import type { KeyDecision, Store } from "../store.ts";
import { newTaskId, type Task } from "../task.ts";
import { readRegularBytes } from "../task_folder_io.ts";
import { checkInteractive, isInteractive, markInteractive } from "./input.ts";
import { checkCwdExists, type CheckedStart, MAX_STDIN_BYTES } from "./requests.ts";
import { createTaskFolder, removeTaskFolder, taskPaths } from "./task_files.ts";

export interface EnqueueOptions {
  readonly store: Store;
  /** The state directory. */
  readonly home: string;
  readonly policy: PolicyGate;
  /** The server that records the task (its owner until another claims it). */
  readonly serverId: string;
  /** How long an idempotency key keeps returning the task that holds it after that task ended. */
  readonly idempotencyWindowMs: number;
  /** Throws once the state database is lost (state_file.ts). */
  readonly requireState: () => void;
  /** Starts what may start now; returns the spawn error of task `own`, the start that asked. */
  readonly dispatch: (own: string) => BackburnerError | null;
  /** The task as recorded; throws "unknown_task" when it is not. */
  readonly require: (id: string) => Task;
  readonly log: (message: string) => void;
}

/** What a start adds to its checked request. */
export interface StartExtra {
  /** The ttl of the task once ended (ms); null: the retention period. */
  readonly ttlMs: number | null;
  /** The task it restarts, if any. */
  readonly restartOf: string | null;
}

/**
 * Records a task for the checked request and starts it, or queues it; with an idempotency key
 * held by a task still queued or working, or ended within the window, returns that task instead.
 */
export function enqueue(
  options: EnqueueOptions,
  checked: CheckedStart,
  extra: StartExtra,
): { task: Task; existing: boolean } {
  const { store, home, log } = options;
  const { command, cwd, env, stdin } = checked;
  const decision = options.policy.checkCommand(command);
  if (!decision.allowed) throw new BackburnerError("refused_by_policy", decision.reason);
  const envDecision = options.policy.checkEnv(env);
  if (!envDecision.allowed) throw new BackburnerError("refused_by_policy", envDecision.reason);
  if (checked.interactive) {
    checkInteractive(checked.executor, options.policy, Deno.build.os);
  }
  options.requireState();
  checkCwdExists(cwd);

  const id = newTaskId();
  const paths = taskPaths(home, id);
  const createdAt = Date.now();
  let result: KeyDecision;
  try {
    // The folder first: no record without its stdin. A folder left without a record (a crash
    // now) is removed by the sweep.
    createTaskFolder(paths, stdin);
    if (checked.interactive) markInteractive(paths.dir);
    result = store.insertQueued({
      id,
      command,
      cwd,
      createdAt,
      timeoutSeconds: checked.timeoutSeconds,
      owner: options.serverId,
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
      onKey: (holder) => keyDecision(holder, command, cwd, createdAt, options.idempotencyWindowMs),
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
    removeFailedStartFolder(home, id, log);
    if (error instanceof BackburnerError) throw error;
    throw unrecorded(home, error);
  }
  if (result.kind === "existing") {
    removeFailedStartFolder(home, id, log);
    return { task: result.task, existing: true };
  }
  let spawnError: BackburnerError | null;
  try {
    spawnError = options.dispatch(id);
  } catch (error) {
    // Not even queued for sure: take it back, so that a start reported failed never runs.
    try {
      if (store.deleteQueued(id)) removeFailedStartFolder(home, id, log);
    } catch (undo) {
      log(`removing the record of failed start ${id} failed: ${String(undo)}`);
    }
    throw unrecorded(home, error);
  }
  if (spawnError) {
    // Its own start failed to spawn: as before queues, nothing of it is kept.
    undoStart(store, home, id, log);
    throw spawnError;
  }
  return { task: options.require(id), existing: false };
}

/** A start the state directory could not record. */
export function unrecorded(home: string, error: unknown): BackburnerError {
  return new BackburnerError(
    "storage_failure",
    `Cannot start task: the state directory "${home}" could not record it (${
      error instanceof Error ? error.message : String(error)
    }): free disk space or fix the directory, then try again`,
  );
}

/** What a start with an idempotency key held by `holder` does. */
function keyDecision(
  holder: Task,
  command: string,
  cwd: string,
  now: number,
  windowMs: number,
): KeyDecision {
  const holds = holder.endedAt === null || holder.endedAt > now - windowMs;
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

function removeFailedStartFolder(home: string, id: string, log: (message: string) => void): void {
  try {
    removeTaskFolder(taskPaths(home, id).dir);
  } catch (error) {
    log(`removing the folder of failed start ${id} failed: ${String(error)}`);
  }
}

/** Removes what a failed start made: its record and its folder (its process never ran). */
export function undoStart(
  store: Store,
  home: string,
  id: string,
  log: (message: string) => void,
): void {
  try {
    store.deleteTask(id);
  } catch (error) {
    // The monitor ends it as interrupted once it sees no process.
    log(`removing the record of failed start ${id} failed: ${String(error)}`);
  }
  removeFailedStartFolder(home, id, log);
}

/**
 * What a restart of `old` starts: its command, cwd, environment, stdin, label, queue, timeout and
 * retries (no dependencies, no key).
 */
export function restartRequest(store: Store, home: string, old: Task): CheckedStart {
  const paths = taskPaths(home, old.id);
  // Started without stdin, or its folder is gone: empty stdin. The task can replace the file (a
  // FIFO there blocked the whole server): read as every file of its folder is, within the bound a
  // start has.
  const stdin = readRegularBytes(paths.stdin, MAX_STDIN_BYTES) ?? undefined;
  return {
    command: old.command,
    cwd: old.cwd,
    timeoutSeconds: old.timeoutSeconds,
    env: store.taskEnv(old.id),
    label: old.label,
    stdin,
    interactive: isInteractive(paths.dir),
    queue: old.queue,
    after: [],
    retries: old.retries,
    retryDelayMs: old.retryDelayMs,
    idempotencyKey: null,
    executor: old.executor,
    slurm: old.executor === "slurm" ? old.slurm : null,
  };
}
