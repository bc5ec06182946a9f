/**
 * Spawning task processes, finding them again, and stopping them: the only module (with its
 * Windows half, process_windows.ts) that touches Deno.Command and Deno.kill.
 */
import { listWindowsProcesses, spawnWindows, taskkill } from "./process_windows.ts";

const isWindows = Deno.build.os === "windows";

/** Environment variable every process of a task inherits; finds the tree even after setsid. */
export const TASK_MARKER = "BACKBURNER_TASK_ID";

// The wrapper runs the command with its output redirected to the log by the shell itself (the
// server is not in the data path, so output survives the server), waits, and records the exit
// code atomically (temp file + rename) so a later server can read it. Catching TERM/INT/HUP with a
// no-op handler (not ignoring them, which children would inherit) keeps the wrapper alive until
// its command has ended. stdin is a file of the given text, or /dev/null, so nothing waits on a
// terminal. Once the command has ended, those signals are ignored, which the record writer (a
// subshell and mv) inherits: a stop that comes as the command ends cannot lose its record.
const WRAPPER = `trap : TERM INT HUP
if command -v bash >/dev/null 2>&1; then shell=bash; else shell=sh; fi
"$shell" -c "$1" >>"$2" 2>&1 <"$4"
code=$?
trap '' TERM INT HUP
(umask 077 && printf '%s\\n' "$code" >"$3.tmp") && mv -f "$3.tmp" "$3"
exit "$code"`;

export interface SpawnRequest {
  readonly taskId: string;
  readonly command: string;
  /** Working directory; undefined runs in the server's own. */
  readonly cwd: string | undefined;
  readonly logPath: string;
  readonly exitPath: string;
  /** File to feed to stdin; default /dev/null. */
  readonly stdinPath?: string;
  /** Extra environment variables. */
  readonly env?: Record<string, string>;
}

/** How the wrapper process ended, as its parent saw it. */
export interface WrapperExit {
  /** The wrapper's exit code, which is its command's; null when a signal killed the wrapper. */
  readonly code: number | null;
  readonly signal: string | null;
}

export interface SpawnedTask {
  readonly pid: number;
  /** Settles when the wrapper has exited (its exit record is written by then, if it could be). */
  readonly exited: Promise<WrapperExit>;
}

/**
 * Starts the command in a new session (pid = process group id). Throws Deno.errors.NotFound when
 * the cwd does not exist or is not a directory.
 */
export function spawnTask(request: SpawnRequest): SpawnedTask {
  if (isWindows) return spawnWindows(request, TASK_MARKER);
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      WRAPPER,
      "backburner",
      request.command,
      request.logPath,
      request.exitPath,
      request.stdinPath ?? "/dev/null",
    ],
    cwd: request.cwd,
    env: { ...request.env, [TASK_MARKER]: request.taskId },
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  // The task must not keep the server alive, nor die with it.
  child.unref();
  return { pid: child.pid, exited: child.status.then(wrapperExit) };
}

/** Only an exit by itself carries the command's code; a killed wrapper's code means nothing. */
export function wrapperExit(status: Deno.CommandStatus): WrapperExit {
  return status.signal === null
    ? { code: status.code, signal: null }
    : { code: null, signal: status.signal };
}

export interface ExitRecord {
  readonly code: number;
  /** When the record was written (its mtime), in ms since the epoch. */
  readonly at: number;
}

/** The exit record a wrapper left, or null when it left none (yet). */
export function readExitRecord(path: string): ExitRecord | null {
  let text: string;
  let at: number;
  try {
    text = Deno.readTextFileSync(path);
    at = Deno.statSync(path).mtime?.getTime() ?? Date.now();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  const code = Number.parseInt(text.trim(), 10);
  return Number.isInteger(code) ? { code, at } : null;
}

export interface ProcessEntry {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  /** Zombies have exited; only their parent's wait is missing. */
  readonly zombie: boolean;
  /** Opaque start time: with the pid, it identifies a process across pid reuse. */
  readonly startTime: string;
  /** The task this process belongs to by its inherited marker, when the platform shows it. */
  readonly taskId: string | null;
}

const hasProc = Deno.build.os === "linux";
/** Where the table shows each process's task marker; elsewhere the group and parents decide. */
const hasMarkers = hasProc || Deno.build.os === "darwin";

// Deno refuses every read of /proc without --allow-all, so a narrowly permitted server reads it
// through one short shell pipeline: all stat lines, then the marker of every process that has one.
const PROC_SNAPSHOT = `cat /proc/[0-9]*/stat 2>/dev/null
printf '\\0--\\0'
grep -a -s -z -o '^${TASK_MARKER}=[a-z0-9]*' /proc/[0-9]*/environ
true`;

async function run(command: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(output.stdout);
}

function parseProcSnapshot(text: string): ProcessEntry[] {
  const split = text.indexOf("\0--\0");
  const stats = text.slice(0, split === -1 ? text.length : split);
  const markers = new Map<number, string>();
  if (split !== -1) {
    for (const record of text.slice(split + 4).split("\0")) {
      // "/proc/123/environ:BACKBURNER_TASK_ID=abc"
      const match = /^\/proc\/(\d+)\/environ:[A-Z_]+=(.*)$/.exec(record);
      if (match) markers.set(Number(match[1]), match[2]);
    }
  }
  const entries: ProcessEntry[] = [];
  for (const line of stats.split("\n")) {
    // The command name (field 2) is in parentheses and may itself hold spaces and parentheses.
    const close = line.lastIndexOf(")");
    if (close === -1) continue;
    const pid = Number.parseInt(line, 10);
    const fields = line.slice(close + 2).split(" ");
    if (!Number.isInteger(pid) || fields.length < 20) continue;
    entries.push({
      pid,
      ppid: Number(fields[1]),
      pgid: Number(fields[2]),
      zombie: fields[0] === "Z" || fields[0] === "X",
      startTime: fields[19],
      taskId: markers.get(pid) ?? null,
    });
  }
  return entries;
}

const MARKER_WORD = new RegExp(`(?:^|\\s)${TASK_MARKER}=([a-z0-9]+)(?:\\s|$)`);

/** `ps` output of pid, ppid, pgid, stat, lstart (five words), then the command and, with -E, the environment. */
function parsePs(text: string): ProcessEntry[] {
  const entries: ProcessEntry[] = [];
  for (const line of text.split("\n")) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 9) continue;
    const rest = parts.slice(9).join(" ");
    entries.push({
      pid: Number(parts[0]),
      ppid: Number(parts[1]),
      pgid: Number(parts[2]),
      zombie: parts[3].startsWith("Z"),
      startTime: parts.slice(4, 9).join(" "),
      taskId: MARKER_WORD.exec(rest)?.[1] ?? null,
    });
  }
  return entries;
}

/** One look at every process on the machine, with what is needed to find a task's tree. */
export class ProcessTable {
  readonly entries: readonly ProcessEntry[];
  readonly #byPid: Map<number, ProcessEntry>;

  constructor(entries: readonly ProcessEntry[]) {
    this.entries = entries;
    this.#byPid = new Map(entries.map((entry) => [entry.pid, entry]));
  }

  /** Takes a snapshot: /proc on Linux, ps elsewhere (where markers are not visible). */
  static async read(): Promise<ProcessTable> {
    if (isWindows) return new ProcessTable(await listWindowsProcesses());
    if (hasProc) return new ProcessTable(parseProcSnapshot(await run("sh", ["-c", PROC_SNAPSHOT])));
    // macOS: -E shows each process's environment after its command, and with it the marker.
    const args = ["-A", "-ww", "-o", "pid=,ppid=,pgid=,stat=,lstart=,command="];
    return new ProcessTable(
      parsePs(await run("ps", Deno.build.os === "darwin" ? ["-E", ...args] : args)),
    );
  }

  get(pid: number): ProcessEntry | undefined {
    return this.#byPid.get(pid);
  }

  /** True when a process with this pid and start time runs (a zombie counts as gone). */
  isAlive(pid: number, startTime: string): boolean {
    const entry = this.#byPid.get(pid);
    return entry !== undefined && !entry.zombie && entry.startTime === startTime;
  }

  /**
   * The live processes of a task: those carrying its marker (which a setsid'd descendant keeps),
   * those in its process group where markers are not visible, and every descendant of either.
   */
  tree(taskId: string, pgid: number | null): ProcessEntry[] {
    const members = new Map<number, ProcessEntry>();
    for (const entry of this.entries) {
      if (entry.taskId === taskId || (!hasMarkers && pgid !== null && entry.pgid === pgid)) {
        members.set(entry.pid, entry);
      }
    }
    let grew = true;
    while (grew) {
      grew = false;
      for (const entry of this.entries) {
        if (!members.has(entry.pid) && members.has(entry.ppid)) {
          members.set(entry.pid, entry);
          grew = true;
        }
      }
    }
    return [...members.values()].filter((entry) => !entry.zombie);
  }
}

/** The start time of this very process, for the servers table. */
export async function ownStartTime(): Promise<string> {
  return (await ProcessTable.read()).get(Deno.pid)?.startTime ?? "";
}

async function signal(pid: number, name: "SIGTERM" | "SIGKILL"): Promise<void> {
  // Windows has no signals: taskkill asks the tree to close, or with /F ends it.
  if (isWindows) return await taskkill(pid, name === "SIGKILL");
  try {
    Deno.kill(pid, name);
  } catch (error) {
    // Already gone is not an error; a process that exited between the scan and the signal is.
    if (!(error instanceof Deno.errors.NotFound) && !isNoSuchProcess(error)) throw error;
  }
}

function isNoSuchProcess(error: unknown): boolean {
  return error instanceof Error && /ESRCH|No such process/i.test(error.message);
}

export interface TerminateOptions {
  readonly taskId: string;
  /** The wrapper's pid, which is also the task's process group id; null if it never spawned. */
  readonly pgid: number | null;
  /** When the stop was asked for (ms since the epoch): SIGKILL follows at this + graceMs. */
  readonly requestedAt: number;
  readonly graceMs: number;
}

/**
 * SIGTERM to every process of the task, SIGKILL to whatever is left after the grace period, and
 * returns only once nothing of the tree is left. Anchored to `requestedAt`, so a second caller
 * (another server finishing an interrupted stop) continues where the first one was.
 */
export async function terminateTree(
  options: TerminateOptions,
): Promise<{ forced: boolean; firstSignalAt: number | null }> {
  const termed = new Set<string>();
  // When the first signal went out, so the caller can tell an exit of its own from one it caused.
  let firstSignalAt: number | null = null;
  // Members seen in earlier rounds stay targets: once its parent dies, an orphan without a
  // visible marker could no longer be found by walking parents.
  const known = new Map<number, ProcessEntry>();
  let forced = false;
  for (let round = 0;; round++) {
    const table = await ProcessTable.read();
    for (const entry of table.tree(options.taskId, options.pgid)) known.set(entry.pid, entry);
    const tree = [...known.values()].filter((entry) => table.isAlive(entry.pid, entry.startTime));
    if (tree.length === 0) return { forced, firstSignalAt };
    const kill = Date.now() >= options.requestedAt + options.graceMs;
    firstSignalAt ??= Date.now();
    for (const entry of tree) {
      const key = `${entry.pid}:${entry.startTime}`;
      if (kill) {
        await signal(entry.pid, "SIGKILL");
        forced = true;
      } else if (!termed.has(key)) {
        termed.add(key);
        await signal(entry.pid, "SIGTERM");
      }
    }
    // A listing costs about a second on Windows; there, look less often.
    const pause = isWindows ? 500 : round < 10 ? 20 : 100;
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}
