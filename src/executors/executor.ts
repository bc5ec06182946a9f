/**
 * The executor boundary: what the engine needs from something that runs a task's wrapper, finds
 * its processes, stops them and reports how its wrapper exited. The local executor (POSIX and
 * Windows processes on this machine) is the first; one that hands tasks to a cluster scheduler is
 * an adapter of the same interface. The wrapper records the task's end in the task's folder (its
 * exit record and stop claim, read by src/engine/task_files.ts), so an executor's wrapper must
 * leave the same records.
 *
 * @module
 */

/**
 * No stop signals a task younger than this (ms). A shell loses a signal that arrives between its
 * fork and its exec of the command, and a command that then runs to its end would look stopped.
 */
export const START_WINDOW_MS = 50;

/** Environment variable every process of a task inherits; finds the tree even after setsid. */
export const TASK_MARKER = "BACKBURNER_TASK_ID";

export interface SpawnRequest {
  readonly taskId: string;
  readonly command: string;
  /** Working directory; undefined runs in the server's own. */
  readonly cwd: string | undefined;
  readonly logPath: string;
  readonly exitPath: string;
  /** File to feed to stdin; default /dev/null. */
  readonly stdinPath?: string;
  /**
   * Gives the command a stdin that stays open for later input: the FIFO the wrapper makes at this
   * path (and its control FIFO at this path + ".ctl"), instead of stdinPath. POSIX only.
   */
  readonly inputPath?: string;
  /** Extra environment variables. */
  readonly env?: Record<string, string>;
  /** The wrapper stops the task once its log would pass this many bytes. Default: no cap. */
  readonly maxLogBytes?: number;
  /** The wrapper stops the task after this many seconds. Default: no timeout. */
  readonly timeoutSeconds?: number | null;
  /** Seconds the wrapper's own stop waits between SIGTERM and SIGKILL. Default 5. */
  readonly graceSeconds?: number;
  /**
   * A file the wrapper touches once the exit record is in place (an exit event, exit_events.ts),
   * where the executor announces exits. Default: none.
   */
  readonly exitEventPath?: string;
}

/** How the wrapper process ended, as its parent saw it. */
export interface WrapperExit {
  /** The wrapper's exit code, which is its command's; null when a signal killed the wrapper. */
  readonly code: number | null;
  readonly signal: string | null;
}

export interface SpawnedTask {
  readonly pid: number;
  /** Settles when the wrapper has exited (its exit record is written by then, if it could be). */
  readonly exited: Promise<WrapperExit>;
}

/** A stop the wrapper itself decided on (its watchdog or its log cap). */
export type WrapperStopReason = "timeout" | "log_limit";

export interface ExitRecord {
  readonly code: number;
  /** When the record was written (its mtime), in ms since the epoch. */
  readonly at: number;
  /** Set when the wrapper stopped the command itself. */
  readonly reason: WrapperStopReason | null;
}

/** A task as an executor finds its processes. */
export interface TaskTarget {
  readonly taskId: string;
  /** The wrapper's pid, which is also the task's process group id; null if it never spawned. */
  readonly pid: number | null;
  /** The task's cgroup (readTaskCgroup); null when it has none or it is not to be looked at. */
  readonly cgroup: string | null;
  /** The pid of the task's command (its wrapper notes it); null before it started, or unknown. */
  readonly commandPid?: number | null;
}

export interface StopOptions {
  /** When the stop was asked for (ms since the epoch): SIGKILL follows at this + graceMs. */
  readonly requestedAt: number;
  readonly graceMs: number;
  /**
   * A file the first stopper creates just before its first signal that reaches the command: its
   * mtime tells every server when the task was first signalled.
   */
  readonly signalMark?: string;
  /**
   * A file the first stopper to have signalled the command creates right after that signal: an
   * end recorded before its mtime came before the signal could reach the command, however long
   * the stopper paused between signalMark and its signal.
   */
  readonly signalSentMark?: string;
  /**
   * For tests only: awaited between the signalMark and the first signal, to stand for a stopper
   * descheduled there on a loaded machine.
   */
  readonly beforeFirstSignal?: () => Promise<void>;
}

/** How a stop ended: always with every process of the task gone. */
export interface StopOutcome {
  /** SIGKILL (or its equivalent) was needed after the grace period. */
  readonly forced: boolean;
  /** What was checked to know that every process is gone, in words for a status message. */
  readonly gone: string;
  /** When the first signal went out; null when nothing was left to signal. */
  readonly firstSignalAt: number | null;
}

/** One look at what runs, shared by every check of one pass. */
export interface ExecutorSnapshot {
  /** True when a process with this pid and start time runs. */
  isAlive(pid: number, startTime: string): boolean;
  /** How many live processes of the task this look found. */
  count(target: TaskTarget): number;
}

/** Runs tasks' wrappers, finds their processes, stops them. */
export interface Executor {
  /** Whether its wrappers touch SpawnRequest.exitEventPath once a task's exit record is written. */
  readonly announcesExits: boolean;
  /**
   * Prepares what tasks get of their own (a cgroup each, on Linux). Returns why they get none
   * where that is worth a note, else null.
   */
  prepare(): Promise<string | null>;
  /** Removes what ended tasks left of those resources (empty cgroups). */
  sweep(): Promise<void>;
  /** The start time of this very process, to tell it from a later one with the same pid. */
  ownStartTime(): Promise<string>;
  /**
   * Starts a task's wrapper in a session of its own. Throws Deno.errors.NotFound when the cwd
   * does not exist or is not a directory.
   */
  spawn(request: SpawnRequest): SpawnedTask;
  /** One look at every process; the cgroups of `targets` are read too. */
  snapshot(targets?: readonly TaskTarget[]): Promise<ExecutorSnapshot>;
  /**
   * Stops every process of the task: a polite signal, then a forced one after the grace period.
   * Returns only once nothing of it is left. Anchored to `requestedAt`, so a second caller (another
   * server finishing an interrupted stop) continues where the first one was.
   */
  stop(target: TaskTarget, options: StopOptions): Promise<StopOutcome>;
}
