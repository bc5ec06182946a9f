/** Opening a log and reading its bytes at an offset, for every reader of logs. */

/**
 * The log at `path` opened for reading, or null when it does not exist (yet) or is no longer a
 * regular file. The task can write its folder and so replace its log: a FIFO there would block
 * the open (and the call) until some writer came, a symlink to /dev/zero would never end. Only a
 * regular file is opened, checked before (lstat: a symlink is refused) and after (the file opened
 * is the one looked at). What the task put there instead is not output the server can vouch
 * for: its readers see no log, as before the first byte, and every call still answers.
 */
export async function openLog(path: string): Promise<Deno.FsFile | null> {
  let seen: Deno.FileInfo;
  try {
    seen = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  if (!seen.isFile) return null;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  const opened = await file.stat();
  if (!opened.isFile || opened.ino !== seen.ino || opened.dev !== seen.dev) {
    file.close();
    return null;
  }
  return file;
}

/** Reads `length` bytes at `position`, fewer only if the file ends first. */
export async function readAt(
  file: Deno.FsFile,
  position: number,
  length: number,
): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  await file.seek(position, Deno.SeekMode.Start);
  const filled = await readInto(file, bytes);
  return filled === length ? bytes : bytes.subarray(0, filled);
}

export function readIntoSync(file: Deno.FsFile, target: Uint8Array): number {
  let filled = 0;
  while (filled < target.length) {
    const n = file.readSync(target.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return filled;
}

export async function readInto(file: Deno.FsFile, target: Uint8Array): Promise<number> {
  let filled = 0;
  while (filled < target.length) {
    const n = await file.read(target.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return filled;
}
