/**
 * Spawning task processes, finding them again, and stopping them: the only module that touches
 * Deno.Command and Deno.kill.
 */

/** Environment variable every process of a task inherits; finds the tree even after setsid. */
export const TASK_MARKER = "BACKBURNER_TASK_ID";

// The wrapper runs the command with its output redirected to the log by the shell itself (the
// server is not in the data path, so output survives the server), waits, and records the exit
// code atomically (temp file + rename) so a later server can read it. Catching TERM/INT/HUP with a
// no-op handler (not ignoring them, which children would inherit) keeps the wrapper alive until
// its command has ended. stdin is /dev/null so nothing waits on a terminal.
const WRAPPER = `trap : TERM INT HUP
if command -v bash >/dev/null 2>&1; then shell=bash; else shell=sh; fi
"$shell" -c "$1" >>"$2" 2>&1 </dev/null
code=$?
(umask 077 && printf '%s\\n' "$code" >"$3.tmp") && mv -f "$3.tmp" "$3"
exit "$code"`;

export interface SpawnRequest {
  readonly taskId: string;
  readonly command: string;
  /** Working directory; undefined runs in the server's own. */
  readonly cwd: string | undefined;
  readonly logPath: string;
  readonly exitPath: string;
}

export interface SpawnedTask {
  readonly pid: number;
  /** Settles when the wrapper has exited (its exit record is written by then). */
  readonly exited: Promise<void>;
}

/**
 * Starts the command in a new session (pid = process group id). Throws Deno.errors.NotFound when
 * the cwd does not exist or is not a directory.
 */
export function spawnTask(request: SpawnRequest): SpawnedTask {
  const child = new Deno.Command("sh", {
    args: ["-c", WRAPPER, "backburner", request.command, request.logPath, request.exitPath],
    cwd: request.cwd,
    env: { [TASK_MARKER]: request.taskId },
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  // The task must not keep the server alive, nor die with it.
  child.unref();
  return { pid: child.pid, exited: child.status.then(() => undefined) };
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

function readProcEntry(pid: number): ProcessEntry | null {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may itself contain spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  let taskId: string | null = null;
  try {
    const environ = Deno.readTextFileSync(`/proc/${pid}/environ`);
    const start = environ.indexOf(`${TASK_MARKER}=`);
    if (start === 0 || (start > 0 && environ[start - 1] === "\0")) {
      const end = environ.indexOf("\0", start);
      taskId = environ.slice(start + TASK_MARKER.length + 1, end === -1 ? undefined : end);
    }
  } catch {
    // Gone meanwhile, or not ours to read: such a process carries no marker we could use.
  }
  return {
    pid,
    ppid: Number(fields[1]),
    pgid: Number(fields[2]),
    zombie: state === "Z" || state === "X",
    startTime: fields[19],
    taskId,
  };
}

async function listWithPs(): Promise<ProcessEntry[]> {
  const output = await new Deno.Command("ps", {
    args: ["-A", "-o", "pid=,ppid=,pgid=,stat=,lstart="],
    stdout: "piped",
    stderr: "null",
    stdin: "null",
  }).output();
  const entries: ProcessEntry[] = [];
  for (const line of new TextDecoder().decode(output.stdout).split("\n")) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 5) continue;
    entries.push({
      pid: Number(parts[0]),
      ppid: Number(parts[1]),
      pgid: Number(parts[2]),
      zombie: parts[3].startsWith("Z"),
      startTime: parts.slice(4).join(" "),
      taskId: null,
    });
  }
  return entries;
}

/** Every process on the machine, with what is needed to find a task's tree. */
export async function listProcesses(): Promise<ProcessEntry[]> {
  if (!hasProc) return await listWithPs();
  const entries: ProcessEntry[] = [];
  for (const dirEntry of Deno.readDirSync("/proc")) {
    const pid = Number(dirEntry.name);
    if (!Number.isInteger(pid)) continue;
    const entry = readProcEntry(pid);
    if (entry) entries.push(entry);
  }
  return entries;
}

/** The start time of one process, or null when it is gone. */
export async function processStartTime(pid: number): Promise<string | null> {
  if (hasProc) return readProcEntry(pid)?.startTime ?? null;
  const entry = (await listWithPs()).find((e) => e.pid === pid);
  return entry?.startTime ?? null;
}

/** True when a process with this pid and start time still runs (a zombie counts as gone). */
export async function isProcessAlive(pid: number, startTime: string): Promise<boolean> {
  const entry = hasProc
    ? readProcEntry(pid)
    : (await listWithPs()).find((e) => e.pid === pid) ?? null;
  return entry !== null && !entry.zombie && entry.startTime === startTime;
}

/**
 * The live processes of a task: those carrying its marker (which a setsid'd descendant keeps),
 * those in its process group where markers are not visible, and every descendant of either.
 */
export function taskTree(all: readonly ProcessEntry[], taskId: string, pgid: number | null) {
  const members = new Map<number, ProcessEntry>();
  for (const entry of all) {
    if (entry.taskId === taskId || (!hasProc && pgid !== null && entry.pgid === pgid)) {
      members.set(entry.pid, entry);
    }
  }
  let grew = true;
  while (grew) {
    grew = false;
    for (const entry of all) {
      if (!members.has(entry.pid) && members.has(entry.ppid)) {
        members.set(entry.pid, entry);
        grew = true;
      }
    }
  }
  return [...members.values()].filter((entry) => !entry.zombie);
}

function signal(pid: number, name: Deno.Signal): void {
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
export async function terminateTree(options: TerminateOptions): Promise<{ forced: boolean }> {
  const termed = new Set<string>();
  let forced = false;
  for (let round = 0;; round++) {
    const tree = taskTree(await listProcesses(), options.taskId, options.pgid);
    if (tree.length === 0) return { forced };
    const kill = Date.now() >= options.requestedAt + options.graceMs;
    for (const entry of tree) {
      const key = `${entry.pid}:${entry.startTime}`;
      if (kill) {
        signal(entry.pid, "SIGKILL");
        forced = true;
      } else if (!termed.has(key)) {
        termed.add(key);
        signal(entry.pid, "SIGTERM");
      }
    }
    await new Promise((resolve) => setTimeout(resolve, round < 10 ? 20 : 100));
  }
}

/** The ids among `taskIds` that still have a live process, from one scan. */
export async function tasksWithProcesses(
  tasks: readonly { id: string; pid: number | null }[],
): Promise<Set<string>> {
  const all = await listProcesses();
  const alive = new Set<string>();
  for (const task of tasks) {
    if (taskTree(all, task.id, task.pid).length > 0) alive.add(task.id);
  }
  return alive;
}
