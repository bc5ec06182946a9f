/**
 * The floor for a Slurm task's submit → visible completion: a bare `sbatch --parsable --wrap true`
 * and a `scontrol show job -o ID` poll every 100 ms until JobState=COMPLETED, N times, against the
 * cluster scripts/slurm_cluster.ts brings up. Prints each run and the median; backburner's overhead
 * on Slurm is its own figure for the same job minus this. bench/slurm_bench.ts runs it beside
 * backburner's figure for the report (`deno task bench --only slurm`).
 *
 *   deno run --no-prompt -A bench/slurm_latency.ts [runs=10]
 *
 * @module
 */

export const SLURM_POLL_MS = 100;

async function run(command: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`${command} failed: ${new TextDecoder().decode(output.stderr).trim()}`);
  }
  return new TextDecoder().decode(output.stdout);
}

/** One bare submit → COMPLETED seen, in ms, with the job's id; `dir` is the job's cwd. */
export async function bareSlurmRun(dir: string): Promise<{ ms: number; job: string }> {
  const started = performance.now();
  const id =
    (await run("sbatch", ["--parsable", `--chdir=${dir}`, "--output=/dev/null", "--wrap=true"]))
      .trim().split(";")[0];
  const deadline = Date.now() + 60_000;
  for (;;) {
    const line = await run("scontrol", ["show", "job", "-o", id]);
    const state = /JobState=(\S+)/.exec(line)?.[1];
    if (state === "COMPLETED") break;
    if (
      state !== "PENDING" && state !== "RUNNING" && state !== "CONFIGURING" &&
      state !== "COMPLETING"
    ) {
      throw new Error(`job ${id} ended ${state}`);
    }
    if (Date.now() > deadline) throw new Error(`job ${id} still ${state} after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, SLURM_POLL_MS));
  }
  return { ms: performance.now() - started, job: id };
}

if (import.meta.main) {
  const runs = Number(Deno.args[0] ?? 10);
  const dir = await Deno.makeTempDir({ prefix: "backburner-slurm-bench-" });
  const times: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const { ms, job } = await bareSlurmRun(dir);
      times.push(ms);
      console.log(`run ${i + 1}: job ${job} ${ms.toFixed(0)} ms`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted.length % 2
    ? sorted[(sorted.length - 1) / 2]
    : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  console.log(
    `bare sbatch + scontrol (poll ${SLURM_POLL_MS} ms), submit -> COMPLETED of "true": median ${
      median.toFixed(0)
    } ms, min ${sorted[0].toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms over ${runs} runs`,
  );
}
