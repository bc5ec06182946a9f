/**
 * Driving the stop of a local task to its end: the stop asked in the store, the wait for a spawn
 * still being recorded and for the start-up window, the executor's stop of every process (with
 * the command's pid once its wrapper noted it), and the end the stop records (stop.ts words it).
 * Also the stop of what an ended task left running in the background.
 *
 * @module
 */
import type { Executor, WrapperExit } from "../executors/executor.ts";
import type { Store, TaskEnd } from "../store.ts";
import type { StopReason, Task } from "../task.ts";
import { endOfStop, waitStartWindow } from "./stop.ts";
import {
  readCommandPid,
  readExitRecord,
  readSignalMark,
  readWrapperStop,
  signalMarkPath,
  signalSentMarkPath,
  taskPaths,
  taskTarget,
} from "./task_files.ts";

export interface LocalStopOptions {
  readonly store: Store;
  readonly executor: Executor;
  /** The state directory. */
  readonly home: string;
  /** Seconds between SIGTERM and SIGKILL. */
  readonly graceSeconds: number;
  /** How this server's wrapper of the task exited (awaited while it runs); undefined if unknown. */
  readonly wrapperExit: (id: string) => Promise<WrapperExit | undefined>;
}

/**
 * How long a stop waits, in steps of SPAWN_WAIT_STEP_MS: for the spawn of a task claimed from its
 * queue to be recorded (SPAWN_WAIT_TRIES), and for a wrapper to note its command's pid
 * (COMMAND_WAIT_TRIES).
 */
const SPAWN_WAIT_STEP_MS = 10;
const SPAWN_WAIT_TRIES = 50;
const COMMAND_WAIT_TRIES = 200;

/**
 * Asks for the stop of task `id` and waits until every process of it is gone. Returns the end to
 * record; or, when there is nothing to stop (it is not working), the task as recorded.
 */
export async function stopLocalTask(
  options: LocalStopOptions,
  id: string,
  reason: StopReason,
): Promise<{ end: TaskEnd } | { task: Task | undefined }> {
  const { store, graceSeconds } = options;
  const requestedAt = Date.now();
  const task = store.requestStop(id, reason, requestedAt);
  // A queued task has nothing to stop: cancel() takes it out of its queue.
  if (!task || task.status !== "working") return { task };
  // A task claimed from its queue is working before its spawn is recorded (by this server or
  // another): its start-up window counts from that record, so wait for it (briefly: a spawn
  // takes milliseconds, and a claim whose server died has no spawn to wait for).
  let started = task;
  for (let tries = 0; started.startedAt === null && tries < SPAWN_WAIT_TRIES; tries++) {
    await new Promise((resolve) => setTimeout(resolve, SPAWN_WAIT_STEP_MS));
    started = store.getTask(id) ?? started;
  }
  await waitStartWindow(
    started.startedAt === null ? { ...started, startedAt: Date.now() } : started,
  );
  const paths = taskPaths(options.home, id);
  const outcome = await options.executor.stop(
    {
      ...taskTarget(options.home, started, true),
      commandPid: await commandPid(options.home, started),
    },
    {
      requestedAt: task.stopRequestedAt ?? Date.now(),
      graceMs: graceSeconds * 1000,
      signalMark: signalMarkPath(paths.dir),
      signalSentMark: signalSentMarkPath(paths.dir),
    },
  );
  const record = readExitRecord(paths.exit);
  const wrapper = await options.wrapperExit(id);
  return {
    end: endOfStop({
      task,
      reason: task.stopReason ?? reason,
      record,
      wrapperCode: wrapper?.code ?? null,
      // Another server's stop may have signalled the task first: the mark says when.
      firstSignalAt: readSignalMark(signalMarkPath(paths.dir)) ?? outcome.firstSignalAt,
      // Only the mark: its file time is comparable with the record's, a clock time is not.
      signalSentAt: readSignalMark(signalSentMarkPath(paths.dir)),
      // The wrapper's own stop may have needed SIGKILL before this server looked.
      forced: outcome.forced || (readWrapperStop(paths.dir)?.forced ?? false),
      gone: outcome.gone,
      graceSeconds,
      now: Date.now(),
    }),
  };
}

/**
 * The pid of a task's command, which its wrapper notes first thing. A stop that signalled the
 * wrapper's children before that note could not tell the command from the wrapper's helpers,
 * and would take the command's death of its signal for an exit of its own; on a loaded machine
 * the note can come later than the start-up window, so it is waited for (bounded: a wrapper
 * that died, or never ran, writes none). POSIX only: the Windows wrapper notes none.
 */
async function commandPid(home: string, task: Task): Promise<number | null> {
  const paths = taskPaths(home, task.id);
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
 * An ended task may have left background processes (`server &`) running; a cancel of it stops
 * them too, so that no process of a cancelled task is left. Returns how many there were.
 */
export async function stopLeftovers(options: LocalStopOptions, task: Task): Promise<number> {
  // A Slurm job's processes are on its node, not here: Slurm ended them with the job.
  if (task.executor === "slurm") return 0;
  const target = taskTarget(options.home, task, true);
  const leftovers = (await options.executor.snapshot([target])).count(target);
  if (leftovers === 0) return 0;
  await options.executor.stop(target, {
    requestedAt: Date.now(),
    graceMs: options.graceSeconds * 1000,
  });
  return leftovers;
}
