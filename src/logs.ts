/** Reading a task's output log: bounded, from the end, as valid text. */

export interface Tail {
  /** The text returned, marker included; never longer than the cap. */
  readonly text: string;
  /** Size of the whole log in bytes. */
  readonly totalBytes: number;
  /** Byte offset in the log where the returned output starts. */
  readonly startOffset: number;
  /** Bytes before startOffset that were left out. */
  readonly omittedBytes: number;
}

export interface TailOptions {
  /** Most characters returned, marker included. */
  readonly maxChars: number;
  /** Return at most this many last lines. Default: as many as fit. */
  readonly lines?: number;
}

const decoder = new TextDecoder("utf-8", { fatal: false });

/** Turns log bytes into text an MCP reply can carry: invalid UTF-8 and NUL become U+FFFD. */
export function toText(bytes: Uint8Array): string {
  return decoder.decode(bytes).replaceAll("\0", "\uFFFD");
}

function marker(omittedBytes: number): string {
  return `[backburner: ${omittedBytes} earlier bytes of output left out]\n`;
}

/**
 * The end of the log at `path`, capped. Reads only the last few bytes it needs (about four per
 * character allowed), so a tail of a huge log costs the tail, not the file.
 */
export async function readTail(path: string, options: TailOptions): Promise<Tail> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { text: "", totalBytes: 0, startOffset: 0, omittedBytes: 0 };
    }
    throw error;
  }
  try {
    const totalBytes = (await file.stat()).size;
    // A character is at most 4 bytes of UTF-8; reading a little more lets a cut land on a line.
    const window = Math.min(totalBytes, options.maxChars * 4 + 4);
    const bytes = new Uint8Array(window);
    await file.seek(totalBytes - window, Deno.SeekMode.Start);
    let filled = 0;
    while (filled < window) {
      const n = await file.read(bytes.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    let start = 0;
    // A window that begins inside a UTF-8 sequence skips its continuation bytes.
    if (totalBytes > window) {
      while (start < filled && start < 3 && (bytes[start] & 0xc0) === 0x80) start++;
    }
    return cut(bytes.subarray(start, filled), totalBytes - window + start, totalBytes, options);
  } finally {
    file.close();
  }
}

function cut(bytes: Uint8Array, offset: number, totalBytes: number, options: TailOptions): Tail {
  // Work in bytes so the offsets stay exact, then check the character count of the result.
  let from = 0;
  if (options.lines !== undefined) {
    let newlines = 0;
    // A final newline ends the last line; it does not start another.
    let i = bytes.length - 1;
    if (i >= 0 && bytes[i] === 0x0a) i--;
    for (; i >= 0; i--) {
      if (bytes[i] === 0x0a && ++newlines === options.lines) break;
    }
    from = i + 1;
  }
  for (;;) {
    const text = toText(bytes.subarray(from));
    const startOffset = offset + from;
    const omitted = startOffset;
    const full = omitted > 0 ? marker(omitted) + text : text;
    if (full.length <= options.maxChars || from >= bytes.length) {
      return {
        text: full.slice(0, options.maxChars),
        totalBytes,
        startOffset,
        omittedBytes: omitted,
      };
    }
    // Too long: drop the excess from the front, then move on to the next line start if one is
    // near, so the reply begins with a whole line.
    const excess = full.length - options.maxChars;
    let next = from + Math.max(1, excess);
    const newline = bytes.indexOf(0x0a, next);
    if (newline !== -1 && newline + 1 - next < 200) next = newline + 1;
    while (next < bytes.length && (bytes[next] & 0xc0) === 0x80) next++;
    from = Math.min(next, bytes.length);
  }
}
