/**
 * backburner's submit → visible completion for a Slurm task: start_task(command "true", executor
 * "slurm") through a real MCP client over stdio, then task_status every 100 ms until completed, N
 * times, against the cluster scripts/slurm_cluster.ts brings up. Compare with bench/slurm_latency.ts
 * (the bare sbatch + scontrol loop on the same cluster): the difference is backburner's overhead.
 * bench/slurm_bench.ts runs both for the report (`deno task bench --only slurm`).
 *
 *   deno run --no-prompt --lock=deno.dev.lock -A bench/slurm_engine_latency.ts [runs=10]
 *
 * @module
 */
import { type ServerHandle, startServer } from "../tests/helpers.ts";
import { SLURM_POLL_MS } from "./slurm_latency.ts";

/** One start_task(executor slurm) → completed seen by task_status, in ms, with the job's id. */
export async function engineSlurmRun(server: ServerHandle): Promise<{ ms: number; job: string }> {
  const started = performance.now();
  const task = await server.call("start_task", { command: "true", executor: "slurm" });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const status = await server.call("task_status", { task_id: task.task_id });
    if (status.status === "completed") break;
    if (status.status !== "queued" && status.status !== "working") {
      throw new Error(`task ${task.task_id} ended ${status.status}: ${status.status_message}`);
    }
    if (Date.now() > deadline) throw new Error(`task ${task.task_id} did not complete in 60 s`);
    await new Promise((resolve) => setTimeout(resolve, SLURM_POLL_MS));
  }
  return { ms: performance.now() - started, job: String(task.slurm_job_id) };
}

if (import.meta.main) {
  const runs = Number(Deno.args[0] ?? 10);
  const home = await Deno.makeTempDir({ prefix: "backburner-slurm-engine-bench-" });
  const server = await startServer(home);
  const times: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const { ms, job } = await engineSlurmRun(server);
      times.push(ms);
      console.log(`run ${i + 1}: ${ms.toFixed(0)} ms (job ${job})`);
    }
  } finally {
    await server.close();
    await Deno.remove(home, { recursive: true });
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted.length % 2
    ? sorted[(sorted.length - 1) / 2]
    : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  console.log(
    `median ${median.toFixed(0)} ms, min ${sorted[0].toFixed(0)}, max ${
      sorted.at(-1)!.toFixed(0)
    } (${runs} runs)`,
  );
}
