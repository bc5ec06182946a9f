/**
 * Benchmarks backburner end to end: main.ts runs as a subprocess and a real MCP SDK client talks
 * to it over stdio (tests/helpers.ts startServer), exactly as an agent's client would.
 *
 *   deno run --no-prompt --allow-read --allow-write --allow-run --allow-env bench/bench.ts
 *
 * Measures:
 *   1. start_task round trip (command `true`), 200 sequential calls after 5 uncounted warm-ups.
 *   2. Exit-to-visible latency of a task this server started (`sleep 0.3`), 30 runs.
 *   3. Exit-to-visible latency of a task adopted from a server killed with SIGKILL (`sleep 2`),
 *      10 runs.
 *   4. Cold start: process spawn to the initialize answer (startServer returning), 10 runs after
 *      one uncounted warm-up.
 *
 * Prints a plain table and writes it as Markdown to bench/LAST_RUN.md. Every server it starts is
 * stopped and every state directory it makes is removed (tests/helpers.ts cleanup), also on
 * failure and on Ctrl-C.
 *
 * Percentiles are nearest-rank over the sorted samples: with n = 10, p95 is the maximum; with
 * n = 30, p95 is the 29th of 30.
 *
 * What "the task's real exit" means in 2 and 3. The server learns how a task ended only from its
 * exit record, tasks/<id>/exit, which the task's wrapper shell writes (temp file + rename) right
 * after the command exits and right before the wrapper itself exits. So the record's mtime is the
 * earliest moment any server could know the task has ended, and it is written by the task's own
 * process tree, independently of the server under test. Alternatives are worse:
 *   - `sleep 0.3; date +%s%N > MARKER` measures a moment before the command even exits (the
 *     marker is written, then the shell exits, then the record is written), so it would charge
 *     the wrapper's own few milliseconds to the server.
 *   - the reported ended_at is not independent: the engine sets it from the same mtime. The
 *     benchmark checks that it agrees with the mtime and reports the largest difference.
 * Caveat: Linux stamps mtimes from the coarse clock (one timer tick, ~4 ms with HZ=250), so an
 * mtime can be up to one tick earlier than the real write; the latencies below can therefore be
 * overstated by up to that much. The benchmark calibrates this lag on the state directory's file
 * system and prints it next to the results.
 *
 * "First observed" is when the task_status reply saying `completed` arrives at the client. The
 * client polls back to back with a ~2 ms pause, so the observation itself is quantised by about
 * one poll round trip plus 2 ms (the mean poll round trip is reported too).
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

function exitRecordMtime(home: string, taskId: string): number {
  const mtime = Deno.statSync(join(home, "tasks", taskId, "exit")).mtime;
  if (!mtime) throw new Error(`task ${taskId}: the exit record has no mtime`);
  return mtime.getTime();
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
  const deadline = Date.now() + timeoutMs;
  let polls = 0;
  let pollMs = 0;
  for (;;) {
    const sent = performance.now();
    const status = await server.call("task_status", { task_id: taskId });
    const seenAt = Date.now();
    pollMs += performance.now() - sent;
    polls++;
    if (status.status !== "working") return { seenAt, status, polls, pollMs };
    if (seenAt > deadline) throw new Error(`task ${taskId} still working after ${timeoutMs} ms`);
    await sleep(POLL_PAUSE_MS);
  }
}

/**
 * How far a fresh file's mtime lags the wall clock at the moment of the write, on the file system
 * of `dir`: the coarse-clock error in the exit-record timestamps. Positive = mtime is earlier.
 */
async function mtimeLag(dir: string): Promise<Stats> {
  const lags: number[] = [];
  const path = join(dir, "mtime-probe");
  for (let i = 0; i < 200; i++) {
    const before = Date.now();
    await Deno.writeTextFile(path, String(i));
    const after = Date.now();
    const mtime = (await Deno.stat(path)).mtime!.getTime();
    lags.push((before + after) / 2 - mtime);
    await Deno.remove(path);
    if (i % 20 === 0) await sleep(1 + (i % 7)); // spread the probes across the clock tick
  }
  return stats(lags);
}

// ---------------------------------------------------------------------------------------------
// The four measurements.

async function benchStartTask(): Promise<{ rtt: Stats }> {
  const home = await newHome();
  const server = await boot(home);
  try {
    for (let i = 0; i < START_WARMUP; i++) await server.call("start_task", { command: "true" });
    const samples: number[] = [];
    for (let i = 0; i < START_CALLS; i++) {
      const t0 = performance.now();
      await server.call("start_task", { command: "true" });
      samples.push(performance.now() - t0);
    }
    return { rtt: stats(samples) };
  } finally {
    await stop(server);
    await removeHome(home);
  }
}

interface ExitLatency {
  readonly latency: Stats;
  readonly pollRtt: number;
  /** Largest |ended_at - exit record mtime| seen, ms. */
  readonly endedAtSkew: number;
}

async function benchOwnExit(): Promise<ExitLatency> {
  const home = await newHome();
  const server = await boot(home);
  try {
    const samples: number[] = [];
    let polls = 0;
    let pollMs = 0;
    let skew = 0;
    for (let i = 0; i < OWN_RUNS; i++) {
      const started = await server.call("start_task", { command: `sleep ${OWN_SLEEP_S}` });
      const id = started.task_id as string;
      // Idle through most of the sleep, then poll tightly across the exit.
      await sleep(OWN_SLEEP_S * 1000 - 60);
      const seen = await pollUntilEnded(server, id, 10_000);
      if (seen.status.status !== "completed") {
        throw new Error(`task ${id} ended as ${seen.status.status}, not completed`);
      }
      const exitAt = exitRecordMtime(home, id);
      samples.push(seen.seenAt - exitAt);
      skew = Math.max(skew, Math.abs(Date.parse(seen.status.ended_at as string) - exitAt));
      polls += seen.polls;
      pollMs += seen.pollMs;
    }
    return { latency: stats(samples), pollRtt: pollMs / polls, endedAtSkew: skew };
  } finally {
    await stop(server);
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
  let polls = 0;
  let pollMs = 0;
  let skew = 0;
  let lateBoots = 0;
  let unconfirmed = 0;
  for (let i = 0; i < ADOPT_RUNS; i++) {
    const home = await newHome();
    try {
      const a = await boot(home);
      const started = await a.call("start_task", { command: `sleep ${ADOPT_SLEEP_S}` });
      const id = started.task_id as string;
      Deno.kill(a.pid, "SIGKILL");
      await stop(a); // the transport notices the death; nothing is left to close
      const b = await boot(home);
      const readyAt = Date.now();
      try {
        const seen = await pollUntilEnded(b, id, ADOPT_SLEEP_S * 1000 + 10_000);
        if (seen.status.status !== "completed") {
          throw new Error(`adopted task ${id} ended as ${seen.status.status}, not completed`);
        }
        const exitAt = exitRecordMtime(home, id);
        if (readyAt >= exitAt) lateBoots++;
        if (!b.stderr().includes(`adopted task ${id}`)) unconfirmed++;
        margins.push(exitAt - readyAt);
        samples.push(seen.seenAt - exitAt);
        skew = Math.max(skew, Math.abs(Date.parse(seen.status.ended_at as string) - exitAt));
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
    // The first run also creates the state database and may fill Deno's code cache.
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

function plainTable(rows: readonly Row[]): string {
  const header = ["metric (ms)", "n", "median", "p95", "p99", "min", "max"];
  const body = rows.map((r) => [
    r.name,
    String(r.s.n),
    fmt(r.s.median),
    fmt(r.s.p95),
    r.s.n >= 100 ? fmt(r.s.p99) : "-",
    fmt(r.s.min),
    fmt(r.s.max),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((line) => line[c].length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join(
    "\n",
  );
}

function markdownTable(rows: readonly Row[]): string {
  const lines = [
    "| metric (ms) | n | median | p95 | p99 | min | max |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of rows) {
    const p99 = r.s.n >= 100 ? fmt(r.s.p99) : "–";
    lines.push(
      `| ${r.name} | ${r.s.n} | ${fmt(r.s.median)} | ${fmt(r.s.p95)} | ${p99} | ${fmt(r.s.min)} | ${
        fmt(r.s.max)
      } |`,
    );
  }
  return lines.join("\n");
}

function osRelease(): string {
  try {
    return Deno.osRelease();
  } catch {
    // Without --allow-sys=osRelease; the kernel says the same through /proc.
    try {
      return Deno.readTextFileSync("/proc/sys/kernel/osrelease").trim();
    } catch {
      return "unknown";
    }
  }
}

function cpuModel(): string {
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    return /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? "unknown";
  } catch {
    return "unknown";
  }
}

async function main(): Promise<void> {
  const began = performance.now();
  const log = (message: string) => console.error(`bench: ${message}`);

  const probeHome = await newHome();
  const lag = await mtimeLag(probeHome);
  await removeHome(probeHome);

  log(`start_task round trip (${START_CALLS} calls)…`);
  const { rtt } = await benchStartTask();
  log(`exit-to-visible, own task (${OWN_RUNS} runs)…`);
  const own = await benchOwnExit();
  log(`exit-to-visible, adopted task (${ADOPT_RUNS} runs, ~${ADOPT_SLEEP_S + 1} s each)…`);
  const adopted = await benchAdoptedExit();
  log(`cold start (${COLD_RUNS} runs)…`);
  const { cold, warmup } = await benchColdStart();

  const rows: Row[] = [
    { name: "start_task round trip (`true`)", s: rtt },
    { name: `exit → visible, own task (\`sleep ${OWN_SLEEP_S}\`)`, s: own.latency },
    { name: `exit → visible, adopted task (\`sleep ${ADOPT_SLEEP_S}\`)`, s: adopted.latency },
    { name: "cold start: spawn → initialize answer", s: cold },
  ];

  const totalS = (performance.now() - began) / 1000;
  const machine = {
    os: `${Deno.build.os} ${osRelease()} (${Deno.build.arch})`,
    cpus: `${navigator.hardwareConcurrency} × ${cpuModel()}`,
    deno: `${Deno.version.deno} (V8 ${Deno.version.v8})`,
  };
  const notes = [
    `Exit time = mtime of the task's exit record; ended_at agreed with it within ` +
    `${fmt(Math.max(own.endedAtSkew, adopted.endedAtSkew))} ms. File mtimes here lag the wall ` +
    `clock by ${fmt(lag.median)} ms median (max ${fmt(lag.max)} ms), so exit latencies may be ` +
    `overstated by about that much.`,
    `Polling: task_status every ~${POLL_PAUSE_MS} ms; mean poll round trip ${
      fmt(own.pollRtt)
    } ms (own), ${fmt(adopted.pollRtt)} ms (adopted).`,
    `Adopted tasks are not children of server B, so B sees their exit only on its monitor tick ` +
    `(every ${ENGINE_MONITOR_MS} ms by default): expect roughly uniform latency over 0–` +
    `${ENGINE_MONITOR_MS} ms, median ≈ ${ENGINE_MONITOR_MS / 2} ms. Measured mean ${
      fmt(adopted.latency.mean)
    } ms, max ${fmt(adopted.latency.max)} ms.`,
    `Adoption runs: server B was ready ${fmt(adopted.margin.min)}–${
      fmt(adopted.margin.max)
    } ms before the task exited; ${adopted.lateBoots} run(s) booted too late, ` +
    `${adopted.unconfirmedAdoptions} run(s) without "adopted task" on B's stderr.`,
    `Cold start warm-up run (uncounted, creates the state database): ${fmt(warmup)} ms.`,
    `Percentiles are nearest-rank; p95 of 10 samples is their maximum.`,
    `Total benchmark time: ${totalS.toFixed(1)} s.`,
  ];

  console.log(plainTable(rows));
  console.log();
  console.log(`machine: ${machine.os}; ${machine.cpus}; Deno ${machine.deno}`);
  for (const note of notes) console.log(`- ${note}`);

  const markdown = [
    "# backburner benchmark: last run",
    "",
    `- Date: ${new Date().toISOString()}`,
    `- OS: ${machine.os}`,
    `- CPUs: ${machine.cpus}`,
    `- Deno: ${machine.deno}`,
    "- Command: `deno task bench` (bench/bench.ts)",
    "",
    markdownTable(rows),
    "",
    ...notes.map((note) => `- ${note}`),
    "",
  ].join("\n");
  await Deno.writeTextFile(join(ROOT, "bench", "LAST_RUN.md"), markdown);
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
  if (left > 0 || dirs.length > 0) failed = true;
  Deno.exit(failed ? 1 : 0);
}
