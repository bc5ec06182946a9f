/**
 * Cancelling a job with `scancel`, and waiting until Slurm says it is gone.
 *
 * @module
 */
import type { CommandRunner } from "./command_runner.ts";
import { readJob, type SlurmJob } from "./job_state.ts";
import { slurmOutcome } from "./outcome.ts";
import { commandFailed, SlurmError } from "./slurm_error.ts";

export interface CancelOptions {
  /** How long to wait for Slurm to report the job ended (ms). Default 60 s (KillWait + epilog). */
  readonly waitMs?: number;
  /** Between two looks (ms). Default 200. */
  readonly intervalMs?: number;
  /** Deadline per Slurm command (ms). Default 15 s. */
  readonly commandTimeoutMs?: number;
}

/** "Already ended" is not an error for a cancel. */
const GONE = /invalid job id|already completing or completed|job is no longer active/i;

/** Waits until Slurm reports the job ended and no longer COMPLETING; null once it left Slurm. */
export async function waitJobGone(
  run: CommandRunner,
  jobId: string,
  options: CancelOptions = {},
): Promise<SlurmJob | null> {
  const deadline = Date.now() + (options.waitMs ?? 60_000);
  for (;;) {
    const job = await readJob(run, jobId, { timeoutMs: options.commandTimeoutMs });
    if (slurmOutcome(job, jobId).ended) return job;
    if (Date.now() > deadline) {
      throw new SlurmError(
        "unreachable",
        "scancel",
        `Slurm job ${jobId} is still ${job?.state} ${
          Math.round((options.waitMs ?? 60_000) / 1000)
        } s after scancel: check the node with scontrol show node and cancel again`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 200));
  }
}

/**
 * Asks Slurm to cancel the job (its whole allocation: Slurm signals every step, then kills after
 * KillWait) and returns once Slurm says it ended: the job as Slurm last showed it, or null when
 * it has left Slurm. A job that had ended already is no error.
 */
export async function cancelJob(
  run: CommandRunner,
  jobId: string,
  options: CancelOptions = {},
): Promise<SlurmJob | null> {
  const result = await run("scancel", [jobId], {
    timeoutMs: options.commandTimeoutMs ?? 15_000,
  });
  if (result.code !== 0 && !GONE.test(result.stderr)) {
    throw commandFailed("scancel", result.stderr);
  }
  return await waitJobGone(run, jobId, options);
}
