/**
 * Reconciliation: what a working task becomes when what is observed of it (its owner, its
 * wrapper, its exit record, its processes, its deadline) does not match "running and watched".
 * One decision table, like pueue's restore_state: each inconsistent state is named with what it
 * becomes. Pure: the engine gathers the facts, asks, and performs the action.
 *
 * | state                          | observed                                                   | becomes                          |
 * | ------------------------------ | ---------------------------------------------------------- | -------------------------------- |
 * | log_over_cap                   | this server's task, no stop asked, log past the cap        | stop as "log_limit"              |
 * | watched_by_child               | this server holds the wrapper's child handle               | nothing: its exit is awaited     |
 * | owner_alive                    | another live server owns it                                | nothing: left to that server     |
 * | claimed_never_spawned          | its owner is gone and never began to spawn it (no mark)    | back to its queue                |
 * | owner_dead                     | its owner is gone (or there is none)                       | adopted, then looked at again    |
 * | stopping_here                  | this server is already stopping it                         | nothing                          |
 * | stop_by_dead_server            | a stop was asked by a server that died (just adopted)      | the stop, finished here          |
 * | stop_stalled                   | a stop asked here is far past its grace, or lost its child | the stop, driven again           |
 * | stop_under_way                 | a stop asked here still runs within its grace              | nothing                          |
 * | wrapper_recorded_stop          | an exit record with the wrapper's own stop reason          | that stop, finished here         |
 * | exit_recorded                  | an exit record                                             | ended with the recorded code     |
 * | deadline_passed                | its deadline is past                                       | stop as "timeout"                |
 * | unwatched                      | none of the above                                          | deadline armed; processes looked |
 * | still_running                  | unwatched, and processes of it are left                    | nothing                          |
 * | never_started                  | as gone_without_record, no pid, and its command never ran  | back to its queue                |
 * | gone_without_record            | unwatched, no process left and no exit record              | ended as interrupted             |
 *
 * When this server's wrapper child exits (`afterWrapperExit`):
 *
 * | state                          | observed                                                   | becomes                          |
 * | ------------------------------ | ---------------------------------------------------------- | -------------------------------- |
 * | already_ended                  | the task is gone or ended                                  | what was kept for it forgotten   |
 * | stop_requested                 | a stop was asked                                           | the stop, finished here          |
 * | wrapper_recorded_stop          | an exit record with the wrapper's own stop reason          | that stop, finished here         |
 * | exit_recorded                  | an exit record                                             | ended with the recorded code     |
 * | record_unwritten               | no record, but the wrapper exited by itself with a code    | ended with the wrapper's code    |
 * | wrapper_killed                 | no record and no code: the wrapper was killed from outside | nothing yet: the monitor decides |
 *
 * Every "ended" is recorded only while no stop is asked (Store.finishExited); when a stop came
 * first (`onRace: "stop"`), that stop is driven instead.
 *
 * @module
 */
import type { ExitRecord, WrapperExit } from "../executors/executor.ts";
import type { TaskEnd } from "../store.ts";
import { signalFromExitCode, statusForExit, type StopReason, type Task } from "../task.ts";

/** A stop still unfinished this long after its grace period is taken over by another server. */
export const STOPPER_GIVE_UP_MS = 10_000;

export const INTERRUPTED_MESSAGE =
  "Interrupted: the task's processes are gone and it left no exit code (killed from outside, or the machine restarted)";

const RECORD_UNWRITTEN_MESSAGE =
  "The exit code is the one the task's shell returned: its exit record could not be written (its folder removed, or the disk full)";

/** What the engine does about a task. */
export type Action =
  | { readonly kind: "nothing" }
  /** Claim the task from its dead owner, then decide again with `ownership: "adopted"`. */
  | { readonly kind: "adopt" }
  /** Put a task its dead owner claimed but never spawned back in its queue, if still so. */
  | { readonly kind: "requeue"; readonly from: string | null }
  | { readonly kind: "stop"; readonly reason: StopReason }
  /**
   * Record the end unless a stop was asked meanwhile; then, with onRace "stop", drive that stop.
   */
  | { readonly kind: "end"; readonly end: TaskEnd; readonly onRace: "stop" | "nothing" }
  /** Arm the deadline (when `deadlineAt` is set), then look for the task's processes. */
  | { readonly kind: "look_for_processes"; readonly deadlineAt: number | null }
  /** Forget what was kept for a task that has ended. */
  | { readonly kind: "forget" };

export interface Decision {
  /** The name of the state, as in the table above. */
  readonly state: string;
  readonly action: Action;
}

const NOTHING: Action = { kind: "nothing" };

/** The first look at a working task, from the summary row alone: most passes end here. */
export interface RowFacts {
  /** This server owns it and no stop was asked. */
  readonly mineUnstopped: boolean;
  /** This server holds its wrapper's child handle. */
  readonly watchedHere: boolean;
  /** Its log is past the cap (only checked for mineUnstopped, every few seconds). */
  readonly logOverCap: boolean;
}

/** null: read the whole task and decide(). */
export function triage(facts: RowFacts): Decision | null {
  if (facts.mineUnstopped && facts.logOverCap) {
    return { state: "log_over_cap", action: { kind: "stop", reason: "log_limit" } };
  }
  if (facts.mineUnstopped && facts.watchedHere) {
    return { state: "watched_by_child", action: NOTHING };
  }
  return null;
}

export interface TaskFacts {
  readonly task: Task;
  /**
   * mine: this server owns it; adopted: this server has just claimed it from a dead owner;
   * owner_alive: another live server owns it; owner_dead: its owner is gone or there is none.
   */
  readonly ownership: "mine" | "adopted" | "owner_alive" | "owner_dead";
  /**
   * For a task with no pid whose owner is gone: false when no spawn of its current attempt ever
   * began (its dispatcher died between claim and spawn). Undefined when not looked at.
   */
  readonly spawnBegun?: boolean;
  /**
   * False when the wrapper never noted its command's pid, which it does just before it runs the
   * command: the command never started. Undefined where that is not known (Windows).
   */
  readonly commandStarted?: boolean;
  readonly stoppingHere: boolean;
  readonly watchedHere: boolean;
  /** The wrapper's exit record, or null when it left none (yet). */
  readonly record: ExitRecord | null;
  /** Null until the processes were looked for; then whether any of the task is left. */
  readonly processesLeft: boolean | null;
  readonly graceMs: number;
  readonly now: number;
}

/** What a working task that no child handle watches becomes. */
export function decide(facts: TaskFacts): Decision {
  const { task, now } = facts;
  if (facts.ownership === "owner_alive") return { state: "owner_alive", action: NOTHING };
  if (facts.ownership === "owner_dead") {
    if (task.pid === null && facts.spawnBegun === false && !task.stopReason) {
      return {
        state: "claimed_never_spawned",
        action: { kind: "requeue", from: task.owner },
      };
    }
    return { state: "owner_dead", action: { kind: "adopt" } };
  }
  if (facts.stoppingHere) return { state: "stopping_here", action: NOTHING };
  if (task.stopReason) {
    const stop: Action = { kind: "stop", reason: task.stopReason };
    if (facts.ownership === "adopted") return { state: "stop_by_dead_server", action: stop };
    const giveUpAt = (task.stopRequestedAt ?? 0) + facts.graceMs + STOPPER_GIVE_UP_MS;
    if (now >= giveUpAt || !facts.watchedHere) return { state: "stop_stalled", action: stop };
    return { state: "stop_under_way", action: NOTHING };
  }
  if (facts.watchedHere) return { state: "watched_by_child", action: NOTHING };
  const recorded = fromRecord(task, facts.record);
  if (recorded) return recorded;
  if (facts.processesLeft === null) {
    if (task.deadlineAt !== null && task.deadlineAt <= now) {
      return { state: "deadline_passed", action: { kind: "stop", reason: "timeout" } };
    }
    return {
      state: "unwatched",
      action: { kind: "look_for_processes", deadlineAt: task.deadlineAt },
    };
  }
  if (facts.processesLeft) return { state: "still_running", action: NOTHING };
  // Claimed from its queue, then its server died between the spawn mark and the spawn (or the
  // wrapper died before running the command): it never ran, so it may run now, once.
  if (task.pid === null && facts.commandStarted === false) {
    return { state: "never_started", action: { kind: "requeue", from: task.owner } };
  }
  return {
    state: "gone_without_record",
    action: {
      kind: "end",
      end: {
        status: "interrupted",
        exitCode: null,
        signal: null,
        statusMessage: INTERRUPTED_MESSAGE,
        endedAt: now,
      },
      onRace: "nothing",
    },
  };
}

export interface WrapperExitFacts {
  /** The task as recorded now; undefined when it was removed. */
  readonly task: Task | undefined;
  readonly exit: WrapperExit;
  readonly record: ExitRecord | null;
  readonly now: number;
}

/** What a task becomes when this server sees its wrapper exit. */
export function afterWrapperExit(facts: WrapperExitFacts): Decision {
  const { task } = facts;
  if (!task || task.status !== "working") {
    return { state: "already_ended", action: { kind: "forget" } };
  }
  if (task.stopReason) {
    return { state: "stop_requested", action: { kind: "stop", reason: task.stopReason } };
  }
  const recorded = fromRecord(task, facts.record);
  if (recorded) return recorded;
  if (facts.exit.code !== null) {
    return {
      state: "record_unwritten",
      action: {
        kind: "end",
        end: exitEnd(facts.exit.code, RECORD_UNWRITTEN_MESSAGE, facts.now),
        onRace: "stop",
      },
    };
  }
  return { state: "wrapper_killed", action: NOTHING };
}

/** The states an exit record decides: the wrapper's own stop, or the command's end. */
function fromRecord(task: Task, record: ExitRecord | null): Decision | null {
  if (!record) return null;
  if (record.reason) {
    // The wrapper stopped the command itself (its timeout or log cap): finish it as that stop,
    // once this server has checked that nothing of the task is left.
    return { state: "wrapper_recorded_stop", action: { kind: "stop", reason: record.reason } };
  }
  return {
    state: "exit_recorded",
    action: {
      kind: "end",
      end: exitEnd(record.code, null, recordedEndAt(task, record)),
      onRace: "stop",
    },
  };
}

/** The end of a command that exited with `code` by itself. */
export function exitEnd(code: number, statusMessage: string | null, endedAt: number): TaskEnd {
  return {
    status: statusForExit(code),
    exitCode: code,
    signal: signalFromExitCode(code),
    statusMessage,
    endedAt,
  };
}

/** When an exit record says its task ended. */
export function recordedEndAt(task: Task, record: ExitRecord): number {
  // File times are kernel-tick coarse; never let a quick task end before it started.
  return Math.max(record.at, task.startedAt ?? task.createdAt);
}
