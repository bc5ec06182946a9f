/**
 * What a Slurm job's state means for its task: the status backburner reports, with Slurm's own
 * words in the message. The wrapper's exit record, when there is one, comes first (the engine's
 * call); this is what Slurm alone says.
 *
 * @module
 */
import type { SlurmJob } from "./job_state.ts";

/** backburner's statuses, with `queued` for a job waiting in Slurm's queue. */
export type SlurmTaskStatus =
  | "queued"
  | "working"
  | "completed"
  | "failed"
  | "cancelled"
  | "timed_out"
  | "interrupted";

export interface SlurmOutcome {
  readonly status: SlurmTaskStatus;
  /** False while the job is queued or runs (COMPLETING included: its processes may live). */
  readonly ended: boolean;
  /** The batch script's exit code, when Slurm ended the job with one. */
  readonly exitCode: number | null;
  /** One sentence for the task's status message; null where the status says it all. */
  readonly message: string | null;
}

const WAITING = new Set([
  "PENDING",
  "REQUEUED",
  "REQUEUE_HOLD",
  "REQUEUE_FED",
  "RESV_DEL_HOLD",
]);
const ACTIVE = new Set([
  "CONFIGURING",
  "RUNNING",
  "COMPLETING",
  "SUSPENDED",
  "STOPPED",
  "SIGNALING",
  "STAGE_OUT",
  "RESIZING",
]);

function said(job: SlurmJob): string {
  return job.reason ? `${job.state}, ${job.reason}` : job.state;
}

/** The outcome Slurm reports for a job; `null` is a job Slurm no longer knows. */
export function slurmOutcome(job: SlurmJob | null, jobId?: string): SlurmOutcome {
  if (job === null) {
    return {
      status: "interrupted",
      ended: true,
      exitCode: null,
      message: `Slurm job ${jobId ?? "?"} vanished from Slurm without an exit record`,
    };
  }
  const end = (
    status: SlurmTaskStatus,
    message: string | null,
    exitCode: number | null = null,
  ): SlurmOutcome => ({ status, ended: true, exitCode, message });
  if (WAITING.has(job.state)) {
    return {
      status: "queued",
      ended: false,
      exitCode: null,
      message: `Waiting in Slurm's queue (${job.reason ?? job.state})`,
    };
  }
  if (ACTIVE.has(job.state)) {
    const message = job.state === "RUNNING" ? null : `Slurm says ${said(job)}`;
    return { status: "working", ended: false, exitCode: null, message };
  }
  switch (job.state) {
    case "COMPLETED":
      return end("completed", null, job.exitCode ?? 0);
    case "FAILED": {
      if (job.exitSignal) {
        return end("failed", `Slurm job ${job.id} was killed by signal ${job.exitSignal}`, null);
      }
      return end("failed", null, job.exitCode);
    }
    case "TIMEOUT":
      return end("timed_out", `Slurm stopped job ${job.id} at its time limit (${said(job)})`);
    case "DEADLINE":
      return end("timed_out", `Slurm stopped job ${job.id} at its deadline (${said(job)})`);
    case "CANCELLED":
      return end("cancelled", `Slurm cancelled job ${job.id} (${said(job)})`);
    case "OUT_OF_MEMORY":
      return end("failed", `Slurm job ${job.id} ran out of memory (${said(job)})`);
    case "SPECIAL_EXIT":
      return end("failed", `Slurm job ${job.id} ended in a special exit (${said(job)})`);
    case "NODE_FAIL":
      return end("interrupted", `Slurm job ${job.id} lost its node (${said(job)})`);
    case "PREEMPTED":
      return end("interrupted", `Slurm preempted job ${job.id} (${said(job)})`);
    case "BOOT_FAIL":
      return end("interrupted", `Slurm could not boot a node for job ${job.id} (${said(job)})`);
    default:
      return end(
        "interrupted",
        `Slurm job ${job.id} ended in a state backburner does not know (${said(job)})`,
      );
  }
}
