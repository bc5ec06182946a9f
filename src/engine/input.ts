/**
 * Input to a running task: an interactive task's stdin is the FIFO <task>/input, held open for
 * writing by a holder that lives with the task (see the POSIX wrapper), so any server, or the
 * command line, can write to it and the command reads end-of-file only once its input is closed.
 * What this module keeps in the task's folder, so every server on the state directory sees it:
 *
 * - `interactive`: made when the task is created with interactive: true (a restart copies it);
 * - `input-<attempt>`, `input-<attempt>.ctl`: the FIFOs the wrapper makes for a run and removes
 *   when it ends. Named by attempt, so a text or a close meant for one run never reaches the
 *   retry that follows it;
 * - `input-<attempt>.closed`: that run's input was closed on request;
 * - `input-<attempt>.sent`: the size of the log when input was last sent, so a prompt that was
 *   answered is not shown as waiting again until the task prints something new;
 * - `input.lock`: held while one writer writes, so two servers' texts never interleave.
 *
 * @module
 */
import * as fs from "node:fs";
import { join } from "node:path";
import { BackburnerError } from "../errors.ts";
import type { Policy } from "../policy/rules.ts";
import type { ExecutorName, Task } from "../task.ts";
import {
  type OpenedFile,
  openUnfollowed,
  readRegularText,
  replaceFile,
  SwappedFileError,
} from "../task_folder_io.ts";

/** Most bytes one send_input writes: a pipe's buffer on Linux, which a reader drains as it reads. */
export const MAX_INPUT_BYTES = 64 * 1024;
/** How long a write waits for a command that reads none of its input before it gives up. */
const WRITE_DEADLINE_MS = 5000;
const WRITE_RETRY_MS = 5;
/** PIPE_BUF, the most bytes POSIX writes to a pipe atomically (512; Linux 4096). */
const ATOMIC_WRITE_BYTES = Deno.build.os === "linux" ? 4096 : 512;
/** How long after its start a task's FIFO may still be missing or unopened. */
const START_GRACE_MS = 2000;
/**
 * How long a send waits for the input lock: another sender's text to a slow reader, or a task
 * holding its own lock (it can write its folder), never keeps a call waiting longer.
 */
const LOCK_DEADLINE_MS = 15_000;
/** A mark holds one number: more than this is not ours. */
const MARK_MAX_BYTES = 64;

/** Whether a task can be answered, as task_status shows it. */
export interface InputState {
  /** Started with interactive: true. */
  readonly interactive: boolean;
  /** send_input can write to it now: interactive, working, its input not closed. */
  readonly open: boolean;
  /** The size of the log when input was last sent; null when none was. */
  readonly sentAtBytes: number | null;
}

export const NO_INPUT: InputState = { interactive: false, open: false, sentAtBytes: null };

/** What send_input asks for. */
export interface SendInputRequest {
  /** Written as given: a newline only if it holds one. */
  readonly text?: string;
  /** End the task's input (after the text, if any): the command reads end-of-file. */
  readonly close?: boolean;
  /**
   * The answer to the prompt that ends at this log size: written only if no input was sent since
   * the log reached it, so two answers to one prompt (a client's retry racing its first try) write
   * once.
   */
  readonly answersPromptAt?: number;
}

export interface SendInputOutcome {
  readonly bytesWritten: number;
  readonly closed: boolean;
}

function invalid(message: string): BackburnerError {
  return new BackburnerError("invalid_argument", message);
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Marks a new task's folder as interactive. */
export function markInteractive(dir: string): void {
  Deno.writeFileSync(join(dir, "interactive"), new Uint8Array(), { mode: 0o600 });
}

export function isInteractive(dir: string): boolean {
  return exists(join(dir, "interactive"));
}

/** The files of one run's input: each attempt gets a fresh stdin. */
export function inputPaths(
  dir: string,
  attempt: number,
): { fifo: string; ctl: string; closed: string; sent: string } {
  const fifo = join(dir, `input-${attempt}`);
  return { fifo, ctl: `${fifo}.ctl`, closed: `${fifo}.closed`, sent: `${fifo}.sent` };
}

/**
 * Refuses interactive where it cannot work or would defeat the policy: on Windows (no FIFOs), on
 * Slurm (the command runs on another node, where a FIFO in the shared state directory does not
 * reach it), and under an allow list (BACKBURNER_ALLOW), whose promise is that only commands its
 * rules judged run: text sent to a task is data no rule sees, and a shell or interpreter reading
 * its stdin would run it as code.
 */
export function checkInteractive(
  executor: ExecutorName,
  policy: Policy,
  os: typeof Deno.build.os,
): void {
  if (os === "windows") {
    throw invalid(
      "Cannot start task: interactive tasks need a POSIX system (Linux or macOS), and this server runs on Windows: pass the input as stdin instead",
    );
  }
  if (executor === "slurm") {
    throw invalid(
      'Cannot start task: interactive is not supported with executor "slurm" (the job runs on another node, which the task\'s input cannot reach): pass the input as stdin, or use executor "local"',
    );
  }
  if (policy.allow.length > 0) {
    throw new BackburnerError(
      "refused_by_policy",
      "Cannot start task: interactive is refused while an allow list (BACKBURNER_ALLOW) is in force, because text sent to a task is not checked by the command policy: pass the input as stdin, or unset BACKBURNER_ALLOW",
    );
  }
}

/** Whether the task can be answered now, from its folder. */
export function inputState(task: Task, dir: string): InputState {
  if (!isInteractive(dir)) return NO_INPUT;
  const paths = inputPaths(dir, task.attempt);
  let sentAtBytes: number | null = null;
  const mark = readMark(paths.sent);
  if (mark !== null) {
    const value = Number.parseInt(mark, 10);
    if (Number.isSafeInteger(value)) sentAtBytes = value;
  }
  const open = task.status === "working" && task.executor === "local" &&
    !exists(paths.closed) && exists(paths.fifo);
  return { interactive: true, open, sentAtBytes };
}

/** Why the task cannot take input now, as one sentence; null when it can. */
function refusal(task: Task, dir: string): string | null {
  const id = task.id;
  if (!isInteractive(dir)) {
    return `Cannot send input: task ${id} was not started with interactive: true, so its stdin is fixed: start it again with interactive: true (restart_task keeps its stdin)`;
  }
  if (task.status === "queued") {
    return `Cannot send input: task ${id} is queued and has no stdin yet: wait until it is working`;
  }
  if (task.status !== "working") {
    return `Cannot send input: task ${id} has ended (${task.status}): start it again to answer it`;
  }
  if (exists(inputPaths(dir, task.attempt).closed)) {
    return `Cannot send input: the input of task ${id} was closed: nothing more can be sent to it`;
  }
  return null;
}

function errno(error: unknown): string | undefined {
  return (error as { code?: string } | null)?.code;
}

/**
 * Writes `bytes` to the FIFO at `path` without ever blocking: the open fails at once (ENXIO) when
 * nothing reads it, and a full pipe is retried until the deadline. Returns how many were written.
 */
async function writeFifo(
  path: string,
  bytes: Uint8Array,
  deadlineMs: number,
  openGraceMs = 0,
): Promise<number> {
  const openBy = Date.now() + openGraceMs;
  let fd: number;
  for (;;) {
    try {
      // The task can write its folder: no symlink is followed (not even to another task's FIFO),
      // and only a FIFO is written to, so it cannot turn an agent's input into a write elsewhere.
      let opened: OpenedFile;
      try {
        opened = openUnfollowed(path, fs.constants.O_WRONLY);
      } catch (error) {
        if (!(error instanceof SwappedFileError)) throw error;
        throw Object.assign(new Error(`${path} is not a FIFO`), { code: "ENOENT" });
      }
      fd = opened.fd;
      if (!opened.stats.isFIFO()) {
        fs.closeSync(fd);
        throw Object.assign(new Error(`${path} is not a FIFO`), { code: "ENOENT" });
      }
      break;
    } catch (error) {
      // A task just started may not have made its FIFO, or opened it, yet.
      if (!["ENXIO", "ENOENT"].includes(errno(error) ?? "") || Date.now() > openBy) throw error;
      await new Promise((resolve) => setTimeout(resolve, WRITE_RETRY_MS));
    }
  }
  let written = 0;
  try {
    // A reader that takes its input slowly is waited for; one that takes none for deadlineMs is not.
    let deadline = Date.now() + deadlineMs;
    while (written < bytes.length) {
      // At most PIPE_BUF bytes a write: the kernel writes those whole or not at all (EAGAIN), so a
      // full pipe never leaves a part written that a retry would write again (node:fs reports
      // EAGAIN without the count of a partial write).
      const chunk = bytes.subarray(written, written + ATOMIC_WRITE_BYTES);
      try {
        const count = fs.writeSync(fd, chunk);
        if (count !== chunk.length) throw new Error(`short write of ${count} of ${chunk.length}`);
        written += count;
        deadline = Date.now() + deadlineMs;
      } catch (error) {
        if (errno(error) !== "EAGAIN" || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, WRITE_RETRY_MS));
      }
    }
  } catch (error) {
    throw Object.assign(error as Error, { written });
  } finally {
    fs.closeSync(fd);
  }
  return written;
}

/** A mark's text (its first bytes), or null when there is none or it is not a regular file. */
function readMark(path: string): string | null {
  return readRegularText(path, MARK_MAX_BYTES);
}

/**
 * Opens the task's input lock file, made if missing. The task can write its folder: a symlink
 * there is not followed (no file is made or locked elsewhere), and only a regular file is used;
 * the file opened is checked to be the one looked at, so a swap between the two fails too.
 */
async function openLock(id: string, path: string): Promise<Deno.FsFile> {
  const foreign = () =>
    invalid(
      `Cannot send input: task ${id}'s input lock (input.lock in its folder) is not a plain file, so its command changed it: nothing was written; cancel the task`,
    );
  const plain = () => {
    try {
      return Deno.lstatSync(path).isFile;
    } catch {
      return true; // missing: made below
    }
  };
  if (!plain()) throw foreign();
  let checked: fs.Stats;
  try {
    const { fd, stats } = openUnfollowed(path, fs.constants.O_RDWR, true);
    checked = stats;
    fs.closeSync(fd);
  } catch (error) {
    // Swapped meanwhile (a symlink, or ENOENT where Deno resolves the path first).
    if (!plain() || error instanceof SwappedFileError || errno(error) === "ENXIO") {
      throw foreign();
    }
    throw invalid(
      `Cannot send input: task ${id}'s input lock could not be opened (${
        error instanceof Error ? error.message : String(error)
      }): nothing was written`,
    );
  }
  if (!checked.isFile()) throw foreign();
  const file = await Deno.open(path, { read: true, write: true });
  const opened = await file.stat();
  if (!opened.isFile || opened.ino !== checked.ino || opened.dev !== checked.dev) {
    file.close();
    throw foreign();
  }
  return file;
}

/**
 * Runs `body` holding the task's input lock, so writers on any server take turns. The lock is
 * tried, not waited on: a holder that keeps it (another server's long write to a slow reader, or
 * the task itself, which can lock its own folder's file) makes the call fail after
 * LOCK_DEADLINE_MS instead of hanging it.
 */
async function withInputLock<T>(id: string, dir: string, body: () => Promise<T>): Promise<T> {
  const file = await openLock(id, join(dir, "input.lock"));
  try {
    const deadline = Date.now() + LOCK_DEADLINE_MS;
    while (!await file.tryLock(true)) {
      if (Date.now() > deadline) {
        throw invalid(
          `Cannot send input: another send to task ${id} held its input for ${
            LOCK_DEADLINE_MS / 1000
          } s: nothing was written; try again (task_result shows what it read)`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, WRITE_RETRY_MS));
    }
    return await body();
  } finally {
    file.close();
  }
}

/**
 * Sends text to a working interactive task's stdin and/or closes it. `logBytes` is the size of
 * its log now: a prompt printed before it counts as answered.
 */
export async function sendInput(
  task: Task,
  dir: string,
  request: SendInputRequest,
  logBytes: number,
  policy: Policy,
): Promise<SendInputOutcome> {
  // Under an allow list no text goes to any task: the `interactive` mark is a file in the task's
  // folder, which the task's own (allowed) program can make, with a FIFO it reads as its "input".
  if (policy.allow.length > 0) {
    throw new BackburnerError(
      "refused_by_policy",
      "Cannot send input: sending input is refused while an allow list (BACKBURNER_ALLOW) is in force, because text sent to a task is not checked by the command policy: pass the input as stdin when you start the task",
    );
  }
  const text = request.text ?? "";
  if (typeof text !== "string") throw invalid("Cannot send input: text must be a string");
  const close = request.close ?? false;
  const bytes = new TextEncoder().encode(text);
  if (bytes.length === 0 && !close) {
    throw invalid(
      'Cannot send input: text is empty: pass the text to write (end it with "\\n" to send a line), or close: true to end the input',
    );
  }
  if (bytes.length > MAX_INPUT_BYTES) {
    throw invalid(
      `Cannot send input: text is ${bytes.length} bytes, more than ${MAX_INPUT_BYTES}: send it in several parts`,
    );
  }
  const refused = refusal(task, dir);
  if (refused !== null) throw invalid(refused);
  return await withInputLock(task.id, dir, async () => {
    // Looked at again under the lock: another server may have closed it meanwhile.
    const paths = inputPaths(dir, task.attempt);
    if (exists(paths.closed)) throw invalid(refusal(task, dir) ?? "");
    if (request.answersPromptAt !== undefined) {
      const sentAt = inputState(task, dir).sentAtBytes;
      if (sentAt !== null && sentAt >= request.answersPromptAt) {
        return { bytesWritten: 0, closed: false };
      }
    }
    let bytesWritten = 0;
    const young = task.startedAt !== null && Date.now() - task.startedAt < START_GRACE_MS;
    const openGraceMs = young ? START_GRACE_MS : 0;
    if (bytes.length > 0) {
      try {
        bytesWritten = await writeFifo(paths.fifo, bytes, WRITE_DEADLINE_MS, openGraceMs);
      } catch (error) {
        // Part of it went in: the prompt was answered, if badly. None did: it still waits.
        if (((error as { written?: number }).written ?? 0) > 0) {
          writeMark(paths.sent, `${logBytes}\n`);
        }
        throw writeFailure(task.id, error, bytes.length);
      }
      // The log size from before the write: what the task prints in answer counts as new.
      writeMark(paths.sent, `${logBytes}\n`);
    }
    if (close) {
      writeMark(paths.closed, "");
      try {
        await writeFifo(
          paths.ctl,
          new TextEncoder().encode("close\n"),
          1000,
          openGraceMs,
        );
      } catch (error) {
        // Its holder is gone: the task has ended, so its input is closed anyway.
        if (!["ENXIO", "ENOENT", "EPIPE"].includes(errno(error) ?? "")) throw error;
      }
    }
    return { bytesWritten, closed: close };
  });
}

/**
 * Writes a mark in the task's folder as a new file renamed into place: a symlink the task left
 * under that name is replaced, never followed. Whatever else the task put there (a directory) is
 * removed first, without following what is in it. A mark records what already happened (the
 * text went in, the close was asked for): failing to write it must not make the call report a
 * failure, which would have the agent send the text again, so it is best effort.
 */
function writeMark(path: string, text: string): void {
  try {
    replaceFile(path, text);
  } catch {
    // best effort (above)
  }
}

/** A failed write as one sentence. */
function writeFailure(id: string, error: unknown, total: number): BackburnerError {
  const code = errno(error);
  const written = (error as { written?: number }).written ?? 0;
  if (code === "ENXIO" || code === "ENOENT" || (code === "EPIPE" && written === 0)) {
    return invalid(
      `Cannot send input: task ${id} no longer reads its input (its command has ended or closed its stdin): check task_status`,
    );
  }
  if (code === "EAGAIN") {
    return invalid(
      `Cannot send input: task ${id} did not read its input for ${
        WRITE_DEADLINE_MS / 1000
      } s (${written} of ${total} bytes written): check what it waits for with task_result`,
    );
  }
  return invalid(
    `Cannot send input: writing to task ${id} failed after ${written} of ${total} bytes (${
      error instanceof Error ? error.message : String(error)
    })`,
  );
}
