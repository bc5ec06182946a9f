/**
 * What the benchmark (bench.ts) and the soak test (soak.ts) share: statistics, /proc readings,
 * a run marker that finds every process a run started, the machine description, and a plain MCP
 * client for servers other than backburner.
 *
 * Both scripts run with -A: Deno 2.9 refuses every read under /proc without --allow-all.
 */

import { Client, StdioClientTransport } from "../tests/sdk.ts";
import type { CallToolResult } from "../tests/sdk.ts";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// Statistics.

export interface Stats {
  readonly n: number;
  readonly median: number;
  readonly p95: number;
  readonly p99: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
}

/** Nearest-rank percentile of ascending `sorted`. */
export function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1];
}

export function stats(samples: readonly number[]): Stats {
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

/** `count` values spread evenly over [0, span): one per stratum, in random order. */
export function stratified(count: number, span: number): number[] {
  const values = Array.from({ length: count }, (_, k) => ((k + Math.random()) / count) * span);
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [values[i], values[j]] = [values[j], values[i]];
  }
  return values;
}

// ---------------------------------------------------------------------------------------------
// /proc.

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

/** Resident set size of a process in MiB (VmRSS), or null when it is gone. */
export function rssMiB(pid: number): number | null {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readText(`/proc/${pid}/status`) ?? "");
  return match ? Number(match[1]) / 1024 : null;
}

let clockTicks: number | undefined;

/** USER_HZ, the unit of utime and stime in /proc/PID/stat (100 on Linux x86). */
async function ticksPerSecond(): Promise<number> {
  if (clockTicks === undefined) {
    const text = await runText("getconf", ["CLK_TCK"]);
    const value = Number(text?.trim());
    clockTicks = Number.isFinite(value) && value > 0 ? value : 100;
  }
  return clockTicks;
}

/** CPU time (user + system) a process has used, in ms, or null when it is gone. */
export async function cpuMs(pid: number): Promise<number | null> {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === null) return null;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of stat(5); fields[0] here is field 3 (state).
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks / await ticksPerSecond()) * 1000;
}

/**
 * CPU time a process has used, in ms with ns precision: the sum of its threads' on-CPU time from
 * /proc/PID/task/TID/schedstat (utime and stime count in 10 ms ticks, too coarse for a process
 * that is nearly idle). Threads that already exited are not counted. Null when it is gone.
 */
export function cpuPreciseMs(pid: number): number | null {
  let total = 0;
  try {
    for (const thread of Deno.readDirSync(`/proc/${pid}/task`)) {
      const text = readText(`/proc/${pid}/task/${thread.name}/schedstat`);
      if (text !== null) total += Number(text.split(" ")[0]);
    }
  } catch {
    return null;
  }
  return total / 1e6;
}

/** True while a process runs; a zombie counts as gone. */
export function isAlive(pid: number): boolean {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === null) return false;
  const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  return state !== "Z" && state !== "X";
}

/** Live processes whose environment holds `entry` exactly (e.g. "BACKBURNER_TASK_ID=abc"). */
export function pidsWithEnv(entries: ReadonlySet<string>): Map<number, string> {
  const found = new Map<number, string>();
  for (const dirent of Deno.readDirSync("/proc")) {
    const pid = Number(dirent.name);
    if (!Number.isInteger(pid) || pid === Deno.pid) continue;
    let environ: string;
    try {
      environ = Deno.readTextFileSync(`/proc/${pid}/environ`);
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    for (const item of environ.split("\0")) {
      if (entries.has(item)) {
        if (isAlive(pid)) found.set(pid, item);
        break;
      }
    }
  }
  return found;
}

export function killPid(pid: number): void {
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/**
 * SIGKILLs every live process carrying `entry` in its environment, in rounds until none is left
 * (a dying parent may still fork); returns each killed process as "pid command line".
 */
export async function killAllWith(entry: string): Promise<string[]> {
  const killed: string[] = [];
  for (let round = 0; round < 20; round++) {
    const pids = pidsWithEnv(new Set([entry]));
    if (pids.size === 0) return killed;
    for (const pid of pids.keys()) {
      const command = (readText(`/proc/${pid}/cmdline`) ?? "").split("\0").join(" ").trim();
      killPid(pid);
      killed.push(`${pid} ${command.slice(0, 120)}`);
    }
    await sleep(50);
  }
  return killed;
}

// ---------------------------------------------------------------------------------------------
// Small tools.

export async function runText(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<string | null> {
  try {
    const output = await new Deno.Command(command, {
      args,
      cwd: options.cwd,
      env: options.env,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    return output.success ? new TextDecoder().decode(output.stdout) : null;
  } catch {
    return null;
  }
}

/** A file's mtime in ms since the epoch with ns precision (`stat -c %.9Y`). */
export async function mtimeMs(path: string): Promise<number> {
  const text = await runText("stat", ["-c", "%.9Y", path]);
  const seconds = text === null ? NaN : Number(text.trim());
  if (!(Number.isFinite(seconds) && seconds > 0)) throw new Error(`Cannot stat "${path}"`);
  return seconds * 1000;
}

let wallAnchor = Date.now() - performance.now();

/**
 * Re-anchors wallNow() on the wall clock: waits for Date.now() to tick over to the next whole ms
 * (at most 1 ms) and takes that edge as exact, so the monotonic clock does not drift away from
 * the wall clock the kernel stamps mtimes with.
 */
export function reanchorWallClock(): void {
  const start = Date.now();
  let now = start;
  while (now === start) now = Date.now();
  wallAnchor = now - performance.now();
}

/** Wall-clock ms since the epoch with sub-ms resolution. */
export const wallNow = () => wallAnchor + performance.now();

/**
 * The timer tick file mtimes are quantised to, in ms: the largest common kernel tick (HZ = 100,
 * 250, 300, 500, 1000) modulo which all of them share one phase; 0 when none fits.
 */
export function mtimeTick(mtimes: readonly number[]): number {
  if (mtimes.length < 5) return 0;
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

export interface Machine {
  readonly cores: number;
  readonly cpu: string;
  readonly os: string;
  readonly deno: string;
  readonly node: string;
}

export async function machine(): Promise<Machine> {
  const cpuinfo = readText("/proc/cpuinfo") ?? "";
  const pretty = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(readText("/etc/os-release") ?? "")?.[1];
  const kernel = readText("/proc/sys/kernel/osrelease")?.trim() ?? "unknown kernel";
  const node = (await runText("node", ["--version"]))?.trim() ?? "not installed";
  return {
    cores: navigator.hardwareConcurrency,
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown CPU",
    os: `${pretty ?? Deno.build.os}, Linux ${kernel} (${Deno.build.arch})`,
    deno: `${Deno.version.deno} (V8 ${Deno.version.v8})`,
    node,
  };
}

/** Formats a repository file with the project's settings, so `deno fmt --check` stays clean. */
export async function formatFile(root: string, path: string): Promise<void> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", path],
    cwd: root,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`deno fmt ${path} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
}

export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// A plain MCP client over stdio, for servers that are not backburner (the peer, desktop-commander).

export interface McpProcess {
  readonly client: Client;
  readonly pid: number;
  stderr(): string;
  /** Calls a tool; returns its text content, or throws the text of an isError result. */
  call(name: string, args?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export interface McpProcessOptions {
  readonly command: string;
  readonly args: string[];
  readonly env: Record<string, string>;
  readonly cwd: string;
}

/**
 * Spawns a stdio MCP server and connects the same SDK client the tests use; resolves once the
 * initialize answer has arrived.
 */
export async function startMcpProcess(options: McpProcessOptions): Promise<McpProcess> {
  const transport = new StdioClientTransport({
    command: options.command,
    args: options.args,
    env: options.env,
    cwd: options.cwd,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Uint8Array) => {
    stderr += new TextDecoder().decode(chunk);
  });
  const client = new Client({ name: "backburner-bench", version: "1.0.0" });
  await client.connect(transport);
  const pid = transport.pid;
  if (pid === null) throw new Error(`${options.command} has no pid`);
  return {
    client,
    pid,
    stderr: () => stderr,
    async call(name, args = {}) {
      const result = await client.callTool({ name, arguments: args }) as CallToolResult;
      const text = result.content.map((c) => c.type === "text" ? c.text : "").join("");
      if (result.isError) throw new Error(`${name}: ${text}`);
      return text;
    },
    async close() {
      await client.close().catch(() => {});
      const deadline = Date.now() + 5000;
      while (isAlive(pid) && Date.now() < deadline) await sleep(20);
      if (isAlive(pid)) killPid(pid);
    },
  };
}

/** A scratch directory under the system temp dir. */
export async function scratchDir(prefix: string): Promise<string> {
  return await Deno.makeTempDir({ prefix });
}
