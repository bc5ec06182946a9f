/**
 * Slurm submit → visible completion, for the report: backburner's start_task(executor "slurm")
 * then task_status every 100 ms until completed (bench/slurm_engine_latency.ts), beside a bare
 * `sbatch --wrap true` then `scontrol show job` every 100 ms until COMPLETED
 * (bench/slurm_latency.ts), alternating, on the cluster that answers `sinfo`. When none answers,
 * the row says so instead of a number: the bench never brings a cluster up or down (other work may
 * be using it); `deno run --no-prompt --lock=deno.dev.lock -A scripts/slurm_cluster.ts up` does.
 */
import { runText, sleep, type Stats, stats } from "./common.ts";
import type { GroupReport } from "./group.ts";
import type { Lab } from "./lab.ts";
import { engineSlurmRun } from "./slurm_engine_latency.ts";
import { bareSlurmRun, SLURM_POLL_MS } from "./slurm_latency.ts";

export type SlurmBenchResult =
  | { readonly ok: true; readonly ours: Stats; readonly bare: Stats; readonly node: string }
  | { readonly ok: false; readonly reason: string };

/** The cluster's partitions as `sinfo` prints them, or why there is no answer. */
async function clusterState(): Promise<{ ok: true; node: string } | { ok: false; reason: string }> {
  const text = await runText("sinfo", ["-h", "-o", "%P %a %T %N"]);
  if (text === null) {
    return {
      ok: false,
      reason: "no Slurm cluster answered (`sinfo` failed); bring one up with " +
        "`deno run --no-prompt --lock=deno.dev.lock -A scripts/slurm_cluster.ts up`",
    };
  }
  // A node busy with other jobs (mixed, allocated, completing) still takes ours; a down,
  // drained, failed or unreachable one (state suffix "*") does not.
  const line = text.trim().split("\n").find((l) => {
    const [, avail, state] = l.split(" ");
    return avail === "up" && !/down|drain|fail|unk|\*$/.test(state ?? "down");
  });
  if (!line) return { ok: false, reason: `no Slurm node is up (sinfo: ${text.trim()})` };
  return { ok: true, node: line };
}

export async function slurmBench(lab: Lab, runs: number): Promise<SlurmBenchResult> {
  // A node may be between states for a moment (a daemon restarting elsewhere): up to 30 s.
  let cluster = await clusterState();
  for (let i = 0; i < 15 && !cluster.ok; i++) {
    await sleep(2000);
    cluster = await clusterState();
  }
  if (!cluster.ok) return cluster;
  const home = await lab.dir();
  const scratch = await lab.dir("backburner-bench-slurm-");
  try {
    const server = await lab.boot(home);
    try {
      // One uncounted pair first: the first job on an idle node costs more.
      await bareSlurmRun(scratch);
      await engineSlurmRun(server);
      const ours: number[] = [];
      const bare: number[] = [];
      for (let i = 0; i < runs; i++) {
        bare.push((await bareSlurmRun(scratch)).ms);
        ours.push((await engineSlurmRun(server)).ms);
      }
      return { ok: true, ours: stats(ours), bare: stats(bare), node: cluster.node };
    } finally {
      await lab.stop(server);
    }
  } finally {
    await lab.remove(home);
    await lab.remove(scratch);
  }
}

export function slurmReport(result: SlurmBenchResult): GroupReport {
  const unavailable: Stats = {
    n: 0,
    median: NaN,
    p95: NaN,
    p99: NaN,
    min: NaN,
    max: NaN,
    mean: NaN,
  };
  return {
    rows: [{
      name: "Slurm: `start_task` (executor slurm, `true`) → completed seen by `task_status`",
      short: "Slurm submit → completion seen",
      unit: "ms",
      ours: result.ok ? result.ours : unavailable,
      reference: `bare \`sbatch --wrap true\` + \`scontrol show job\` loop`,
      refShort: "sbatch + scontrol",
      ref: result.ok ? result.bare : null,
      ...(result.ok ? {} : { missing: result.reason, chart: false }),
    }],
    notes: [
      result.ok
        ? `**Slurm submit → completion seen**: on the one-node cluster of ` +
          `scripts/slurm_cluster.ts (sinfo: \`${result.node}\`). backburner: start_task(command ` +
          `\`true\`, executor slurm), then task_status every ${SLURM_POLL_MS} ms until ` +
          `completed; reference: \`sbatch --parsable --wrap true\`, then \`scontrol show job -o\` ` +
          `every ${SLURM_POLL_MS} ms until COMPLETED. One uncounted pair, then ${result.ours.n} ` +
          `pairs alternating. Both include Slurm's own scheduling and the job's epilogue; the ` +
          `difference is backburner's overhead (its sbatch and wrapper, and seeing the end).`
        : `**Slurm submit → completion seen**: not measured in this run: ${result.reason}.`,
    ],
    explanations: {},
    sections: [],
    files: {},
  };
}
