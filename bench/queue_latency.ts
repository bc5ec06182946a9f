/**
 * How long a queued task waits once a slot frees: from the end of the task holding the only slot
 * of a queue (its exit record's time) to the start of the next queued task (its spawn's record).
 *
 *   deno run --no-prompt --lock=deno.dev.lock -A bench/queue_latency.ts [--rounds 20]
 *
 * Three cases, each with engines in processes of their own on one state directory:
 * - same server: the queued task and the slot's task on one engine, which sees the end through
 *   its child handle and dispatches at once;
 * - across servers: the task queued through one engine, the slot held by another one's task;
 * - adopted: the slot's task was started by an engine that was then killed -9, so the surviving
 *   engine learns of its end from the exit event its wrapper leaves (src/engine/exit_events.ts).
 *
 * bench/queue_bench.ts measures the same three cases through MCP servers for the report
 * (`deno task bench --only queue`).
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DatabaseSync } from "node:sqlite";
import type { Task } from "../src/task.ts";
import { EngineProcess } from "../tests/engine/queue_helpers.ts";
import { cleanup, tempDir, waitFor } from "../tests/helpers.ts";

const cli = parseArgs({ args: Deno.args, options: { rounds: { type: "string", default: "20" } } });
const ROUNDS = Number(cli.values.rounds);
const ENV = { BACKBURNER_QUEUES: "lat=1" };

function row(home: string, id: string): { started_at: number | null; ended_at: number | null } {
  const db = new DatabaseSync(join(home, "state.db"), { readOnly: true, timeout: 5000 });
  try {
    return db.prepare("SELECT started_at, ended_at FROM tasks WHERE id = ?").get(id) as {
      started_at: number | null;
      ended_at: number | null;
    };
  } finally {
    db.close();
  }
}

/** One round: the slot's task through `holder`, the next through `queuer`; the wait in ms. */
async function round(
  home: string,
  holder: EngineProcess,
  queuer: EngineProcess,
  after?: () => Promise<void>,
) {
  const slot = await holder.call<Task>("start", { command: "sleep 0.3", queue: "lat" });
  const next = await queuer.call<Task>("start", { command: "true", queue: "lat" });
  if (next.status !== "queued") throw new Error(`the next task was ${next.status}, not queued`);
  await after?.();
  const ended = await waitFor(() => row(home, slot.id).ended_at, { what: "the slot to free" });
  const started = await waitFor(() => row(home, next.id).started_at, {
    what: "the next task to start",
  });
  await waitFor(() => row(home, next.id).ended_at, { what: "the next task to end" });
  return started - ended;
}

function summary(name: string, waits: number[]): string {
  const sorted = [...waits].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return `${name}: median ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${sorted[sorted.length - 1]} ms ` +
    `(${waits.length} rounds)`;
}

async function main() {
  const home = await tempDir("backburner-latency-");
  const engines: EngineProcess[] = [];
  try {
    const a = await EngineProcess.start(home, ENV);
    const b = await EngineProcess.start(home, ENV);
    engines.push(a, b);
    const same: number[] = [];
    const across: number[] = [];
    const adopted: number[] = [];
    for (let i = 0; i < ROUNDS; i++) same.push(await round(home, a, a));
    for (let i = 0; i < ROUNDS; i++) across.push(await round(home, b, a));
    for (let i = 0; i < Math.max(3, Math.floor(ROUNDS / 4)); i++) {
      const doomed = await EngineProcess.start(home, ENV);
      engines.push(doomed);
      adopted.push(await round(home, doomed, a, () => doomed.kill()));
    }
    console.log(summary("same server", same));
    console.log(summary("across servers", across));
    console.log(summary("slot's task adopted from a killed server", adopted));
  } finally {
    for (const engine of engines) await engine.close().catch(() => {});
    await cleanup(home);
  }
}

await main();
