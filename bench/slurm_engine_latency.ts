/**
 * backburner's submit → visible completion for a Slurm task: start_task(command "true", executor
 * "slurm") through a real MCP client over stdio, then task_status every 100 ms until completed, N
 * times, against the cluster scripts/slurm_cluster.ts brings up. Compare with bench/slurm_latency.ts
 * (the bare sbatch + scontrol loop on the same cluster): the difference is backburner's overhead.
 *
 *   deno run --no-prompt --lock=deno.dev.lock -A bench/slurm_engine_latency.ts [runs=10]
 *
 * @module
 */
import { startServer } from "../tests/helpers.ts";

const runs = Number(Deno.args[0] ?? 10);
const POLL_MS = 100;

const home = await Deno.makeTempDir({ prefix: "backburner-slurm-engine-bench-" });
const server = await startServer(home);
const times: number[] = [];
try {
  for (let i = 0; i < runs; i++) {
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
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    const ms = performance.now() - started;
    times.push(ms);
    console.log(`run ${i + 1}: ${ms.toFixed(0)} ms (job ${task.slurm_job_id})`);
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
