/**
 * Benchmarks backburner end to end against a reference for each figure, and writes
 * docs/BENCHMARKS.md and docs/benchmarks.svg:
 *
 *   deno run --no-prompt -A bench/bench.ts [--quick] [--no-peer] [--only http]
 *
 * backburner runs as main.ts in a subprocess with a real MCP SDK client over stdio
 * (tests/helpers.ts startServer), exactly as an agent's client would start it. The references:
 *   - the peer, desktop-commander (bench/peer.ts), started the same way with the same client;
 *     installed from npm into bench/.peer/ on the first run. Without it the bench still runs and
 *     marks those rows "peer unavailable";
 *   - the physical limit: the same work done by a plain shell, `tail`, or SQL on the database;
 *   - an idle `deno run` of an empty script, for memory.
 *
 * -A is needed: Deno 2.9 refuses reads under /proc (RSS, CPU time, process scans) without it.
 * --quick runs every measurement with fewer samples and a 128 MiB log instead of 1 GiB (a smoke
 * test of the benchmark itself; its figures are not the ones to publish). --no-peer leaves the
 * peer out, as if it could not be installed. --only http runs the HTTP face's figures alone
 * (bench/http.ts) and prints them, without writing the report.
 *
 * Every server, peer, task and directory is torn down at the end, also on failure and on Ctrl-C
 * (bench/lab.ts); the last line says whether anything had to be killed.
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { DatabaseSync } from "node:sqlite";
import { ROOT, type ServerHandle } from "../tests/helpers.ts";
import { Store } from "../src/store.ts";
import { newTaskId } from "../src/task.ts";
import {
  cpuMs,
  cpuPreciseMs,
  formatFile,
  killAllWith,
  type Machine,
  machine,
  type McpProcess,
  mtimeTick,
  rssMiB,
  sleep,
  type Stats,
  stats,
} from "./common.ts";
import {
  ADOPT_RUNS,
  ADOPT_SLEEP_S,
  adoptedExit,
  BLOCKING_RUNS,
  blockingExit,
  ENGINE_MONITOR_MS,
  OWN_RUNS,
  OWN_SLEEP_S,
  ownExit,
} from "./exit_latency.ts";
import {
  httpBench,
  type HttpBenchOptions,
  httpExplanations,
  httpNotes,
  httpRows,
  httpSummary,
} from "./http.ts";
import type { GroupReport } from "./group.ts";
import { Lab } from "./lab.ts";
import { queueBench, queueReport } from "./queue_bench.ts";
import { rssGrowth, rssGrowthReport } from "./rss_growth.ts";
import { scaleBench, type ScaleOptions, scaleReport } from "./scale.ts";
import { slurmBench, slurmReport } from "./slurm_bench.ts";
import {
  loadSoakRss,
  saveSoakRss,
  soakRss,
  soakRssReport,
  type SoakRssResult,
} from "./soak_rss.ts";
import { statusCost, statusCostReport } from "./status_cost.ts";
import { installPeer, PEER_NAME, PEER_PACKAGE, PEER_VERSION, peerPid } from "./peer.ts";
import { formatRatio, formatValue, markdownTable, ratio, type Row, svgChart } from "./report.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean" },
    "no-peer": { type: "boolean" },
    only: { type: "string" },
    soak: { type: "boolean" },
    out: { type: "string" },
  },
});
const QUICK = args.values.quick ?? false;
const NO_PEER = args.values["no-peer"] ?? false;
const ONLY = args.values.only;
const SOAK = args.values.soak ?? false;
/** The groups `--only` runs alone (their figures printed, no report written; see main). */
const GROUPS = {
  cold: "cold start",
  start: "start_task round trip over stdio",
  http: "the HTTP face (start_task over HTTP beside stdio, throughput, memory)",
  capture: "output capture",
  tail: "tail of a big log",
  list: "list_tasks over many stored tasks",
  footprint: "idle RSS, RSS and CPU with N silent tasks and with none (and the peer's)",
  imports: "what the idle RSS is made of",
  exit: "exit → visible (own, adopted) and exit → blocking reply",
  adopt: "exit → visible of an adopted task alone",
  growth: "RSS after many tasks ran",
  status: "task_status after 1 KB vs 1 GiB of new output",
  scale: "per-call latency from 10 to 1,000 working tasks",
  queue: "a queued task's start after its slot frees",
  slurm: "Slurm submit → completion beside sbatch + scontrol",
  "soak-rss": "RSS after the 300 s soak (records docs/benchmarks-soak.json)",
} as const;
type Group = keyof typeof GROUPS;
if (ONLY !== undefined && !(ONLY in GROUPS)) {
  console.error(
    `bench: --only takes one of: ${Object.keys(GROUPS).join(", ")}; not "${ONLY}"`,
  );
  Deno.exit(2);
}

const COLD_RUNS = QUICK ? 3 : 20;
const START_CALLS = QUICK ? 20 : 200;
const START_WARMUP = 5;
const CAPTURE_RUNS = QUICK ? 2 : 8;
const LOG_BYTES = QUICK ? 128 * 1024 * 1024 : 1024 * 1024 * 1024;
/** Lines of the tail log: 128 bytes each, numbered, so that the tail can be checked. */
const LINE_BYTES = 128;
const TAIL_LINES = 100;
const TAIL_RUNS = QUICK ? 5 : 30;
const GREP_RUNS = QUICK ? 3 : 10;
/** The grep log's patterns: a rare one anchored at line starts, and one every line matches. */
const GREP_PATTERNS = ["^ERROR", "request"] as const;
const LIST_TASKS = QUICK ? 10_000 : 100_000;
const LIST_CALLS = QUICK ? 20 : 200;
const RUNNING_TASKS = QUICK ? 20 : 200;
const CPU_WINDOW_S = QUICK ? 5 : 30;
const IDLE_SAMPLES = 10;
const ADOPT_COUNT = QUICK ? 5 : ADOPT_RUNS;
const GROWTH_TASKS = QUICK ? 500 : 5000;
const STATUS_RUNS = QUICK ? 5 : 30;
const SCALE_OPTIONS: ScaleOptions = QUICK
  ? { levels: [10, 30, 100], calls: 5 }
  : { levels: [10, 30, 100, 300, 1000], calls: 20 };
const QUEUE_ROUNDS = QUICK ? 5 : 20;
const SLURM_RUNS = QUICK ? 3 : 20;
const SOAK_SECONDS = QUICK ? 30 : 300;
const HTTP_OPTIONS: HttpBenchOptions = {
  calls: START_CALLS,
  warmup: START_WARMUP,
  clients: 8,
  seconds: QUICK ? 3 : 10,
  sessions: QUICK ? 16 : 64,
};

const PEER_DIR = join(ROOT, "bench", ".peer");
/**
 * Where the report goes: docs/ (BENCHMARKS.md, benchmarks.svg, scale.svg), or with --quick
 * bench/.quick/ (git-ignored), so that a smoke run never lands in docs/; --out overrides both.
 */
const DOCS = join(ROOT, "docs");
const OUT = args.values.out ?? (QUICK ? join(ROOT, "bench", ".quick") : DOCS);

const lab = new Lab();
const log = (message: string) => console.error(`bench: ${message}`);

/** The peer's entry script, or why there is none. */
let peerEntry: string | null = null;
let peerMissing = "peer unavailable";

function peerRow(row: Omit<Row, "missing">): Row {
  return row.ref ? row : { ...row, missing: peerMissing };
}

async function withPeer<T>(body: (peer: McpProcess, home: string) => Promise<T>): Promise<T> {
  if (!peerEntry) throw new Error("no peer");
  const home = await lab.dir("backburner-bench-peer-home-");
  const peer = await lab.startPeer(peerEntry, home);
  try {
    return await body(peer, home);
  } finally {
    await lab.stopPeer(peer);
    await lab.remove(home);
  }
}

async function withServer<T>(
  body: (server: ServerHandle, home: string) => Promise<T>,
  prepare?: (home: string) => void | Promise<void>,
): Promise<T> {
  const home = await lab.dir();
  try {
    await prepare?.(home);
    const server = await lab.boot(home);
    try {
      return await body(server, home);
    } finally {
      await lab.stop(server);
    }
  } finally {
    await lab.remove(home);
  }
}

/** Waits with wait_for_task (which wakes at once on this server's own changes) until the end. */
async function waitEnded(server: ServerHandle, id: string): Promise<Record<string, unknown>> {
  for (;;) {
    const waited = await server.call("wait_for_task", { task_ids: [id], timeout_seconds: 50 });
    const task = (waited.tasks as Record<string, unknown>[])[0];
    if (waited.reason === "ended") return task;
  }
}

// ---------------------------------------------------------------------------------------------
// Cold start.

async function coldStart(): Promise<{ ours: Stats; peer: Stats | null; warmups: string }> {
  const home = await lab.dir();
  const peerHome = await lab.dir("backburner-bench-peer-home-");
  const time = async (start: () => Promise<{ close(): Promise<void> }>) => {
    const t0 = performance.now();
    const server = await start();
    const ms = performance.now() - t0;
    await server.close();
    return ms;
  };
  const ours = () => time(() => lab.boot(home).then((s) => ({ close: () => lab.stop(s) })));
  const peer = peerEntry
    ? () =>
      time(() =>
        lab.startPeer(peerEntry!, peerHome).then((p) => ({ close: () => lab.stopPeer(p) }))
      )
    : null;
  try {
    // One uncounted run each first: it creates the state database / the peer's config.
    const warmOurs = await ours();
    const warmPeer = peer ? await peer() : null;
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < COLD_RUNS; i++) {
      a.push(await ours());
      if (peer) b.push(await peer());
    }
    return {
      ours: stats(a),
      peer: peer ? stats(b) : null,
      warmups: `Uncounted first runs (which create the database / the peer's config): ` +
        `backburner ${warmOurs.toFixed(0)} ms${
          warmPeer === null ? "" : `, ${PEER_NAME} ${warmPeer.toFixed(0)} ms`
        }`,
    };
  } finally {
    await lab.remove(home);
    await lab.remove(peerHome);
  }
}

// ---------------------------------------------------------------------------------------------
// start_task round trip.

async function startRoundTrip(): Promise<{ ours: Stats; peer: Stats | null }> {
  const ours = await withServer(async (server) => {
    for (let i = 0; i < START_WARMUP; i++) await server.call("start_task", { command: "true" });
    const samples: number[] = [];
    for (let i = 0; i < START_CALLS; i++) {
      const t0 = performance.now();
      await server.call("start_task", { command: "true" });
      samples.push(performance.now() - t0);
    }
    return stats(samples);
  });
  const peer = peerEntry
    ? await withPeer(async (peer) => {
      const call = () => peer.call("start_process", { command: "true", timeout_ms: 10_000 });
      for (let i = 0; i < START_WARMUP; i++) await call();
      const samples: number[] = [];
      for (let i = 0; i < START_CALLS; i++) {
        const t0 = performance.now();
        const text = await call();
        samples.push(performance.now() - t0);
        peerPid(text);
      }
      return stats(samples);
    })
    : null;
  return { ours, peer };
}

// ---------------------------------------------------------------------------------------------
// Output capture: a task writing LOG_BYTES to stdout, start to completed.

async function outputCapture(): Promise<{ ours: Stats; shell: Stats }> {
  const command = `head -c ${LOG_BYTES} /dev/zero`;
  const scratch = await lab.dir("backburner-bench-capture-");
  try {
    return await withServer(async (server, home) => {
      const viaServer = async () => {
        const t0 = performance.now();
        const started = await server.call("start_task", { command });
        const task = await waitEnded(server, started.task_id as string);
        const ms = performance.now() - t0;
        if (task.status !== "completed" || task.output_bytes !== LOG_BYTES) {
          throw new Error(`capture task ended ${task.status} with ${task.output_bytes} bytes`);
        }
        await Deno.remove(join(home, "tasks", task.task_id as string, "output.log"));
        return ms;
      };
      const viaShell = async () => {
        const file = join(scratch, "out");
        const t0 = performance.now();
        const status = await new Deno.Command("sh", {
          args: ["-c", `${command} > ${file}`],
          env: lab.env,
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).output();
        const ms = performance.now() - t0;
        if (!status.success || Deno.statSync(file).size !== LOG_BYTES) {
          throw new Error("the shell's capture failed");
        }
        await Deno.remove(file);
        return ms;
      };
      // One uncounted pair first: the file system's first gigabyte costs more (block allocation).
      await viaServer();
      await viaShell();
      const ours: number[] = [];
      const shell: number[] = [];
      for (let i = 0; i < CAPTURE_RUNS; i++) {
        // Alternating which goes first, so that neither always follows the other's deletion.
        if (i % 2 === 0) {
          ours.push(await viaServer());
          shell.push(await viaShell());
        } else {
          shell.push(await viaShell());
          ours.push(await viaServer());
        }
      }
      return { ours: stats(ours), shell: stats(shell) };
    });
  } finally {
    await lab.remove(scratch);
  }
}

// ---------------------------------------------------------------------------------------------
// The tail of a LOG_BYTES log.

interface TailResult {
  readonly ours: Stats;
  readonly tail: Stats;
  /** task_status of the same task: a call that reads no output, the MCP round trip's floor. */
  readonly floor: Stats;
  readonly peer: Stats | null;
  readonly generateMs: number;
}

function checkTail(text: string, lastLine: number, who: string, slack = 0): void {
  const lines = text.split("\n").filter((line) => /^\d{10} x+$/.test(line));
  const last = lines.at(-1) ?? "";
  const short = TAIL_LINES - lines.length;
  if (short < 0 || short > slack || Number(last.slice(0, 10)) !== lastLine) {
    throw new Error(`${who}: wrong tail (${lines.length} lines, last "${last.slice(0, 20)}")`);
  }
}

async function tailOfLog(): Promise<TailResult> {
  const lines = LOG_BYTES / LINE_BYTES;
  const padding = "x".repeat(LINE_BYTES - 12);
  const command = `seq -f '%010.0f ${padding}' 1 ${lines}`;
  return await withServer(async (server, home) => {
    const t0 = performance.now();
    const started = await server.call("start_task", { command });
    const id = started.task_id as string;
    const task = await waitEnded(server, id);
    const generateMs = performance.now() - t0;
    if (task.status !== "completed" || task.output_bytes !== LOG_BYTES) {
      throw new Error(`log task ended ${task.status} with ${task.output_bytes} bytes`);
    }
    const path = join(home, "tasks", id, "output.log");
    const ours: number[] = [];
    const tail: number[] = [];
    const floor: number[] = [];
    for (let i = -5; i < TAIL_RUNS; i++) {
      let t = performance.now();
      const result = await server.call("task_result", { task_id: id, tail_lines: TAIL_LINES });
      if (i >= 0) ours.push(performance.now() - t);
      checkTail(result.output as string, lines, "task_result");

      t = performance.now();
      const output = await new Deno.Command("tail", {
        args: ["-n", String(TAIL_LINES), path],
        env: lab.env,
        stdin: "null",
        stdout: "piped",
        stderr: "null",
      }).output();
      if (i >= 0) tail.push(performance.now() - t);
      checkTail(new TextDecoder().decode(output.stdout), lines, "tail");

      t = performance.now();
      await server.call("task_status", { task_id: id });
      if (i >= 0) floor.push(performance.now() - t);
    }
    // The peer in a block of its own: it keeps working after each reply (it logs every call to
    // files in its HOME), which interleaved runs would bill to backburner's next call.
    const peer = peerEntry
      ? await withPeer(async (peer) => {
        const theirs: number[] = [];
        for (let i = -5; i < TAIL_RUNS; i++) {
          const t = performance.now();
          const text = await peer.call("read_file", { path, offset: -TAIL_LINES });
          if (i >= 0) theirs.push(performance.now() - t);
          checkTail(text, lines, "read_file", 1);
        }
        return stats(theirs);
      })
      : null;
    return { ours: stats(ours), tail: stats(tail), floor: stats(floor), peer, generateMs };
  });
}

// ---------------------------------------------------------------------------------------------
// grep of a log as big as the tail's, against `grep -c` on the same file.

interface GrepResult {
  /** Per pattern: task_result with grep, and `grep -c`. */
  readonly patterns: { pattern: string; matches: number; ours: Stats; grep: Stats }[];
  readonly generateMs: number;
  readonly lines: number;
}

/** Exported for a run of this figure alone. */
export async function grepOfLog(): Promise<GrepResult> {
  // The ERRORs add 0.16 bytes a line on average: the log stays within the log cap.
  const lines = Math.floor(LOG_BYTES / (LINE_BYTES + 0.2));
  const base = "INFO %010.0f request handled in 12 ms by worker 7 path=/api/v1/items status=200 ";
  // 128 bytes a line (the format's %010.0f prints 10); then every 1000th line starts with ERROR
  // and every 37th has an ERROR mid-line (which ^ERROR must not count).
  const format = base + "x".repeat(LINE_BYTES - 1 - (base.length - 7 + 10));
  const command = `seq -f '${format}' 1 ${lines} | ` +
    `sed -e '0~1000s/^INFO/ERROR/' -e '0~37s/handled/ERROR handled/'`;
  return await withServer(async (server, home) => {
    const t0 = performance.now();
    const started = await server.call("start_task", { command });
    const id = started.task_id as string;
    const task = await waitEnded(server, id);
    const generateMs = performance.now() - t0;
    if (task.status !== "completed") {
      throw new Error(`grep log task ended ${task.status}: ${JSON.stringify(task).slice(0, 400)}`);
    }
    const path = join(home, "tasks", id, "output.log");
    const patterns = [];
    for (const pattern of GREP_PATTERNS) {
      const ours: number[] = [];
      const grep: number[] = [];
      let matches = 0;
      for (let i = -1; i < GREP_RUNS; i++) {
        let t = performance.now();
        const result = await server.call("task_result", { task_id: id, grep: pattern });
        if (i >= 0) ours.push(performance.now() - t);
        t = performance.now();
        // Piped: GNU grep stops at the first match when its output is /dev/null.
        const output = await new Deno.Command("grep", {
          args: ["-c", "-E", pattern, path],
          env: lab.env,
          stdin: "null",
          stdout: "piped",
          stderr: "null",
        }).output();
        if (i >= 0) grep.push(performance.now() - t);
        matches = Number(new TextDecoder().decode(output.stdout).trim());
        if (result.total_matches !== matches || matches === 0) {
          throw new Error(
            `grep ${pattern}: task_result ${result.total_matches}, grep -c ${matches}`,
          );
        }
      }
      patterns.push({ pattern, matches, ours: stats(ours), grep: stats(grep) });
    }
    return { patterns, generateMs, lines };
  });
}

// ---------------------------------------------------------------------------------------------
// list_tasks with LIST_TASKS finished tasks in the store.

/** Fills a new state database with finished tasks, in one transaction. */
function fillStore(home: string, count: number): void {
  const path = join(home, "state.db");
  // The Store creates the schema exactly as the server would (migrations included).
  new Store(path).close();
  const db = new DatabaseSync(path);
  const now = Date.now();
  try {
    db.exec("BEGIN");
    const insert = db.prepare(
      `INSERT INTO tasks (id, command, cwd, status, exit_code, signal, status_message, created_at,
         started_at, ended_at, pid, timeout_seconds, deadline_at, owner, stop_reason,
         stop_requested_at, label, ttl_ms)
       VALUES (?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?, NULL, NULL, NULL, NULL, NULL, ?, NULL)`,
    );
    for (let i = 0; i < count; i++) {
      // Spread over the last ~28 hours (oldest first), well inside the 30-day retention.
      const created = now - (count - i) * 1000;
      const code = i % 10 === 0 ? 1 : 0;
      insert.run(
        newTaskId(),
        `npm test -- --shard ${i}`,
        "/home/me/app",
        code === 0 ? "completed" : "failed",
        code,
        created,
        created + 5,
        created + 500,
        100_000 + (i % 30_000),
        i % 3 === 0 ? "unit-tests" : null,
      );
    }
    db.exec("COMMIT");
  } finally {
    db.close();
  }
}

interface ListResult {
  readonly ours: Stats;
  /** The same page SELECT run directly. */
  readonly sql: Stats;
  /** For context: the page and a count(*) of every row, as list_tasks ran them before. */
  readonly counted: Stats;
  /** A call that reads no task (task_status), for the round trip's floor. */
  readonly floor: Stats;
  readonly bootMs: number;
  readonly fillMs: number;
}

/** Exported for a run of this figure alone. */
export async function listTasks(): Promise<ListResult> {
  const home = await lab.dir();
  try {
    let t = performance.now();
    fillStore(home, LIST_TASKS);
    const fillMs = performance.now() - t;
    t = performance.now();
    const server = await lab.boot(home);
    const bootMs = performance.now() - t;
    const db = new DatabaseSync(join(home, "state.db"), { readOnly: true });
    try {
      // The same page SELECT, run directly; and, for context, with the count(*) of every row
      // that list_tasks ran before its counts were kept.
      const page = db.prepare("SELECT * FROM tasks ORDER BY created_at DESC, id DESC LIMIT ?");
      const count = db.prepare("SELECT count(*) AS n FROM tasks");
      const one =
        ((await server.call("list_tasks", { limit: 1 })).tasks as { task_id: string }[])[0];
      for (let i = 0; i < 5; i++) {
        await server.call("list_tasks", { limit: 20 });
        page.all(20);
        count.get();
      }
      const ours: number[] = [];
      const sql: number[] = [];
      const counted: number[] = [];
      const floor: number[] = [];
      for (let i = 0; i < LIST_CALLS; i++) {
        t = performance.now();
        const listed = await server.call("list_tasks", { limit: 20 });
        ours.push(performance.now() - t);
        if (listed.total !== LIST_TASKS || listed.count !== 20) {
          throw new Error(`list_tasks: total ${listed.total}, count ${listed.count}`);
        }
        t = performance.now();
        const rows = page.all(20);
        sql.push(performance.now() - t);
        if (rows.length !== 20) throw new Error("direct SELECT failed");
        t = performance.now();
        const { n } = count.get() as { n: number };
        page.all(20);
        counted.push(performance.now() - t);
        if (n !== LIST_TASKS) throw new Error("direct count failed");
        t = performance.now();
        await server.call("task_status", { task_id: one.task_id });
        floor.push(performance.now() - t);
      }
      return {
        ours: stats(ours),
        sql: stats(sql),
        counted: stats(counted),
        floor: stats(floor),
        bootMs,
        fillMs,
      };
    } finally {
      db.close();
      await lab.stop(server);
    }
  } finally {
    await lab.remove(home);
  }
}

// ---------------------------------------------------------------------------------------------
// Memory and CPU.

interface Footprint {
  readonly idleRss: Stats;
  readonly busyRss: Stats;
  /** CPU use per one-second window while the tasks ran, % of one core. */
  readonly cpu: Stats;
  /** CPU ms used over the whole window. */
  readonly cpuTotalMs: number;
}

async function sampleIdle(pid: number): Promise<Stats> {
  await sleep(2000);
  const samples: number[] = [];
  for (let i = 0; i < IDLE_SAMPLES; i++) {
    const rss = rssMiB(pid);
    if (rss === null) throw new Error(`process ${pid} is gone`);
    samples.push(rss);
    await sleep(200);
  }
  return stats(samples);
}

/**
 * Samples RSS and CPU of `pids` once a second over CPU_WINDOW_S seconds: CPU per window from the
 * threads' schedstat (ns), and in all from utime + stime as a cross-check.
 */
async function sampleWindow(pids: number[]) {
  const rss = pids.map(() => [] as number[]);
  const cpu = pids.map(() => [] as number[]);
  const ticksFirst = await Promise.all(pids.map((pid) => cpuMs(pid)));
  let last = pids.map((pid) => cpuPreciseMs(pid));
  let lastAt = performance.now();
  for (let s = 0; s < CPU_WINDOW_S; s++) {
    await sleep(1000);
    const now = pids.map((pid) => cpuPreciseMs(pid));
    const at = performance.now();
    pids.forEach((pid, i) => {
      if (now[i] === null || last[i] === null) throw new Error(`process ${pid} is gone`);
      cpu[i].push(((now[i]! - last[i]!) / (at - lastAt)) * 100);
      rss[i].push(rssMiB(pid) ?? NaN);
    });
    last = now;
    lastAt = at;
  }
  const ticksLast = await Promise.all(pids.map((pid) => cpuMs(pid)));
  return pids.map((_, i) => ({
    rss: stats(rss[i]),
    cpu: stats(cpu[i]),
    cpuTotalMs: ticksLast[i]! - ticksFirst[i]!,
  }));
}

interface FootprintResult {
  readonly ours: Footprint;
  /**
   * backburner's CPU with no task at all, per one-second window over CPU_WINDOW_S (the same
   * server, before its tasks start), % of one core; and in all, ms.
   */
  readonly oursNoTasks: { cpu: Stats; cpuTotalMs: number };
  /** Its median, for the text. */
  readonly oursIdleCpu: number;
  readonly peer: Footprint | null;
  readonly idleDeno: { rss: Stats; cpu: Stats; cpuTotalMs: number };
}

async function footprint(): Promise<FootprintResult> {
  const scratch = await lab.dir("backburner-bench-idle-");
  const script = join(scratch, "idle.ts");
  Deno.writeTextFileSync(script, "setInterval(() => {}, 1 << 30);\n");
  const idle = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", script],
    env: lab.env,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const ours = await withServer(async (server, home) => {
      const idleRss = await sampleIdle(server.pid);
      // The same window with no task at all, so that "N tasks vs none" is a ratio of one method.
      const [noTasks] = await sampleWindow([server.pid]);
      for (let i = 0; i < RUNNING_TASKS; i++) {
        await server.call("start_task", { command: "sleep 600" });
      }
      await sleep(2000);
      const [mine, reference] = await sampleWindow([server.pid, idle.pid]);
      const working = await server.call("list_tasks", { status: "working", limit: 1000 });
      if (working.total !== RUNNING_TASKS) {
        throw new Error(`${working.total} tasks working, not ${RUNNING_TASKS}`);
      }
      await lab.stop(server);
      await lab.remove(home); // kills the sleeps
      return {
        noTasks,
        footprint: {
          idleRss,
          busyRss: mine.rss,
          cpu: mine.cpu,
          cpuTotalMs: mine.cpuTotalMs,
        },
        reference,
      };
    });
    const peer = peerEntry
      ? await withPeer(async (peer) => {
        const idleRss = await sampleIdle(peer.pid);
        // start_process blocks until timeout_ms; 20 at a time keeps the setup short.
        for (let i = 0; i < RUNNING_TASKS; i += 20) {
          await Promise.all(
            Array.from(
              { length: Math.min(20, RUNNING_TASKS - i) },
              () => peer.call("start_process", { command: "sleep 600", timeout_ms: 100 }),
            ),
          );
        }
        await sleep(2000);
        const [theirs] = await sampleWindow([peer.pid]);
        const sessions = await peer.call("list_sessions");
        const running = (sessions.match(/PID: \d+/g) ?? []).length;
        if (running !== RUNNING_TASKS) log(`peer lists ${running} sessions, not ${RUNNING_TASKS}`);
        return { idleRss, busyRss: theirs.rss, cpu: theirs.cpu, cpuTotalMs: theirs.cpuTotalMs };
      })
      : null;
    return {
      ours: ours.footprint,
      oursNoTasks: { cpu: ours.noTasks.cpu, cpuTotalMs: ours.noTasks.cpuTotalMs },
      oursIdleCpu: ours.noTasks.cpu.median,
      peer,
      idleDeno: ours.reference,
    };
  } finally {
    try {
      idle.kill("SIGKILL");
    } catch {
      // gone
    }
    await idle.status;
    // The peer's sleeps (its shells do not die with it) and anything else of this phase.
    await killSleeps();
    await lab.remove(scratch);
  }
}

/**
 * What backburner's idle memory is made of: RSS of `deno run` scripts that only import one part
 * of it and wait. The parts share V8's and Deno's own baseline, so they do not add up exactly.
 */
async function importFootprint(): Promise<Record<string, Stats>> {
  const scratch = await lab.dir("backburner-bench-imports-");
  const url = (path: string) => new URL(path, `file://${ROOT}/`).href;
  const parts: Record<string, string> = {
    "nothing (empty script)": "",
    "node:sqlite (open a database)":
      `import { DatabaseSync } from "node:sqlite"; new DatabaseSync(":memory:").exec("SELECT 1");`,
    "zod": `import { z } from "zod"; z.object({ a: z.string() }).parse({ a: "x" });`,
    "the MCP SDK (src/mcp/sdk.ts)": `import { McpServer } from "${
      url("src/mcp/sdk.ts")
    }"; new McpServer({ name: "x", version: "1" });`,
    "the policy parser (src/policy/policy.ts, mvdan-sh)":
      `import { checkCommand, parsePolicy } from "${
        url("src/policy/policy.ts")
      }"; checkCommand(parsePolicy(undefined, "x"), "ls -l");`,
    "all of main.ts (not serving)": `import "${url("main.ts")}";`,
  };
  const children = Object.entries(parts).map(([name, code], i) => {
    const file = join(scratch, `part${i}.ts`);
    Deno.writeTextFileSync(file, `${code}\nsetInterval(() => {}, 1 << 30);\n`);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "-A", "--config", join(ROOT, "deno.json"), file],
      cwd: ROOT,
      env: lab.env,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    return { name, child };
  });
  try {
    await sleep(4000);
    const result: Record<string, Stats> = {};
    for (const { name, child } of children) {
      const samples: number[] = [];
      for (let i = 0; i < 5; i++) {
        const rss = rssMiB(child.pid);
        if (rss === null) throw new Error(`the import script for ${name} exited`);
        samples.push(rss);
      }
      result[name] = stats(samples);
    }
    return result;
  } finally {
    for (const { child } of children) {
      try {
        child.kill("SIGKILL");
      } catch {
        // gone
      }
      await child.status;
    }
    await lab.remove(scratch);
  }
}

/** The peer leaves its `sleep 600` shells running when it exits; they carry the run marker. */
async function killSleeps(): Promise<void> {
  await killAllWith(lab.marker);
}

// ---------------------------------------------------------------------------------------------
// Report.

/** Installs the peer (once, into bench/.peer/), or notes why it is missing. */
async function preparePeer(): Promise<void> {
  const install = NO_PEER
    ? { ok: false as const, reason: "left out with --no-peer" }
    : await installPeer(PEER_DIR, log);
  if (install.ok) {
    peerEntry = install.entry;
  } else {
    peerMissing = `peer unavailable (${install.reason})`;
    log(peerMissing);
  }
}

async function main(): Promise<number> {
  const began = performance.now();
  const host = await machine();
  if (ONLY !== undefined) return await runOnly(ONLY as Group, host);
  await preparePeer();

  log(`cold start (${COLD_RUNS} runs each)…`);
  const cold = await coldStart();
  log(`start_task round trip (${START_CALLS} calls each)…`);
  const rtt = await startRoundTrip();
  log(`HTTP face (${HTTP_OPTIONS.calls} start_task calls, ${HTTP_OPTIONS.clients} clients)…`);
  const http = await httpBench(lab, HTTP_OPTIONS);
  log(`output capture of ${LOG_BYTES} bytes (${CAPTURE_RUNS} runs each)…`);
  const capture = await outputCapture();
  log(`tail of a ${LOG_BYTES}-byte log (${TAIL_RUNS} runs each)…`);
  const tail = await tailOfLog();
  log(`grep of a ${LOG_BYTES}-byte log (${GREP_RUNS} runs per pattern each)…`);
  const grep = await grepOfLog();
  log(`list_tasks with ${LIST_TASKS} tasks in the store (${LIST_CALLS} calls each)…`);
  const list = await listTasks();
  log(`memory and CPU (${RUNNING_TASKS} running tasks, ${CPU_WINDOW_S} s windows)…`);
  const foot = await footprint();
  const parts = await importFootprint();
  log(`exit → visible, own task (${OWN_RUNS} runs)…`);
  const own = await ownExit(lab);
  log(`exit → visible, adopted task (${ADOPT_COUNT} runs, ~3 s each)…`);
  const adopted = await adoptedExit(lab, ADOPT_COUNT);
  log(`exit → reply of a blocking call (${BLOCKING_RUNS} runs each)…`);
  const blocking = await blockingExit(
    lab,
    peerEntry
      ? async () => await lab.startPeer(peerEntry!, await lab.dir("backburner-bench-peer-home-"))
      : null,
  );
  const date = new Date().toISOString();
  const subtitle = `${host.cores} × ${host.cpu}, Deno ${Deno.version.deno}, ${date.slice(0, 10)}`;
  // The groups of issue 16, each in a file of its own (bench/group.ts).
  const extra = await extraGroups(subtitle);

  const gib = LOG_BYTES >= 1024 ** 3
    ? `${LOG_BYTES / 1024 ** 3} GiB`
    : `${LOG_BYTES / 2 ** 20} MiB`;
  const rows: Row[] = [
    peerRow({
      name: "Cold start: spawn → initialize answer",
      short: "Cold start",
      unit: "ms",
      ours: cold.ours,
      reference: PEER_NAME,
      refShort: "desktop-commander",
      ref: cold.peer,
    }),
    peerRow({
      name: "`start_task` round trip (`true`)",
      short: "start_task round trip",
      unit: "ms",
      ours: rtt.ours,
      reference: `${PEER_NAME} start_process`,
      refShort: "desktop-commander start_process",
      ref: rtt.peer,
    }),
    ...httpRows(http),
    {
      name: `Output capture: task writing ${gib} to stdout, start → completed`,
      short: `Capture ${gib} of output`,
      unit: "ms",
      ours: capture.ours,
      reference: "`sh -c 'cmd > file'`",
      refShort: "sh -c 'cmd > file'",
      ref: capture.shell,
    },
    {
      name: `Tail (${TAIL_LINES} lines) of a ${gib} log: \`task_result\``,
      short: `Tail of a ${gib} log`,
      unit: "ms",
      ours: tail.ours,
      reference: `\`tail -n ${TAIL_LINES}\``,
      refShort: `tail -n ${TAIL_LINES}`,
      ref: tail.tail,
    },
    peerRow({
      name: `Tail (${TAIL_LINES} lines) of a ${gib} log: \`task_result\``,
      short: `Tail of a ${gib} log`,
      unit: "ms",
      ours: tail.ours,
      reference: `${PEER_NAME} read_file offset -${TAIL_LINES}`,
      refShort: "desktop-commander read_file",
      ref: tail.peer,
    }),
    ...grep.patterns.map(({ pattern, ours, grep }): Row => ({
      name: `Grep of a ${gib} log: \`task_result\` grep \`${pattern}\``,
      short: `grep ${pattern}, ${gib} log`,
      unit: "ms",
      ours,
      reference: `\`grep -c ${pattern}\``,
      refShort: `grep -c ${pattern}`,
      ref: grep,
    })),
    {
      name: `\`list_tasks(limit=20)\` with ${LIST_TASKS.toLocaleString("en")} tasks stored`,
      short: `list_tasks, ${LIST_TASKS / 1000}k tasks stored`,
      unit: "ms",
      ours: list.ours,
      reference: "the same page SELECT run directly",
      refShort: "SQL",
      ref: list.sql,
    },
    {
      name: "Server memory (RSS), idle",
      short: "RSS idle",
      unit: "MiB",
      ours: foot.ours.idleRss,
      reference: "idle `deno run` of an empty script",
      refShort: "empty deno script",
      ref: foot.idleDeno.rss,
    },
    peerRow({
      name: "Server memory (RSS), idle",
      short: "RSS idle",
      unit: "MiB",
      ours: foot.ours.idleRss,
      reference: PEER_NAME,
      refShort: "desktop-commander",
      ref: foot.peer?.idleRss ?? null,
    }),
    peerRow({
      name: `Server memory (RSS), ${RUNNING_TASKS} tasks running`,
      short: `RSS, ${RUNNING_TASKS} tasks running`,
      unit: "MiB",
      ours: foot.ours.busyRss,
      reference: PEER_NAME,
      refShort: "desktop-commander",
      ref: foot.peer?.busyRss ?? null,
    }),
    peerRow({
      name: `Server CPU, ${RUNNING_TASKS} silent tasks running (per 1 s window, ${CPU_WINDOW_S} s)`,
      short: `CPU, ${RUNNING_TASKS} silent tasks`,
      unit: "% CPU",
      ours: foot.ours.cpu,
      reference: PEER_NAME,
      refShort: "desktop-commander",
      ref: foot.peer?.cpu ?? null,
    }),
    {
      name:
        `Server CPU, ${RUNNING_TASKS} silent tasks running vs none (per 1 s window, ${CPU_WINDOW_S} s)`,
      short: `CPU, ${RUNNING_TASKS} silent tasks vs none`,
      unit: "% CPU",
      ours: foot.ours.cpu,
      reference: "the same server with no task (just before)",
      refShort: "no task",
      ref: foot.oursNoTasks.cpu,
    },
    peerRow({
      name: `Exit → reply of a blocking call (\`wait_for_task\`)`,
      short: "Exit → blocking call returns",
      unit: "ms",
      ours: blocking.ours,
      reference: `${PEER_NAME} start_process (blocks until exit)`,
      refShort: "desktop-commander",
      ref: blocking.peer,
    }),
    {
      name: `Exit → visible by polling \`task_status\`, own task`,
      short: "Exit → visible (poll), own task",
      unit: "ms",
      ours: own.latency,
      reference: "none (the peer has no status to poll)",
      ref: null,
      chart: false,
    },
    {
      name: `Exit → visible by polling \`task_status\`, adopted task (server A kill -9'd)`,
      short: "Exit → visible (poll), adopted task",
      unit: "ms",
      ours: adopted.latency,
      reference: "none (the peer loses its processes when killed)",
      ref: null,
      chart: false,
    },
  ];

  rows.push(...extra.flatMap((group) => group.rows));

  const tick = mtimeTick([...own.mtimes, ...adopted.mtimes, ...blocking.mtimes]);
  const totalS = (performance.now() - began) / 1000;
  const mib = (stats: Stats) => formatValue(stats.median, "MiB");
  const ms = (value: number) => formatValue(value, "ms");
  const pct = (value: number) => formatValue(value, "% CPU");
  const peerCpu = foot.peer ? `, ${PEER_NAME} ${(foot.peer.cpuTotalMs / 1000).toFixed(2)} s` : "";
  const notes = [
    `**Ratio** = backburner's median ÷ the reference's median: below 1× backburner is faster ` +
    `(or smaller), above 1× slower (or bigger). Percentiles are nearest-rank over the samples. ` +
    `Every backburner call goes through the MCP SDK client over stdio (JSON-RPC, zod validation ` +
    `of input and output), as an agent's would; so do the peer's.`,
    `**Cold start**: each run spawns a new process on the same state directory / peer HOME and ` +
    `times spawn → the initialize answer; runs alternate between the two. ${cold.warmups}.`,
    `**start_task round trip**: ${START_CALLS} sequential calls through one client after ` +
    `${START_WARMUP} uncounted ones. ${PEER_NAME}'s start_process waits for the process's first ` +
    `output or its exit (here \`true\` exits at once), so it includes spawning bash and seeing ` +
    `it exit; start_task returns once the task is recorded and spawned.`,
    ...httpNotes(http),
    `**Output capture**: \`head -c ${LOG_BYTES} /dev/zero\`; backburner is timed from the ` +
    `start_task call to the wait_for_task reply saying completed (output_bytes checked), the ` +
    `shell from spawn to exit. The task's output goes to its log through the wrapper shell's own ` +
    `redirect, so the server is not in the data path. One uncounted pair first, then ` +
    `${CAPTURE_RUNS} pairs, alternating which goes first; each file is deleted after its run.`,
    `**Tail**: the log is made by a backburner task (\`seq -f …\`, ${
      (LOG_BYTES / LINE_BYTES).toLocaleString("en")
    } numbered lines of ${LINE_BYTES} bytes, in ${(tail.generateMs / 1000).toFixed(1)} s); ` +
    `every reply is checked to hold the right last ${TAIL_LINES} lines. \`tail\` is timed from ` +
    `spawn to exit (process start included); task_result and \`tail\` alternate, ${TAIL_RUNS} ` +
    `runs each after 5 uncounted. For scale, task_status of the same task (a call that reads ` +
    `no output) took ${ms(tail.floor.median)} (p95 ${ms(tail.floor.p95)}): the round trip's ` +
    `floor. ${PEER_NAME} runs in a block of its own afterwards: it keeps working after each ` +
    `reply (it logs every call to files in its HOME), which interleaved runs would bill to ` +
    `backburner's next call. Its read_process_output is not comparable — it would have to hold ` +
    `the whole ${gib} of output in its own memory — so its read_file with a negative offset ` +
    `(its documented tail) reads the same file. On a file this large (its reverse-reading path) ` +
    `it returns 99 lines for offset -100, an off-by-one of its own (-101 returns 101); the check ` +
    `accepts that one line less.`,
    `**list_tasks**: ${
      LIST_TASKS.toLocaleString("en")
    } finished tasks are inserted in one transaction into a database whose schema ` +
    `src/store.ts's Store created (${(list.fillMs / 1000).toFixed(1)} s), then the server ` +
    `starts on it (spawn → initialize answer with them stored: ${ms(list.bootMs)}). The ` +
    `reference runs the same page SELECT (the newest 20) with node:sqlite in the benchmark ` +
    `process, prepared once as the Store does; runs alternate. For context, the page with a ` +
    `count(*) of every row (what list_tasks ran before its counts were kept by triggers) took ` +
    `${ms(list.counted.median)}, and task_status (a call that reads no list) ` +
    `${ms(list.floor.median)}: the round trip's floor.`,
    `**Grep**: the log is made by a backburner task (\`seq -f … | sed …\`, ${
      grep.lines.toLocaleString("en")
    } lines of about ${LINE_BYTES} bytes; every 1000th starts with ERROR, every 37th has ERROR ` +
    `mid-line; ${(grep.generateMs / 1000).toFixed(1)} s). task_result with grep (50 matching ` +
    `lines returned, every one counted) and \`grep -c -E\` (spawn to exit, output piped) ` +
    `alternate, ${GREP_RUNS} runs each after one uncounted; each reply's total_matches is ` +
    `checked against grep's count (${
      grep.patterns.map(({ pattern, matches }) => `${pattern}: ${matches.toLocaleString("en")}`)
        .join(", ")
    }).`,
    `**Memory**: VmRSS from /proc/PID/status: idle = ${IDLE_SAMPLES} samples 200 ms apart, 2 s ` +
    `after the initialize answer; with tasks = one sample per second over the ${CPU_WINDOW_S} s ` +
    `CPU window. The ${RUNNING_TASKS} tasks are \`sleep 600\` (backburner: start_task; ` +
    `${PEER_NAME}: start_process with timeout_ms 100, 20 calls at a time).`,
    `**What the idle RSS is made of** (RSS of \`deno run\` scripts that only import one part ` +
    `and wait; the parts share Deno's own baseline, so they do not add up): ${
      Object.entries(parts).map(([name, rss]) => `${name} ${mib(rss)}`).join(", ")
    }.`,
    `**CPU**: on-CPU time of the server process's threads (not its children) from ` +
    `/proc/PID/task/*/schedstat (ns), per one-second window over ${CPU_WINDOW_S} s while the ` +
    `${RUNNING_TASKS} tasks sleep (silent), in % of one core. In all (utime + stime from ` +
    `/proc/PID/stat): backburner ${(foot.ours.cpuTotalMs / 1000).toFixed(2)} s${peerCpu}, an ` +
    `idle \`deno run\` of an empty script ${(foot.idleDeno.cpuTotalMs / 1000).toFixed(2)} s ` +
    `(expected: close to zero) in the same ${CPU_WINDOW_S} s. backburner with no task at all ` +
    `is measured the same way on the same server just before its tasks start (${CPU_WINDOW_S} ` +
    `windows; in all ${(foot.oursNoTasks.cpuTotalMs / 1000).toFixed(2)} s): median ` +
    `${pct(foot.oursNoTasks.cpu.median)}, mean ${pct(foot.oursNoTasks.cpu.mean)} against ` +
    `${pct(foot.ours.cpu.median)}, mean ${pct(foot.ours.cpu.mean)} with ${RUNNING_TASKS}.`,
    `**Exit → visible by polling**: exit time = mtime of the task's exit record (ns precision; ` +
    `the reported ended_at agreed with it within ${
      Math.max(own.endedAtSkew, adopted.endedAtSkew).toFixed(2)
    } ms). The client polls task_status every ~2 ms (mean poll round trip ` +
    `${ms(own.pollRtt)} own, ${ms(adopted.pollRtt)} adopted), so an observation is late by up ` +
    `to ~${ms(Math.max(own.pollRtt, adopted.pollRtt) + 2)}. Own task: \`sleep ${OWN_SLEEP_S}\`, ` +
    `${own.latency.n} runs. Adopted: server A starts \`sleep ${ADOPT_SLEEP_S}+jitter\`, is killed ` +
    `with SIGKILL, server B starts and adopts the task (confirmed on B's stderr in ${
      adopted.latency.n - adopted.unconfirmedAdoptions
    }/${adopted.latency.n} runs; B was ready ${adopted.margin.min.toFixed(0)}–${
      adopted.margin.max.toFixed(0)
    } ms before the exit), ${adopted.latency.n} runs. B is not the task's parent: it learns of ` +
    `the exit from the exit event — the wrapper touches <home>/events/<id> once its exit record ` +
    `is in place, and every server watches that folder (Deno.watchFs, inotify here) — and looks ` +
    `at once; its safety sweep (every 5 s) is only a backstop. The jitter spreads the exits ` +
    `evenly over the ${ENGINE_MONITOR_MS} ms interval of the monitor's cheap checks: were the ` +
    `exit seen on a timer, the latencies would spread up to ${ENGINE_MONITOR_MS} ms (as before ` +
    `issue 16: median 220 ms, p95 487 ms); seen through the event, they stay at a few ms ` +
    `whatever the phase. No reference: ${PEER_NAME} has no status to poll (its start_process ` +
    `blocks, see the next row), and keeps its processes in its own memory, so a new instance ` +
    `knows nothing of them.`,
    `**Exit → reply of a blocking call**: both run \`sleep ${OWN_SLEEP_S} && touch MARK\` and are ` +
    `timed from MARK's mtime to the reply (backburner: start_task then wait_for_task; ` +
    `${PEER_NAME}: start_process, which returns when its process exits); ${BLOCKING_RUNS} runs ` +
    `each, in separate blocks. backburner's time splits into MARK → the task's exit record ` +
    `(bash exiting, then the wrapper's \`(umask; printf > tmp) && mv\`: a fork and an exec), ` +
    `${ms(blocking.wrapper.mean)} on average, and exit record → reply, ` +
    `${ms(blocking.server.mean)} on average (means, mean ${ms(blocking.ours.mean)} in all: ` +
    `single mtimes differ by 0 or a whole clock tick, but with exits at random phases of the ` +
    `tick the mean is still right).`,
    tick > 0
      ? `All exit-record and MARK mtimes share one phase modulo ${
        tick.toFixed(2)
      } ms: the kernel ` +
        `stamps them from its coarse clock, so every exit latency above is overstated by ` +
        `~${(tick / 2).toFixed(1)} ms on average (not corrected).`
      : `The mtimes show no common clock tick; no coarse-clock bias is expected.`,
    ...extra.flatMap((group) => group.notes),
    `Total benchmark time: ${totalS.toFixed(0)} s.`,
  ];

  // Why backburner is behind where it is, from what this run measured.
  const explanations: Record<string, string> = {
    ...Object.assign({}, ...extra.map((group) => group.explanations)),
    ...httpExplanations(http),
    [`Capture ${gib} of output`]:
      `The work is the same (the shell writes the log itself, the server is not in the data ` +
      `path); the difference is backburner's fixed costs around it: the start_task round trip, ` +
      `the wrapper shell and bash -c, the exit record, and the wait_for_task reply — a few ms ` +
      `against a run of ${ms(capture.shell.median)}, within the run-to-run spread of writing ` +
      `${gib} (p95 ${ms(capture.ours.p95)} vs ${ms(capture.shell.p95)}).`,
    [`Tail of a ${gib} log`]:
      `Reading is not the cost: task_result reads only a window at the end of the file. A ` +
      `call that reads nothing (task_status) already takes ${ms(tail.floor.median)}; the MCP ` +
      `round trip (JSON-RPC over stdio, zod validation, the reply serialized twice — as ` +
      `structuredContent and as the same JSON in text — ~26 KB for 100 lines of 128 bytes) ` +
      `costs about what \`tail\` costs in all, process start included.`,
    [`list_tasks, ${LIST_TASKS / 1000}k tasks stored`]:
      `The SQL is no longer the cost: the total comes from counts kept by triggers, not a ` +
      `count(*) of every row (which with the page took ${ms(list.counted.median)}). What is left ` +
      `is the MCP round trip itself — task_status, which reads no list, takes ` +
      `${ms(list.floor.median)} — plus a stat() of each listed task's log for output_bytes and ` +
      `20 tasks serialized twice (structuredContent and the same JSON as text) and validated ` +
      `against the output schema. A bare SELECT in the benchmark's own process has no round ` +
      `trip, so no MCP call can come within 1.5× of it.`,
    ...Object.fromEntries(grep.patterns.map(({ pattern, ours, grep }) => [
      `grep ${pattern}, ${gib} log`,
      `Both read the whole ${gib} from the page cache (about 0.2 s of either's time). ` +
      `backburner then pays the MCP round trip (~${ms(list.floor.median)}) and the first 50 ` +
      `matching lines decoded and returned, and scans every byte with WebAssembly SIMD (an ` +
      `ASCII literal is counted in the bytes, without decoding); GNU grep skips through the ` +
      `file Boyer–Moore style, looking at a fraction of its bytes (${ms(ours.median)} vs ` +
      `${ms(grep.median)}).`,
    ])),
    ["RSS idle"]:
      `Its imports: the MCP SDK alone takes ${
        mib(parts["the MCP SDK (src/mcp/sdk.ts)"])
      } (its protocol schemas in zod, and ajv, which the SDK's server module imports), against ${
        mib(parts["nothing (empty script)"])
      } for an empty script; all of main.ts imported without serving: ${
        mib(parts["all of main.ts (not serving)"])
      }. The policy parser (mvdan-sh, a GopherJS build of a Go shell parser: ${
        mib(parts["the policy parser (src/policy/policy.ts, mvdan-sh)"])
      } alone) is loaded only when policy rules are set (src/policy/gate.ts), the command line ` +
      `only for a CLI command, and the server runs with a 1 MiB young generation ` +
      `(--max-semi-space-size=1): idle RSS went from 96 MiB to this. Below 60 MiB would need ` +
      `the SDK off the idle path (answering initialize and tools/list without it), which this ` +
      `run does not do: Deno's own baseline and the SDK are most of what is left.`,
    [`RSS, ${RUNNING_TASKS} tasks running`]:
      `backburner grows from ${mib(foot.ours.idleRss)} idle to ${mib(foot.ours.busyRss)} (${
        ((foot.ours.busyRss.median - foot.ours.idleRss.median) * 1024 / RUNNING_TASKS).toFixed(0)
      } KiB per running task: its child-process handle and exit promise, plus what ` +
      `${RUNNING_TASKS} start_task calls leave on the heap — not broken down further); ` +
      `${PEER_NAME} goes from ${mib(foot.peer?.idleRss ?? foot.ours.idleRss)} to ${
        mib(foot.peer?.busyRss ?? foot.ours.busyRss)
      }, its garbage collector having run meanwhile.`,
    [`CPU, ${RUNNING_TASKS} silent tasks`]:
      `backburner does not read its tasks on a timer: exits arrive as events, and what is left ` +
      `is the monitor's check (one data_version query and a lock try per other server), every ` +
      `${ENGINE_MONITOR_MS} ms while something happens and backing off to every 5 s while ` +
      `nothing does, plus a full look every 5 s (the safety sweep, which reads every working ` +
      `task). With no task: ${pct(foot.oursIdleCpu)}; with ${RUNNING_TASKS}: ${
        pct(foot.ours.cpu.median)
      } (medians; means ${pct(foot.oursNoTasks.cpu.mean)} and ${pct(foot.ours.cpu.mean)}). ` +
      `${PEER_NAME} waits for its children's exit events and does nothing while they sleep. ` +
      `The idle floor was two timers' wake-ups (measured on an idle server before they changed, ` +
      `in clock ticks of 10 ms over 20 s after a 5 s warm-up: 14 as it ran; 8 without the ` +
      `resources' 1 s check of the task list; 0 with neither timer). The list check now follows ` +
      `the store's changes (Engine.onStoreChange) and the monitor backs off while idle: measured ` +
      `the same way (and as on-CPU time of the server's threads), an idle server went from ` +
      `22–29 ms of CPU (2–3 ticks) to 5.1–5.8 ms (0–1 ticks), one with 200 silent tasks from ` +
      `4–6 ticks to 2–3. Watching the store's files instead (Deno.watchFs on the state ` +
      `directory) would cost nothing while idle but is unsafe: Deno opens and closes each file an ` +
      `event names, which drops the POSIX locks SQLite holds on it in the same process.`,
    [`CPU, ${RUNNING_TASKS} silent tasks vs none`]:
      `The same server with ${RUNNING_TASKS} silent tasks and with none, in one run; the window ` +
      `without tasks starts right after boot, when V8 still compiles and collects. After a 10 s ` +
      `warm-up, 20 s windows measured 22 and 23 clock ticks of CPU with 200 silent tasks and ` +
      `with none. What still grows with the tasks is the safety sweep's look (every 5 s).`,
    ["Exit → blocking call returns"]:
      `Not the exit record: MARK → record takes ${ms(blocking.wrapper.mean)} on average (bash ` +
      `exiting, the wrapper's fork for \`(umask; printf)\` and exec of mv). The other ` +
      `${ms(blocking.server.mean)} of backburner's ${ms(blocking.ours.mean)} (means; both ` +
      `servers' figures include the same ~${(tick / 2).toFixed(0)} ms clock-tick bias) run from ` +
      `the record to the reply: the wrapper shell's own exit reaching Deno (SIGCHLD, then the ` +
      `child's status), the status written to SQLite, wait_for_task woken, and the reply — not ` +
      `broken down further. ${PEER_NAME}'s path is its child's exit event straight to the ` +
      `reply, with nothing recorded: its exit is lost if it dies.`,
  };

  const markdown = [
    "# Benchmarks",
    "",
    "backburner against a reference for each figure: the closest peer MCP server " +
    `([${PEER_PACKAGE}](https://www.npmjs.com/package/${PEER_PACKAGE}) ${PEER_VERSION}, ` +
    "started the same way, through the same MCP client), or the physical limit (the same work " +
    "done by a plain shell, `tail`, or SQL). Regenerate with `deno task bench` (bench/bench.ts; " +
    "about 20 minutes; the first run installs the peer into bench/.peer/; " +
    "`deno task bench --only <group>` re-runs one part and prints it). The RSS after the 300 s " +
    "soak comes from `deno task bench --only soak-rss` (recorded in benchmarks-soak.json), or " +
    "from this run with `--soak`.",
    "",
    `- Date: ${date}`,
    `- Machine: ${host.cores} cores, ${host.cpu}`,
    `- OS: ${host.os}`,
    `- Deno: ${host.deno}; Node (for the peer): ${host.node}`,
    QUICK ? "- **Quick run (--quick): fewer samples, smaller log — not for publishing.**" : "",
    "",
    markdownTable(rows),
    "",
    "![Ratios](benchmarks.svg)",
    "",
    ...extra.flatMap((group) => group.sections.flatMap((section) => [section, ""])),
    "## How each figure is measured",
    "",
    ...notes.map((note) => `- ${note}`),
    "",
    "## Where backburner is behind, and why",
    "",
    ...behind(rows, explanations).map((line) => `- ${line}`),
    "",
  ].filter((line, i, all) => !(line === "" && all[i - 1] === "")).join("\n");

  Deno.mkdirSync(OUT, { recursive: true });
  const mdPath = join(OUT, "BENCHMARKS.md");
  Deno.writeTextFileSync(mdPath, markdown);
  await formatFile(ROOT, mdPath);
  const files: Record<string, string> = {
    "benchmarks.svg": svgChart(rows, subtitle),
    ...Object.assign({}, ...extra.map((group) => group.files)),
  };
  for (const [name, text] of Object.entries(files)) {
    const path = join(OUT, name);
    Deno.writeTextFileSync(path, text);
    await formatFile(ROOT, path);
  }

  console.log(markdownTable(rows));
  log(
    `wrote BENCHMARKS.md, ${Object.keys(files).join(", ")} in ${OUT} (${totalS.toFixed(0)} s)`,
  );
  return 0;
}

/** The figures issue 16 added, each group measured in turn (see GROUPS). */
async function extraGroups(subtitle: string): Promise<GroupReport[]> {
  log(`task_status after 1 KB vs 1 GiB of new output (${STATUS_RUNS} reads each)…`);
  const status = await statusCost(lab, STATUS_RUNS);
  log(`RSS after ${GROWTH_TASKS} tasks…`);
  const growth = await rssGrowth(lab, GROWTH_TASKS);
  let soak: SoakRssResult | null;
  if (SOAK) {
    log(`RSS after a ${SOAK_SECONDS} s soak…`);
    soak = await soakRss(lab, SOAK_SECONDS);
    log(`recorded ${saveSoakRss(OUT, soak)}`);
  } else {
    soak = loadSoakRss(OUT);
  }
  log(`queued task's start after its slot frees (${QUEUE_ROUNDS} rounds each)…`);
  const queue = await queueBench(lab, QUEUE_ROUNDS);
  log(`Slurm submit → completion (${SLURM_RUNS} runs each)…`);
  const slurm = await slurmBench(lab, SLURM_RUNS);
  log(`scale (${SCALE_OPTIONS.levels.join(", ")} working tasks)…`);
  const scale = await scaleBench(lab, SCALE_OPTIONS);
  return [
    statusCostReport(status),
    rssGrowthReport(growth),
    soakRssReport(soak, !SOAK),
    queueReport(queue),
    slurmReport(slurm),
    scaleReport(scale, subtitle),
  ];
}

/** Rounds the figures and leaves out raw series, for printing a group's result. */
function printable(_key: string, value: unknown): unknown {
  if (_key === "mtimes") return undefined;
  return typeof value === "number" && !Number.isInteger(value) ? Number(value.toFixed(3)) : value;
}

function printReport(report: GroupReport): void {
  console.log(markdownTable(report.rows));
  for (const note of report.notes) console.log(`\n- ${note}`);
  for (const section of report.sections) console.log(`\n${section}`);
}

/**
 * Runs one group alone and prints its figures: a group of issue 16 as its rows and notes, an
 * older one as its raw result. Writes no report; soak-rss records its result for the next one.
 */
async function runOnly(group: Group, host: Machine): Promise<number> {
  console.log(`${host.cores} cores, ${host.cpu}; Deno ${host.deno}${QUICK ? " (--quick)" : ""}`);
  log(`--only ${group}: ${GROUPS[group]}…`);
  if (["cold", "start", "tail", "footprint", "exit"].includes(group)) await preparePeer();
  const print = (value: unknown) => console.log(JSON.stringify(value, printable, 2));
  const subtitle = `${host.cores} × ${host.cpu}, Deno ${Deno.version.deno}`;
  switch (group) {
    case "http":
      console.log(httpSummary(await httpBench(lab, HTTP_OPTIONS)));
      break;
    case "cold":
      print(await coldStart());
      break;
    case "start":
      print(await startRoundTrip());
      break;
    case "capture":
      print(await outputCapture());
      break;
    case "tail":
      print(await tailOfLog());
      break;
    case "list":
      print(await listTasks());
      break;
    case "footprint":
      print(await footprint());
      break;
    case "imports":
      print(await importFootprint());
      break;
    case "exit":
      print({
        own: await ownExit(lab),
        adopted: await adoptedExit(lab, ADOPT_COUNT),
        blocking: await blockingExit(
          lab,
          peerEntry
            ? async () =>
              await lab.startPeer(peerEntry!, await lab.dir("backburner-bench-peer-home-"))
            : null,
        ),
      });
      break;
    case "adopt":
      print(await adoptedExit(lab, ADOPT_COUNT));
      break;
    case "growth":
      printReport(rssGrowthReport(await rssGrowth(lab, GROWTH_TASKS)));
      break;
    case "status":
      printReport(statusCostReport(await statusCost(lab, STATUS_RUNS)));
      break;
    case "scale":
      printReport(scaleReport(await scaleBench(lab, SCALE_OPTIONS), subtitle));
      break;
    case "queue":
      printReport(queueReport(await queueBench(lab, QUEUE_ROUNDS)));
      break;
    case "slurm":
      printReport(slurmReport(await slurmBench(lab, SLURM_RUNS)));
      break;
    case "soak-rss": {
      const result = await soakRss(lab, SOAK_SECONDS);
      Deno.mkdirSync(OUT, { recursive: true });
      log(`recorded ${saveSoakRss(OUT, result)}`);
      printReport(soakRssReport(result, false));
      return result.failed === 0 ? 0 : 1;
    }
  }
  return 0;
}

/** The rows where backburner is slower or bigger than its reference, with the measured why. */
function behind(rows: readonly Row[], explanations: Record<string, string>): string[] {
  const lines: string[] = [];
  for (const row of rows) {
    const r = ratio(row);
    // Fewer requests per second is behind; for every other unit, more is.
    if (r === null || (row.unit === "req/s" ? r >= 1 / 1.1 : r <= 1.1)) continue;
    lines.push(
      `**${row.short ?? row.name}** vs ${row.reference}: ${formatRatio(r)} (${
        formatValue(row.ours.median, row.unit)
      } vs ${formatValue(row.ref!.median, row.unit)}). ${explanations[row.short ?? ""] ?? ""}`,
    );
  }
  return lines.length ? lines : ["Nowhere by more than 10 %."];
}

if (import.meta.main) {
  const onSignal = () => void lab.teardown().finally(() => Deno.exit(130));
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let code = 1;
  try {
    code = await main();
  } catch (error) {
    console.error(`bench: failed: ${error instanceof Error ? error.stack : String(error)}`);
  }
  const report = await lab.teardown();
  console.error(
    `bench: teardown: ${report.killed} leftover process(es) killed, ${report.dirsLeft} ` +
      `temporary directories left`,
  );
  Deno.exit(code === 0 && report.dirsLeft === 0 ? 0 : 1);
}
