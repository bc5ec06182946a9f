/**
 * The dispatcher's decisions: which queued tasks start now, which fail without running because a
 * dependency did not complete, where a waiting task stands, and how long a retry waits. Pure: the
 * store reads the queues and applies a plan in one BEGIN IMMEDIATE transaction, so servers sharing
 * a state directory never start a task twice nor let a queue pass its limit.
 *
 * @module
 */
import type { DispatchPlan, QueuedRow, QueueSnapshot } from "../store.ts";
import type { TaskStatus } from "../task.ts";

/** The longest a retry waits, however many attempts failed before it. */
export const MAX_RETRY_DELAY_MS = 3_600_000;

/** Statuses of a dependency that mean its dependents can never run. */
const DEAD_ENDS: ReadonlySet<TaskStatus> = new Set([
  "failed",
  "timed_out",
  "cancelled",
  "interrupted",
]);

/**
 * What one dispatch does at `now`. Oldest first: a task fails when a dependency ended other than
 * completed (or is no longer recorded), and this propagates down chains and diamonds within the
 * same plan; a task starts when every dependency completed, its backoff has passed and its queue
 * has room. A task that cannot start yet does not hold back younger tasks that can.
 */
export function planDispatch(snapshot: QueueSnapshot, now: number): DispatchPlan {
  const status = new Map<string, TaskStatus>(snapshot.dependencies);
  for (const row of snapshot.queued) status.set(row.id, "queued");
  const failing = new Map<string, string>();
  // Dependencies are older than their dependents, so one pass in age order mostly settles it;
  // repeat until nothing changes for any order a restart or a clock step could make.
  for (let changed = true; changed;) {
    changed = false;
    for (const row of snapshot.queued) {
      if (failing.has(row.id)) continue;
      const message = deadDependency(row, status);
      if (message === null) continue;
      failing.set(row.id, message);
      status.set(row.id, "failed");
      changed = true;
    }
  }
  const working = new Map(snapshot.working);
  const start: string[] = [];
  for (const row of snapshot.queued) {
    if (failing.has(row.id)) continue;
    if (!row.after.every((dep) => status.get(dep) === "completed")) continue;
    if (row.notBefore !== null && row.notBefore > now) continue;
    const limit = snapshot.limits.get(row.queue);
    const busy = working.get(row.queue) ?? 0;
    if (limit !== undefined && busy >= limit) continue;
    working.set(row.queue, busy + 1);
    start.push(row.id);
  }
  return { start, fail: [...failing].map(([id, message]) => ({ id, message })) };
}

/** Why a task can never run (naming the dependency), or null while it still may. */
function deadDependency(row: QueuedRow, status: ReadonlyMap<string, TaskStatus>): string | null {
  for (const dep of row.after) {
    const found = status.get(dep);
    if (found === undefined) {
      return `Dependency ${dep} is no longer recorded, so this task never ran`;
    }
    if (DEAD_ENDS.has(found)) return `Dependency ${dep} ended ${found}, so this task never ran`;
  }
  return null;
}

/** Where a queued task stands. */
export interface QueueState {
  /**
   * 1-based place among the tasks of its queue that wait only for room (oldest first); null while
   * it waits on dependencies.
   */
  readonly position: number | null;
  /** Its dependencies that have not completed yet. */
  readonly waitingOn: string[];
  /** It waits at least until then (a retry's backoff); ms since the epoch. */
  readonly notBefore: number | null;
}

/** The state of queued task `id`, from the queued tasks of its queue (oldest first). */
export function queueStateOf(
  id: string,
  rows: readonly QueuedRow[],
  dependencies: ReadonlyMap<string, TaskStatus>,
): QueueState | null {
  const waiting = (row: QueuedRow) =>
    row.after.filter((dep) => dependencies.get(dep) !== "completed");
  let position = 0;
  for (const row of rows) {
    const waitingOn = waiting(row);
    if (waitingOn.length === 0) position++;
    if (row.id === id) {
      return {
        position: waitingOn.length === 0 ? position : null,
        waitingOn,
        notBefore: row.notBefore,
      };
    }
  }
  return null;
}

/** How long the retry after failed attempt `attempt` (1-based) waits: doubled each time, capped. */
export function retryDelayMs(firstDelayMs: number, attempt: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, firstDelayMs * 2 ** Math.max(0, attempt - 1));
}

/** The line written to a task's log between a failed attempt and its retry. */
export function retryMarker(
  attempt: number,
  attempts: number,
  exitCode: number,
  delayMs: number,
): string {
  const seconds = Math.round(delayMs / 100) / 10;
  return `[backburner] attempt ${attempt} of ${attempts} failed (exit ${exitCode}); retrying in ${seconds} s\n`;
}

/** A one-sentence status message for a queued task. */
export function queuedMessage(queue: string, state: QueueState | null, now: number): string {
  if (state === null) return `Queued in "${queue}"`;
  if (state.waitingOn.length > 0) {
    return `Queued in "${queue}": waiting on ${state.waitingOn.join(", ")} to complete`;
  }
  if (state.notBefore !== null && state.notBefore > now) {
    return `Queued in "${queue}": retrying in ${Math.ceil((state.notBefore - now) / 1000)} s`;
  }
  return `Queued in "${queue}": position ${state.position} behind its limit`;
}
