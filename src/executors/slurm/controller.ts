/**
 * Whether slurmctld answers, asked with `scontrol ping`. It answers at once either way, where
 * sbatch spends about 9 s and scontrol show job or squeue about 18 s retrying a controller that is
 * down: a caller that asks many jobs' states (a reconcile pass) pings first.
 *
 * @module
 */
import type { CommandRunner } from "./command_runner.ts";
import { SlurmError, slurmWords } from "./slurm_error.ts";

/** Resolves when slurmctld answers; throws SlurmError "unreachable" (or "missing") when not. */
export async function pingController(
  run: CommandRunner,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  const result = await run("scontrol", ["ping"], { timeoutMs: options.timeoutMs ?? 10_000 });
  // "Slurmctld(primary) at vm is UP"; with a backup controller, one line each.
  if (result.code === 0 && /\bis UP\b/.test(result.stdout)) return;
  const said = result.stdout.split("\n").find((line) => /is DOWN/.test(line))?.trim() ??
    slurmWords(result.stderr);
  throw new SlurmError(
    "unreachable",
    "scontrol",
    `scontrol ping says Slurm is not answering ("${said}"): start slurmctld or ask the cluster's administrators, then try again`,
  );
}
