/**
 * The spawn of a local task this server has just claimed: its attempt's spawn mark, the wrapper's
 * request (the task's environment over the server's, minus what the policy calls unsafe; the log
 * cap and timeout the wrapper enforces itself), and the record of its start. A spawn that fails is
 * one sentence; a process whose start cannot be recorded is stopped at once.
 *
 * @module
 */
import { BackburnerError } from "../errors.ts";
import type { Executor, SpawnedTask, StopOutcome } from "../executors/executor.ts";
import type { PolicyGate } from "../policy/gate.ts";
import { unsafeInheritedEnv } from "../policy/rules.ts";
import type { Store } from "../store.ts";
import { deadlineFrom, type Task } from "../task.ts";
import { exitEventPath } from "./exit_events.ts";
import { inputPaths, isInteractive } from "./input.ts";
import { unrecorded } from "./start.ts";
import { hasStdin, prepareAttempt, taskPaths } from "./task_files.ts";

export interface LaunchOptions {
  readonly store: Store;
  readonly executor: Executor;
  /** The state directory. */
  readonly home: string;
  readonly policy: PolicyGate;
  readonly maxLogBytes: number;
  readonly graceSeconds: number;
  readonly log: (message: string) => void;
}

/** A spawned task: `started` is false when it ended between its claim and its spawn. */
export interface Launched {
  readonly child: SpawnedTask;
  readonly started: boolean;
  readonly deadlineAt: number | null;
}

/**
 * Spawns a claimed task and records its start. The spawn mark (the attempt number) is written
 * before the spawn: a claimed task without it for its attempt never ran, and reconcile puts it
 * back in its queue when its owner died (never twice: with the mark, it is looked for instead).
 */
export function launch(options: LaunchOptions, task: Task): Launched | BackburnerError {
  const { id } = task;
  const paths = taskPaths(options.home, id);
  let child: SpawnedTask;
  const startedAt = Date.now();
  try {
    prepareAttempt(paths, task.attempt);
    child = options.executor.spawn({
      taskId: id,
      command: task.command,
      cwd: task.cwd,
      logPath: paths.log,
      exitPath: paths.exit,
      stdinPath: hasStdin(paths) ? paths.stdin : undefined,
      inputPath: isInteractive(paths.dir) ? inputPaths(paths.dir, task.attempt).fifo : undefined,
      // The server's own BASH_ENV, PS4, exported functions… would run code no rule saw.
      env: {
        ...unsafeInheritedEnv(options.policy, Deno.env.toObject()),
        ...options.store.taskEnv(id),
      },
      // The wrapper enforces these itself, so they hold with no server running.
      maxLogBytes: options.maxLogBytes,
      timeoutSeconds: task.timeoutSeconds,
      graceSeconds: options.graceSeconds,
      exitEventPath: exitEventPath(options.home, id),
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
  try {
    const started = options.store.markStarted(id, child.pid, startedAt, deadlineAt);
    return { child, started, deadlineAt };
  } catch (error) {
    stopFreshSpawn(options.executor, id, child.pid).catch((error) =>
      options.log(`stopping the process of failed start ${id} failed: ${String(error)}`)
    );
    return unrecorded(options.home, error);
  }
}

/** Stops a process just spawned: it has done nothing worth a grace period. */
export function stopFreshSpawn(executor: Executor, id: string, pid: number): Promise<StopOutcome> {
  return executor.stop({ taskId: id, pid, cgroup: null }, { requestedAt: 0, graceMs: 0 });
}
