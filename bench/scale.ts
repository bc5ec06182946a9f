/**
 * Scale: how the cost of each call grows with the number of tasks working at once. One server
 * (main.ts over stdio, as everywhere in the bench) is brought to 10, 30, 100, 300 and 1,000
 * working tasks (`sleep 600`); at each level the four calls an agent makes on them are timed,
 * interleaved round by round:
 *
 * - start_task of one more `sleep 600`, then cancel_task of the oldest working task (so the
 *   count stays at the level; each is timed at level or level + 1). Not the task just started: a
 *   stop waits until a task is out of its start-up window (START_WINDOW_MS), which would time
 *   that wait instead of the cancel;
 * - list_tasks(status "working", limit 1000): all of them listed, checked to be exactly the level;
 * - task_status of a random working task, checked to be working.
 *
 * Then every task is cancelled, one cancel_task each (timed per call and in all), and the run
 * checks that no process of any of them is left (a /proc scan for their BACKBURNER_TASK_ID).
 * Whatever fails, the server is stopped and every task process of its state directory killed
 * (Lab.remove, then the run marker at teardown).
 */
import { TASK_MARKER } from "../src/executors/executor.ts";
import type { ServerHandle } from "../tests/helpers.ts";
import { pidsWithEnv, sleep, type Stats, stats } from "./common.ts";
import type { GroupReport } from "./group.ts";
import type { Lab } from "./lab.ts";
import { formatValue, type Row } from "./report.ts";
import { scaleChart } from "./scale_chart.ts";

export interface ScaleOptions {
  /** Working tasks at each level, ascending. */
  readonly levels: readonly number[];
  /** Timed rounds (one call of each kind) per level. */
  readonly calls: number;
}

export const CALL_KINDS = ["start_task", "cancel_task", "list_tasks", "task_status"] as const;
export type CallKind = typeof CALL_KINDS[number];

export interface ScaleLevel {
  readonly tasks: number;
  readonly calls: Record<CallKind, Stats>;
}

export interface ScaleResult {
  readonly options: ScaleOptions;
  readonly levels: ScaleLevel[];
  /** Each cancel_task of the final cancel of everything, and the whole of it. */
  readonly cancelAll: Stats;
  readonly cancelAllMs: number;
  /** Untimed starts that brought the server from one level to the next, ms in all. */
  readonly growMs: number;
  /** Processes of the tasks still alive after everything was cancelled (must be 0). */
  readonly leftover: number;
}

/** Starts up to `inFlight` calls at a time until `count` are done. */
async function inBatches(count: number, inFlight: number, call: () => Promise<void>) {
  for (let done = 0; done < count; done += inFlight) {
    await Promise.all(Array.from({ length: Math.min(inFlight, count - done) }, call));
  }
}

export async function scaleBench(lab: Lab, options: ScaleOptions): Promise<ScaleResult> {
  const home = await lab.dir();
  let server: ServerHandle | null = null;
  try {
    // A cancelled `sleep` dies on SIGTERM at once: the grace period is never waited for.
    server = await lab.boot(home);
    const s = server;
    const working: string[] = [];
    const start = async () => {
      const started = await s.call("start_task", { command: "sleep 600" });
      if (started.status !== "working") throw new Error(`a task started ${started.status}`);
      return started.task_id as string;
    };
    /** Every task this run started and cancelled, for the check that none is left. */
    const cancelledIds: string[] = [];
    const levels: ScaleLevel[] = [];
    let growMs = 0;
    for (const level of options.levels) {
      const t0 = performance.now();
      await inBatches(level - working.length, 8, async () => {
        working.push(await start());
      });
      growMs += performance.now() - t0;
      const samples: Record<CallKind, number[]> = {
        start_task: [],
        cancel_task: [],
        list_tasks: [],
        task_status: [],
      };
      // Two uncounted rounds first, then the counted ones.
      for (let i = -2; i < options.calls; i++) {
        const keep = (kind: CallKind, ms: number) => i >= 0 && samples[kind].push(ms);
        let t = performance.now();
        const listed = await s.call("list_tasks", { status: "working", limit: 1000 });
        keep("list_tasks", performance.now() - t);
        if (listed.total !== level || listed.count !== level) {
          throw new Error(`list_tasks at ${level}: total ${listed.total}, count ${listed.count}`);
        }
        const id = working[Math.floor(Math.random() * working.length)];
        t = performance.now();
        const status = await s.call("task_status", { task_id: id });
        keep("task_status", performance.now() - t);
        if (status.status !== "working") throw new Error(`task ${id} is ${status.status}`);
        t = performance.now();
        working.push(await start());
        keep("start_task", performance.now() - t);
        const oldest = working.shift()!;
        t = performance.now();
        const cancelled = await s.call("cancel_task", { task_id: oldest });
        keep("cancel_task", performance.now() - t);
        if (cancelled.status !== "cancelled") {
          throw new Error(`cancel_task left task ${oldest} ${cancelled.status}`);
        }
        cancelledIds.push(oldest);
      }
      levels.push({
        tasks: level,
        calls: {
          start_task: stats(samples.start_task),
          cancel_task: stats(samples.cancel_task),
          list_tasks: stats(samples.list_tasks),
          task_status: stats(samples.task_status),
        },
      });
    }
    // Cancel them all, one call each, newest first (as an agent cleaning up would, in any order).
    const cancelSamples: number[] = [];
    const t0 = performance.now();
    for (const id of [...working].reverse()) {
      const t = performance.now();
      const cancelled = await s.call("cancel_task", { task_id: id });
      cancelSamples.push(performance.now() - t);
      if (cancelled.status !== "cancelled") {
        throw new Error(`cancel_task left task ${id} ${cancelled.status}`);
      }
    }
    const cancelAllMs = performance.now() - t0;
    const left = await s.call("list_tasks", { status: "working", limit: 1 });
    if (left.total !== 0) throw new Error(`${left.total} tasks still working after cancelling all`);
    // cancel_task returns once every process is gone; give a straggler 2 s before counting it.
    const markers = new Set([...working, ...cancelledIds].map((id) => `${TASK_MARKER}=${id}`));
    let leftover = pidsWithEnv(markers).size;
    for (let i = 0; i < 20 && leftover > 0; i++) {
      await sleep(100);
      leftover = pidsWithEnv(markers).size;
    }
    return {
      options,
      levels,
      cancelAll: stats(cancelSamples),
      cancelAllMs,
      growMs,
      leftover,
    };
  } finally {
    if (server) await lab.stop(server);
    await lab.remove(home); // kills whatever task of this state directory is left
  }
}

const LABELS: Record<CallKind, string> = {
  start_task: "start_task",
  cancel_task: "cancel_task",
  list_tasks: "list_tasks",
  task_status: "task_status",
};

export function scaleReport(result: ScaleResult, subtitle: string): GroupReport {
  const first = result.levels[0];
  const last = result.levels.at(-1)!;
  const ms = (value: number) => formatValue(value, "ms");
  const rows: Row[] = CALL_KINDS.map((kind) => ({
    name: `\`${LABELS[kind]}\`${kind === "list_tasks" ? " (all working)" : ""} with ${
      last.tasks.toLocaleString("en")
    } tasks working`,
    short: `${kind}, ${last.tasks.toLocaleString("en")} working`,
    unit: "ms",
    ours: last.calls[kind],
    reference: `the same with ${first.tasks} working`,
    refShort: `${first.tasks} working`,
    ref: first.calls[kind],
  }));
  const header = `| working tasks | ${
    CALL_KINDS.map((kind) => `${LABELS[kind]} median | p95`).join(" | ")
  } |`;
  const rule = `| ---: | ${CALL_KINDS.map(() => "---: | ---:").join(" | ")} |`;
  const lines = result.levels.map((level) =>
    `| ${level.tasks.toLocaleString("en")} | ${
      CALL_KINDS.map((kind) => `${ms(level.calls[kind].median)} | ${ms(level.calls[kind].p95)}`)
        .join(" | ")
    } |`
  );
  const leftover = result.leftover === 0
    ? "no process of any of them was left"
    : `**${result.leftover} process(es) of them were still alive** (killed at teardown)`;
  const section = [
    `## Scale: ${last.tasks.toLocaleString("en")} tasks working at once`,
    "",
    `Per-call latency with ${
      result.levels.map((level) => level.tasks.toLocaleString("en")).join(", ")
    } tasks working (\`sleep 600\`), ${result.options.calls} calls of each kind per level.`,
    "",
    header,
    rule,
    ...lines,
    "",
    "![Per-call latency against the number of working tasks](scale.svg)",
    "",
    `Cancelling all ${last.tasks.toLocaleString("en")} of them, one cancel_task each: ` +
    `${(result.cancelAllMs / 1000).toFixed(1)} s in all, median ${
      ms(result.cancelAll.median)
    } per call (p95 ${ms(result.cancelAll.p95)}); then ${leftover}.`,
  ].join("\n");
  return {
    rows,
    notes: [
      `**Scale**: one server is brought to ${
        result.levels.map((level) => level.tasks.toLocaleString("en")).join(", ")
      } working tasks (\`sleep 600\`, started 8 calls at a time, ` +
      `${(result.growMs / 1000).toFixed(1)} s in all); at each level ${result.options.calls} ` +
      `rounds (after 2 uncounted) each time list_tasks(status working, limit 1000) — every ` +
      `working task listed, the count checked —, task_status of a random working task, ` +
      `start_task of one more \`sleep 600\` and cancel_task of the oldest working task (which ` +
      `returns once its processes are gone; not the one just started, whose stop would first ` +
      `wait out its 50 ms start-up window), so the level holds. The rows compare the largest level with the ` +
      `smallest; the section "Scale" has every level and the plot. Afterwards every task is ` +
      `cancelled and a /proc scan for their BACKBURNER_TASK_ID checks that none is left.`,
    ],
    explanations: {
      [`list_tasks, ${last.tasks.toLocaleString("en")} working`]:
        `It lists every working task, so its reply grows with them: each task's row read, its ` +
        `log stat()ed for output_bytes, serialized twice (structuredContent and text) and ` +
        `validated against the output schema — ${ms(last.calls.list_tasks.median)} for ${
          last.tasks.toLocaleString("en")
        } tasks against ${ms(first.calls.list_tasks.median)} for ${first.tasks}.`,
      [`cancel_task, ${last.tasks.toLocaleString("en")} working`]:
        `cancel_task returns once every process of the task is gone: each round of the stop ` +
        `lists the machine's processes (/proc) to find the task's tree, and every working task ` +
        `adds processes to that list.`,
      [`start_task, ${last.tasks.toLocaleString("en")} working`]:
        `Not broken down further by this bench (the same call at each level: the spawn of the ` +
        `task's wrapper and its record in SQLite).`,
    },
    sections: [section],
    files: { "scale.svg": scaleChart(result, subtitle) },
  };
}

/** The table alone, for `--only scale`. */
export function scaleSummary(result: ScaleResult): string {
  return scaleReport(result, "").sections[0];
}
