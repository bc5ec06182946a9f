/**
 * Stopping tasks: the words a stopped task's status carries, the wait that keeps a signal out of a
 * task's start-up window, and the deadline timers that stop a task at its timeout.
 *
 * @module
 */
import { type ExitRecord, START_WINDOW_MS } from "../executors/executor.ts";
import type { TaskEnd } from "../store.ts";
import {
  naturalExitCode,
  signalFromExitCode,
  statusForExit,
  statusForStop,
  type StopReason,
  type Task,
} from "../task.ts";

export const CANCELLED_QUEUED_MESSAGE = "Cancelled on request before it started; it never ran";
export const SHUTDOWN_QUEUED_MESSAGE =
  "Cancelled before it started because the server that queued it shut down with BACKBURNER_ON_EXIT=cancel; it never ran";

/** setTimeout fires at once for delays past 2^31 - 1 ms: longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `gone` says what was checked to know that every process is gone (StopOutcome.gone). */
export function stopMessage(
  reason: StopReason,
  task: Task,
  forced: boolean,
  graceSeconds: number,
  gone: string,
): string {
  const how = forced ? `; SIGKILL was needed after the ${graceSeconds} s grace period` : "";
  const all = `all of its processes are gone (${gone})${how}`;
  switch (reason) {
    case "cancel":
      return `Cancelled on request; ${all}`;
    case "timeout":
      return `Timed out after ${task.timeoutSeconds} s; ${all}`;
    case "shutdown":
      return `Cancelled because the server shut down with BACKBURNER_ON_EXIT=cancel; ${all}`;
    case "log_limit":
      return `Stopped because its output passed the BACKBURNER_MAX_LOG_BYTES limit; the log so far is kept; ${all}`;
  }
}

/** Resolves once the task is out of its start-up window, where a shell would lose a signal. */
export async function waitStartWindow(task: Task): Promise<void> {
  const young = (task.startedAt ?? 0) + START_WINDOW_MS - Date.now();
  if (young > 0) await new Promise((resolve) => setTimeout(resolve, young));
}

/** One timer per task that calls `onDeadline` once its deadline has come; none keeps Deno alive. */
export class Deadlines {
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #onDeadline: (id: string) => void;

  constructor(onDeadline: (id: string) => void) {
    this.#onDeadline = onDeadline;
  }

  has(id: string): boolean {
    return this.#timers.has(id);
  }

  /** Calls onDeadline(id) at `at` (ms since the epoch), however far away that is. */
  arm(id: string, at: number): void {
    const timer = setTimeout(() => {
      if (at > Date.now()) return this.arm(id, at);
      this.#timers.delete(id);
      this.#onDeadline(id);
    }, Math.min(Math.max(0, at - Date.now()), MAX_TIMER_MS));
    Deno.unrefTimer(timer);
    this.#timers.set(id, timer);
  }

  disarm(id: string): void {
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
  }

  /** Stops every timer (the engine closes). */
  clear(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
  }
}

/** What is known once a stop has confirmed that every process of the task is gone. */
export interface StopResult {
  /** The task as the stop request recorded it. */
  readonly task: Task;
  /** The stop that is recorded: the first one asked for. */
  readonly reason: StopReason;
  readonly record: ExitRecord | null;
  /** The wrapper's exit code as this server saw it; null when not seen. */
  readonly wrapperCode: number | null;
  /** StopEvidence.firstSignalAt: when a signal of any stop may first have reached the task. */
  readonly firstSignalAt: number | null;
  /** StopEvidence.signalSentAt: when the first signal had surely been sent (a mark's mtime). */
  readonly signalSentAt: number | null;
  readonly forced: boolean;
  /** StopOutcome.gone. */
  readonly gone: string;
  readonly graceSeconds: number;
  readonly now: number;
}

/**
 * How a stopped task is recorded: as the stop, or, when its command ended by itself before the
 * stop reached it, as that natural end.
 */
export function endOfStop(result: StopResult): TaskEnd {
  const { task, record } = result;
  const natural = naturalExitCode({
    record,
    wrapperCode: result.wrapperCode,
    firstSignalAt: result.firstSignalAt,
    signalSentAt: result.signalSentAt,
  });
  if (natural !== null) {
    return {
      status: statusForExit(natural),
      exitCode: natural,
      signal: signalFromExitCode(natural),
      statusMessage: null,
      endedAt: record ? Math.max(record.at, task.startedAt ?? task.createdAt) : result.now,
      natural: true,
    };
  }
  return {
    status: statusForStop(result.reason),
    exitCode: record?.code ?? null,
    signal: result.forced ? "SIGKILL" : record ? signalFromExitCode(record.code) : null,
    statusMessage: stopMessage(
      result.reason,
      task,
      result.forced,
      result.graceSeconds,
      result.gone,
    ),
    endedAt: result.now,
  };
}
