/** Opening a log and reading its bytes at an offset, for every reader of logs. */

/** The log at `path` opened for reading, or null when it does not exist (yet). */
export async function openLog(path: string): Promise<Deno.FsFile | null> {
  try {
    return await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
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
