/**
 * The Slurm tests' view of the one-node cluster scripts/slurm_cluster.ts brings up: whether one
 * answers here, and Deno.test that skips, visibly, where none does. .ci/run sets
 * BACKBURNER_SLURM_REQUIRED=1 once it brought a cluster up, so there a missing cluster fails the
 * tests instead of skipping them.
 */
import { nodeState } from "../../../scripts/slurm_cluster.ts";
import {
  type CommandRunner,
  denoCommandRunner,
  type SlurmJob,
} from "../../../src/executors/slurm/mod.ts";
import { readJob } from "../../../src/executors/slurm/job_state.ts";
import { waitFor } from "../../helpers.ts";

const REQUIRED = Deno.env.get("BACKBURNER_SLURM_REQUIRED") === "1";

async function availability(): Promise<string | null> {
  if (Deno.build.os !== "linux") return "Slurm runs on Linux only";
  try {
    // A node re-registering with a restarted slurmctld is "unknown" (or missing from sinfo) for
    // a few seconds.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const { state, why } = await nodeState();
      if (state && /^(idle|mixed|allocated|completing)/.test(state)) return null;
      // A controller that says it is down (or no Slurm at all) is final at once.
      if ((state === null && /DOWN|contact|not found/i.test(why)) || Date.now() > deadline) {
        return `no Slurm cluster answers here (${why}); bring one up with scripts/slurm_cluster.ts up`;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } catch (error) {
    return `no Slurm cluster answers here (${(error as Error).message})`;
  }
}

/** Null when a cluster answers; else why the Slurm tests skip. */
export const UNAVAILABLE = await availability();

/** Deno.test against the real cluster; ignored, with the reason in its name, where there is none. */
export function slurmTest(name: string, fn: () => Promise<void>): void {
  if (UNAVAILABLE === null) {
    Deno.test({ name, fn });
  } else if (REQUIRED) {
    Deno.test({ name, fn: () => Promise.reject(new Error(UNAVAILABLE)) });
  } else {
    Deno.test({ name: `${name} (skipped: ${UNAVAILABLE})`, ignore: true, fn });
  }
}

/** A runner whose jobs carry a marker in their environment (sbatch exports the submitter's). */
export function markedRunner(): { run: CommandRunner; marker: string } {
  const marker = `bb-slurm-test-${crypto.randomUUID()}`;
  return { run: denoCommandRunner({ env: { BACKBURNER_SLURM_TEST: marker } }), marker };
}

/** Pids of live processes whose environment holds the marker (zombies count as gone). */
export function markedPids(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const environ = Deno.readTextFileSync(`/proc/${entry.name}/environ`);
      if (!environ.includes(`BACKBURNER_SLURM_TEST=${marker}`)) continue;
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
      if (state !== "Z" && state !== "X") pids.push(Number(entry.name));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

/** Polls the job until `accept` holds for it; returns that view of it. */
export async function waitJob(
  run: CommandRunner,
  jobId: string,
  accept: (job: SlurmJob | null) => boolean,
  options: { timeoutMs?: number; what: string },
): Promise<SlurmJob | null> {
  let last: SlurmJob | null = null;
  await waitFor(async () => {
    last = await readJob(run, jobId);
    return accept(last);
  }, { timeoutMs: options.timeoutMs ?? 30_000, intervalMs: 100, what: options.what });
  return last;
}

/** Cancels the jobs (ignoring any already gone) and waits until none of them is left running. */
export async function cancelAll(jobIds: readonly string[]): Promise<void> {
  if (jobIds.length === 0) return;
  await new Deno.Command("scancel", { args: [...jobIds], stdout: "null", stderr: "null" }).output();
  await waitFor(async () => {
    const output = await new Deno.Command("squeue", {
      args: ["-h", "-j", jobIds.join(","), "-o", "%T"],
      stdout: "piped",
      stderr: "null",
    }).output();
    const states = new TextDecoder().decode(output.stdout).trim();
    return states === "" || !/PENDING|RUNNING|COMPLETING|CONFIGURING/.test(states);
  }, { timeoutMs: 60_000, intervalMs: 200, what: `Slurm jobs ${jobIds.join(",")} to end` });
}
