/**
 * Submitting a task's job with `sbatch --parsable`.
 *
 * @module
 */
import type { CommandRunner } from "./command_runner.ts";
import { type JobRequest, sbatchArgs } from "./sbatch_args.ts";
import { commandFailed, SlurmError } from "./slurm_error.ts";

export interface SubmitOptions {
  /** Deadline for sbatch (ms). Default 30 s: sbatch retries a busy controller for a while. */
  readonly timeoutMs?: number;
}

/**
 * Submits the job and returns Slurm's job id. Throws SlurmError with one sentence when sbatch is
 * missing, slurmctld does not answer, or Slurm refuses the job (nothing was queued then).
 */
export async function submitJob(
  run: CommandRunner,
  request: JobRequest,
  options: SubmitOptions = {},
): Promise<string> {
  const result = await run("sbatch", sbatchArgs(request), {
    timeoutMs: options.timeoutMs ?? 30_000,
  });
  if (result.code !== 0) {
    throw commandFailed(
      "sbatch",
      result.stderr,
      "fix the slurm settings Slurm names (partition, account, cpus, memory, gpus, time_limit) or leave them out",
    );
  }
  // --parsable prints "<id>" or "<id>;<cluster>".
  const id = result.stdout.trim().split("\n").at(-1)?.split(";")[0]?.trim() ?? "";
  if (!/^\d+$/.test(id)) {
    throw new SlurmError(
      "refused",
      "sbatch",
      `sbatch printed no job id ("${result.stdout.trim()}"): check the Slurm installation with sbatch --version`,
    );
  }
  return id;
}
