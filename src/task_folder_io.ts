/**
 * Reading and writing files in a folder a task can write (its own folder under `tasks/`). The
 * task runs as the same user as the server, so it can put anything under a name the server uses:
 * a FIFO, where a plain open blocks until the other end comes (and a sync open blocks the whole
 * server); a symlink to /dev/zero (a read without end) or to a file the server may write, such as
 * its own database, which a plain write would truncate or append to. Every such file is opened
 * without blocking (O_NONBLOCK) and only when its name is not a symlink, and it is used only when
 * it is what the caller expects (a regular file, a FIFO); a file is replaced by a new one renamed
 * into place, which replaces a symlink instead of writing through it.
 *
 * O_NOFOLLOW alone is not enough: under path-scoped permissions (`--allow-read=<dir>`, how the
 * server runs) Deno resolves a path's symlinks to check it and opens the resolved path, so the
 * flag never sees the link. Hence openUnfollowed: the name is looked at before the open (lstat:
 * not a symlink) and after it (lstat: the very file the descriptor holds), so a swap made around
 * the open is caught before anything is read or written.
 *
 * @module
 */
import * as fs from "node:fs";

/** A descriptor openUnfollowed opened, with what it holds. */
export interface OpenedFile {
  readonly fd: number;
  readonly stats: fs.Stats;
}

/** Why openUnfollowed refused: the name is (or became) a symlink, or was swapped meanwhile. */
export class SwappedFileError extends Error {
  readonly code = "ESWAPPED";
  constructor(path: string) {
    super(`${path} is a symlink or was swapped while it was opened`);
  }
}

/**
 * Opens `path` (flags: O_RDONLY, O_WRONLY or O_RDWR, plus O_APPEND) without blocking and without
 * going through a symlink: throws SwappedFileError when the name is a symlink, before or after
 * the open, or names another file after it. With `create`, a missing file is made (0600) with
 * O_EXCL, which fails on any name that exists, a dangling symlink included. Other errors (ENOENT,
 * ENXIO for a FIFO nobody reads…) are thrown as node:fs gives them.
 */
export function openUnfollowed(path: string, flags: number, create = false): OpenedFile {
  const { O_CREAT, O_EXCL, O_NONBLOCK, O_NOFOLLOW } = fs.constants;
  const open = (extra: number) => fs.openSync(path, flags | extra | O_NONBLOCK | O_NOFOLLOW, 0o600);
  let fd: number;
  if (create) {
    try {
      fd = open(O_CREAT | O_EXCL);
    } catch (error) {
      if ((error as { code?: string }).code !== "EEXIST") throw error;
      fd = openExisting(path, () => open(0));
    }
  } else {
    fd = openExisting(path, () => open(0));
  }
  try {
    const stats = fs.fstatSync(fd);
    const named = fs.lstatSync(path);
    if (named.isSymbolicLink() || named.ino !== stats.ino || named.dev !== stats.dev) {
      throw new SwappedFileError(path);
    }
    return { fd, stats };
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
}

function openExisting(path: string, open: () => number): number {
  if (fs.lstatSync(path).isSymbolicLink()) throw new SwappedFileError(path);
  try {
    return open();
  } catch (error) {
    if ((error as { code?: string }).code === "ELOOP") throw new SwappedFileError(path);
    throw error;
  }
}

/**
 * The first `maxBytes` bytes of the file at `path`, or null when there is none, or what is there
 * is a symlink or not a regular file.
 */
export function readRegularBytes(path: string, maxBytes: number): Uint8Array | null {
  let opened: OpenedFile;
  try {
    opened = openUnfollowed(path, fs.constants.O_RDONLY);
  } catch {
    return null; // none (yet), or not the server's
  }
  const { fd, stats } = opened;
  try {
    if (!stats.isFile()) return null;
    const buffer = new Uint8Array(maxBytes);
    let filled = 0;
    while (filled < maxBytes) {
      const count = fs.readSync(fd, buffer, filled, maxBytes - filled, filled);
      if (count === 0) break;
      filled += count;
    }
    return buffer.subarray(0, filled);
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/** The first `maxBytes` bytes of a regular file as text; null as readRegularBytes. */
export function readRegularText(path: string, maxBytes: number): string | null {
  const bytes = readRegularBytes(path, maxBytes);
  return bytes === null ? null : new TextDecoder().decode(bytes);
}

/**
 * Puts `data` at `path` as a new file (mode 0600) renamed into place. What the task left under
 * that name is replaced, never written through: a symlink or a FIFO by the rename, a directory
 * removed first without following what is in it. Throws when the folder cannot take it.
 */
export function replaceFile(path: string, data: string | Uint8Array): void {
  const temporary = `${path}.${crypto.randomUUID()}.tmp`;
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  try {
    Deno.writeFileSync(temporary, bytes, { mode: 0o600, createNew: true });
    try {
      Deno.renameSync(temporary, path);
    } catch {
      Deno.removeSync(path, { recursive: true });
      Deno.renameSync(temporary, path);
    }
  } catch (error) {
    try {
      Deno.removeSync(temporary);
    } catch {
      // never made, or already renamed
    }
    throw error;
  }
}

/**
 * Appends `data` to the regular file at `path`, made (0600) when missing. A symlink there is not
 * followed and a FIFO is not waited for: both throw, as does anything else that is not a regular
 * file, so nothing is written outside the folder and the call never blocks.
 */
export function appendToRegularFile(path: string, data: string | Uint8Array): void {
  const { O_WRONLY, O_APPEND } = fs.constants;
  const { fd, stats } = openUnfollowed(path, O_WRONLY | O_APPEND, true);
  try {
    if (!stats.isFile()) throw new SwappedFileError(path);
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    let written = 0;
    while (written < bytes.length) {
      written += fs.writeSync(fd, bytes, written, bytes.length - written);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Creates an empty file (mode 0600) at `path` unless a name is there already, which is left as
 * it is: of several writers only the first makes it, so its mtime says when the first came. A
 * symlink is not followed. Never throws: a name taken, or a folder gone, is not an error here.
 */
export function createMark(path: string): void {
  try {
    fs.closeSync(openUnfollowed(path, fs.constants.O_WRONLY, true).fd);
  } catch {
    // Another writer was first, the task put something else there, or the folder is gone.
  }
}

/**
 * When the regular file at `path` was last modified (ms since the epoch, as a file time: a
 * kernel tick coarse); null when there is none, or what is there is a symlink or not a file.
 */
export function regularFileModifiedAt(path: string): number | null {
  try {
    const stats = Deno.lstatSync(path);
    return stats.isFile ? stats.mtime?.getTime() ?? null : null;
  } catch {
    return null;
  }
}
