/**
 * The sbatch command line for one task's job.
 *
 * @module
 */
import type { SlurmResources } from "./resources.ts";

export interface JobRequest {
  /** The job's name in squeue, such as "bb-<task id>". */
  readonly name: string;
  /** The working directory on the compute node (a shared filesystem, as the task's cwd). */
  readonly cwd: string;
  /**
   * The shell command the job runs with /bin/sh (later: backburner's wrapper, which writes
   * output.log and the exit record itself).
   */
  readonly script: string;
  /** Where Slurm writes the job's own stdout and stderr: a file in the task's folder, or /dev/null. */
  readonly output: string;
  readonly resources: SlurmResources;
  /** The task's timeout_seconds; becomes the job's time limit (the smaller of both). */
  readonly timeoutSeconds: number | null;
}

/** Slurm counts time limits in whole minutes: a limit of 61 s is 2 minutes, 0 is none. */
export function timeLimitMinutes(
  resources: SlurmResources,
  timeoutSeconds: number | null,
): number | null {
  const limits = [resources.timeLimitSeconds, timeoutSeconds].filter((value): value is number =>
    value !== null && value > 0
  );
  if (limits.length === 0) return null;
  return Math.max(1, Math.ceil(Math.min(...limits) / 60));
}

/** sbatch's arguments, `--parsable` first, `--wrap` last. */
export function sbatchArgs(request: JobRequest): string[] {
  const { resources } = request;
  const args = [
    "--parsable",
    `--job-name=${request.name}`,
    `--chdir=${request.cwd}`,
    `--output=${request.output}`,
    `--error=${request.output}`,
    "--input=/dev/null",
    // Slurm requeues a batch job after a node failure by default and runs it again from the
    // start; a task runs once, and a lost node makes it interrupted instead.
    "--no-requeue",
  ];
  if (resources.partition !== null) args.push(`--partition=${resources.partition}`);
  if (resources.account !== null) args.push(`--account=${resources.account}`);
  if (resources.cpus !== null) args.push(`--cpus-per-task=${resources.cpus}`);
  if (resources.memory !== null) args.push(`--mem=${resources.memory}`);
  if (resources.gpus !== null) args.push(`--gpus=${resources.gpus}`);
  const minutes = timeLimitMinutes(resources, request.timeoutSeconds);
  if (minutes !== null) args.push(`--time=${minutes}`);
  args.push(`--wrap=${request.script}`);
  return args;
}
