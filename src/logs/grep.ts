/**
 * Searching a task's output log line by line: streamed in fixed chunks (never loaded whole), every
 * matching line counted, the first ones returned with the lines around them.
 */

import {
  collapseCarriageReturns,
  cutLongLines,
  MAX_LINE_CHARS,
  stripAnsi,
  toText,
} from "./text.ts";
import { compileLinePattern, type LinePattern } from "./pattern.ts";
import { trimEdgeRuns } from "./edge_runs.ts";
import { openLog, readIntoSync } from "./file.ts";
import { Scanner } from "./scanner.ts";
import { checkRead, plural, type ReadOptions } from "./slice.ts";

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

/** A longer line is searched in its first this many bytes only, so a search's memory is bounded. */
const LONG_LINE_BYTES = 1024 * 1024;
const DEFAULT_CHUNK_BYTES = 1024 * 1024;
const MAX_CHUNK_BYTES = 64 * 1024 * 1024;
/** A search lets other work run after this long, so the server keeps answering other calls. */
const YIELD_MS = 20;
const MAX_CONTEXT = 20;
const MAX_MATCHES = 1000;

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
  const file = await openLog(path);
  // What is carried is shorter than a long line, or than one read: room for both plus a read.
  const scanner = file && new Scanner(Math.max(LONG_LINE_BYTES, chunkBytes) + chunkBytes);
  const search = new Search(options.pattern, scanner, {
    raw: options.raw ?? false,
    context,
    maxMatches,
    maxChars: options.maxChars,
  });
  if (file === null || scanner === null) return search.result(0);
  try {
    const totalBytes = (await file.stat()).size;
    await scan(file, totalBytes, chunkBytes, search, scanner.buffer);
    return search.result(totalBytes);
  } finally {
    file.close();
  }
}

/**
 * Matches as `grep -n -C` shows them: `12:` before a matching line, `11-` before a line around
 * one, and `--` between groups. Groups whose lines overlap or touch are merged, so no line is shown
 * twice.
 */
export function grepText(matches: readonly GrepMatch[]): string {
  const groups: Map<number, string>[] = [];
  let lastShown = -Infinity;
  for (const match of matches) {
    const first = match.line - match.before.length;
    if (first > lastShown + 1) groups.push(new Map());
    const group = groups[groups.length - 1];
    const around = (number: number, line: string) => {
      if (!group.has(number)) group.set(number, `${number}-${line}`);
    };
    match.before.forEach((line, i) => around(first + i, line));
    group.set(match.line, `${match.line}:${match.text}`);
    match.after.forEach((line, i) => around(match.line + i + 1, line));
    lastShown = Math.max(lastShown, match.line + match.after.length);
  }
  return groups.map((group) =>
    [...group.keys()].sort((a, b) => a - b).map((number) => group.get(number)).join("\n")
  ).join("\n--\n");
}

/** What a search matches against: clean text with its lines kept, long lines not cut. */
function searchable(text: string): string {
  if (!text.includes("\x1b") && !text.includes("\x9b") && !text.includes("\r")) return text;
  const stripped = text.includes("\x1b]")
    ? text.split("\n").map((line) => stripAnsi(line)).join("\n")
    : stripAnsi(text);
  return collapseCarriageReturns(stripped);
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
  /** An ASCII literal that is the whole pattern (anchored: ^ and the literal), or null. */
  readonly #literal: { readonly bytes: Uint8Array; readonly anchored: boolean } | null;
  readonly #scanner: Scanner | null;
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
    scanner: Scanner | null,
    options: { raw: boolean; context: number; maxMatches: number; maxChars: number },
  ) {
    const flags = pattern.flags.replace(/[gy]/g, "");
    this.#scanner = scanner;
    // A literal with edge runs (`ERROR.*`) finds the lines the literal finds (edge_runs.ts).
    this.#literal = literalOf(trimEdgeRuns(pattern.source, flags), flags);
    this.#line = compileLinePattern(pattern.source, flags);
    const anchored = /[\^$]/.test(pattern.source) && !flags.includes("m");
    // Only a pattern V8 can run in bounded time per position may run natively over many lines.
    this.#global = this.#line.native === null || mayCrossLines(pattern)
      ? null
      // The group changes nothing but makes V8 compile a plain word too, instead of running a
      // substring search that is several times slower on long text.
      // The line pattern's own source: edge runs cut (pattern.ts), which finds the same lines and
      // is what was judged safe to run natively.
      : new RegExp(`(?:${this.#line.native.source})`, `${flags}g${anchored ? "m" : ""}`);
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
    if (this.#literal !== null && this.#scanner !== null && this.#byBytes(bytes, terminated)) {
      return;
    }
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
    const newlines = collecting ? this.#newlines(bytes) : 0;
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

  /**
   * Searches for a literal in the bytes themselves, when what a clean search sees is the bytes
   * (no escape, no carriage return, no byte-order mark a decoder would drop): an ASCII literal
   * is in a line's bytes exactly when it is in its decoded text, as no other bytes decode to
   * ASCII. Counts every matching line without a string when only the count matters; when lines
   * are still kept, skips a segment where nothing matches. False: the segment needs the text.
   */
  #byBytes(bytes: Uint8Array, terminated: boolean): boolean {
    const scanner = this.#scanner!;
    const { bytes: literal, anchored } = this.#literal!;
    if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return false;
    const count = scanner.lines(bytes, literal, anchored, !this.#raw);
    if (count === null) return false;
    if (!this.#collecting) {
      this.#total += count;
      return true;
    }
    if (count > 0 || this.#pending.length > 0) return false;
    this.lineNumber += scanner.newlines(bytes) + (terminated ? 0 : 1);
    if (this.#context > 0 && this.#accepting) {
      // Only the last lines are needed, for the lines before a match in the next segment.
      let end = bytes.length - (bytes[bytes.length - 1] === 10 ? 1 : 0);
      let start = end;
      for (let lines = 0; lines < this.#context; lines++) {
        const newline = end === 0 ? -1 : bytes.lastIndexOf(10, end - 1);
        start = newline + 1;
        if (newline === -1) break;
        end = newline;
      }
      this.#remember(textFrom(bytes, start));
    }
    return true;
  }

  #newlines(bytes: Uint8Array): number {
    return this.#scanner!.newlines(bytes);
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

/**
 * The whole pattern as an ASCII literal its lines must contain (or, anchored, start with), when
 * it is one that matches exactly so: no flag changing what it matches (i lets "k" match the
 * Kelvin sign, m lets ^ match after a U+2028), no character that means more than itself.
 * Unanchored, at least 2 bytes (the scan looks for pairs).
 */
export function literalOf(
  source: string,
  flags: string,
): { bytes: Uint8Array; anchored: boolean } | null {
  if (!/^[dsuv]*$/.test(flags)) return null;
  const anchored = source.startsWith("^");
  const text = anchored ? source.slice(1) : source;
  if (!/^[A-Za-z0-9 _\-=:,/'"<>!@#%&~;`]+$/.test(text)) return null;
  if (!anchored && text.length < 2) return null;
  return { bytes: new TextEncoder().encode(text), anchored };
}

/** The text of `bytes` from `start` (a line start), as decoding the whole of them gives it. */
function textFrom(bytes: Uint8Array, start: number): string {
  const text = toText(bytes.subarray(start));
  // A decoder drops a byte-order mark at the start of what it decodes, not inside it.
  return start > 0 && bytes[start] === 0xef && bytes[start + 1] === 0xbb &&
      bytes[start + 2] === 0xbf
    ? `\uFEFF${text}`
    : text;
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
  buffer: Uint8Array,
): Promise<void> {
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
