/**
 * One look at every process on a POSIX machine (/proc on Linux, ps elsewhere), and a task's tree
 * found in it by every handle there is.
 */
import { TASK_MARKER } from "../executor.ts";

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

export const hasProc = Deno.build.os === "linux";
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

export async function run(command: string, args: string[]): Promise<string> {
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
  static async readPosix(options: { cgroups?: readonly string[] } = {}): Promise<ProcessTable> {
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
