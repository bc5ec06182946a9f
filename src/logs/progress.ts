/**
 * Progress, silence and prompts read from a task's output as it grows. Only the bytes written
 * since the last look are read, so watching a huge log costs what it gained, not its size.
 */

import { LogCursor } from "./cursor.ts";
import { cleanLine, terminalText } from "./text.ts";

export interface Progress {
  /** 0..100, from "45%" or computed from current/total. */
  readonly percent?: number;
  readonly current?: number;
  readonly total?: number;
  /** The marker's message, or the text around a heuristic match, at most 200 characters. */
  readonly message?: string;
  /** ISO 8601: when this progress was first seen. */
  readonly updated_at: string;
}

export interface OutputState {
  readonly progress: Progress | null;
  readonly secondsSinceOutput: number | null;
  readonly waitingForInput: boolean;
  /** While waitingForInput: the prompt line, at most 200 characters from its end. */
  readonly prompt?: string;
}

type Found = Omit<Progress, "updated_at">;

/** Most bytes parsed per read: progress is about the latest state, not the history. */
const MAX_CHUNK_BYTES = 64 * 1024;
/** Most characters of an unfinished last line kept for the next read. */
const MAX_PENDING_CHARS = 64 * 1024;
const MAX_MESSAGE_CHARS = 200;
/** A prompt is short; looking at the end of a huge unfinished line is enough. */
const MAX_PROMPT_CHARS = 500;

const MARKER_TOKEN = "::progress::";
/**
 * Lines backburner itself writes into a log (a retry's "[backburner] attempt 1 of 3 failed…")
 * count attempts, not the command's progress.
 */
const OWN_LINE = "[backburner] ";
// `::progress:: 45%` or `::progress:: 3/10`, then an optional message. The token starts the line
// or follows whitespace, so a logger's prefix is allowed but a quoted `echo '::progress:: …'`
// traced by `set -x` is not.
const MARKER =
  /(?:^|\s)::progress::[ \t]+(?:(?<percent>\d+(?:\.\d+)?)%|(?<current>\d+(?:\.\d+)?)\/(?<total>\d+(?:\.\d+)?))(?:[ \t]+(?<message>.*))?$/;

// A number must not continue a word, a path, a version, an IP address or a time: "v1", "a/3",
// "1.2.3", "12:30". Nor may it run on into one afterwards.
const BEFORE = String.raw`(?<![\w.,/\\:+-])`;
const AFTER = String.raw`(?![\w/\\%]|[.,]\d)`;
const NUMBER = String.raw`\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?`;
const UNIT = String.raw`[kKMGTP]i?B|[kKMGTP]|B`;
const PERCENT = new RegExp(String.raw`${BEFORE}(?<value>\d{1,3}(?:\.\d+)?)\s?%(?![\w%])`, "g");
const RATIO = new RegExp(
  String.raw`${BEFORE}(?<current>${NUMBER})(?:\s?(?<currentUnit>${UNIT}))?(?<slash>\s*/\s*)` +
    String.raw`(?<total>${NUMBER})(?:\s?(?<totalUnit>${UNIT}))?${AFTER}`,
  "g",
);
const OF = new RegExp(String.raw`${BEFORE}(?<current>\d+)\s+of\s+(?<total>\d+)${AFTER}`, "gi");

interface Count {
  readonly current: number;
  readonly total: number;
  readonly index: number;
}

function toNumber(text: string): number {
  return Number(text.replaceAll(",", ""));
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function percentOf(current: number, total: number): number {
  return round((current / total) * 100, 1);
}

function isCount(current: number, total: number): boolean {
  return Number.isFinite(current) && Number.isFinite(total) && total > 0 && current >= 0 &&
    current <= total;
}

function unitScale(unit: string): number {
  const power = "BKMGTP".indexOf(unit[0].toUpperCase());
  if (power <= 0) return 1;
  return (unit[1] === "i" ? 1024 : 1000) ** power;
}

function counts(line: string): Count[] {
  const found: Count[] = [];
  for (const match of line.matchAll(RATIO)) {
    const { current, currentUnit, slash, total, totalUnit } = match.groups!;
    // "3 / 10" is arithmetic more often than progress; "12.3 MB / 45.6 MB" is a download.
    if (slash.length > 1 && !currentUnit) continue;
    // Without a unit, "1.2/3.4" is more likely a pair of versions than an amount.
    if ((current.includes(".") || total.includes(".")) && !currentUnit && !totalUnit) continue;
    let done = toNumber(current);
    const whole = toNumber(total);
    if (currentUnit && totalUnit && currentUnit !== totalUnit) {
      done = round(done * unitScale(currentUnit) / unitScale(totalUnit), 3);
    }
    if (isCount(done, whole)) found.push({ current: done, total: whole, index: match.index });
  }
  for (const match of line.matchAll(OF)) {
    const current = toNumber(match.groups!.current);
    const total = toNumber(match.groups!.total);
    if (isCount(current, total)) found.push({ current, total, index: match.index });
  }
  return found.sort((a, b) => a.index - b.index);
}

/** The line around `index`, trimmed, at most MAX_MESSAGE_CHARS long. */
function around(line: string, index: number): string {
  const text = line.trim();
  if (text.length <= MAX_MESSAGE_CHARS) return text;
  const at = Math.max(0, index - (line.length - line.trimStart().length));
  const start = Math.min(Math.max(0, at - MAX_MESSAGE_CHARS / 2), text.length - MAX_MESSAGE_CHARS);
  return wellFormed(text.slice(start, start + MAX_MESSAGE_CHARS)).trim();
}

/** Drops a surrogate half left at either end by slicing. */
function wellFormed(text: string): string {
  let start = 0;
  let end = text.length;
  if (end > 0 && /[\uDC00-\uDFFF]/.test(text[0])) start++;
  if (end > start && /[\uD800-\uDBFF]/.test(text[end - 1])) end--;
  return text.slice(start, end);
}

function parseMarker(line: string): Found | null {
  const groups = MARKER.exec(line)?.groups;
  if (!groups) return null;
  const message = groups.message?.trim();
  const said = message ? { message: wellFormed(message.slice(0, MAX_MESSAGE_CHARS)).trim() } : {};
  if (groups.percent !== undefined) {
    const percent = Number(groups.percent);
    return percent <= 100 ? { percent, ...said } : null;
  }
  const current = Number(groups.current);
  const total = Number(groups.total);
  if (!isCount(current, total)) return null;
  return { percent: percentOf(current, total), current, total, ...said };
}

function parseHeuristic(line: string): Found | null {
  let percent: { value: number; index: number } | undefined;
  for (const match of line.matchAll(PERCENT)) {
    const value = Number(match.groups!.value);
    if (value <= 100) {
      percent = { value, index: match.index };
      break;
    }
  }
  const found = counts(line);
  if (percent) {
    // tqdm, git and friends print both; a count that disagrees with the percentage measures
    // something else (an outer loop, files vs bytes), so only an agreeing one is reported.
    const count = found.find((c) => Math.abs((c.current / c.total) * 100 - percent.value) <= 1);
    return {
      percent: percent.value,
      ...(count ? { current: count.current, total: count.total } : {}),
      message: around(line, percent.index),
    };
  }
  // Several counts on a line usually nest ("epoch 3/10 batch 45/100"); the last is the finest.
  const count = found.at(-1);
  if (!count) return null;
  return {
    percent: percentOf(count.current, count.total),
    current: count.current,
    total: count.total,
    message: around(line, count.index),
  };
}

/** The latest progress in `text`, and whether an explicit marker said it. */
function findProgress(
  text: string,
  markersOnly: boolean,
): { found: Found; explicit: boolean } | null {
  const lines = text.split("\n");
  if (text.includes(MARKER_TOKEN)) {
    for (let i = lines.length - 1; i >= 0; i--) {
      if (!lines[i].includes(MARKER_TOKEN)) continue;
      const found = parseMarker(lines[i]);
      if (found) return { found, explicit: true };
    }
  }
  if (markersOnly) return null;
  for (let i = lines.length - 1; i >= 0; i--) {
    // A malformed marker is a mistake to fix, not a line to guess at.
    if (lines[i].includes(MARKER_TOKEN) || lines[i].startsWith(OWN_LINE)) continue;
    const found = parseHeuristic(lines[i]);
    if (found) return { found, explicit: false };
  }
  return null;
}

/**
 * The latest progress found in a chunk of clean text (the last matching line wins; an explicit
 * marker line beats heuristics within the same chunk). Pure.
 */
export function parseProgress(text: string): Omit<Progress, "updated_at"> | null {
  return findProgress(parseable(text), false)?.found ?? null;
}

const PROMPTS: readonly RegExp[] = [
  // [y/N], (y/n), [Y/n], (yes/no), [y,n,q,a,d,?] closing a question, maybe with a default after.
  /[[(]\s*y(?:es)?\s*[/,|]\s*no?\b[^\])]{0,40}[\])]+\s*(?:[[(][^\])]{0,20}[\])]\s*)?[:?>]?\s*$/i,
  // "Password:", "[sudo] password for ann:", "Passphrase for key '…':", "Username for '…':".
  /(?:^|[\s'"\]])(?:password|passphrase|passcode|username)(?:\s+for\b.*|\s*\([^)]*\))?\s*:\s*$/i,
  // "Enter passphrase (empty for no passphrase):", "Enter a value:".
  /^\s*(?:please\s+)?enter\b.*[:?]\s*$/i,
  // inquirer and enquirer: "? Project name: (my-app)". One space, unlike svn's "?       file".
  /^\? \S/,
  /\b(?:continue|proceed)\b[^?]{0,40}\?\s*$/i,
  /\bare you sure\b.*\?\s*$/i,
  /\bpress\s+(?:any\s+key|enter|return|\[enter\]|the\s+enter\s+key)\b/i,
  // A REPL waiting on a line of its own: ">", ">>>", "mysql>", "(Pdb)"; repeated when what it
  // read came from a pipe and was not echoed (">>> >>> "). Tokens are apart by whitespace, so no
  // text can be split among them in more than one way (no backtracking blow-up).
  /^\s*(?:>+|[\w-]{1,20}>|\((?:pdb|gdb)\))(?:\s+(?:>+|[\w-]{1,20}>|\((?:pdb|gdb)\)))*\s*$/i,
];

/**
 * True when the last line of output (which has no trailing newline) looks like a prompt waiting
 * for an answer. Ordinary log lines ending in ":" are not prompts. Pure.
 */
export function looksLikePrompt(lastLine: string): boolean {
  const line = lastLine.length > MAX_PROMPT_CHARS ? lastLine.slice(-MAX_PROMPT_CHARS) : lastLine;
  if (line.trim() === "") return false;
  return PROMPTS.some((prompt) => prompt.test(line));
}

interface ParseState {
  /** Reads the log from where the last read stopped; holds the unfinished last line. */
  cursor: LogCursor;
  /** Whether the cursor's unfinished line as it stands has been searched for progress. */
  pendingParsed: boolean;
  progress: Progress | null;
  /** Once a task prints a marker, guesses from its other output would only add noise. */
  explicit: boolean;
}

interface Entry {
  state: ParseState;
  /** Reads of one task run one after another, each from where the last left off. */
  queue: Promise<unknown>;
}

function freshState(logPath: string): ParseState {
  return {
    cursor: new LogCursor(logPath, {
      maxPendingChars: MAX_PENDING_CHARS,
      foldRedraws: true,
      // A window that begins mid-line would read a cut "45/100" as "5/100": start after the
      // next line end or redraw.
      resumeAfter: "line-or-redraw",
    }),
    pendingParsed: true,
    progress: null,
    explicit: false,
  };
}

function sameProgress(a: Progress, b: Found, explicit: boolean): boolean {
  // A heuristic message carries clocks and rates that change on every redraw; only the numbers
  // say whether progress moved. A marker's message is the script's own words.
  return a.percent === b.percent && a.current === b.current && a.total === b.total &&
    (!explicit || a.message === b.message);
}

/**
 * Output as text to parse: escapes and redraws resolved, and no control character left (binary
 * output is full of them), so nothing parsed from it carries one into a message.
 */
function parseable(raw: string): string {
  return terminalText(cleanLine(raw), { lines: true }).replaceAll("\t", " ");
}

/** Searches raw output text for progress and records what it finds in `state`, seen at `seen`. */
function takeProgress(state: ParseState, raw: string, seen: number): void {
  const latest = findProgress(parseable(raw), state.explicit);
  if (!latest) return;
  const { found, explicit } = latest;
  const updatedAt = state.progress && sameProgress(state.progress, found, explicit)
    ? state.progress.updated_at
    : new Date(seen).toISOString();
  state.progress = { ...found, updated_at: updatedAt };
  state.explicit ||= explicit;
}

/** Seconds from a log's last write (its mtime) to `now`, to a tenth; null without an mtime. */
export function secondsSince(mtime: Date | null | undefined, now: number): number | null {
  return mtime ? Math.max(0, Math.round((now - mtime.getTime()) / 100) / 10) : null;
}

/** Options of {@linkcode ProgressTracker.read}. */
export interface ProgressReadOptions {
  /** Whether the task is still running (an unfinished line may still grow; prompts matter). */
  readonly working: boolean;
  /** The time of this read, in ms since the epoch. */
  readonly now: number;
  /** When the task ended, if it has: no progress is stamped later than this. Default null. */
  readonly endedAt?: number | null;
}

/**
 * Keeps per-task parse state in memory: a cursor into the log (its offset and unfinished last
 * line) and the last progress.
 */
export class ProgressTracker {
  readonly #entries = new Map<string, Entry>();

  /**
   * Reads only bytes past the last offset parsed for this task (at most the last 64 KiB of them
   * — progress is about the latest state), parses them, and returns the state.
   * secondsSinceOutput comes from the log file's mtime (null if the file doesn't exist).
   * waitingForInput only when `working` is true and the output does not end with a newline and
   * its last line looksLikePrompt. Progress is stamped with the time it was first seen: now, or
   * for bytes this tracker had never looked at before, no later than the log's last write; and
   * never later than the task's end.
   */
  read(taskId: string, logPath: string, options: ProgressReadOptions): Promise<OutputState> {
    let entry = this.#entries.get(taskId);
    if (!entry || entry.state.cursor.path !== logPath) {
      entry = { state: freshState(logPath), queue: Promise.resolve() };
      this.#entries.set(taskId, entry);
    }
    const own = entry;
    const result = own.queue.then(() => this.#read(own, options));
    own.queue = result.catch(() => {});
    return result;
  }

  /** Drops what is known about a task; a read still under way finishes into the void. */
  forget(taskId: string): void {
    this.#entries.delete(taskId);
  }

  async #read(entry: Entry, options: ProgressReadOptions): Promise<OutputState> {
    const state = entry.state;
    const firstLook = state.cursor.offset === 0;
    const gain = await state.cursor.read({ lastBytes: MAX_CHUNK_BYTES });
    if (gain === null) {
      return { progress: state.progress, secondsSinceOutput: null, waitingForInput: false };
    }
    const mtime = gain.info.mtime;
    if (gain.restarted) {
      // Truncated or replaced: what was parsed from the old file means nothing in this one.
      state.progress = null;
      state.explicit = false;
      state.pendingParsed = true;
    }
    let seen = options.now;
    // Bytes written before this tracker first looked were written by the log's last write at
    // the latest: a new server must not restamp old progress with its own start.
    if ((firstLook || gain.restarted) && mtime) seen = Math.min(seen, mtime.getTime());
    if (options.endedAt != null) seen = Math.min(seen, options.endedAt);
    if (gain.bytes.length > 0) {
      const finished = gain.lines.map((line) => `${line}\n`).join("");
      const unfinished = state.cursor.pending;
      // An unfinished line counts once it is redrawn in place (a progress bar) or the task has
      // ended. Until then it may be half a line flushed from a full buffer, and the "[5/10" of
      // "[5/100]" would read as 50%.
      const settled = !options.working || unfinished.includes("\r");
      takeProgress(state, settled ? finished + unfinished : finished, seen);
      state.pendingParsed = settled;
    }
    if (!options.working && !state.pendingParsed) {
      // The task ended without finishing its last line: nothing more will be added to it.
      takeProgress(state, state.cursor.pending, seen);
      state.pendingParsed = true;
    }
    const lastLine = parseable(state.cursor.pending);
    const waitingForInput = options.working && lastLine !== "" && looksLikePrompt(lastLine);
    return {
      progress: state.progress,
      secondsSinceOutput: secondsSince(mtime, options.now),
      waitingForInput,
      ...(waitingForInput ? { prompt: lastLine.trim().slice(-MAX_MESSAGE_CHARS) } : {}),
    };
  }
}
