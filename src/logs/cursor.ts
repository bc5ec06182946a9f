/**
 * The one incremental reader of a growing log: where it stopped, the unfinished last line (kept
 * bounded), and a check that the file is still the one it was reading (a truncated or replaced
 * log is read again from its start). Waiting for a pattern, following a log on a terminal and
 * tracking progress all read through it, so a line means the same thing to each.
 */

import { openLog, readAt } from "./file.ts";
import { boundaryAfter } from "./utf8.ts";
import { collapseCarriageReturns, stripAnsi } from "./text.ts";

/** Options of {@linkcode LogCursor}. */
export interface LogCursorOptions {
  /** Byte offset of the first byte to read, on a line start. Default 0. */
  readonly offset?: number;
  /** Most characters of the unfinished last line kept between reads. */
  readonly maxPendingChars: number;
  /**
   * What happens to an unfinished line longer than maxPendingChars: "keep-end" keeps its last
   * maxPendingChars characters (a line is tested on its end as it grows); "flush" hands it out as
   * {@linkcode LogGain.flushed} and starts afresh (a copy loses nothing). Default "keep-end".
   */
  readonly longLine?: "keep-end" | "flush";
  /**
   * A finished line longer than this many characters is handed out as its last this many only,
   * so no line holds more memory than this. Default: whole lines.
   */
  readonly maxLineChars?: number;
  /**
   * Whether what an unfinished line shows before its last carriage return is folded to what a
   * terminal shows, so that a progress bar redrawn for megabytes stays small. Default false.
   */
  readonly foldRedraws?: boolean;
  /**
   * Where a read that skipped bytes (see lastBytes) starts: after the first line end, or after the
   * first line end or carriage return (a redraw starts afresh too). Default "line".
   */
  readonly resumeAfter?: "line" | "line-or-redraw";
  /** Whether lines are produced at all; false hands out the bytes only. Default true. */
  readonly lines?: boolean;
}

/** What one read found. */
export interface LogGain {
  /** The bytes read, as written. */
  readonly bytes: Uint8Array;
  /** The lines finished by these bytes, raw text without their newline. */
  readonly lines: string[];
  /** An unfinished line handed out because it grew past maxPendingChars ("flush"), or null. */
  readonly flushed: string | null;
  /** Whether the unfinished last line gained text in this read. */
  readonly pendingGrew: boolean;
  /** Whether the log was truncated or replaced since the last read, so reading started over. */
  readonly restarted: boolean;
  /** Whether bytes were skipped to read only the last ones (the first line is then cut). */
  readonly skipped: boolean;
  /** The log's size and mtime at this read. */
  readonly info: Deno.FileInfo;
}

/** A read's limits: at most maxBytes from the offset on, or only the last lastBytes. */
export interface LogReadOptions {
  /** Most bytes to read, from the offset on; `behind` then says whether more are waiting. */
  readonly maxBytes?: number;
  /** Read only the last this many new bytes, skipping those before (the latest state matters). */
  readonly lastBytes?: number;
}

/** Reads a log's new bytes line by line, remembering where it stopped. */
export class LogCursor {
  readonly #path: string;
  readonly #options: LogCursorOptions;
  #offset: number;
  #pending = "";
  #decoder = new TextDecoder("utf-8", { fatal: false });
  /** Which file the offset belongs to, once read. */
  #file: { ino: number | null; dev: number } | null = null;
  #behind = false;

  constructor(path: string, options: LogCursorOptions) {
    this.#path = path;
    this.#options = options;
    this.#offset = options.offset ?? 0;
  }

  /** The log it reads. */
  get path(): string {
    return this.#path;
  }

  /** Byte offset just after the bytes read so far. */
  get offset(): number {
    return this.#offset;
  }

  /** Whether bytes written before the last read are still unread (it stopped at maxBytes). */
  get behind(): boolean {
    return this.#behind;
  }

  /** The unfinished last line, raw, at most maxPendingChars (plus a folded screen) long. */
  get pending(): string {
    return this.#pending;
  }

  /** Hands out the unfinished last line and forgets it: the log will not grow any more. */
  takePending(): string {
    const rest = this.#pending + this.#decoder.decode();
    this.#pending = "";
    return rest;
  }

  /**
   * Reads what the log gained since the last read: null when the log does not exist (yet). The
   * cursor moves only when the read succeeds, so a failed read is tried again from the same place.
   */
  async read(options: LogReadOptions = {}): Promise<LogGain | null> {
    const file = await openLog(this.#path);
    if (file === null) return null;
    let restarted = false;
    try {
      const info = await file.stat();
      let offset = this.#offset;
      const known = this.#file;
      if (
        info.size < offset ||
        (known !== null && (info.ino !== known.ino || info.dev !== known.dev))
      ) {
        // Truncated or replaced: the old offset and unfinished line mean nothing in this file.
        restarted = true;
        offset = 0;
      }
      let start = offset;
      if (options.lastBytes !== undefined) start = Math.max(start, info.size - options.lastBytes);
      const length = Math.min(info.size - start, options.maxBytes ?? Infinity);
      const bytes = length > 0 ? await readAt(file, start, length) : new Uint8Array(0);
      this.#behind = info.size - start > bytes.length;
      this.#file = { ino: info.ino, dev: info.dev };
      if (restarted) {
        this.#pending = "";
        this.#decoder = new TextDecoder("utf-8", { fatal: false });
      }
      const skipped = start > offset;
      this.#offset = start + bytes.length;
      return { ...this.#take(bytes, skipped), bytes, restarted, skipped, info };
    } finally {
      file.close();
    }
  }

  #take(
    bytes: Uint8Array,
    skipped: boolean,
  ): { lines: string[]; flushed: string | null; pendingGrew: boolean } {
    if (this.#options.lines === false) return { lines: [], flushed: null, pendingGrew: false };
    let text: string;
    if (skipped) {
      // The bytes before were skipped: a character they began is lost, and so is the line.
      this.#decoder = new TextDecoder("utf-8", { fatal: false });
      text = this.#decoder.decode(bytes.subarray(boundaryAfter(bytes, 0)), { stream: true });
      // Start after the next line end (or redraw), unless there is none to start from.
      const cut = this.#options.resumeAfter === "line-or-redraw"
        ? text.search(/[\r\n]/)
        : text.indexOf("\n");
      if (cut !== -1) text = text.slice(cut + 1);
      this.#pending = "";
    } else {
      text = this.#decoder.decode(bytes, { stream: true });
    }
    const lines: string[] = [];
    const maxLine = this.#options.maxLineChars;
    let start = 0;
    for (let end = text.indexOf("\n"); end !== -1; end = text.indexOf("\n", start)) {
      const from = maxLine === undefined ? start : Math.max(start, end - maxLine);
      const line = this.#pending + text.slice(from, end);
      lines.push(maxLine === undefined ? line : lastChars(line, maxLine));
      this.#pending = "";
      start = end + 1;
    }
    const pendingGrew = start < text.length;
    let flushed: string | null = null;
    if (pendingGrew) {
      const max = this.#options.maxPendingChars;
      if (this.#options.longLine === "flush") {
        this.#pending += text.slice(start);
        if (this.#pending.length > max) {
          flushed = this.#pending;
          this.#pending = "";
        }
      } else {
        let pending = this.#pending + text.slice(Math.max(start, text.length - max));
        if (this.#options.foldRedraws) pending = foldRedraws(pending);
        this.#pending = lastChars(pending, max);
      }
    }
    return { lines, flushed, pendingGrew };
  }
}

/** The last `count` characters of `line`, not starting inside a surrogate pair. */
function lastChars(line: string, count: number): string {
  if (line.length <= count) return line;
  let cut = line.length - count;
  if (line.charCodeAt(cut) >= 0xdc00 && line.charCodeAt(cut) <= 0xdfff) cut++;
  return line.slice(cut);
}

/**
 * An unfinished line with what lies before its last carriage return folded to what the screen
 * shows; the text after it (possibly half an escape sequence) stays raw.
 */
function foldRedraws(line: string): string {
  const lastReturn = line.lastIndexOf("\r");
  if (lastReturn <= 0) return line;
  const screen = collapseCarriageReturns(stripAnsi(line.slice(0, lastReturn)));
  return `${screen}\r${line.slice(lastReturn + 1)}`;
}
