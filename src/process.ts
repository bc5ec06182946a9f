/**
 * Spawning task processes, finding them again, and stopping them: the only module (with its
 * Windows half, process_windows.ts) that touches Deno.Command and Deno.kill.
 */
import { listWindowsProcesses, spawnWindows, taskkill } from "./process_windows.ts";

const isWindows = Deno.build.os === "windows";

/**
 * No stop signals a task younger than this (ms). A shell loses a signal that arrives between its
 * fork and its exec of the command, and a command that then runs to its end would look stopped.
 */
export const START_WINDOW_MS = 50;

/** Environment variable every process of a task inherits; finds the tree even after setsid. */
export const TASK_MARKER = "BACKBURNER_TASK_ID";

// The wrapper runs the command with its output going to the log without the server in the data
// path (output survives the server), waits, and records the exit code atomically (temp file +
// rename) so a later server can read it. stdin is a file of the given text, or /dev/null, so
// nothing waits on a terminal. The wrapper sets no trap while its command runs: a shell forked from
// one with a trap keeps the trap's handler until it resets it, and a SIGTERM arriving in that moment
// is swallowed, so a command stopped as it started would run on to its end. Stops spare the wrapper
// instead (terminateTree and the STOPPER signal every process but it until the grace period is
// over); it ends by itself once its command has.
//
// Arguments: 1 command, 2 log, 3 exit record, 4 stdin, 5 cgroup folder for tasks (or empty),
// 6 log cap in 512-byte blocks (or empty), 7 timeout in seconds (or empty), 8 grace period in
// tenths of a second, 9 task id, 10 the stopper script (STOPPER).
//
// - cgroup: the wrapper moves itself into a cgroup of its own before it starts anything, so every
//   process of the task, even a `setsid env -i` daemon, is in it; it notes the path in
//   <task>/cgroup, and removes the cgroup at the end when nothing is left in it.
// - log cap: RLIMIT_FSIZE would apply to every file the task writes (a build's 2 GB artifact), so
//   the limit is set only on a `cat` that does nothing but copy the command's output from a pipe
//   into the log. It dies of SIGXFSZ at the cap; its parent, still holding the pipe open so that
//   no writer sees EPIPE before the reason is recorded, claims the stop as "log_limit" and becomes
//   the stopper. That cat ignores TERM, so what a stopping task says on its way out is still
//   logged; it ends when the last writer has gone.
// - timeout: a watchdog sleeps for the timeout, claims the stop as "timeout" and becomes the
//   stopper, so a task started with no server running is still stopped on time.
// - A claim is <task>/stop, written by whoever creates the folder <task>/claim first: a stopper
//   (the first reason wins), or the wrapper itself the moment its command has ended, so a stop
//   that comes after the command ended by itself claims nothing; the exit record is then
//   "<code> <reason>".
// - Once the command has ended, the wrapper waits for the cat to copy what is left in the pipe
//   (at most a second while a background process keeps the pipe open), so the log is complete
//   when the exit record appears. A command is run in a subshell so that the wrapper's own
//   messages ("Killed") do not go to the pipe.
// - The record keeps the time its command ended (touch -r from the first note of the code), not
//   the later time the wrapper had finished waiting for the log: a stop whose first signal came
//   after that time did not end the command.
// - Once the command has ended, TERM/INT/HUP are ignored, which the record writer (mv)
//   inherits: a stop that comes as the command ends cannot lose its record.
const WRAPPER = `w=$$ exitf=$3 dir=\${3%/*} cg= g= wd=
claim() { mkdir "$dir/claim" 2>/dev/null && printf '%s\\n' "$1" >"$dir/stop"; }
if [ -n "$5" ]; then
  cg="$5/$9"
  { mkdir "$cg"; echo "$w" >"$cg/cgroup.procs"; } 2>/dev/null ||
    { mkdir "$cg" && echo "$w" >"$cg/cgroup.procs"; } 2>/dev/null || cg=
  [ -z "$cg" ] || printf '%s\\n' "$cg" >"$dir/cgroup"
fi
if command -v bash >/dev/null 2>&1; then shell=bash; else shell=sh; fi
if [ -n "$6" ] && mkfifo -m 600 "$dir/pipe" 2>/dev/null; then
  (
    trap '' TERM INT HUP
    (ulimit -c 0; ulimit -f "$6" 2>/dev/null; exec cat) >>"$2"
    status=$?
    if [ "$(kill -l "$status" 2>/dev/null)" = XFSZ ] && claim log_limit; then
      exec sh -c "\${10}" backburner-stop "$w" "$dir" "$cg" "$8" </dev/null
    fi
  ) <"$dir/pipe" &
  g=$!
  exec 3>"$dir/pipe"
  rm -f "$dir/pipe"
else
  exec 3>>"$2"
fi
if [ -n "$7" ]; then
  (
    trap 'kill "$s" 2>/dev/null; exit 0' TERM
    trap '' INT HUP
    sleep "$7" & s=$!
    wait "$s" || exit 0
    trap '' TERM
    claim timeout || exit 0
    exec sh -c "\${10}" backburner-stop "$w" "$dir" "$cg" "$8" </dev/null
  ) 3>&- &
  wd=$!
fi
(exec sh -c 'echo "$$" >"$0"; exec "$1" -c "$2"' "$dir/command" "$shell" "$1" <"$4" >&3 2>&3 3>&-)
code=$?
trap '' TERM INT HUP
mkdir "$dir/claim" 2>/dev/null
umask 077
printf '%s\\n' "$code" >"$exitf.tmp"
exec 3>&-
[ -z "$wd" ] || kill "$wd" 2>/dev/null
if [ -n "$g" ]; then
  trap : CHLD
  sleep 1 & t=$!
  while kill -0 "$g" 2>/dev/null; do
    wait "$g"
    kill -0 "$t" 2>/dev/null || [ -e "$dir/stop" ] || break
  done
  trap - CHLD
  kill -s KILL "$t" 2>/dev/null
  wait "$t"
fi
[ -z "$wd" ] || wait "$wd"
reason=
[ ! -e "$dir/stop" ] || read -r reason _ <"$dir/stop"
printf '%s\\n' "$code\${reason:+ $reason}" >"$exitf.new" &&
  { touch -r "$exitf.tmp" "$exitf.new" 2>/dev/null; mv -f "$exitf.new" "$exitf"; }
rm -f "$exitf.tmp"
[ -z "$cg" ] || { echo "$w" >"\${cg%/*}/cgroup.procs" && rmdir "$cg"; } 2>/dev/null
exit "$code"`;

// The stopper: SIGTERM to every process of the task but the wrapper (which ends once its command
// has) and itself, then SIGKILL after the grace period, and "forced" added to the claim when that
// was needed. It finds the processes by the task's cgroup, process group and (with /proc) session;
// processes it runs itself to look are not the task's. With a cgroup, it steps out of it with the
// wrapper and kills the rest with cgroup.kill, which no fork can outrun.
const STOPPER = `trap '' TERM INT HUP
w=$1 dir=$2 cg=$3 tenths=$4 me=$$
others() {
  procs=/dev/null
  [ -z "$cg" ] || [ ! -r "$cg/cgroup.procs" ] || procs="$cg/cgroup.procs"
  if [ -r /proc/self/stat ]; then
    cat /proc/[0-9]*/stat 2>/dev/null
  else
    ps -A -o pid= -o ppid= -o pgid= -o stat= 2>/dev/null
  fi | awk -v w="$w" -v me="$me" -v proc="$([ -r /proc/self/stat ] && echo 1)" '
    FILENAME != "-" { cg[$1] = 1; next }
    {
      if (proc) {
        match($0, /.*[)] /)
        split(substr($0, RSTART + RLENGTH), f, " ")
        state = f[1]; parent = f[2]; group = f[3]; session = f[4]
      } else {
        parent = $2; group = $3; session = ""; state = $4
      }
      ppid[$1] = parent
      if (state ~ /^Z/) next
      alive[$1] = 1
      if (group == w || session == w) hit[$1] = 1
    }
    END {
      for (p in cg) if (p in alive) hit[p] = 1
      for (p in hit) {
        if (p == w || p == me) continue
        q = p; ours = 0
        for (i = 0; i < 16 && (q in ppid); i++) { q = ppid[q]; if (q == me) { ours = 1; break } }
        if (!ours) print p
      }
    }' "$procs" -
}
termed=" "
i=0
while left=$(others) && [ -n "$left" ]; do
  if [ "$i" -ge "$tenths" ]; then
    read -r reason _ <"$dir/stop"
    printf '%s forced\\n' "$reason" >"$dir/stop.tmp" && mv -f "$dir/stop.tmp" "$dir/stop"
    if [ -n "$cg" ] && [ -e "$cg/cgroup.kill" ]; then
      { echo "$me" >"\${cg%/*}/cgroup.procs"; echo "$w" >"\${cg%/*}/cgroup.procs"; echo 1 >"$cg/cgroup.kill"; } 2>/dev/null
    fi
    n=0
    while left=$(others) && [ -n "$left" ] && [ "$n" -lt 100 ]; do
      for p in $left; do kill -s KILL "$p" 2>/dev/null; done
      sleep 0.05; n=$((n + 1))
    done
    exit 0
  fi
  for p in $left; do
    case $termed in *" $p "*) ;; *) kill -s TERM "$p" 2>/dev/null; termed="$termed$p " ;; esac
  done
  sleep 0.1; i=$((i + 1))
done`;

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
  /** The wrapper stops the task once its log would pass this many bytes. Default: no cap. */
  readonly maxLogBytes?: number;
  /** The wrapper stops the task after this many seconds. Default: no timeout. */
  readonly timeoutSeconds?: number | null;
  /** Seconds the wrapper's own stop waits between SIGTERM and SIGKILL. Default 5. */
  readonly graceSeconds?: number;
  /** Folder (from probeCgroup) in which the task gets a cgroup of its own; null for none. */
  readonly cgroupBase?: string | null;
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

/** RLIMIT_FSIZE as the shell's ulimit -f takes it: 512-byte blocks, rounded up. */
function logLimitBlocks(maxLogBytes: number | undefined): string {
  if (maxLogBytes === undefined || !Number.isFinite(maxLogBytes)) return "";
  return String(Math.max(1, Math.ceil(maxLogBytes / 512)));
}

/**
 * Starts the command in a new session (pid = process group id = session id). Throws
 * Deno.errors.NotFound when the cwd does not exist or is not a directory.
 */
export function spawnTask(request: SpawnRequest): SpawnedTask {
  if (isWindows) return spawnWindows(request, TASK_MARKER);
  const timeout = request.timeoutSeconds;
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      WRAPPER,
      "backburner",
      request.command,
      request.logPath,
      request.exitPath,
      request.stdinPath ?? "/dev/null",
      request.cgroupBase ?? "",
      logLimitBlocks(request.maxLogBytes),
      // Not before the start-up window is over: a signal then is lost (see START_WINDOW_MS).
      timeout === undefined || timeout === null
        ? ""
        : Math.max(timeout, START_WINDOW_MS / 1000).toFixed(3),
      String(Math.ceil((request.graceSeconds ?? 5) * 10)),
      request.taskId,
      STOPPER,
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

/** A stop the wrapper itself decided on (its watchdog or its log cap). */
export type WrapperStopReason = "timeout" | "log_limit";

function wrapperStopReason(word: string | undefined): WrapperStopReason | null {
  return word === "timeout" || word === "log_limit" ? word : null;
}

export interface ExitRecord {
  readonly code: number;
  /** When the record was written (its mtime), in ms since the epoch. */
  readonly at: number;
  /** Set when the wrapper stopped the command itself. */
  readonly reason: WrapperStopReason | null;
}

/**
 * The exit record a wrapper left ("<code>", or "<code> <reason>" when it stopped the command
 * itself), or null when it left none (yet).
 */
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
  const [code, reason] = text.trim().split(/\s+/);
  const parsed = Number.parseInt(code, 10);
  return Number.isInteger(parsed) ? { code: parsed, at, reason: wrapperStopReason(reason) } : null;
}

/**
 * The stop the wrapper claimed in the task folder, and whether its stopper needed SIGKILL; null
 * when it claimed none.
 */
export function readWrapperStop(
  taskDir: string,
): { reason: WrapperStopReason; forced: boolean } | null {
  let words: string[];
  try {
    words = Deno.readTextFileSync(`${taskDir}/stop`).trim().split(/\s+/);
  } catch {
    return null;
  }
  const reason = wrapperStopReason(words[0]);
  return reason && { reason, forced: words.includes("forced") };
}

/** The folder of task cgroups a wrapper may create, as probeCgroup names it. */
const CGROUP_FOLDER = "backburner-tasks";

/**
 * The cgroup the task's wrapper moved into, from <task>/cgroup; null without one. The task can
 * write that file, so only a path of the shape the wrapper uses, for this very task, is taken:
 * a task cannot make a cancel kill someone else's cgroup.
 */
export function readTaskCgroup(taskDir: string, taskId: string): string | null {
  let path: string;
  try {
    path = Deno.readTextFileSync(`${taskDir}/cgroup`).trim();
  } catch {
    return null;
  }
  const valid = path.startsWith("/") && path.endsWith(`/${CGROUP_FOLDER}/${taskId}`) &&
    !path.split("/").some((part) => part === "." || part === "..") && !/[\0\n]/.test(path);
  return valid ? path : null;
}

// Finds the cgroup v2 mount and this process's own cgroup, creates the task folder below it, and
// checks that a process can be moved into a cgroup there (the v2 rules: write access to both
// cgroup.procs files, and no controllers enabled that forbid processes in an inner node). Prints
// the folder, or "-" and why not.
const CGROUP_PROBE = `mount= root= own=
while read -r _ _ _ r m rest; do
  case $rest in *" - cgroup2 "*) mount=$m root=$r; break ;; esac
done </proc/self/mountinfo
while IFS= read -r line; do
  case $line in 0::*) own=\${line#0::} ;; esac
done </proc/self/cgroup
[ -n "$mount" ] || { echo "- no cgroup2 file system is mounted"; exit 0; }
[ -n "$own" ] || { echo "- this process is in no cgroup v2"; exit 0; }
case $own in "$root"*) own=\${own#"\${root%/}"} ;; *) echo "- this process's cgroup is outside the mount"; exit 0 ;; esac
base="\${mount%/}\${own%/}/$1"
probe="$base/probe-$$"
mkdir -p "$base" 2>/dev/null && mkdir "$probe" 2>/dev/null ||
  { echo "- cannot create a cgroup in \${mount%/}\${own%/}"; exit 0; }
if sh -c 'echo $$ >"$1/cgroup.procs"' sh "$probe" 2>/dev/null; then echo "$base"; else
  echo "- cannot move a process into a cgroup below \${mount%/}\${own%/}"; fi
rmdir "$probe" 2>/dev/null
true`;

/**
 * Where tasks may get a cgroup of their own (Linux with a writable cgroup v2 subtree), or why not.
 * Done through sh: a server with narrow permissions may not read /proc or write /sys itself.
 */
export async function probeCgroup(): Promise<{ base: string } | { reason: string }> {
  if (Deno.build.os !== "linux") return { reason: "cgroups exist only on Linux" };
  if (Deno.env.get("BACKBURNER_CGROUPS")?.trim().toLowerCase() === "off") {
    return { reason: "BACKBURNER_CGROUPS is off" };
  }
  const text = (await run("sh", ["-c", CGROUP_PROBE, "sh", CGROUP_FOLDER])).trim();
  if (text.startsWith("/")) return { base: text };
  return { reason: text.replace(/^- ?/, "") || "the cgroup probe failed" };
}

/** Removes the empty task cgroups in `base` (rmdir refuses any that still holds a process). */
export async function sweepCgroups(base: string): Promise<void> {
  await run("sh", ["-c", 'for d in "$1"/*/; do rmdir "$d"; done 2>/dev/null; true', "sh", base]);
}

export interface ProcessEntry {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  /** Session id; null where the platform does not show it (only /proc does). */
  readonly sid: number | null;
  /** Zombies have exited; only their parent's wait is missing. */
  readonly zombie: boolean;
  /** Opaque start time: with the pid, it identifies a process across pid reuse. */
  readonly startTime: string;
  /** The task this process belongs to by its inherited marker, when the platform shows it. */
  readonly taskId: string | null;
  /**
   * The program it runs (its name, which exec changes), where the platform shows it: a signal that
   * reached a shell between fork and exec may be lost, so a process that ran another program
   * since it was signalled is signalled again.
   */
  readonly image?: string;
}

const hasProc = Deno.build.os === "linux";
/** Where the table shows each process's task marker; elsewhere the group and parents decide. */
const hasMarkers = hasProc || Deno.build.os === "darwin";

// Deno refuses every read of /proc without --allow-all, so a narrowly permitted server reads it
// through one short shell pipeline: all stat lines, then the marker of every process that has one,
// then the members and state of each cgroup asked for (its arguments).
const PROC_SNAPSHOT = `cat /proc/[0-9]*/stat 2>/dev/null
printf '\\0--\\0'
grep -a -s -z -o '^${TASK_MARKER}=[a-z0-9]*' /proc/[0-9]*/environ
for cg in "$@"; do
  printf '\\0cg\\0%s\\0' "$cg"
  if [ -d "$cg" ]; then cat "$cg/cgroup.procs" "$cg/cgroup.events" 2>/dev/null; else echo removed; fi
done
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

/** What a snapshot saw of a task's cgroup. */
export interface CgroupState {
  readonly pids: ReadonlySet<number>;
  /**
   * False once no process is left in it (or it was removed, which only an empty cgroup can be);
   * null when it could not be read.
   */
  readonly populated: boolean | null;
}

function parseCgroup(text: string): CgroupState {
  if (text.trim() === "removed") return { pids: new Set(), populated: false };
  const pids = new Set<number>();
  let populated: boolean | null = null;
  for (const line of text.split("\n")) {
    if (/^\d+$/.test(line)) pids.add(Number(line));
    const match = /^populated ([01])$/.exec(line);
    if (match) populated = match[1] === "1";
  }
  return { pids, populated };
}

function parseProcSnapshot(text: string): {
  entries: ProcessEntry[];
  cgroups: Map<string, CgroupState>;
} {
  const split = text.indexOf("\0--\0");
  const stats = text.slice(0, split === -1 ? text.length : split);
  const markers = new Map<number, string>();
  const cgroups = new Map<string, CgroupState>();
  if (split !== -1) {
    const [environs, ...cgroupParts] = text.slice(split + 4).split("\0cg\0");
    for (const record of environs.split("\0")) {
      // "/proc/123/environ:BACKBURNER_TASK_ID=abc"
      const match = /^\/proc\/(\d+)\/environ:[A-Z_]+=(.*)$/.exec(record);
      if (match) markers.set(Number(match[1]), match[2]);
    }
    for (const part of cgroupParts) {
      const end = part.indexOf("\0");
      if (end !== -1) cgroups.set(part.slice(0, end), parseCgroup(part.slice(end + 1)));
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
      sid: Number(fields[3]),
      zombie: fields[0] === "Z" || fields[0] === "X",
      startTime: fields[19],
      taskId: markers.get(pid) ?? null,
      image: line.slice(line.indexOf("(") + 1, close),
    });
  }
  return { entries, cgroups };
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
      sid: null,
      zombie: parts[3].startsWith("Z"),
      startTime: parts.slice(4, 9).join(" "),
      taskId: MARKER_WORD.exec(rest)?.[1] ?? null,
      image: parts[9],
    });
  }
  return entries;
}

/** One look at every process on the machine, with what is needed to find a task's tree. */
export class ProcessTable {
  readonly entries: readonly ProcessEntry[];
  readonly #byPid: Map<number, ProcessEntry>;
  readonly #cgroups: ReadonlyMap<string, CgroupState>;

  constructor(
    entries: readonly ProcessEntry[],
    cgroups: ReadonlyMap<string, CgroupState> = new Map(),
  ) {
    this.entries = entries;
    this.#byPid = new Map(entries.map((entry) => [entry.pid, entry]));
    this.#cgroups = cgroups;
  }

  /**
   * Takes a snapshot: /proc on Linux (with the members of the given cgroups), ps elsewhere
   * (where markers are not visible).
   */
  static async read(options: { cgroups?: readonly string[] } = {}): Promise<ProcessTable> {
    if (isWindows) return new ProcessTable(await listWindowsProcesses());
    if (hasProc) {
      const text = await run("sh", ["-c", PROC_SNAPSHOT, "sh", ...options.cgroups ?? []]);
      const { entries, cgroups } = parseProcSnapshot(text);
      return new ProcessTable(entries, cgroups);
    }
    // macOS: -E shows each process's environment after its command, and with it the marker.
    const args = ["-A", "-ww", "-o", "pid=,ppid=,pgid=,stat=,lstart=,command="];
    return new ProcessTable(
      parsePs(await run("ps", Deno.build.os === "darwin" ? ["-E", ...args] : args)),
    );
  }

  get(pid: number): ProcessEntry | undefined {
    return this.#byPid.get(pid);
  }

  /** What this snapshot saw of a cgroup it was asked to read. */
  cgroup(path: string | null): CgroupState | undefined {
    return path === null ? undefined : this.#cgroups.get(path);
  }

  /** True when a process with this pid and start time runs (a zombie counts as gone). */
  isAlive(pid: number, startTime: string): boolean {
    const entry = this.#byPid.get(pid);
    return entry !== undefined && !entry.zombie && entry.startTime === startTime;
  }

  /**
   * The live processes of a task, by every handle there is: its marker (which a setsid'd
   * descendant keeps), its process group and session (which a process that dropped the marker
   * with `env -i` keeps), its cgroup, and every descendant of any of these.
   */
  tree(taskId: string, pgid: number | null, cgroup: string | null = null): ProcessEntry[] {
    const members = new Map<number, ProcessEntry>();
    const inCgroup = this.cgroup(cgroup)?.pids ?? new Set<number>();
    const group = this.#ownGroup(taskId, pgid);
    for (const entry of this.entries) {
      if (
        entry.taskId === taskId || inCgroup.has(entry.pid) ||
        (group !== null && (entry.pgid === group || entry.sid === group))
      ) {
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

  /**
   * The wrapper's pid when its process group and session are still the task's. The kernel keeps a
   * pid number from reuse while a group or session of that id exists, so a group with the
   * wrapper's id is the task's unless a live process with that pid is someone else's: then the
   * task's group ended and a new process got the number.
   */
  #ownGroup(taskId: string, pgid: number | null): number | null {
    if (pgid === null) return null;
    if (!hasMarkers) return pgid;
    const leader = this.#byPid.get(pgid);
    return leader === undefined || leader.zombie || leader.taskId === taskId ? pgid : null;
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

/** cgroup.kill: SIGKILL to every process in the cgroup at once, so that none can fork away. */
async function killCgroup(path: string): Promise<void> {
  await run("sh", ["-c", 'echo 1 >"$1/cgroup.kill" 2>/dev/null; true', "sh", path]);
}

export interface TerminateOptions {
  readonly taskId: string;
  /** The wrapper's pid, which is also the task's process group id; null if it never spawned. */
  readonly pgid: number | null;
  /** The task's cgroup (readTaskCgroup); null when it has none. */
  readonly cgroup?: string | null;
  /** When the stop was asked for (ms since the epoch): SIGKILL follows at this + graceMs. */
  readonly requestedAt: number;
  readonly graceMs: number;
  /** The pid of the task's command (readCommandPid); null before it started, or unknown. */
  readonly commandPid?: number | null;
  /**
   * A file created (once, by whichever stopper is first) just before the first signal that
   * reaches the command: its mtime tells every server when the task was first signalled.
   */
  readonly signalMark?: string;
}

function markFirstSignal(path: string | undefined): number {
  if (path !== undefined) {
    try {
      Deno.writeFileSync(path, new Uint8Array(), { createNew: true, mode: 0o600 });
    } catch {
      // Another stopper was first (its mark stands), or the folder is gone.
    }
  }
  return Date.now();
}

/** When any stopper first signalled the task's command (the mark's mtime); null if none did. */
export function readSignalMark(path: string): number | null {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? null;
  } catch {
    return null;
  }
}

/**
 * The wrapper's own helper processes (its log copier and watchdog, with their children): the
 * wrapper's children other than its command, and their descendants. Empty on Windows.
 */
function wrapperHelpers(
  table: ProcessTable,
  wrapper: number | null,
  commandPid: number | null,
): Set<number> {
  const helpers = new Set<number>();
  if (isWindows || wrapper === null) return helpers;
  for (const entry of table.entries) {
    if (entry.ppid === wrapper && entry.pid !== commandPid) helpers.add(entry.pid);
  }
  for (let grew = true; grew;) {
    grew = false;
    for (const entry of table.entries) {
      if (!helpers.has(entry.pid) && helpers.has(entry.ppid)) {
        helpers.add(entry.pid);
        grew = true;
      }
    }
  }
  return helpers;
}

/** The pid of a task's command, which its wrapper notes in <task>/command; null before that. */
export function readCommandPid(taskDir: string): number | null {
  try {
    const pid = Number.parseInt(Deno.readTextFileSync(`${taskDir}/command`), 10);
    return Number.isInteger(pid) && pid > 1 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * How a stop confirmed that nothing of the task is left: its cgroup reported empty (and no other
 * handle found a process), or only the handles (marker, group, session, parents) were checked.
 */
export type GoneMethod = "cgroup" | "handles";

/** The words for a status message: what was checked to say that every process is gone. */
export function describeGone(method: GoneMethod): string {
  if (method === "cgroup") return "cgroup empty";
  if (isWindows) return "no process of its tree left";
  return hasProc
    ? "no process with its marker, group, session or parent left"
    : "no process with its marker, group or parent left";
}

/**
 * SIGTERM to every process of the task, SIGKILL to whatever is left after the grace period (and
 * cgroup.kill to its cgroup), and returns only once nothing of the tree is left, saying how that
 * was confirmed. Anchored to `requestedAt`, so a second caller (another server finishing an
 * interrupted stop) continues where the first one was.
 */
export async function terminateTree(
  options: TerminateOptions,
): Promise<{ forced: boolean; method: GoneMethod; firstSignalAt: number | null }> {
  const cgroup = options.cgroup ?? null;
  const termed = new Set<string>();
  // When the first signal went out, so the caller can tell an exit of its own from one it caused.
  let firstSignalAt: number | null = null;
  // Members seen in earlier rounds stay targets: once its parent dies, an orphan without a
  // visible marker could no longer be found by walking parents.
  const known = new Map<number, ProcessEntry>();
  let forced = false;
  for (let round = 0;; round++) {
    const table = await ProcessTable.read({ cgroups: cgroup === null ? [] : [cgroup] });
    for (const entry of table.tree(options.taskId, options.pgid, cgroup)) {
      known.set(entry.pid, entry);
    }
    const tree = [...known.values()].filter((entry) => table.isAlive(entry.pid, entry.startTime));
    const populated = table.cgroup(cgroup)?.populated ?? null;
    if (tree.length === 0 && populated !== true) {
      return { forced, method: populated === false ? "cgroup" : "handles", firstSignalAt };
    }
    const kill = Date.now() >= options.requestedAt + options.graceMs;
    if (kill && cgroup !== null && populated) {
      firstSignalAt ??= markFirstSignal(options.signalMark);
      await killCgroup(cgroup);
      forced = true;
    }
    const helpers = wrapperHelpers(table, options.pgid, options.commandPid ?? null);
    for (const entry of tree) {
      const key = `${entry.pid}:${entry.startTime}:${entry.image ?? ""}`;
      // The wrapper (pid = pgid) records the exit once its command has ended; on Windows the
      // tree is ended through it.
      const term = !kill && !termed.has(key) && (isWindows || entry.pid !== options.pgid);
      if (!kill && !term) continue;
      // A signal counts as reaching the command unless it went to the wrapper's own helpers
      // (its log copier, watchdog), which a command that has not started yet leaves alone.
      if (!helpers.has(entry.pid)) firstSignalAt ??= markFirstSignal(options.signalMark);
      if (kill) {
        await signal(entry.pid, "SIGKILL");
        forced = true;
      } else {
        termed.add(key);
        await signal(entry.pid, "SIGTERM");
      }
    }
    // A listing costs about a second on Windows; there, look less often.
    const pause = isWindows ? 500 : round < 10 ? 20 : 100;
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}
