/**
 * What a Slurm task becomes: from the wrapper's exit record (first: the command's own end, or the
 * wrapper's own stop) or else from what Slurm says of its job, in one reconcile look or at the end
 * of a stop. The Slurm counterpart of reconcile.ts. Pure: slurm_tasks.ts gathers the facts and
 * records the step.
 *
 * @module
 */
import type { ExitRecord } from "../executors/executor.ts";
import type { SlurmJob, SlurmOutcome } from "../executors/slurm/mod.ts";
import type { TaskEnd } from "../store.ts";
import { signalFromExitCode, statusForStop, type StopReason, type Task } from "../task.ts";
import { exitEnd, recordedEndAt } from "./reconcile.ts";

/** What a Slurm task becomes in one reconcile look. */
export type SlurmStep =
  | {
    readonly kind: "state";
    readonly status: "queued" | "working";
    readonly message: string | null;
  }
  | { readonly kind: "end"; readonly end: TaskEnd };

/** The end an exit record says: the wrapper's own stop (timeout, log cap), or the command's code. */
export function endFromRecord(task: Task, record: ExitRecord): TaskEnd {
  const endedAt = recordedEndAt(task, record);
  if (record.reason === null) return exitEnd(record.code, null, endedAt);
  const timedOut = record.reason === "timeout";
  return {
    status: timedOut ? "timed_out" : "failed",
    exitCode: record.code,
    signal: null,
    statusMessage: timedOut
      ? `The task ran past its timeout of ${task.timeoutSeconds} s and backburner's wrapper stopped it on the Slurm node (job ${task.slurmJobId})`
      : "The task's output passed the log cap (BACKBURNER_MAX_LOG_BYTES) and backburner's wrapper stopped it",
    endedAt,
  };
}

/**
 * The exit record first (the wrapper wrote it: the command's own end), then what Slurm says.
 * `outcome` is slurmOutcome of the job as read now (null job: Slurm no longer knows it).
 */
export function slurmStep(
  task: Task,
  record: ExitRecord | null,
  outcome: SlurmOutcome,
  now: number,
): SlurmStep {
  if (record !== null) return { kind: "end", end: endFromRecord(task, record) };
  if (outcome.status === "queued") {
    return {
      kind: "state",
      status: "queued",
      message: `Slurm job ${task.slurmJobId}: ${outcome.message ?? "Waiting in Slurm's queue"}`,
    };
  }
  if (!outcome.ended) return { kind: "state", status: "working", message: null };
  const status = outcome.status === "working" ? "interrupted" : outcome.status;
  return {
    kind: "end",
    end: {
      status,
      exitCode: outcome.exitCode,
      signal: outcome.exitCode === null ? null : signalFromExitCode(outcome.exitCode),
      statusMessage: outcome.message,
      endedAt: now,
    },
  };
}

/** What is known of a Slurm task once scancel returned (its job ended, or Slurm forgot it). */
export interface SlurmStopFacts {
  /** The task as recorded with its stop asked. */
  readonly task: Task;
  /** The stop this call asked for; the task's recorded stop reason comes first. */
  readonly reason: StopReason;
  readonly jobId: string;
  /** The job as Slurm last showed it; null once it left Slurm. */
  readonly job: SlurmJob | null;
  readonly outcome: SlurmOutcome;
  readonly record: ExitRecord | null;
  readonly now: number;
}

/** How a stopped Slurm task ends; null while Slurm says its job still runs. */
export function endOfSlurmStop(facts: SlurmStopFacts): TaskEnd | null {
  const { task, record, outcome, jobId } = facts;
  const stoppedBy = task.stopReason ?? facts.reason;
  // A command that ended by itself before scancel reached it keeps its own end; one that died
  // of the signal (128 + TERM or KILL, with the wrapper still there to record it) was stopped.
  const ownEnd = record !== null && (record.reason !== null || ![143, 137].includes(record.code));
  if (ownEnd) return endFromRecord(task, record);
  if (outcome.status === "cancelled" || outcome.status === "interrupted" || record) {
    return {
      status: statusForStop(stoppedBy),
      exitCode: null,
      signal: null,
      statusMessage: `${
        stoppedBy === "timeout" ? "Timed out" : "Cancelled"
      }: Slurm says job ${jobId} is gone (${facts.job?.state ?? "no longer known to Slurm"})`,
      endedAt: facts.now,
    };
  }
  const step = slurmStep(task, null, outcome, facts.now);
  return step.kind === "end" ? step.end : null;
}
