/**
 * Bounded slices of a task's output log: from the end, the start or any byte offset. A log can be
 * many gigabytes and still growing, so every read touches only the bytes it needs, and every reply
 * is valid text within a character budget, with a marker and a note saying exactly what was left
 * out and which offset gets it.
 */

import { cleanText, MAX_LINE_CHARS, toText } from "./text.ts";
import { openLog, readAt } from "./file.ts";
import { boundaryAfter, boundaryBefore, completeEnd } from "./utf8.ts";
import { countNewlines } from "./newlines.ts";

/** How much to return and in what form. */
export interface ReadOptions {
  /** Most characters in the returned text, every marker included. At least 200. */
  readonly maxChars: number;
  /**
   * Bytes as written (still capped, still valid text via toText) instead of clean text (escape
   * sequences removed, carriage-return redraws collapsed, long lines cut). Default false.
   */
  readonly raw?: boolean;
  /**
   * The log will not grow any more (its task has ended), so a last line without a newline is
   * returned by a forward read instead of being held back until it ends. Default false.
   */
  readonly complete?: boolean;
}

/** Options of a read from one end: the first or the last lines. */
export interface LinesOptions extends ReadOptions {
  /** At most this many lines. Default: as many as fit. */
  readonly lines?: number;
}

/** A bounded piece of a log, as text, with the byte offsets it came from. */
export interface Slice {
  /** What the agent reads, markers included; never longer than maxChars. */
  readonly text: string;
  /** Size of the log in bytes at the time of reading. */
  readonly totalBytes: number;
  /** Byte offset where the returned bytes start. */
  readonly startOffset: number;
  /** Byte offset just after the returned bytes: the cursor to pass next time. */
  readonly nextOffset: number;
  /** Bytes before startOffset that were not returned. */
  readonly omittedBefore: number;
  /** Bytes after nextOffset that were not returned (0 for a tail). */
  readonly omittedAfter: number;
  /** One sentence saying exactly what was left out and how to get it; null when nothing was. */
  readonly note: string | null;
}

const MIN_CHARS = 200;
/** Bytes read beyond four per character, so that a cut can still land on a line start. */
const SLACK_BYTES = 1024;
/** A window grown to find more lines grows from this size. */
const GROW_BYTES = 64 * 1024;

/**
 * The end of the log at `path`. Reads a window from the end of about four bytes per character
 * allowed (grown backwards for `lines` until enough are found or the budget is used), so a tail of
 * a huge log costs the tail, not the file. Whole lines are preferred; when even the last line does
 * not fit, or whole lines would fill less than half the budget, the first line shown is cut. A
 * marker line at the start names the bytes left out.
 *
 * @param options.lines At most this many last lines. Default: as many as fit.
 */
export async function readTail(
  path: string,
  options: LinesOptions,
): Promise<Slice> {
  checkRead(options);
  const file = await openLog(path);
  if (file === null) return emptySlice(0, 0);
  try {
    const totalBytes = (await file.stat()).size;
    if (totalBytes === 0) return emptySlice(0, 0);
    const window = await tailWindow(file, totalBytes, windowBytes(options.maxChars), options.lines);
    return fitTail({ ...window, totalBytes }, options);
  } finally {
    file.close();
  }
}

/**
 * The start of the log at `path`, like {@linkcode readRange} from offset 0, optionally only its
 * first `lines` lines. A marker at the end names the bytes after it and the offset to continue at.
 *
 * @param options.lines At most this many first lines. Default: as many as fit.
 */
export async function readHead(
  path: string,
  options: LinesOptions,
): Promise<Slice> {
  checkRead(options);
  return await readForward(path, 0, options);
}

/**
 * The bytes from `offset` on, at most maxBytes (and at most what fits maxChars). Ends at the last
 * complete line inside the range when there is one (so a follower never sees half a line twice),
 * otherwise on a UTF-8 boundary. An offset past the end returns empty text with nextOffset =
 * offset (not an error: the task may write more); a negative or non-integer offset is a RangeError.
 * An offset inside a UTF-8 sequence starts at the next character.
 *
 * @param options.offset Byte offset to start at, such as the nextOffset of the previous read.
 * @param options.maxBytes Most bytes to return. Default: as many as fit maxChars.
 */
export async function readRange(
  path: string,
  options: ReadOptions & { readonly offset: number; readonly maxBytes?: number },
): Promise<Slice> {
  const { offset, maxBytes } = options;
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(
      `offset ${offset} is not a byte offset: pass a whole number from 0 (the start of the log), such as the nextOffset of the previous read`,
    );
  }
  if (maxBytes !== undefined && !(Number.isSafeInteger(maxBytes) && maxBytes >= 1)) {
    throw new RangeError(
      `maxBytes ${maxBytes} is out of range: pass a whole number from 1, or leave it out for as much as fits`,
    );
  }
  checkRead(options);
  return await readForward(path, offset, options);
}

// Checks shared by every read (a search too).

export function checkRead(options: LinesOptions): void {
  const { maxChars } = options;
  if (!(Number.isSafeInteger(maxChars) && maxChars >= MIN_CHARS)) {
    throw new RangeError(
      `maxChars ${maxChars} is out of range: pass a whole number of at least ${MIN_CHARS}, room for the markers`,
    );
  }
  if (options.lines !== undefined) checkLines(options.lines);
}

function checkLines(lines: number): void {
  if (!(Number.isSafeInteger(lines) && lines >= 1)) {
    throw new RangeError(
      `lines ${lines} is out of range: pass a whole number from 1, or leave it out for as much as fits`,
    );
  }
}

/** A character is at most 4 bytes of UTF-8: this many bytes always hold enough for the budget. */
function windowBytes(maxChars: number): number {
  return maxChars * 4 + SLACK_BYTES;
}

/**
 * The last bytes of the log: enough for the character budget, or for `lines` if that is fewer
 * (grown backwards in steps, so a few lines of a huge log read a few kilobytes). The window starts
 * on a character boundary.
 */
async function tailWindow(
  file: Deno.FsFile,
  totalBytes: number,
  limit: number,
  lines: number | undefined,
): Promise<{ bytes: Uint8Array; offset: number }> {
  const most = Math.min(totalBytes, limit);
  let size = lines === undefined ? most : Math.min(most, GROW_BYTES);
  let bytes = await readAt(file, totalBytes - size, size);
  if (lines !== undefined) {
    // A final newline ends the last line; it does not start another.
    let newlines = countNewlines(bytes) - (bytes[bytes.length - 1] === 10 ? 1 : 0);
    while (newlines < lines && size < most) {
      const grown = Math.min(most, size * 4);
      const front = await readAt(file, totalBytes - grown, grown - size);
      newlines += countNewlines(front);
      bytes = joined(front, bytes);
      size = grown;
    }
  }
  let offset = totalBytes - bytes.length;
  if (offset > 0) {
    const skip = boundaryAfter(bytes, 0);
    bytes = bytes.subarray(skip);
    offset += skip;
  }
  return { bytes, offset };
}

function joined(first: Uint8Array, second: Uint8Array): Uint8Array {
  const both = new Uint8Array(first.length + second.length);
  both.set(first);
  both.set(second, first.length);
  return both;
}

// Rendering.

/**
 * Clean text that keeps its lines: line i of the result is line i of the input. Only an OSC
 * sequence (a title, a hyperlink) can hold a newline, so only then is each line cleaned on its own.
 */
function cleanLines(text: string): string {
  if (text.includes("\x1b]")) return text.split("\n").map((line) => cleanText(line)).join("\n");
  return cleanText(text);
}

function render(bytes: Uint8Array, raw: boolean): string {
  const text = toText(bytes);
  return raw ? text : cleanLines(text);
}

/** A window of log bytes split into lines, each with the length it renders to. */
interface Lines {
  /** Byte index where each line starts, then one more: the window's length. */
  readonly starts: number[];
  /** Rendered length of each line, its newline left out. */
  readonly lengths: number[];
  readonly bytes: Uint8Array;
}

function splitLines(bytes: Uint8Array, raw: boolean): Lines {
  const starts: number[] = [];
  if (bytes.length > 0) {
    starts.push(0);
    for (
      let i = bytes.indexOf(10);
      i !== -1 && i + 1 < bytes.length;
      i = bytes.indexOf(10, i + 1)
    ) {
      starts.push(i + 1);
    }
    starts.push(bytes.length);
  }
  const count = Math.max(0, starts.length - 1);
  // Rendering keeps lines, so the rendered text splits into the same lines as the bytes.
  const pieces = count === 0 ? [] : render(bytes, raw).split("\n", count);
  return { starts, lengths: pieces.map((piece) => piece.length), bytes };
}

function lineCount(lines: Lines): number {
  return Math.max(0, lines.starts.length - 1);
}

/** Rendered length of line `index` with its newline, if it has one. */
function lineChars(lines: Lines, index: number): number {
  const end = lines.starts[index + 1];
  return lines.lengths[index] + (lines.bytes[end - 1] === 10 ? 1 : 0);
}

function tailMarker(omitted: number): string {
  return `[backburner: ${
    plural(omitted, "earlier byte")
  } left out; pass offset=0 to read from the start]\n`;
}

function forwardMarker(omitted: number, next: number): string {
  return `[backburner: ${plural(omitted, "more byte")}; pass offset=${next} to continue]`;
}

function emptySlice(totalBytes: number, offset: number): Slice {
  return {
    text: "",
    totalBytes,
    startOffset: offset,
    nextOffset: offset,
    omittedBefore: Math.min(offset, totalBytes),
    omittedAfter: 0,
    note: null,
  };
}

function leftOut(subject: string, count: number): string {
  return `${subject} ${count === 1 ? "was" : "were"} left out`;
}

export function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** Bytes read from a log: where they start, and the log's size then. */
interface Window {
  readonly bytes: Uint8Array;
  readonly offset: number;
  readonly totalBytes: number;
}

// Tails.

function fitTail(window: Window, options: LinesOptions): Slice {
  let { bytes, offset } = window;
  const { totalBytes } = window;
  const { maxChars, lines: wanted } = options;
  const raw = options.raw ?? false;
  if (!raw && offset > 0) {
    // The window starts inside a line. Clean text would cut that line after its first
    // MAX_LINE_CHARS characters, showing its middle; a tail wants its end, so start later.
    const newline = bytes.indexOf(10);
    const lineEnd = newline === -1 ? bytes.length : newline;
    if (lineEnd > MAX_LINE_CHARS) {
      const start = fitStart(bytes, 0, lineEnd, MAX_LINE_CHARS, raw);
      bytes = bytes.subarray(start);
      offset += start;
    }
  }
  const lines = splitLines(bytes, raw);
  const count = lineCount(lines);
  const first = wanted === undefined ? 0 : Math.max(0, count - wanted);
  let chars = 0;
  for (let i = first; i < count; i++) chars += lineChars(lines, i);
  if (offset + (lines.starts[first] ?? 0) === 0 && chars <= maxChars) {
    return {
      text: render(bytes, raw),
      totalBytes,
      startOffset: 0,
      nextOffset: offset + bytes.length,
      omittedBefore: 0,
      omittedAfter: 0,
      note: null,
    };
  }
  const room = maxChars - tailMarker(totalBytes).length;
  // Whole lines from the end, as many as fit.
  let from = count;
  let used = 0;
  while (from > first && used + lineChars(lines, from - 1) <= room) {
    used += lineChars(lines, --from);
  }
  let start = from === count ? bytes.length : lines.starts[from];
  let cut = false;
  if (from > first && (from === count || used < room / 2)) {
    // The end of the line before, as much of it as fits.
    const lineStart = lines.starts[from - 1];
    const partStart = fitStart(bytes, lineStart, start, room - used, raw);
    cut = partStart > lineStart && partStart < start;
    start = partStart;
  }
  let text = render(bytes.subarray(start), raw);
  // Rendering whole lines gives the lengths measured line by line; this only guards the cap.
  while (tailMarker(offset + start).length + text.length > maxChars && start < bytes.length) {
    const next = bytes.indexOf(10, start);
    start = next === -1 ? boundaryAfter(bytes, start + 1) : next + 1;
    cut = false;
    text = render(bytes.subarray(start), raw);
  }
  const startOffset = offset + start;
  const shown = text === "" ? 0 : text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
  let reason: string;
  if (wanted === undefined) {
    reason = `to fit ${maxChars} characters`;
  } else if (shown >= wanted && !cut) {
    reason = `only the last ${plural(wanted, "line")} ${wanted === 1 ? "was" : "were"} asked for`;
  } else {
    const what = cut ? `${plural(shown, "line")} (the first of them cut)` : plural(shown, "line");
    reason = `only the last ${what} of the ${wanted} asked for fit in ${maxChars} characters`;
  }
  return {
    text: startOffset > 0 ? tailMarker(startOffset) + text : text,
    totalBytes,
    startOffset,
    nextOffset: offset + bytes.length,
    omittedBefore: startOffset,
    omittedAfter: 0,
    note: startOffset > 0
      ? `${
        leftOut(`The first ${plural(startOffset, "byte")} of ${totalBytes}`, startOffset)
      } (${reason}); pass offset=0 to read from the start.`
      : null,
  };
}

/** The earliest character boundary in [from, to) whose bytes up to `to` render within `room`. */
function fitStart(bytes: Uint8Array, from: number, to: number, room: number, raw: boolean): number {
  const at = firstWhere(
    from,
    to,
    (at) => render(bytes.subarray(boundaryAfter(bytes, at, to), to), raw).length <= room,
  );
  return boundaryAfter(bytes, at, to);
}

/** The latest character boundary in (from, to] whose bytes from `from` render within `room`. */
function fitEnd(bytes: Uint8Array, from: number, to: number, room: number, raw: boolean): number {
  const past = firstWhere(
    from + 1,
    to + 1,
    (at) => render(bytes.subarray(from, boundaryBefore(bytes, at, from)), raw).length > room,
  );
  return boundaryBefore(bytes, past - 1, from);
}

/** The least index in [low, high) where `holds` (true from some index on), else `high`. */
function firstWhere(low: number, high: number, holds: (at: number) => boolean): number {
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (holds(middle)) high = middle;
    else low = middle + 1;
  }
  return low;
}

// Forward reads: heads and ranges.

async function readForward(
  path: string,
  offset: number,
  options: LinesOptions & { readonly maxBytes?: number },
): Promise<Slice> {
  const file = await openLog(path);
  if (file === null) return emptySlice(0, offset);
  try {
    const totalBytes = (await file.stat()).size;
    if (offset >= totalBytes) return emptySlice(totalBytes, offset);
    const rest = totalBytes - offset;
    const limit = windowBytes(options.maxChars);
    const most = Math.min(rest, limit, options.maxBytes ?? Infinity);
    let bytes: Uint8Array;
    if (options.lines === undefined) {
      bytes = await readAt(file, offset, most);
    } else {
      let size = Math.min(most, GROW_BYTES);
      bytes = await readAt(file, offset, size);
      let newlines = countNewlines(bytes);
      while (newlines < options.lines && size < most && bytes.length === size) {
        const grown = Math.min(most, size * 4);
        const back = await readAt(file, offset + size, grown - size);
        newlines += countNewlines(back);
        bytes = joined(bytes, back);
        size = grown;
      }
    }
    // A window cut short stops for the budget: the bytes, or the characters.
    const cutBy = options.maxBytes !== undefined && options.maxBytes <= limit
      ? `to stay within ${options.maxBytes} bytes`
      : `to fit ${options.maxChars} characters`;
    const skip = offset > 0 ? boundaryAfter(bytes, 0) : 0;
    return fitForward({ bytes: bytes.subarray(skip), offset: offset + skip, totalBytes }, {
      ...options,
      cutBy,
    });
  } finally {
    file.close();
  }
}

function fitForward(
  { bytes, offset, totalBytes }: Window,
  options: LinesOptions & { readonly cutBy: string },
): Slice {
  const { maxChars, lines: wanted, cutBy } = options;
  const raw = options.raw ?? false;
  const lines = splitLines(bytes, raw);
  const count = lineCount(lines);
  const atEnd = offset + bytes.length === totalBytes;
  let last = wanted === undefined ? count : Math.min(count, wanted);
  let end = lines.starts[last] ?? 0;
  let reason = last < count
    ? `only the first ${plural(last, "line")} ${last === 1 ? "was" : "were"} asked for`
    : cutBy;
  if (last === count && count > 0 && bytes[end - 1] !== 10 && !(atEnd && options.complete)) {
    // An unfinished line waits for its end, unless it is the only line.
    if (count > 1) {
      end = lines.starts[--last];
      if (atEnd) reason = "an unfinished line, held back until it ends";
    } else {
      end = completeEnd(bytes, 0, end);
      if (atEnd) reason = "an unfinished character, held back until it ends";
    }
  }
  let chars = 0;
  for (let i = 0; i < last; i++) chars += lineChars(lines, i);
  if (end < bytes.length || !atEnd || chars > maxChars) {
    const room = maxChars - forwardMarker(totalBytes, totalBytes).length - 1;
    let upTo = 0;
    let used = 0;
    while (upTo < last && used + lineChars(lines, upTo) <= room) used += lineChars(lines, upTo++);
    if (upTo < last) {
      reason = `to fit ${maxChars} characters`;
      end = upTo > 0
        ? lines.starts[upTo]
        : fitEnd(bytes, 0, Math.min(end, lines.starts[1]), room, raw);
    }
  }
  let text = render(bytes.subarray(0, end), raw);
  const nextOffset = offset + end;
  const omittedAfter = totalBytes - nextOffset;
  if (omittedAfter > 0) {
    const marker = forwardMarker(omittedAfter, nextOffset);
    text += (text === "" || text.endsWith("\n") ? "" : "\n") + marker;
  }
  return {
    text,
    totalBytes,
    startOffset: offset,
    nextOffset,
    omittedBefore: offset,
    omittedAfter,
    note: omittedAfter > 0
      ? `${
        leftOut(
          `The last ${plural(omittedAfter, "byte")}, from offset ${nextOffset} of ${totalBytes},`,
          omittedAfter,
        )
      } (${reason}); pass offset=${nextOffset} to continue.`
      : null,
  };
}
