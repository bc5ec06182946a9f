/**
 * Memory after work: a server's RSS once it has run many short tasks, beside its own RSS idle
 * before them. One server (main.ts over stdio) is sampled idle, then runs `tasks` tasks of `true`
 * (start_task, 8 calls in flight), waits until none is working, and is sampled again 2 s later.
 * What grows here is what each task leaves behind in the server (maps, listeners, the progress
 * tracker's state, heap V8 has not given back).
 */
import { rssMiB, sleep, type Stats, stats } from "./common.ts";
import type { GroupReport } from "./group.ts";
import type { Lab } from "./lab.ts";
import { formatValue } from "./report.ts";

export const RSS_SAMPLES = 10;

/** RSS_SAMPLES samples of a process's RSS, 200 ms apart, after `settleMs`. */
export async function rssSamples(pid: number, settleMs = 2000): Promise<Stats> {
  await sleep(settleMs);
  const samples: number[] = [];
  for (let i = 0; i < RSS_SAMPLES; i++) {
    const rss = rssMiB(pid);
    if (rss === null) throw new Error(`process ${pid} is gone`);
    samples.push(rss);
    await sleep(200);
  }
  return stats(samples);
}

export interface RssGrowthResult {
  readonly tasks: number;
  readonly idle: Stats;
  readonly after: Stats;
  readonly runMs: number;
}

export async function rssGrowth(lab: Lab, tasks: number): Promise<RssGrowthResult> {
  const home = await lab.dir();
  const server = await lab.boot(home);
  try {
    const idle = await rssSamples(server.pid);
    const t0 = performance.now();
    for (let done = 0; done < tasks; done += 8) {
      await Promise.all(
        Array.from(
          { length: Math.min(8, tasks - done) },
          () => server.call("start_task", { command: "true" }),
        ),
      );
    }
    const deadline = Date.now() + 120_000;
    for (;;) {
      const working = await server.call("list_tasks", { status: "working", limit: 1 });
      if (working.total === 0) break;
      if (Date.now() > deadline) throw new Error(`${working.total} tasks still working`);
      await sleep(200);
    }
    const runMs = performance.now() - t0;
    const all = await server.call("list_tasks", { limit: 1 });
    if (all.total !== tasks) throw new Error(`${all.total} tasks stored, not ${tasks}`);
    const after = await rssSamples(server.pid);
    return { tasks, idle, after, runMs };
  } finally {
    await lab.stop(server);
    await lab.remove(home);
  }
}

export function rssGrowthReport(result: RssGrowthResult): GroupReport {
  const n = result.tasks.toLocaleString("en");
  return {
    rows: [{
      name: `Server memory (RSS) after ${n} tasks ran`,
      short: `RSS after ${n} tasks`,
      unit: "MiB",
      ours: result.after,
      reference: "the same server idle, before them",
      refShort: "idle, before",
      ref: result.idle,
    }],
    notes: [
      `**RSS after ${n} tasks**: one server, sampled idle (${RSS_SAMPLES} samples 200 ms ` +
      `apart, 2 s after the initialize answer), then ${n} start_task calls of \`true\`, 8 in ` +
      `flight (${(result.runMs / 1000).toFixed(1)} s until none was working), then sampled the ` +
      `same way 2 s later. All ${n} stay stored (list_tasks' total checked).`,
    ],
    explanations: {
      [`RSS after ${n} tasks`]: `From ${formatValue(result.idle.median, "MiB")} idle to ${
        formatValue(result.after.median, "MiB")
      } (max ${formatValue(result.after.max, "MiB")}), ${
        ((result.after.median - result.idle.median) * 1024 / result.tasks).toFixed(1)
      } KiB per task ran — not broken down further (V8 keeps heap it grew under load).`,
    },
    sections: [],
    files: {},
  };
}
