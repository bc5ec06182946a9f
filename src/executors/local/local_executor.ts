/**
 * The local executor: tasks run as processes of this machine, through the POSIX wrapper
 * (posix.ts) or cmd.exe (windows.ts), found again in a process table and stopped by signals (or
 * taskkill on Windows), with a cgroup of their own where Linux allows one.
 */
import type {
  Executor,
  ExecutorSnapshot,
  SpawnedTask,
  SpawnRequest,
  StopOptions,
  StopOutcome,
  TaskTarget,
} from "../executor.ts";
import { TASK_MARKER } from "../executor.ts";
import { createMark } from "../../task_folder_io.ts";
import { killCgroup, probeCgroup, sweepCgroups } from "./cgroup.ts";
import { spawnPosix } from "./posix.ts";
import { hasProc, type ProcessEntry, ProcessTable } from "./process_table.ts";
import { listWindowsProcesses, spawnWindows, taskkill } from "./windows.ts";

const isWindows = Deno.build.os === "windows";

/** One look at every process, with the members of the given cgroups (Linux). */
async function readProcessTable(cgroups: readonly string[] = []): Promise<ProcessTable> {
  if (isWindows) return new ProcessTable(await listWindowsProcesses());
  return await ProcessTable.readPosix({ cgroups });
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

/**
 * Creates the first-signal mark (once, by whichever stopper is first), just before the signal, so
 * its mtime tells every server when the task's command was first signalled. Returns the time.
 */
async function markFirstSignal(options: StopOptions): Promise<number> {
  if (options.signalMark !== undefined) createMark(options.signalMark);
  const at = Date.now();
  await options.beforeFirstSignal?.();
  return at;
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

/**
 * How a stop confirmed that nothing of the task is left: its cgroup reported empty (and no other
 * handle found a process), or only the handles (marker, group, session, parents) were checked.
 */
type GoneMethod = "cgroup" | "handles";

/** The words for a status message: what was checked to say that every process is gone. */
function describeGone(method: GoneMethod): string {
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
async function terminateTree(
  target: TaskTarget,
  options: StopOptions,
): Promise<StopOutcome> {
  const cgroup = target.cgroup;
  const termed = new Set<string>();
  // When the first signal went out, so the caller can tell an exit of its own from one it caused.
  let firstSignalAt: number | null = null;
  // Members seen in earlier rounds stay targets: once its parent dies, an orphan without a
  // visible marker could no longer be found by walking parents.
  const known = new Map<number, ProcessEntry>();
  let forced = false;
  for (let round = 0;; round++) {
    const table = await readProcessTable(cgroup === null ? [] : [cgroup]);
    for (const entry of table.tree(target.taskId, target.pid, cgroup)) {
      known.set(entry.pid, entry);
    }
    const tree = [...known.values()].filter((entry) => table.isAlive(entry.pid, entry.startTime));
    const populated = table.cgroup(cgroup)?.populated ?? null;
    if (tree.length === 0 && populated !== true) {
      return {
        forced,
        gone: describeGone(populated === false ? "cgroup" : "handles"),
        firstSignalAt,
      };
    }
    const kill = Date.now() >= options.requestedAt + options.graceMs;
    // Whether a signal that may reach the command went out in this round: the signal-sent mark
    // follows the round's signals at once (the command among them when it is still alive).
    let signalled = false;
    if (kill && cgroup !== null && populated) {
      firstSignalAt ??= await markFirstSignal(options);
      await killCgroup(cgroup);
      forced = true;
      signalled = true;
    }
    const helpers = wrapperHelpers(table, target.pid, target.commandPid ?? null);
    for (const entry of tree) {
      const key = `${entry.pid}:${entry.startTime}:${entry.image ?? ""}`;
      // The wrapper (pid = pgid) records the exit once its command has ended; on Windows the
      // tree is ended through it.
      const term = !kill && !termed.has(key) && (isWindows || entry.pid !== target.pid);
      if (!kill && !term) continue;
      // A signal counts as reaching the command unless it went to the wrapper's own helpers
      // (its log copier, watchdog), which a command that has not started yet leaves alone.
      if (!helpers.has(entry.pid)) {
        firstSignalAt ??= await markFirstSignal(options);
        signalled = true;
      }
      if (kill) {
        await signal(entry.pid, "SIGKILL");
        forced = true;
      } else {
        termed.add(key);
        await signal(entry.pid, "SIGTERM");
      }
    }
    // Created once, by whichever stopper is first; the later rounds' marks change nothing.
    if (signalled && options.signalSentMark !== undefined) createMark(options.signalSentMark);
    // A listing costs about a second on Windows; there, look less often.
    const pause = isWindows ? 500 : round < 10 ? 20 : 100;
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

/** Processes of this machine, found by marker, process group, session, parents and cgroup. */
export class LocalExecutor implements Executor {
  // The POSIX wrapper touches the exit event; the Windows one does not.
  readonly announcesExits = !isWindows;
  /** Where each task gets a cgroup of its own (probeCgroup); null where tasks get none. */
  #cgroupBase: string | null = null;

  async prepare(): Promise<string | null> {
    const cgroup = await probeCgroup();
    if ("base" in cgroup) {
      this.#cgroupBase = cgroup.base;
      return null;
    }
    return Deno.build.os === "linux"
      ? `tasks run without a cgroup of their own (${cgroup.reason}): a stop finds their processes by marker, process group, session and parent`
      : null;
  }

  async sweep(): Promise<void> {
    // A task's wrapper removes its cgroup unless a background process was still in it.
    if (this.#cgroupBase !== null) await sweepCgroups(this.#cgroupBase);
  }

  async ownStartTime(): Promise<string> {
    return (await readProcessTable()).get(Deno.pid)?.startTime ?? "";
  }

  spawn(request: SpawnRequest): SpawnedTask {
    if (isWindows) return spawnWindows(request, TASK_MARKER);
    return spawnPosix({ ...request, cgroupBase: this.#cgroupBase });
  }

  async snapshot(targets: readonly TaskTarget[] = []): Promise<ExecutorSnapshot> {
    const cgroups = targets.flatMap((target) => target.cgroup === null ? [] : [target.cgroup]);
    const table = await readProcessTable(cgroups);
    return {
      isAlive: (pid, startTime) => table.isAlive(pid, startTime),
      count: (target) => table.tree(target.taskId, target.pid, target.cgroup).length,
    };
  }

  stop(target: TaskTarget, options: StopOptions): Promise<StopOutcome> {
    return terminateTree(target, options);
  }
}
