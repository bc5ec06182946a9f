/**
 * Benchmarks backburner end to end: main.ts runs as a subprocess and a real MCP SDK client talks
 * to it over stdio (tests/helpers.ts startServer), exactly as an agent's client would.
 *
 *   deno run --no-prompt --allow-read --allow-write --allow-run --allow-env bench/bench.ts
 *
 * Measures:
 *   1. start_task round trip (command `true`), 200 sequential calls after 5 uncounted warm-ups.
 *   2. Exit-to-visible latency of a task this server started (`sleep 0.3`), 30 runs.
 *   3. Exit-to-visible latency of a task adopted from a server killed with SIGKILL (`sleep 2` plus
 *      a jitter, see below), 10 runs, each on a fresh state directory.
 *   4. Cold start: process spawn to the initialize answer (startServer returning), 10 runs after
 *      one uncounted warm-up.
 *
 * Prints a plain table and writes it as Markdown to bench/LAST_RUN.md. Every server it starts is
 * stopped and every state directory it makes is removed (tests/helpers.ts cleanup), also on
 * failure and on Ctrl-C; at the end it checks with `ps` that nothing of its own is left.
 *
 * Percentiles are nearest-rank over the sorted samples: with n = 10, p95 is the maximum; with
 * n = 30, p95 is the 29th of 30.
 *
 * What "the task's real exit" means in 2 and 3. The server learns how a task ended only from its
 * exit record, tasks/<id>/exit, which the task's wrapper shell writes (temp file + rename) right
 * after the command exits and right before the wrapper itself exits. So the record's mtime is the
 * earliest moment any server could know the task has ended, and it is stamped by the kernel for
 * the task's own process tree, independently of the server under test. Alternatives are worse:
 *   - `sleep 0.3; date +%s%N > MARKER` stamps a moment before the command even exits (marker,
 *     then shell exit, then the wrapper's fork + write + rename), so it would charge the wrapper's
 *     own milliseconds to the server.
 *   - the reported ended_at is not independent: the engine copies it from the same mtime (in
 *     whole ms). The benchmark only checks that it agrees.
 * The mtime is read with nanoseconds (`stat -c %.9Y`; Deno's FileInfo has whole ms only).
 * Caveat: Linux may stamp mtimes from its coarse clock, which advances once per timer tick (4 ms
 * at HZ=250), so the real write happened up to one tick after the mtime and the latencies are
 * overstated by half a tick on average. The benchmark detects the tick from the mtimes (they all
 * share one phase modulo the tick) and reports it next to the results; it does not correct for it.
 *
 * "First observed" is when the task_status reply saying `completed` arrives at the client, on a
 * wall clock with sub-ms resolution (performance.now() anchored to a Date.now() tick edge just
 * before each run). The client polls back to back with a ~2 ms pause, so the observation itself
 * is late by up to about one poll round trip plus 2 ms (the mean poll round trip is reported).
 *
 * Adopted tasks (3) are not the new server's children, so it can only notice their exit on its
 * periodic monitor tick. Were every run timed identically, the exit would always fall at the same
 * phase of that tick and the benchmark would report one arbitrary point of the interval. So each
 * run's sleep gets a jitter spread evenly (stratified, shuffled) over one monitor interval, and
 * the samples cover the phases an agent meets in practice.
 */

import { join } from "node:path";
import { cleanup, ROOT, type ServerHandle, startServer, tempDir } from "../tests/helpers.ts";

const START_CALLS = 200;
const START_WARMUP = 5;
const OWN_RUNS = 30;
const OWN_SLEEP_S = 0.3;
const ADOPT_RUNS = 10;
const ADOPT_SLEEP_S = 2;
const COLD_RUNS = 10;
const POLL_PAUSE_MS = 2;
/** The engine's default monitor interval (EngineOptions.monitorIntervalMs; main.ts sets none). */
const ENGINE_MONITOR_MS = 500;

// ---------------------------------------------------------------------------------------------
// Resources: every server and state directory is tracked and torn down, whatever happens.
//
// Deno 2.9 wants --allow-all for any read under /proc, and the bench runs with plain
// --allow-read, so helpers' cleanup() (which scans /proc for task processes) throws NotCapable
// and helpers' isAlive() always answers false. Then the same job is done with `ps` (needs only
// --allow-run): every process of a bench state directory carries BACKBURNER_HOME=<dir> in its
// environment (servers get it from startServer, tasks inherit it from their server), and tasks
// also carry BACKBURNER_TASK_ID=<id>.

const servers = new Set<ServerHandle>();
const homes = new Set<string>();
/** Every state directory ever made, for the final check that nothing of ours is left running. */
const allHomes = new Set<string>();

async function newHome(): Promise<string> {
  const home = await tempDir("backburner-bench-");
  homes.add(home);
  allHomes.add(home);
  return home;
}

async function boot(home: string): Promise<ServerHandle> {
  const server = await startServer(home);
  servers.add(server);
  return server;
}

interface PsEntry {
  readonly pid: number;
  readonly zombie: boolean;
  /** Arguments and environment, split on white space. */
  readonly words: ReadonlySet<string>;
}

/** Every process of this user, with its environment (procps `ps e`). */
async function psWithEnvironment(): Promise<PsEntry[]> {
  const output = await new Deno.Command("ps", {
    args: ["-e", "-ww", "-o", "pid=", "-o", "stat=", "-o", "args=", "e"],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  const entries: PsEntry[] = [];
  for (const line of new TextDecoder().decode(output.stdout).split("\n")) {
    const [pid, stat, ...rest] = line.trim().split(/\s+/);
    if (!pid || !stat) continue;
    entries.push({ pid: Number(pid), zombie: stat.startsWith("Z"), words: new Set(rest) });
  }
  return entries.filter((entry) => entry.pid !== Deno.pid);
}

/** Live processes (servers and tasks) belonging to a bench state directory. */
async function processesOf(home: string): Promise<number[]> {
  let ids: string[] = [];
  try {
    ids = [...Deno.readDirSync(join(home, "tasks"))].map((entry) => entry.name);
  } catch {
    // no tasks folder (yet, or any more)
  }
  const marks = [`BACKBURNER_HOME=${home}`, ...ids.map((id) => `BACKBURNER_TASK_ID=${id}`)];
  return (await psWithEnvironment())
    .filter((entry) => !entry.zombie && marks.some((mark) => entry.words.has(mark)))
    .map((entry) => entry.pid);
}

function kill(pid: number): void {
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    // gone meanwhile
  }
}

async function stop(server: ServerHandle): Promise<void> {
  servers.delete(server);
  try {
    await server.close();
  } catch {
    kill(server.pid);
  }
}

async function removeHome(home: string): Promise<void> {
  homes.delete(home);
  try {
    await cleanup(home);
    return;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
  }
  for (const pid of await processesOf(home)) kill(pid);
  await Deno.remove(home, { recursive: true }).catch(() => {});
}

let tornDown: Promise<void> | undefined;

function teardown(): Promise<void> {
  tornDown ??= (async () => {
    for (const server of [...servers]) await stop(server).catch(() => {});
    for (const home of [...homes]) await removeHome(home).catch(() => {});
  })();
  return tornDown;
}

/** Processes of any bench state directory still alive after teardown (killed, and counted). */
async function leftovers(): Promise<number> {
  let count = 0;
  for (const home of allHomes) {
    for (const pid of await processesOf(home)) {
      kill(pid);
      count++;
    }
  }
  return count;
}

// ---------------------------------------------------------------------------------------------
// Small tools.

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let wallAnchor = Date.now() - performance.now();

/**
 * Re-anchors wallNow() on the wall clock: waits for Date.now() to tick over to the next whole ms
 * (at most 1 ms) and takes that edge as exact. Keeps the monotonic clock from drifting away from
 * the wall clock the kernel stamps mtimes with.
 */
function reanchorWallClock(): void {
  const start = Date.now();
  let now = start;
  while (now === start) now = Date.now();
  wallAnchor = now - performance.now();
}

/** Wall-clock ms since the epoch with sub-ms resolution. */
const wallNow = () => wallAnchor + performance.now();

interface Stats {
  readonly n: number;
  readonly median: number;
  readonly p95: number;
  readonly p99: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
}

/** Nearest-rank percentile of ascending `sorted`. */
function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1];
}

function stats(samples: readonly number[]): Stats {
  if (samples.length === 0) throw new Error("no samples");
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    min: sorted[0],
    max: sorted[sorted.length - 1],
    mean: sorted.reduce((sum, x) => sum + x, 0) / sorted.length,
  };
}

async function runText(command: string, args: string[]): Promise<string | null> {
  try {
    const output = await new Deno.Command(command, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    return output.success ? new TextDecoder().decode(output.stdout) : null;
  } catch {
    return null;
  }
}

/** Whether exit times have ns precision (false: `stat` failed, Deno's whole ms were used). */
let preciseMtimes = true;

/** The mtime of a task's exit record, in ms since the epoch with ns precision. */
async function exitRecordTime(home: string, taskId: string): Promise<number> {
  const path = join(home, "tasks", taskId, "exit");
  const text = await runText("stat", ["-c", "%.9Y", path]);
  const seconds = text === null ? NaN : Number(text.trim());
  if (Number.isFinite(seconds) && seconds > 0) return seconds * 1000;
  preciseMtimes = false;
  const mtime = Deno.statSync(path).mtime;
  if (!mtime) throw new Error(`task ${taskId}: its exit record has no mtime`);
  return mtime.getTime();
}

/**
 * The timer tick the mtimes are quantised to, in ms: the largest common kernel tick (HZ = 100,
 * 250, 300, 500, 1000) modulo which all of them share one phase; 0 when none fits (fine-grained
 * timestamps) or the mtimes are not precise enough to tell.
 */
function mtimeTick(mtimes: readonly number[]): number {
  if (!preciseMtimes || mtimes.length < 5) return 0;
  for (const tick of [10, 4, 1000 / 300, 2, 1]) {
    const phase = (m: number) => ((m % tick) + tick) % tick;
    const first = phase(mtimes[0]);
    const same = mtimes.every((m) => {
      const d = Math.abs(phase(m) - first);
      return Math.min(d, tick - d) < 0.01;
    });
    if (same) return tick;
  }
  return 0;
}

interface Observation {
  /** Wall-clock ms when the first non-working task_status reply arrived. */
  readonly seenAt: number;
  readonly status: Record<string, unknown>;
  readonly polls: number;
  /** Sum of the round trips of those polls, ms. */
  readonly pollMs: number;
}

/** Polls task_status back to back (POLL_PAUSE_MS apart) until the task leaves "working". */
async function pollUntilEnded(
  server: ServerHandle,
  taskId: string,
  timeoutMs: number,
): Promise<Observation> {
  reanchorWallClock();
  const deadline = performance.now() + timeoutMs;
  let polls = 0;
  let pollMs = 0;
  for (;;) {
    const sent = performance.now();
    const status = await server.call("task_status", { task_id: taskId });
    const seenAt = wallNow();
    pollMs += performance.now() - sent;
    polls++;
    if (status.status !== "working") return { seenAt, status, polls, pollMs };
    if (performance.now() > deadline) {
      throw new Error(`task ${taskId} still working after ${timeoutMs} ms`);
    }
    await sleep(POLL_PAUSE_MS);
  }
}

/** Checks the final status; returns |ended_at − mtime| in ms (ended_at has whole ms). */
function checkEnded(seen: Observation, taskId: string, exitAt: number): number {
  if (seen.status.status !== "completed") {
    throw new Error(`task ${taskId} ended as ${seen.status.status}, not completed`);
  }
  return Math.abs(Date.parse(seen.status.ended_at as string) - Math.floor(exitAt));
}

/** `count` values spread evenly over [0, span): one per stratum, in random order. */
function stratified(count: number, span: number): number[] {
  const values = Array.from({ length: count }, (_, k) => ((k + Math.random()) / count) * span);
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [values[i], values[j]] = [values[j], values[i]];
  }
  return values;
}

// ---------------------------------------------------------------------------------------------
// The four measurements.

async function benchStartTask(): Promise<Stats> {
  const home = await newHome();
  try {
    const server = await boot(home);
    try {
      for (let i = 0; i < START_WARMUP; i++) await server.call("start_task", { command: "true" });
      const samples: number[] = [];
      for (let i = 0; i < START_CALLS; i++) {
        const t0 = performance.now();
        await server.call("start_task", { command: "true" });
        samples.push(performance.now() - t0);
      }
      return stats(samples);
    } finally {
      await stop(server);
    }
  } finally {
    await removeHome(home);
  }
}

interface ExitLatency {
  readonly latency: Stats;
  readonly pollRtt: number;
  /** Largest |ended_at − exit record mtime| seen, ms. */
  readonly endedAtSkew: number;
  /** The exit records' mtimes, for finding the clock tick. */
  readonly mtimes: number[];
}

async function benchOwnExit(): Promise<ExitLatency> {
  const home = await newHome();
  try {
    const server = await boot(home);
    try {
      const samples: number[] = [];
      const mtimes: number[] = [];
      let polls = 0;
      let pollMs = 0;
      let skew = 0;
      for (let i = 0; i < OWN_RUNS; i++) {
        const started = await server.call("start_task", { command: `sleep ${OWN_SLEEP_S}` });
        const id = started.task_id as string;
        // Idle through most of the sleep, then poll tightly across the exit.
        await sleep(OWN_SLEEP_S * 1000 - 60);
        const seen = await pollUntilEnded(server, id, 10_000);
        const exitAt = await exitRecordTime(home, id);
        skew = Math.max(skew, checkEnded(seen, id, exitAt));
        samples.push(seen.seenAt - exitAt);
        mtimes.push(exitAt);
        polls += seen.polls;
        pollMs += seen.pollMs;
      }
      return { latency: stats(samples), pollRtt: pollMs / polls, endedAtSkew: skew, mtimes };
    } finally {
      await stop(server);
    }
  } finally {
    await removeHome(home);
  }
}

interface AdoptLatency extends ExitLatency {
  /** Runs whose task exited before server B answered initialize (adoption not exercised live). */
  readonly lateBoots: number;
  /** Runs where B's stderr did not mention adopting the task. */
  readonly unconfirmedAdoptions: number;
  /** Spare time between B being ready and the task's exit, ms. */
  readonly margin: Stats;
}

async function benchAdoptedExit(): Promise<AdoptLatency> {
  const samples: number[] = [];
  const margins: number[] = [];
  const mtimes: number[] = [];
  let polls = 0;
  let pollMs = 0;
  let skew = 0;
  let lateBoots = 0;
  let unconfirmed = 0;
  const jitters = stratified(ADOPT_RUNS, ENGINE_MONITOR_MS);
  for (const jitter of jitters) {
    const home = await newHome();
    try {
      const a = await boot(home);
      const seconds = (ADOPT_SLEEP_S + jitter / 1000).toFixed(3);
      const started = await a.call("start_task", { command: `sleep ${seconds}` });
      const id = started.task_id as string;
      Deno.kill(a.pid, "SIGKILL");
      await stop(a); // the transport has seen the process die: nothing is left to close
      const b = await boot(home);
      const readyAt = Date.now();
      try {
        const seen = await pollUntilEnded(b, id, ADOPT_SLEEP_S * 1000 + 10_000);
        const exitAt = await exitRecordTime(home, id);
        skew = Math.max(skew, checkEnded(seen, id, exitAt));
        if (readyAt >= exitAt) lateBoots++;
        if (!b.stderr().includes(`adopted task ${id}`)) unconfirmed++;
        margins.push(exitAt - readyAt);
        samples.push(seen.seenAt - exitAt);
        mtimes.push(exitAt);
        polls += seen.polls;
        pollMs += seen.pollMs;
      } finally {
        await stop(b);
      }
    } finally {
      await removeHome(home);
    }
  }
  return {
    latency: stats(samples),
    pollRtt: pollMs / polls,
    endedAtSkew: skew,
    mtimes,
    lateBoots,
    unconfirmedAdoptions: unconfirmed,
    margin: stats(margins),
  };
}

async function benchColdStart(): Promise<{ cold: Stats; warmup: number }> {
  const home = await newHome();
  try {
    const time = async () => {
      const t0 = performance.now();
      const server = await boot(home);
      const ms = performance.now() - t0;
      await stop(server);
      return ms;
    };
    // The first run also creates the state database.
    const warmup = await time();
    const samples: number[] = [];
    for (let i = 0; i < COLD_RUNS; i++) samples.push(await time());
    return { cold: stats(samples), warmup };
  } finally {
    await removeHome(home);
  }
}

// ---------------------------------------------------------------------------------------------
// Report.

interface Row {
  readonly name: string;
  readonly s: Stats;
}

const fmt = (ms: number) => ms.toFixed(ms < 10 ? 2 : 1);

function cells(r: Row, none: string): string[] {
  return [
    r.name,
    String(r.s.n),
    fmt(r.s.median),
    fmt(r.s.p95),
    r.s.n >= 100 ? fmt(r.s.p99) : none,
    fmt(r.s.min),
    fmt(r.s.max),
  ];
}

const HEADER = ["metric (ms)", "n", "median", "p95", "p99", "min", "max"];

function plainTable(rows: readonly Row[]): string {
  const body = rows.map((r) => cells(r, "-"));
  const widths = HEADER.map((h, c) => Math.max(h.length, ...body.map((line) => line[c].length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])).join("  ");
  return [line(HEADER), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join(
    "\n",
  );
}

function markdownTable(rows: readonly Row[]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [
    line(HEADER),
    line(HEADER.map((_, c) => c === 0 ? "---" : "---:")),
    ...rows.map((r) => line(cells(r, "–"))),
  ].join("\n");
}

/** Reads a /proc file: directly with --allow-all, else through `cat` (Deno 2.9 gates /proc). */
async function readProc(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return await runText("cat", [path]);
  }
}

async function machine() {
  let release: string;
  try {
    release = Deno.osRelease(); // needs --allow-sys=osRelease
  } catch {
    release = (await readProc("/proc/sys/kernel/osrelease"))?.trim() ?? "unknown";
  }
  const cpuinfo = await readProc("/proc/cpuinfo") ?? "";
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown CPU";
  return {
    os: `${Deno.build.os} ${release} (${Deno.build.arch})`,
    cpus: `${navigator.hardwareConcurrency} × ${model}`,
    deno: `${Deno.version.deno} (V8 ${Deno.version.v8})`,
  };
}

async function main(): Promise<void> {
  const began = performance.now();
  const log = (message: string) => console.error(`bench: ${message}`);

  log(`start_task round trip (${START_CALLS} calls)…`);
  const rtt = await benchStartTask();
  log(`exit-to-visible, own task (${OWN_RUNS} runs)…`);
  const own = await benchOwnExit();
  log(`exit-to-visible, adopted task (${ADOPT_RUNS} runs, ~3 s each)…`);
  const adopted = await benchAdoptedExit();
  log(`cold start (${COLD_RUNS} runs)…`);
  const { cold, warmup } = await benchColdStart();

  const rows: Row[] = [
    { name: "start_task round trip (`true`)", s: rtt },
    { name: `exit → visible, own task (\`sleep ${OWN_SLEEP_S}\`)`, s: own.latency },
    { name: `exit → visible, adopted task (\`sleep ${ADOPT_SLEEP_S}+j\`)`, s: adopted.latency },
    { name: "cold start: spawn → initialize answer", s: cold },
  ];

  const tick = mtimeTick([...own.mtimes, ...adopted.mtimes]);
  const host = await machine();
  const totalS = (performance.now() - began) / 1000;
  const notes = [
    `Exit time = mtime of the task's exit record (${
      preciseMtimes ? "ns precision" : "whole ms: `stat -c %.9Y` failed"
    }); the reported ended_at agreed with it within ${
      fmt(
        Math.max(own.endedAtSkew, adopted.endedAtSkew),
      )
    } ms.`,
    tick > 0
      ? `All ${
        own.mtimes.length + adopted.mtimes.length
      } exit-record mtimes share one phase modulo ${fmt(tick)} ms: the kernel stamps them ` +
        `from its coarse clock, so each real exit was 0–${fmt(tick)} ms after its mtime and the ` +
        `exit latencies above are overstated by ~${fmt(tick / 2)} ms on average (not corrected).`
      : `The exit-record mtimes show no common clock tick (fine-grained timestamps, or too ` +
        `imprecise to tell); no coarse-clock bias is expected.`,
    `Polling: task_status every ~${POLL_PAUSE_MS} ms; mean poll round trip ${
      fmt(own.pollRtt)
    } ms (own), ${fmt(adopted.pollRtt)} ms (adopted), so an observation is late by up to ~${
      fmt(Math.max(own.pollRtt, adopted.pollRtt) + POLL_PAUSE_MS)
    } ms.`,
    `Adopted: the task is not server B's child, so B sees its exit only on its monitor tick ` +
    `(every ${ENGINE_MONITOR_MS} ms by default; main.ts sets no other), and each run's sleep had ` +
    `a jitter spread over 0–${ENGINE_MONITOR_MS} ms so the exit fell at a different phase of ` +
    `that tick: a latency uniform over 0–${ENGINE_MONITOR_MS} ms would have median ` +
    `≈ ${ENGINE_MONITOR_MS / 2} ms. Measured: mean ${fmt(adopted.latency.mean)} ms, ` +
    `min ${fmt(adopted.latency.min)} ms, max ${fmt(adopted.latency.max)} ms.`,
    `Adoption runs: server B answered initialize ${fmt(adopted.margin.min)}–${
      fmt(adopted.margin.max)
    } ms before the task exited; ${adopted.lateBoots} run(s) booted too late, ` +
    `${adopted.unconfirmedAdoptions} run(s) without "adopted task" on B's stderr.`,
    `Cold start: one uncounted warm-up run first (it also creates the state database): ` +
    `${
      fmt(warmup)
    } ms. Each run is a new \`deno run main.ts\` process on the same state directory.`,
    `Percentiles are nearest-rank; p95 of 10 samples is their maximum.`,
    `Total benchmark time: ${totalS.toFixed(1)} s.`,
  ];

  console.log(plainTable(rows));
  console.log();
  console.log(`machine: ${host.os}; ${host.cpus}; Deno ${host.deno}`);
  for (const note of notes) console.log(`- ${note}`);

  const markdown = [
    "# backburner benchmark: last run",
    "",
    `- Date: ${new Date().toISOString()}`,
    `- OS: ${host.os}`,
    `- CPUs: ${host.cpus}`,
    `- Deno: ${host.deno}`,
    "- Command: `deno task bench` (bench/bench.ts)",
    "",
    markdownTable(rows),
    "",
    ...notes.map((note) => `- ${note}`),
    "",
  ].join("\n");
  const report = join(ROOT, "bench", "LAST_RUN.md");
  await Deno.writeTextFile(report, markdown);
  // Formatted with the project's settings, so that `deno fmt --check` stays clean.
  const fmtRun = await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", report],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!fmtRun.success) {
    log(`deno fmt of LAST_RUN.md failed: ${new TextDecoder().decode(fmtRun.stderr)}`);
  }
  log(`wrote bench/LAST_RUN.md`);
}

if (import.meta.main) {
  const onInterrupt = () => void teardown().finally(() => Deno.exit(130));
  Deno.addSignalListener("SIGINT", onInterrupt);
  let failed = false;
  try {
    await main();
  } catch (error) {
    failed = true;
    console.error(`bench: failed: ${error instanceof Error ? error.stack : String(error)}`);
  } finally {
    await teardown();
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
  const left = await leftovers().catch((error) => {
    console.error(`bench: could not check for leftover processes: ${error}`);
    return 0;
  });
  const dirs = [...allHomes].filter((home) => {
    try {
      Deno.statSync(home);
      return true;
    } catch {
      return false;
    }
  });
  console.error(
    `bench: teardown: ${left} leftover process(es) had to be killed, ${dirs.length} of ` +
      `${allHomes.size} state directories still exist`,
  );
  Deno.exit(failed || left > 0 || dirs.length > 0 ? 1 : 0);
}
