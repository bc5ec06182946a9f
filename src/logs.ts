/**
 * Reading a task's output log: bounded slices from the end, the start or any byte offset, and a
 * streaming search. A log can be many gigabytes and still growing, so every read touches only the
 * bytes it needs, and every reply is valid text within a character budget, with a marker and a
 * note saying exactly what was left out and which offset gets it.
 */

import {
  cleanText,
  collapseCarriageReturns,
  cutLongLines,
  MAX_LINE_CHARS,
  stripAnsi,
  toText,
} from "./text.ts";
import { compileLinePattern, type LinePattern } from "./pattern.ts";

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

/** One line that matched, with its neighbours. */
export interface GrepMatch {
  /** Line number, counting from 1. */
  readonly line: number;
  /** Byte offset where the line starts: pass it as offset to read the log from there. */
  readonly offset: number;
  /** The line (clean unless raw; cut when longer than MAX_LINE_CHARS). */
  readonly text: string;
  /** Up to `context` lines before it. */
  readonly before: string[];
  /** Up to `context` lines after it. */
  readonly after: string[];
}

/** What a search found. */
export interface GrepResult {
  /** The first matching lines, in order; their JSON stays within maxChars. */
  readonly matches: GrepMatch[];
  /** Every matching line in the log, returned or not. */
  readonly totalMatches: number;
  /** Size of the log in bytes when the search started; bytes written later are not searched. */
  readonly totalBytes: number;
  /** Whether fewer matches were returned than were found. */
  readonly truncated: boolean;
  /** One sentence saying what was left out and how to see it; null when nothing was. */
  readonly note: string | null;
}

/** Options of {@linkcode grepLog}. */
export interface GrepOptions extends ReadOptions {
  /** Lines to find: each line (clean unless raw) is tested alone; g and y flags are dropped. */
  readonly pattern: RegExp;
  /** Lines to return before and after each match, from 0 to 20. Default 0. */
  readonly context?: number;
  /** Most matches to return, from 1 to 1000 (all are counted). Default 50. */
  readonly maxMatches?: number;
  /**
   * Bytes read at a time, at most 64 MiB; tests make it small to cross chunk boundaries.
   * Default 1 MiB.
   */
  readonly chunkBytes?: number;
}

const MIN_CHARS = 200;
/** Bytes read beyond four per character, so that a cut can still land on a line start. */
const SLACK_BYTES = 1024;
/** A window grown to find more lines grows from this size. */
const GROW_BYTES = 64 * 1024;
/** A longer line is searched in its first this many bytes only, so a search's memory is bounded. */
const LONG_LINE_BYTES = 1024 * 1024;
const DEFAULT_CHUNK_BYTES = 1024 * 1024;
const MAX_CHUNK_BYTES = 64 * 1024 * 1024;
/** A search lets other work run after this long, so the server keeps answering other calls. */
const YIELD_MS = 20;
const MAX_CONTEXT = 20;
const MAX_MATCHES = 1000;

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
  options: ReadOptions & { readonly lines?: number },
): Promise<Slice> {
  checkRead(options);
  if (options.lines !== undefined) checkLines(options.lines);
  const file = await openLog(path);
  if (file === null) return emptySlice(0, 0);
  try {
    const totalBytes = (await file.stat()).size;
    if (totalBytes === 0) return emptySlice(0, 0);
    const window = await tailWindow(file, totalBytes, windowBytes(options.maxChars), options.lines);
    return fitTail(window.bytes, window.offset, totalBytes, options);
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
  options: ReadOptions & { readonly lines?: number },
): Promise<Slice> {
  checkRead(options);
  if (options.lines !== undefined) checkLines(options.lines);
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

/**
 * Searches the log at `path` line by line, streaming it in fixed chunks (never loading it whole).
 * Counts every matching line; returns the first `maxMatches` with `context` lines around each, as
 * many as keep their JSON within maxChars. Lines are matched clean (escape sequences removed,
 * redraws collapsed, but not cut) unless raw, and shown cut to MAX_LINE_CHARS either way.
 */
export async function grepLog(path: string, options: GrepOptions): Promise<GrepResult> {
  checkRead(options);
  const context = options.context ?? 0;
  const maxMatches = options.maxMatches ?? 50;
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (!(options.pattern instanceof RegExp)) {
    throw new TypeError(`pattern ${options.pattern} is not a RegExp: pass a regular expression`);
  }
  if (!(Number.isInteger(context) && context >= 0 && context <= MAX_CONTEXT)) {
    throw new RangeError(
      `context ${context} is out of range: pass a whole number of lines from 0 to ${MAX_CONTEXT}`,
    );
  }
  if (!(Number.isInteger(maxMatches) && maxMatches >= 1 && maxMatches <= MAX_MATCHES)) {
    throw new RangeError(
      `maxMatches ${maxMatches} is out of range: pass a whole number from 1 to ${MAX_MATCHES}`,
    );
  }
  if (!(Number.isInteger(chunkBytes) && chunkBytes >= 1 && chunkBytes <= MAX_CHUNK_BYTES)) {
    throw new RangeError(
      `chunkBytes ${chunkBytes} is out of range: pass a whole number from 1 to ${MAX_CHUNK_BYTES}`,
    );
  }
  const search = new Search(options.pattern, {
    raw: options.raw ?? false,
    context,
    maxMatches,
    maxChars: options.maxChars,
  });
  const file = await openLog(path);
  if (file === null) return search.result(0);
  try {
    const totalBytes = (await file.stat()).size;
    await scan(file, totalBytes, chunkBytes, search);
    return search.result(totalBytes);
  } finally {
    file.close();
  }
}

// Checks shared by every read.

function checkRead(options: ReadOptions): void {
  const { maxChars } = options;
  if (!(Number.isSafeInteger(maxChars) && maxChars >= MIN_CHARS)) {
    throw new RangeError(
      `maxChars ${maxChars} is out of range: pass a whole number of at least ${MIN_CHARS}, room for the markers`,
    );
  }
}

function checkLines(lines: number): void {
  if (!(Number.isSafeInteger(lines) && lines >= 1)) {
    throw new RangeError(
      `lines ${lines} is out of range: pass a whole number from 1, or leave it out for as much as fits`,
    );
  }
}

// Reading bytes.

async function openLog(path: string): Promise<Deno.FsFile | null> {
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

function readIntoSync(file: Deno.FsFile, target: Uint8Array): number {
  let filled = 0;
  while (filled < target.length) {
    const n = file.readSync(target.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return filled;
}

async function readInto(file: Deno.FsFile, target: Uint8Array): Promise<number> {
  let filled = 0;
  while (filled < target.length) {
    const n = await file.read(target.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return filled;
}

/** A character is at most 4 bytes of UTF-8: this many bytes always hold enough for the budget. */
function windowBytes(maxChars: number): number {
  return maxChars * 4 + SLACK_BYTES;
}

function isContinuation(byte: number): boolean {
  return (byte & 0xc0) === 0x80;
}

/** The first character boundary at or after `index` (a UTF-8 sequence is at most 4 bytes). */
function boundaryAfter(bytes: Uint8Array, index: number, limit = bytes.length): number {
  let i = index;
  while (i < limit && i < index + 3 && isContinuation(bytes[i])) i++;
  return i;
}

/** The last character boundary at or before `index`. */
function boundaryBefore(bytes: Uint8Array, index: number, floor = 0): number {
  let i = index;
  while (i > floor && i > index - 3 && i < bytes.length && isContinuation(bytes[i])) i--;
  return i;
}

/** `end`, or less so as not to end inside a UTF-8 sequence that the bytes after it would finish. */
function completeEnd(bytes: Uint8Array, start: number, end: number): number {
  let lead = end - 1;
  while (lead > start && lead > end - 4 && isContinuation(bytes[lead])) lead--;
  if (lead < start) return end;
  const byte = bytes[lead];
  const length = byte >= 0xf0 && byte <= 0xf4 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc2 ? 2 : 1;
  if (byte >= 0xf5 || (byte >= 0x80 && byte < 0xc2)) return end;
  return end - lead < length ? lead : end;
}

/**
 * Counts newlines with WebAssembly SIMD, 16 bytes a step: a search must number every line of a
 * log many gigabytes long, and this is ten times faster than any loop in JavaScript. The module,
 * assembled by hand from this text:
 *
 * ```wat
 * (module
 *   (memory (export "memory") 1)
 *   (func (export "count") (param $at i32) (param $length i32) (result i32)
 *     (local $end i32) (local $total i32) (local $newline v128)
 *     (local.set $end (i32.add (local.get $at) (i32.and (local.get $length) (i32.const -16))))
 *     (local.set $newline (i8x16.splat (i32.const 10)))
 *     (block $done
 *       (loop $next
 *         (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
 *         (local.set $total (i32.add (local.get $total) (i32.popcnt (i8x16.bitmask
 *           (i8x16.eq (v128.load (local.get $at)) (local.get $newline))))))
 *         (local.set $at (i32.add (local.get $at) (i32.const 16)))
 *         (br $next)))
 *     (local.get $total)))
 * ```
 *
 * It counts whole 16-byte blocks; the last few bytes are counted in JavaScript.
 */
const NEWLINE_COUNTER = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // magic, version
  ...[0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f], // type: (i32 i32) -> i32
  ...[0x03, 0x02, 0x01, 0x00], // function 0 has type 0
  ...[0x05, 0x03, 0x01, 0x00, 0x01], // memory of 1 page
  ...[0x07, 0x12, 0x02], // exports: "memory", "count"
  ...[0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00],
  ...[0x05, 0x63, 0x6f, 0x75, 0x6e, 0x74, 0x00, 0x00],
  ...[0x0a, 0x42, 0x01, 0x40], // code: one body of 64 bytes
  ...[0x02, 0x02, 0x7f, 0x01, 0x7b], // locals: 2 i32, 1 v128
  ...[0x20, 0x00, 0x20, 0x01, 0x41, 0x70, 0x71, 0x6a, 0x21, 0x02], // $end
  ...[0x41, 0x0a, 0xfd, 0x0f, 0x21, 0x04], // $newline
  ...[0x02, 0x40, 0x03, 0x40], // block, loop
  ...[0x20, 0x00, 0x20, 0x02, 0x4f, 0x0d, 0x01], // br_if $done
  ...[0x20, 0x03, 0x20, 0x00, 0xfd, 0x00, 0x00, 0x00, 0x20, 0x04], // $total, load, $newline
  ...[0xfd, 0x23, 0xfd, 0x64, 0x69, 0x6a, 0x21, 0x03], // eq, bitmask, popcnt, add
  ...[0x20, 0x00, 0x41, 0x10, 0x6a, 0x21, 0x00], // $at += 16
  ...[0x0c, 0x00, 0x0b, 0x0b, 0x20, 0x03, 0x0b], // br $next, end, end, $total
]);

/** Bytes copied into the counter's memory at a time: its one page. */
const COUNTER_BYTES = 65536;

let counter: { memory: Uint8Array; count: (at: number, length: number) => number } | undefined;

function newlineCounter(): NonNullable<typeof counter> {
  // Deno runs only where V8 has WebAssembly SIMD (x86-64, ARM64), so there is no fallback.
  if (counter === undefined) {
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(NEWLINE_COUNTER));
    counter = {
      memory: new Uint8Array((exports.memory as WebAssembly.Memory).buffer),
      count: exports.count as (at: number, length: number) => number,
    };
  }
  return counter;
}

/** Number of newline bytes in `bytes`. Exported for tests. */
export function countNewlines(bytes: Uint8Array): number {
  let count = 0;
  let from = 0;
  if (bytes.length >= 256) {
    const simd = newlineCounter();
    for (let at = 0; at < bytes.length; at += COUNTER_BYTES) {
      const piece = bytes.subarray(at, at + COUNTER_BYTES);
      simd.memory.set(piece);
      count += simd.count(0, piece.length);
    }
    // Pieces are whole blocks but the last, whose last few bytes the counter leaves.
    from = bytes.length - bytes.length % 16;
  }
  for (let i = bytes.indexOf(10, from); i !== -1; i = bytes.indexOf(10, i + 1)) count++;
  return count;
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
      const joined = new Uint8Array(front.length + bytes.length);
      joined.set(front);
      joined.set(bytes, front.length);
      bytes = joined;
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

// Rendering.

/**
 * Clean text that keeps its lines: line i of the result is line i of the input. Only an OSC
 * sequence (a title, a hyperlink) can hold a newline, so only then is each line cleaned on its own.
 */
function cleanLines(text: string): string {
  if (text.includes("\x1b]")) return text.split("\n").map((line) => cleanText(line)).join("\n");
  return cleanText(text);
}

/** What a search matches against: clean text with its lines kept, long lines not cut. */
function searchable(text: string): string {
  if (!text.includes("\x1b") && !text.includes("\x9b") && !text.includes("\r")) return text;
  const stripped = text.includes("\x1b]")
    ? text.split("\n").map((line) => stripAnsi(line)).join("\n")
    : stripAnsi(text);
  return collapseCarriageReturns(stripped);
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

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

// Tails.

function fitTail(
  bytes: Uint8Array,
  offset: number,
  totalBytes: number,
  options: ReadOptions & { readonly lines?: number },
): Slice {
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
  const fits = (at: number) =>
    render(bytes.subarray(boundaryAfter(bytes, at, to), to), raw).length <= room;
  let low = from;
  let high = to;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (fits(middle)) high = middle;
    else low = middle + 1;
  }
  return boundaryAfter(bytes, low, to);
}

/** The latest character boundary in (from, to] whose bytes from `from` render within `room`. */
function fitEnd(bytes: Uint8Array, from: number, to: number, room: number, raw: boolean): number {
  const fits = (at: number) =>
    render(bytes.subarray(from, boundaryBefore(bytes, at, from)), raw).length <= room;
  let low = from;
  let high = to;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (fits(middle)) low = middle;
    else high = middle - 1;
  }
  return boundaryBefore(bytes, low, from);
}

// Forward reads: heads and ranges.

async function readForward(
  path: string,
  offset: number,
  options: ReadOptions & { readonly lines?: number; readonly maxBytes?: number },
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
        const joined = new Uint8Array(bytes.length + back.length);
        joined.set(bytes);
        joined.set(back, bytes.length);
        bytes = joined;
        size = grown;
      }
    }
    // A window cut short stops for the budget: the bytes, or the characters.
    const cutBy = options.maxBytes !== undefined && options.maxBytes <= limit
      ? `to stay within ${options.maxBytes} bytes`
      : `to fit ${options.maxChars} characters`;
    const skip = offset > 0 ? boundaryAfter(bytes, 0) : 0;
    return fitForward(bytes.subarray(skip), offset + skip, totalBytes, cutBy, options);
  } finally {
    file.close();
  }
}

function fitForward(
  bytes: Uint8Array,
  offset: number,
  totalBytes: number,
  cutBy: string,
  options: ReadOptions & { readonly lines?: number },
): Slice {
  const { maxChars, lines: wanted } = options;
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

// Searching.

/**
 * Whether `pattern` might match or look at a newline, judged from its source. True when unsure:
 * false lets a search run over a whole chunk at once, which finds the same lines as testing each
 * line on its own only when no match can reach across a line's end.
 */
export function mayCrossLines(pattern: RegExp): boolean {
  const source = pattern.source;
  const dotAll = pattern.flags.includes("s");
  const nested = pattern.flags.includes("v");
  let depth = 0;
  let previous: number | null = null;
  for (let i = 0; i < source.length;) {
    const char = source[i];
    if (depth === 0) {
      if (char === "[") {
        depth = 1;
        if (source[i + 1] === "^") return true;
        previous = null;
        i++;
        continue;
      }
      if (char === "." && dotAll) return true;
      const atom = readAtom(source, i, false);
      if (atom.crosses || atom.value === 10) return true;
      i = atom.next;
      continue;
    }
    // Inside a class.
    if (char === "]") {
      depth--;
      previous = null;
      i++;
      continue;
    }
    if (char === "[" && nested) {
      if (source[i + 1] === "^") return true;
      depth++;
      previous = null;
      i++;
      continue;
    }
    if (char === "-" && previous !== null && source[i + 1] !== "]" && i + 1 < source.length) {
      const atom = readAtom(source, i + 1, true);
      if (atom.crosses) return true;
      if (atom.value !== null && previous <= 10 && atom.value >= 10) return true;
      previous = null;
      i = atom.next;
      continue;
    }
    const atom = readAtom(source, i, true);
    if (atom.crosses || atom.value === 10) return true;
    previous = atom.value;
    i = atom.next;
  }
  return false;
}

/**
 * One character or escape of a pattern's source: its code point if it is one, and whether it may
 * match a newline.
 */
function readAtom(
  source: string,
  at: number,
  inClass: boolean,
): { value: number | null; crosses: boolean; next: number } {
  const char = source.codePointAt(at)!;
  if (char !== 0x5c) return { value: char, crosses: false, next: at + (char > 0xffff ? 2 : 1) };
  const escape = source[at + 1];
  const next = at + 2;
  if (escape === undefined) return { value: null, crosses: true, next };
  if ("sWDpPqn0123456789".includes(escape)) return { value: null, crosses: true, next };
  if ("Swd".includes(escape)) return { value: null, crosses: false, next };
  if (escape === "b") {
    return inClass ? { value: 8, crosses: false, next } : { value: null, crosses: false, next };
  }
  if (escape === "B") return { value: null, crosses: false, next };
  const controls: Record<string, number> = { t: 9, v: 11, f: 12, r: 13 };
  if (escape in controls) return { value: controls[escape], crosses: false, next };
  if (escape === "c") {
    const letter = source[next];
    if (letter === undefined || !/[a-zA-Z]/.test(letter)) {
      return { value: null, crosses: true, next };
    }
    return { value: letter.charCodeAt(0) % 32, crosses: false, next: next + 1 };
  }
  if (escape === "x") {
    const hex = source.slice(next, next + 2);
    if (/^[0-9a-fA-F]{2}$/.test(hex)) {
      return { value: parseInt(hex, 16), crosses: false, next: next + 2 };
    }
    return { value: 0x78, crosses: false, next };
  }
  if (escape === "u") {
    const braced = /^\{([0-9a-fA-F]+)\}/.exec(source.slice(next));
    if (braced) {
      return { value: parseInt(braced[1], 16), crosses: false, next: next + braced[0].length };
    }
    const hex = source.slice(next, next + 4);
    if (/^[0-9a-fA-F]{4}$/.test(hex)) {
      return { value: parseInt(hex, 16), crosses: false, next: next + 4 };
    }
    return { value: 0x75, crosses: false, next };
  }
  if (escape === "k") {
    // A back-reference matches what its group matched, and the group is checked on its own.
    const close = source.indexOf(">", next);
    return { value: null, crosses: false, next: close === -1 ? next : close + 1 };
  }
  return {
    value: escape.codePointAt(0)!,
    crosses: false,
    next: at + 1 + (escape.codePointAt(0)! > 0xffff ? 2 : 1),
  };
}

/** A match on its way into the result, still collecting the lines after it. */
interface Pending {
  readonly match: GrepMatch;
  readonly after: string[];
}

/** The state of one search: counts, the matches kept, and the lines around them. */
class Search {
  readonly #line: LinePattern;
  /** The pattern as a global search over many lines at once, or null when it may cross lines. */
  readonly #global: RegExp | null;
  /** Whether a chunk searched at once must hold no \r, U+2028, U+2029 (^ and $ end lines there). */
  readonly #plainLinesOnly: boolean;
  readonly #raw: boolean;
  readonly #context: number;
  readonly #maxMatches: number;
  readonly #maxChars: number;
  /** Number of the next line to be searched. */
  lineNumber = 1;
  #total = 0;
  #kept: GrepMatch[] = [];
  #pending: Pending[] = [];
  /** Shown text of the last `context` lines searched, for the lines before a match. */
  #recent: string[] = [];
  #jsonChars = 2;
  #stop: "matches" | "chars" | null = null;
  longLines = 0;

  constructor(
    pattern: RegExp,
    options: { raw: boolean; context: number; maxMatches: number; maxChars: number },
  ) {
    const flags = pattern.flags.replace(/[gy]/g, "");
    this.#line = compileLinePattern(pattern.source, flags);
    const anchored = /[\^$]/.test(pattern.source) && !flags.includes("m");
    // Only a pattern V8 can run in bounded time per position may run natively over many lines.
    this.#global = this.#line.native === null || mayCrossLines(pattern)
      ? null
      // The group changes nothing but makes V8 compile a plain word too, instead of running a
      // substring search that is several times slower on long text.
      : new RegExp(`(?:${pattern.source})`, `${flags}g${anchored ? "m" : ""}`);
    this.#plainLinesOnly = anchored;
    this.#raw = options.raw;
    this.#context = options.context;
    this.#maxMatches = options.maxMatches;
    this.#maxChars = options.maxChars;
  }

  /** Whether new matches are still kept (otherwise they are only counted). */
  /** With a pattern run by RE2: the search for candidate lines, chosen on the first segment. */
  #lead: { lead: RegExp; others: string[] } | null = null;

  get #accepting(): boolean {
    return this.#stop === null;
  }

  /** Whether line numbers and neighbouring lines still matter. */
  get #collecting(): boolean {
    return this.#stop === null || this.#pending.length > 0;
  }

  /**
   * Searches whole lines: `bytes` starts at a line start at `offset` and ends with a newline,
   * unless `terminated` is false, when its last line has no newline (at the end of the log) or is
   * the first part of a long line.
   */
  segment(bytes: Uint8Array, offset: number, terminated: boolean): void {
    if (bytes.length === 0) return;
    const text = toText(bytes);
    const lines = this.#raw ? text : searchable(text);
    // In ASCII text a string index is a byte index; otherwise offsets are counted in the bytes.
    const sameIndex = lines === text && text.length === bytes.length;
    const firstLine = this.lineNumber;
    let byteCursor = 0;
    let byteCursorLine = firstLine;
    const lineOffset = (index: number, number: number): number => {
      if (sameIndex) return offset + index;
      while (byteCursorLine < number) {
        byteCursor = bytes.indexOf(10, byteCursor) + 1;
        byteCursorLine++;
      }
      return offset + byteCursor;
    };

    if (this.#pending.length > 0) this.#feed(lines);
    const collecting = this.#collecting;
    // Line numbers matter only while matches are kept: counting is then most of the work.
    const newlines = collecting ? countNewlines(bytes) : 0;
    let cursor = 0;
    let cursorLine = firstLine;
    const keep = (index: number, end: number) => {
      const start = index === 0 ? 0 : lines.lastIndexOf("\n", index - 1) + 1;
      cursorLine += countIn(lines, cursor, start);
      cursor = start;
      this.#keep(lines, start, end, cursorLine, lineOffset(start, cursorLine));
    };
    if (
      this.#global !== null &&
      !(this.#plainLinesOnly && (lines.includes("\r") || lines.includes("\u2028") ||
        lines.includes("\u2029")))
    ) {
      const global = this.#global;
      global.lastIndex = 0;
      for (;;) {
        const found = global.exec(lines);
        if (found === null) break;
        const index = found.index;
        // The position after a final newline starts no line.
        if (terminated && index >= lines.length) break;
        let end = lines.indexOf("\n", index);
        if (end === -1) end = lines.length;
        this.#total++;
        if (this.#accepting) keep(index, end);
        if (end >= lines.length) break;
        global.lastIndex = end + 1;
      }
    } else if (this.#line.required.length > 0 && !this.#line.required.join().includes("\n")) {
      // Testing each line through RE2 costs a call per line: only lines with every text that each
      // match contains can match, and a native search finds those much faster. The text rarest
      // in the first segment leads; a global RegExp finds a word faster than indexOf.
      this.#lead ??= leadSearch(lines, this.#line.required);
      const { lead, others } = this.#lead;
      lead.lastIndex = 0;
      for (let found = lead.exec(lines); found !== null;) {
        const start = found.index === 0 ? 0 : lines.lastIndexOf("\n", found.index - 1) + 1;
        let end = lines.indexOf("\n", found.index);
        if (end === -1) end = lines.length;
        const line = lines.slice(start, end);
        if (others.every((text) => line.includes(text)) && this.#line.test(line)) {
          this.#total++;
          if (this.#accepting) keep(start, end);
        }
        if (end >= lines.length) break;
        lead.lastIndex = end + 1;
        found = lead.exec(lines);
      }
    } else {
      for (let start = 0; start < lines.length;) {
        let end = lines.indexOf("\n", start);
        if (end === -1) end = lines.length;
        if (this.#line.test(lines.slice(start, end))) {
          this.#total++;
          if (this.#accepting) keep(start, end);
        }
        start = end + 1;
      }
    }
    if (collecting) {
      this.lineNumber = firstLine + newlines + (terminated ? 0 : 1);
      if (this.#context > 0 && this.#accepting) this.#remember(lines);
    }
  }

  /** Gives pending matches their lines after, from the first lines of a new segment. */
  #feed(lines: string): void {
    const first = linesFrom(lines, 0, this.#context);
    for (const pending of this.#pending) {
      const more = first.slice(0, this.#context - pending.after.length);
      pending.after.push(...more.map(shown));
    }
    this.#settle(false);
  }

  #keep(lines: string, start: number, end: number, line: number, offset: number): void {
    const before: string[] = [];
    const after: string[] = [];
    if (this.#context > 0) {
      let at = start;
      while (before.length < this.#context && at > 0) {
        const previousStart = at - 1 === 0 ? 0 : lines.lastIndexOf("\n", at - 2) + 1;
        before.unshift(shown(lines.slice(previousStart, at - 1)));
        at = previousStart;
      }
      if (before.length < this.#context && this.#recent.length > 0) {
        before.unshift(...this.#recent.slice(-(this.#context - before.length)));
      }
      after.push(...linesFrom(lines, end + 1, this.#context).map(shown));
    }
    const match = { line, offset, text: shown(lines.slice(start, end)), before, after };
    this.#pending.push({ match, after });
    if (this.#kept.length + this.#pending.length >= this.#maxMatches) this.#stop = "matches";
    this.#settle(false);
  }

  /** Moves matches whose lines after are complete (all of them at the end) into the result. */
  #settle(atEnd: boolean): void {
    while (this.#pending.length > 0) {
      const { match, after } = this.#pending[0];
      if (!atEnd && after.length < this.#context) return;
      this.#pending.shift();
      const chars = JSON.stringify(match).length + (this.#kept.length > 0 ? 1 : 0);
      if (this.#jsonChars + chars > this.#maxChars) {
        this.#stop = "chars";
        this.#pending = [];
        return;
      }
      this.#jsonChars += chars;
      this.#kept.push(match);
    }
  }

  /** Keeps the last `context` lines of a segment, for the lines before a match in the next. */
  #remember(lines: string): void {
    const last: string[] = [];
    let end = lines.endsWith("\n") ? lines.length - 1 : lines.length;
    while (last.length < this.#context && end >= 0) {
      const start = end === 0 ? 0 : lines.lastIndexOf("\n", end - 1) + 1;
      last.unshift(shown(lines.slice(start, end)));
      if (start === 0) break;
      end = start - 1;
    }
    this.#recent = last.length >= this.#context
      ? last
      : [...this.#recent, ...last].slice(-this.#context);
  }

  result(totalBytes: number): GrepResult {
    this.#settle(true);
    const kept = this.#kept.length;
    const truncated = kept < this.#total;
    let note: string | null = null;
    const shownOf = `Showing the first ${kept} of ${this.#total} matching lines`;
    if (truncated && this.#stop === "chars") {
      note =
        `${shownOf}, as many as fit in ${this.#maxChars} characters; a narrower pattern or less context shows others`;
    } else if (truncated) {
      note = this.#maxMatches < MAX_MATCHES
        ? `${shownOf} (max_matches ${this.#maxMatches}); pass a larger max_matches (at most ${MAX_MATCHES}) or a narrower pattern to see others`
        : `${shownOf} (at most ${MAX_MATCHES} are returned); a narrower pattern shows others`;
    }
    if (this.longLines > 0) {
      const long = `${plural(this.longLines, "line")} longer than ${LONG_LINE_BYTES} bytes ${
        this.longLines === 1 ? "was" : "were"
      } searched in ${this.longLines === 1 ? "its" : "their"} first ${LONG_LINE_BYTES} bytes only`;
      note = note === null ? long : `${note}; ${long}`;
    }
    return {
      matches: this.#kept,
      totalMatches: this.#total,
      totalBytes,
      truncated,
      note: note === null ? null : `${note}.`,
    };
  }
}

/**
 * A search for the one of `texts` that occurs least often in `sample` (counting up to a bound),
 * and the others.
 */
function leadSearch(sample: string, texts: readonly string[]): { lead: RegExp; others: string[] } {
  const counted = texts.map((text) => {
    let count = 0;
    for (let at = sample.indexOf(text); at !== -1 && count < 256; count++) {
      at = sample.indexOf(text, at + text.length);
    }
    return { text, count };
  });
  const [rarest, ...others] = counted.sort((a, b) => a.count - b.count).map(({ text }) => text);
  // The group makes V8 compile a plain word too, as for #global above.
  const lead = new RegExp(`(?:${rarest.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")})`, "g");
  return { lead, others };
}

/** A line as a search result shows it: long lines cut. */
function shown(line: string): string {
  return cutLongLines(line, MAX_LINE_CHARS);
}

/** Up to `count` lines of `text` from index `at` (a line start). */
function linesFrom(text: string, at: number, count: number): string[] {
  const lines: string[] = [];
  for (let start = at; lines.length < count && start < text.length;) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = text.length;
    lines.push(text.slice(start, end));
    start = end + 1;
  }
  return lines;
}

function countIn(text: string, from: number, to: number): number {
  let count = 0;
  for (let i = text.indexOf("\n", from); i !== -1 && i < to; i = text.indexOf("\n", i + 1)) count++;
  return count;
}

/**
 * Streams the first `totalBytes` of `file` through `search` in whole lines: each read fills a
 * fixed buffer after the unfinished line carried from the last one. A line longer than
 * LONG_LINE_BYTES is searched in its first part only, so memory stays bounded.
 */
async function scan(
  file: Deno.FsFile,
  totalBytes: number,
  chunkBytes: number,
  search: Search,
): Promise<void> {
  // What is carried is shorter than a long line, or than one read: room for both plus a read.
  const buffer = new Uint8Array(Math.max(LONG_LINE_BYTES, chunkBytes) + chunkBytes);
  let carried = 0;
  let bufferOffset = 0;
  let read = 0;
  let skipping = false;
  let yielded = performance.now();
  while (read < totalBytes) {
    // Reads without a round trip through the thread pool are twice as fast, but then nothing
    // else runs, and a pattern run by RE2 goes slower than V8: let the server answer other calls
    // now and then.
    if (performance.now() - yielded >= YIELD_MS) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      yielded = performance.now();
    }
    const n = readIntoSync(
      file,
      buffer.subarray(carried, carried + Math.min(chunkBytes, totalBytes - read)),
    );
    if (n === 0) break;
    read += n;
    const end = carried + n;
    let start = 0;
    if (skipping) {
      const newline = buffer.subarray(0, end).indexOf(10);
      if (newline === -1) {
        bufferOffset += end;
        carried = 0;
        continue;
      }
      skipping = false;
      start = newline + 1;
    }
    const lastNewline = buffer.subarray(start, end).lastIndexOf(10);
    if (lastNewline !== -1) {
      const cut = start + lastNewline + 1;
      search.segment(buffer.subarray(start, cut), bufferOffset + start, true);
      start = cut;
    } else if (end - start >= LONG_LINE_BYTES) {
      search.segment(buffer.subarray(start, start + LONG_LINE_BYTES), bufferOffset + start, false);
      search.longLines++;
      skipping = true;
      start = end;
    }
    buffer.copyWithin(0, start, end);
    bufferOffset += start;
    carried = end - start;
  }
  if (carried > 0 && !skipping) search.segment(buffer.subarray(0, carried), bufferOffset, false);
}
