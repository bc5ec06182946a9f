/**
 * A task's folder on disk, the one place that names its files: output.log (stdout and stderr
 * interleaved), stdin (the text fed to the command), exit (the record the wrapper leaves: "<code>",
 * or "<code> <reason>" when it stopped the command itself), stop (the stop the wrapper claimed,
 * and "forced" when SIGKILL was needed), and cgroup (the cgroup the wrapper moved into).
 *
 * @module
 */
import { join } from "node:path";
import type { ExitRecord, TaskTarget, WrapperStopReason } from "../executors/executor.ts";
import { isTaskCgroup } from "../executors/local/cgroup.ts";
import { isTaskId, type Task } from "../task.ts";
import {
  appendToRegularFile,
  readRegularText,
  regularFileModifiedAt,
  replaceFile,
} from "../task_folder_io.ts";

/** The most of a task's small file (a mark, a record, a pid) that is read. */
const SMALL_FILE_BYTES = 4096;

/**
 * The text of a small file of a task's folder (a mark, a record, a pid): its first 4 KiB, or null
 * when there is none or it is not a regular file (the task can write its folder: task_folder_io).
 */
export function readTaskFile(path: string): string | null {
  return readRegularText(path, SMALL_FILE_BYTES);
}

/** The paths of one task's files. */
export interface TaskPaths {
  readonly dir: string;
  readonly log: string;
  readonly exit: string;
  readonly stdin: string;
}

/** The folder every task's folder lives in. */
export function tasksDir(home: string): string {
  return join(home, "tasks");
}

export function taskPaths(home: string, id: string): TaskPaths {
  const dir = join(tasksDir(home), id);
  return {
    dir,
    log: join(dir, "output.log"),
    exit: join(dir, "exit"),
    stdin: join(dir, "stdin"),
  };
}

/**
 * Makes a task's folder with, when given, the text for its stdin. No log yet: a queued task has
 * none until it runs (prepareAttempt).
 */
export function createTaskFolder(paths: TaskPaths, stdin: Uint8Array | undefined): void {
  Deno.mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  if (stdin !== undefined) Deno.writeFileSync(paths.stdin, stdin, { mode: 0o600 });
}

/** The files one run of a command leaves, removed before the next attempt of its task runs. */
const RUN_FILES = [
  "exit",
  "exit.tmp",
  "exit.new",
  "claim",
  "stop",
  "command",
  "signalled",
  "signalled.after",
  "cgroup",
];

/**
 * Readies a task's folder for run `attempt`: the spawn mark written first (spawnMark), what an
 * earlier attempt left removed, the log created or kept (each attempt appends to it).
 */
export function prepareAttempt(paths: TaskPaths, attempt: number): void {
  Deno.mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  // A retry's folder is one the task could write: nothing there is followed or waited for.
  replaceFile(join(paths.dir, "spawned"), `${attempt}\n`);
  if (attempt > 1) {
    for (const name of RUN_FILES) {
      try {
        Deno.removeSync(join(paths.dir, name), { recursive: true });
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
  }
  appendToRegularFile(paths.log, new Uint8Array());
}

/**
 * The attempt whose spawn was last begun (the mark prepareAttempt writes before it spawns); 0
 * when none was.
 */
export function spawnMark(taskDir: string): number {
  try {
    const attempt = Number.parseInt(readTaskFile(join(taskDir, "spawned")) ?? "", 10);
    return Number.isInteger(attempt) ? attempt : 0;
  } catch {
    return 0;
  }
}

/** True when the task was given text for its stdin. */
export function hasStdin(paths: TaskPaths): boolean {
  try {
    return Deno.statSync(paths.stdin).isFile;
  } catch {
    return false;
  }
}

/** Removes a task's folder and all in it; false (not an error) when it was already gone. */
export function removeTaskFolder(dir: string): boolean {
  try {
    Deno.removeSync(dir, { recursive: true });
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * The task folders in the state directory, by task id, with when each last changed; empty when
 * the folder of task folders cannot be read.
 */
export function listTaskFolders(
  home: string,
): { id: string; dir: string; changedAt: () => number | null }[] {
  const tasks = tasksDir(home);
  try {
    return [...Deno.readDirSync(tasks)]
      .filter((entry) => entry.isDirectory && isTaskId(entry.name))
      .map((entry) => {
        const dir = join(tasks, entry.name);
        return {
          id: entry.name,
          dir,
          changedAt: () => Deno.statSync(dir).mtime?.getTime() ?? null,
        };
      });
  } catch {
    return [];
  }
}

/** Bytes of output a task has written so far; 0 when its log is gone. */
export function outputBytes(logPath: string): number {
  try {
    return Deno.statSync(logPath).size;
  } catch {
    return 0;
  }
}

/** When the log last grew; null when it is gone. */
export function outputModified(logPath: string): Date | null {
  try {
    return Deno.statSync(logPath).mtime;
  } catch {
    return null;
  }
}

function wrapperStopReason(word: string | undefined): WrapperStopReason | null {
  return word === "timeout" || word === "log_limit" ? word : null;
}

/**
 * The exit record a wrapper left ("<code>", or "<code> <reason>" when it stopped the command
 * itself), or null when it left none (yet).
 */
export function readExitRecord(path: string): ExitRecord | null {
  const text = readTaskFile(path);
  if (text === null) return null;
  let at: number;
  try {
    at = Deno.lstatSync(path).mtime?.getTime() ?? Date.now();
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
  const text = readTaskFile(`${taskDir}/stop`);
  if (text === null) return null;
  const words = text.trim().split(/\s+/);
  const reason = wrapperStopReason(words[0]);
  return reason && { reason, forced: words.includes("forced") };
}

/**
 * The cgroup the task's wrapper moved into, from <task>/cgroup; null without one. The task can
 * write that file, so only a path of the shape the wrapper uses, for this very task, is taken:
 * a task cannot make a cancel kill someone else's cgroup.
 */
export function readTaskCgroup(taskDir: string, taskId: string): string | null {
  const path = readTaskFile(`${taskDir}/cgroup`)?.trim();
  if (path === undefined) return null;
  return isTaskCgroup(path, taskId) ? path : null;
}

/** The pid of a task's command, which its wrapper notes in <task>/command; null before that. */
export function readCommandPid(taskDir: string): number | null {
  const pid = Number.parseInt(readTaskFile(`${taskDir}/command`) ?? "", 10);
  return Number.isInteger(pid) && pid > 1 ? pid : null;
}

/**
 * The mtime of a stopper's mark (signalMarkPath, signalSentMarkPath): when the first stopper was
 * about to signal the task's command, or had surely signalled it; null if none did.
 */
export function readSignalMark(path: string): number | null {
  // The task can write its folder: a symlink there says nothing of any stopper.
  return regularFileModifiedAt(path);
}

/** When the wrapper noted its command's start in <task>/command (its mtime); null before that. */
export function commandNotedAt(taskDir: string): number | null {
  return modifiedAt(join(taskDir, "command"));
}

/** When the spawn mark was last written (its mtime): the spawn of its attempt began then. */
export function spawnMarkedAt(taskDir: string): number | null {
  return modifiedAt(join(taskDir, "spawned"));
}

function modifiedAt(path: string): number | null {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? null;
  } catch {
    return null;
  }
}

/** Where Slurm writes what a slurm task's job itself printed (sbatch --output and --error). */
export function slurmOutputPath(taskDir: string): string {
  return join(taskDir, "slurm.out");
}

/** What an executor needs to find a task's processes; its cgroup is read only when asked. */
export function taskTarget(home: string, task: Task, withCgroup: boolean): TaskTarget {
  return {
    taskId: task.id,
    pid: task.pid,
    cgroup: withCgroup ? readTaskCgroup(taskPaths(home, task.id).dir, task.id) : null,
  };
}

/** The mark the first stopper of a task creates just before its first signal (readSignalMark). */
export function signalMarkPath(taskDir: string): string {
  return join(taskDir, "signalled");
}

/**
 * The mark the first stopper of a task to have signalled its command creates right after that
 * signal (readSignalMark): an end recorded before it came before the signal could reach it.
 */
export function signalSentMarkPath(taskDir: string): string {
  return join(taskDir, "signalled.after");
}
