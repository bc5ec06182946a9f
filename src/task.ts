/** A background task as the engine records it, and pure helpers over it. */
import type { SlurmResources } from "./executors/slurm/resources.ts";

/** The executors a task can run on. */
export const EXECUTOR_NAMES = ["local", "slurm"] as const;

export type ExecutorName = typeof EXECUTOR_NAMES[number];

/** True for a known executor name. */
export function isExecutorName(name: unknown): name is ExecutorName {
  return typeof name === "string" && (EXECUTOR_NAMES as readonly string[]).includes(name);
}

export const TASK_STATUSES = [
  "queued",
  "working",
  "completed",
  "failed",
  "cancelled",
  "timed_out",
  "interrupted",
] as const;

export type TaskStatus = typeof TASK_STATUSES[number];

/** Why a stop was asked for; decides the status the task ends with. */
export type StopReason = "cancel" | "timeout" | "shutdown" | "log_limit";

export interface Task {
  readonly id: string;
  readonly command: string;
  readonly cwd: string;
  readonly status: TaskStatus;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly statusMessage: string | null;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  readonly pid: number | null;
  readonly timeoutSeconds: number | null;
  readonly deadlineAt: number | null;
  /** The server that watches this task; null once nobody does. */
  readonly owner: string | null;
  readonly stopReason: StopReason | null;
  readonly stopRequestedAt: number | null;
  /** A short name the agent gave the task, for lists. */
  readonly label: string | null;
  /** Removal this long after creation once ended (a protocol task's ttl); null: retention. */
  readonly ttlMs: number | null;
  /** The server (or command line) that started the task; null for tasks older than the record. */
  readonly startedBy: string | null;
  /** The queue whose limit it counts against; "default" unless one was asked for. */
  readonly queue: string;
  /** Tasks that must have completed before this one starts. */
  readonly after: readonly string[];
  /** Which run of the command this is (or will be): 1, then one more for each retry. */
  readonly attempt: number;
  /** How many more runs a command that exits non-zero gets. */
  readonly retries: number;
  /** The delay before the first retry (doubled for each next one), in ms. */
  readonly retryDelayMs: number;
  /** A queued task waits at least until then (a retry's backoff); ms since the epoch. */
  readonly notBefore: number | null;
  /** The key an idempotent start gave it. */
  readonly idempotencyKey: string | null;
  /** The task this one restarts. */
  readonly restartOf: string | null;
  /** What runs it: this machine's processes, or a Slurm cluster's job. */
  readonly executor: ExecutorName;
  /** The Slurm job id once its job was submitted; null before, and for local tasks. */
  readonly slurmJobId: string | null;
  /** The Slurm settings it was started with (validated); null for local tasks. */
  readonly slurm: SlurmResources | null;
}

/** Statuses a task can still leave: it waits in its queue, or it runs. */
export function isActive(status: TaskStatus): boolean {
  return status === "queued" || status === "working";
}

export function isTerminal(status: TaskStatus): boolean {
  return !isActive(status);
}

/**
 * When a task with this timeout must be stopped: `timeoutSeconds` after `from` (its start, or its
 * creation until it has started), in whole ms; null without a timeout.
 */
export function deadlineFrom(from: number, timeoutSeconds: number | null): number | null {
  return timeoutSeconds === null ? null : from + Math.trunc(timeoutSeconds * 1000);
}

/** The queue a task runs in unless it names one. */
export const DEFAULT_QUEUE = "default";

const QUEUE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** True for a queue name: 1 to 64 letters, digits, `_`, `.` or `-`. */
export function isQueueName(name: string): boolean {
  return QUEUE_NAME.test(name);
}

/** The most tasks one queue's limit may let work at once. */
export const MAX_QUEUE_LIMIT = 10_000;

const ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789";
const ID_LENGTH = 12;
const ID_PATTERN = new RegExp(`^[${ID_ALPHABET}]{${ID_LENGTH}}$`);

/** A random, unguessable task id: 12 characters from a 32-letter alphabet (60 bits). */
export function newTaskId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(ID_LENGTH));
  let id = "";
  for (const byte of bytes) id += ID_ALPHABET[byte % ID_ALPHABET.length];
  return id;
}

/** True when `id` has the shape newTaskId makes; only such ids may name a path. */
export function isTaskId(id: string): boolean {
  return ID_PATTERN.test(id);
}

const SIGNAL_NAMES: Record<number, string> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  4: "SIGILL",
  6: "SIGABRT",
  8: "SIGFPE",
  9: "SIGKILL",
  11: "SIGSEGV",
  13: "SIGPIPE",
  14: "SIGALRM",
  15: "SIGTERM",
};

/**
 * The signal behind a shell exit status: a shell reports a child killed by signal N as 128+N.
 * A program that exits with such a number by itself is indistinguishable, as in any shell.
 */
export function signalFromExitCode(code: number): string | null {
  if (code <= 128 || code > 128 + 64) return null;
  return SIGNAL_NAMES[code - 128] ?? `SIG${code - 128}`;
}

/** The status a task ends with when its command exited by itself with `code`. */
export type EndStatus = Exclude<TaskStatus, "queued" | "working">;

export function statusForExit(code: number): EndStatus {
  return code === 0 ? "completed" : "failed";
}

/** What is known, once a stop has run, about how the command ended. */
export interface StopEvidence {
  /** The exit record the wrapper wrote: the command's code, and when (the file's mtime). */
  readonly record:
    | {
      readonly code: number;
      readonly at: number;
      /** Set when the wrapper stopped the command itself (its timeout or log cap). */
      readonly reason?: string | null;
    }
    | null;
  /** The wrapper's own exit code (its command's) as this server saw it; null when not seen. */
  readonly wrapperCode: number | null;
  /**
   * The earliest moment a signal of any stop may have reached the task: when this stop sent its
   * first, or, when another process asked for the stop (and may be signalling too), when it
   * asked. Null when no signal was sent at all.
   */
  readonly firstSignalAt: number | null;
  /**
   * When the first signal had surely been sent: the mtime of the mark its stopper leaves right
   * after it, a file time like the record's. An end recorded before it came before any signal
   * could reach the command, however long the stopper paused between its first mark and its
   * signal. Absent or null: unknown.
   */
  readonly signalSentAt?: number | null;
}

/** 128 + SIGTERM and 128 + SIGKILL: the codes a command our stop signals ends with. */
const STOPPED_CODES = new Set([143, 137]);

/** How far apart two file times may be and still not say which came first (ms). */
const FILE_TIME_SLACK_MS = 20;

/**
 * The exit code of a command that ended by itself although a stop was asked for (it exited as the
 * cancel or the deadline came), or null when the stop is what ended it. Only a task that our
 * signal actually stopped may be reported cancelled or timed out. Pure.
 */
export function naturalExitCode(evidence: StopEvidence): number | null {
  const code = evidence.record?.code ?? evidence.wrapperCode;
  if (code === null) return null;
  // The log cap cut the output: whatever the command did next, the task was stopped at the cap.
  if (evidence.record?.reason === "log_limit") return null;
  // A timeout the wrapper's watchdog claimed may have come just after the command ended by
  // itself: like any stop, its first signal (the mark its stopper leaves) tells.
  // Nothing was signalled: the tree was already gone when the stop looked.
  if (evidence.firstSignalAt === null) return code;
  // File times are a kernel tick coarse, so a record stamped just before the signal may have been
  // written just after it; a code that a SIGTERM or SIGKILL gives says which one it was.
  if (STOPPED_CODES.has(code)) return null;
  // File times lag the clock by up to a few kernel ticks (up to 10 ms measured here), so an end
  // stamped within FILE_TIME_SLACK_MS of the first signal, with a code no stop signal gives, is
  // the command's own: a command the signal reached would have died of it.
  if (evidence.record !== null) {
    const { at } = evidence.record;
    if (at <= evidence.firstSignalAt + FILE_TIME_SLACK_MS) return code;
    // Later than that: the stopper may have been descheduled between its first mark and its
    // signal, so the mark it leaves once the signal is out decides (both are file times of one
    // clock; the same tick says nothing, so that end is the stop's). Before it, the end came
    // before the signal, or so soon after it that the code, no stop signal's, is the witness.
    const sentAt = evidence.signalSentAt ?? null;
    if (sentAt !== null && at < sentAt) return code;
    // After it, a command that ended with a code no stop signal gives had trapped the signal.
    return null;
  }
  // The wrapper exited by itself but could not write its record (its folder removed, the disk
  // full): when is unknown, and a code that is not a stop signal's is the command's own.
  return code;
}

/** The status a stopped task ends with. */
export function statusForStop(reason: StopReason): EndStatus {
  switch (reason) {
    case "timeout":
      return "timed_out";
    case "log_limit":
      return "failed";
    case "cancel":
    case "shutdown":
      return "cancelled";
  }
}

/** One sentence saying how a task ended, for people and agents. */
export function describe(task: Task): string {
  switch (task.status) {
    case "queued":
      return task.statusMessage ?? "The task waits in its queue and has not started yet";
    case "working":
      return "The task is still running";
    case "completed":
      return "The command exited with code 0";
    case "failed":
      if (task.stopReason === "log_limit" && task.statusMessage) return task.statusMessage;
      // Never ran: a dependency did not complete, or its queued start could not spawn.
      if (task.exitCode === null && task.statusMessage) return task.statusMessage;
      if (task.exitCode === 127) {
        return "The command failed with exit code 127 (command not found)";
      }
      return task.signal
        ? `The command was ended by ${task.signal} (exit code ${task.exitCode})`
        : `The command failed with exit code ${task.exitCode}`;
    case "cancelled":
      return task.statusMessage ?? "The task was cancelled and its processes are gone";
    case "timed_out":
      return task.statusMessage ??
        `The task ran past its timeout of ${task.timeoutSeconds} s and its processes are gone`;
    case "interrupted":
      return task.statusMessage ??
        "The task's processes vanished without recording an exit code";
  }
}
