/**
 * The one error the Slurm client layer throws: a Slurm command could not run, did not answer, or
 * refused. Its message is one sentence naming the command, what Slurm said and what to do.
 *
 * @module
 */

/** Why a Slurm command failed, for a caller that reacts differently to each. */
export type SlurmErrorKind =
  /** The command is not installed (or not on PATH). */
  | "missing"
  /** slurmctld did not answer: down, unreachable, or too slow. */
  | "unreachable"
  /** Slurm answered and said no (a bad partition, account, limit…). */
  | "refused";

export class SlurmError extends Error {
  override name = "SlurmError";
  readonly kind: SlurmErrorKind;
  /** The Slurm command that failed: sbatch, scontrol, squeue or scancel. */
  readonly command: string;

  constructor(kind: SlurmErrorKind, command: string, message: string) {
    super(message);
    this.kind = kind;
    this.command = command;
  }
}

/** Slurm's own words without its "sbatch: error: " prefixes, on one line. */
export function slurmWords(stderr: string): string {
  const lines = stderr.split("\n").map((line) =>
    line.replace(/^\s*(sbatch|scontrol|squeue|scancel|slurm_load_jobs)(: error)?:\s*/i, "")
      .replace(/^error:\s*/i, "").trim()
  ).filter(Boolean);
  return lines.at(-1) ?? "no message";
}

/** Slurm phrases that mean its controller did not answer, as opposed to a refusal. */
export const UNREACHABLE =
  /unable to contact slurm controller|connection refused|socket timed out|connect failure|Zero Bytes were transmitted|Unable to establish|communication connection failure/i;

/** The error for a Slurm command that exited non-zero, classified by what it said. */
export function commandFailed(command: string, stderr: string, advice?: string): SlurmError {
  const words = slurmWords(stderr);
  if (UNREACHABLE.test(stderr)) {
    return new SlurmError(
      "unreachable",
      command,
      `${command} could not reach Slurm ("${words}"): check that slurmctld is running (scontrol ping) and try again`,
    );
  }
  return new SlurmError(
    "refused",
    command,
    `${command} failed ("${words}"): ${advice ?? "fix what Slurm names and try again"}`,
  );
}
