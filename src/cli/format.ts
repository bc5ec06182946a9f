/** Pure helpers that turn tasks into lines for a terminal: durations, times, colours, tables. */

import type { Progress } from "../logs/progress.ts";
import type { StopReason, Task, TaskStatus } from "../task.ts";
import { terminalText } from "../logs/text.ts";

const STATUS_COLORS: Record<TaskStatus, number> = {
  queued: 34, // blue
  working: 36, // cyan
  completed: 32, // green
  failed: 31, // red
  cancelled: 33, // yellow
  timed_out: 35, // magenta
  interrupted: 90, // grey
};

/** `text` in the colour of `status` when `color` is on. */
export function paintStatus(status: TaskStatus, text: string, color: boolean): string {
  return color ? `\x1b[${STATUS_COLORS[status]}m${text}\x1b[39m` : text;
}

/** `text` dimmed when `color` is on. */
export function dim(text: string, color: boolean): string {
  return color ? `\x1b[2m${text}\x1b[22m` : text;
}

function pad2(value: number): string {
  return String(value).padStart(2, "0");
}

/** A run time for people: "0.4 s", "12.3 s", "4 min 05 s", "1 h 02 min", "3 d 04 h". */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${(Math.floor(seconds * 10) / 10).toFixed(1)} s`;
  const whole = Math.floor(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${pad2(whole % 60)} s`;
  if (whole < 86_400) {
    return `${Math.floor(whole / 3600)} h ${pad2(Math.floor(whole / 60) % 60)} min`;
  }
  return `${Math.floor(whole / 86_400)} d ${pad2(Math.floor(whole / 3600) % 24)} h`;
}

/** A moment in local time, "2026-11-25 16:30:06". */
export function localTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** How long ago `ms` was, for the last day ("12 s ago", "5 min ago", "3 h ago"); else local time. */
export function formatAgo(ms: number, now: number): string {
  const seconds = Math.max(0, Math.floor((now - ms) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return localTime(ms).slice(0, 16);
}

/** A byte count for people: "512 B", "1.2 KiB", "3.4 MiB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** One line of `text`, safe on a terminal: newlines become "⏎", escapes and controls go. */
export function oneLine(text: string): string {
  return terminalText(text);
}

/**
 * JSON for a terminal or a script: JSON.stringify escapes C0 controls (ESC among them) but not
 * C1 controls or bidirectional overrides, which are escaped here too; the value reads back the same.
 */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    /[\u0080-\u009f\u202a-\u202e\u2066-\u2069]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** `text` cut to at most `width` characters (code points), ending in "…" when cut. */
export function shorten(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text;
  if (width <= 1) return "…".slice(0, width);
  return `${chars.slice(0, width - 1).join("")}…`;
}

function visibleLength(text: string): number {
  return [...text].length;
}

/** A table cell or field value: its text, and optionally how to paint it once padded. */
export interface Cell {
  readonly text: string;
  readonly paint?: (padded: string) => string;
}

export interface TableOptions {
  /** Most characters in a line. */
  readonly width: number;
  /** The column that gets what the others leave of `width`, cut with "…"; the last one by default. */
  readonly flexColumn?: number;
  /**
   * What the flex column should get: the shrinkable columns give up width for it first. Default 20.
   */
  readonly minFlexWidth?: number;
  /** The least the flex column gets, even past `width`. Default: minFlexWidth. */
  readonly leastFlexWidth?: number;
  /** Columns cut with "…" (never below their header's width) to make room for the flex column. */
  readonly shrinkable?: readonly number[];
}

/**
 * Lines of a table with a header row, columns two spaces apart and left aligned; painting happens
 * after padding, so escape sequences never upset the alignment.
 */
export function renderTable(
  header: readonly string[],
  rows: readonly (readonly Cell[])[],
  options: TableOptions,
): string[] {
  // Whatever a cell holds (a command, a label) reaches the terminal only as one safe line.
  rows = rows.map((row) => row.map((cell) => ({ ...cell, text: oneLine(cell.text) })));
  const flex = options.flexColumn ?? header.length - 1;
  const gap = 2;
  const widths = header.map((title, column) =>
    Math.max(visibleLength(title), ...rows.map((row) => visibleLength(row[column].text)))
  );
  let fixed = widths.reduce((sum, width, column) => column === flex ? sum : sum + width, 0) +
    gap * (header.length - 1);
  const wanted = options.minFlexWidth ?? 20;
  let over = Math.min(widths[flex], wanted) + fixed - options.width;
  for (const column of options.shrinkable ?? []) {
    if (over <= 0) break;
    const cut = Math.min(over, widths[column] - visibleLength(header[column]));
    if (cut <= 0) continue;
    widths[column] -= cut;
    fixed -= cut;
    over -= cut;
  }
  widths[flex] = Math.min(
    widths[flex],
    Math.max(Math.min(options.leastFlexWidth ?? wanted, wanted), options.width - fixed),
  );
  const line = (cells: readonly Cell[]) =>
    cells.map((cell, column) => {
      const text = shorten(cell.text, widths[column]);
      const padded = column === cells.length - 1
        ? text
        : text + " ".repeat(widths[column] - visibleLength(text));
      return cell.paint ? cell.paint(padded) : padded;
    }).join(" ".repeat(gap)).trimEnd();
  return [line(header.map((text) => ({ text }))), ...rows.map(line)];
}

/**
 * Aligned "name  value" lines; a value's later lines are indented under its first. Values reach
 * the terminal without escapes or control characters; a cell's paint colours its first line.
 */
export function renderFields(fields: readonly (readonly [string, string | Cell])[]): string[] {
  const width = Math.max(...fields.map(([name]) => name.length)) + 2;
  return fields.flatMap(([name, value]) => {
    const cell = typeof value === "string" ? { text: value } : value;
    return terminalText(cell.text, { lines: true }).split("\n").map((line, i) =>
      (i === 0 ? name.padEnd(width) : " ".repeat(width)) +
      (i === 0 && cell.paint ? cell.paint(line) : line)
    );
  });
}

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Words as one shell command line that runs them as given: each word that needs it is single
 * quoted, as Python's shlex.join does.
 */
export function shellJoin(words: readonly string[]): string {
  return words.map((word) => SAFE_WORD.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`)
    .join(" ");
}

/** Seconds a task has run, so far or in all; null if it never started. */
export function durationOf(task: Task, now: number): number | null {
  if (task.startedAt === null) return null;
  return Math.max(0, ((task.endedAt ?? now) - task.startedAt) / 1000);
}

/** "completed (exit 0) after 12.3 s", "still working after 4 min 05 s". */
export function outcome(task: Task, now: number): string {
  const seconds = durationOf(task, now);
  const after = seconds === null ? "" : ` after ${formatDuration(seconds)}`;
  if (task.status === "queued") return "still queued";
  if (task.status === "working") return `still working${after}`;
  const details = [
    task.exitCode !== null ? `exit ${task.exitCode}` : null,
    task.signal,
  ].filter((part) => part !== null);
  return `${task.status}${details.length ? ` (${details.join(", ")})` : ""}${after}`;
}

const STOPPING: Record<StopReason, string> = {
  cancel: "stopping (cancelled)",
  timeout: "stopping (timed out)",
  log_limit: "stopping (log limit)",
  shutdown: "stopping (shutdown)",
};

/**
 * A task's status for a list: a working task that a stop was asked for (a cancel, its deadline)
 * is shown as stopping, and why, until its processes are gone and its end is recorded.
 */
export function listedStatus(task: Task): string {
  return task.status === "working" && task.stopReason !== null
    ? STOPPING[task.stopReason]
    : task.status;
}

/** "45%", or "3/10" when only a count is known; "" for none. */
export function progressText(progress: Progress | null): string {
  if (!progress) return "";
  if (progress.percent !== undefined) return `${Math.round(progress.percent)}%`;
  if (progress.current !== undefined && progress.total !== undefined) {
    return `${progress.current}/${progress.total}`;
  }
  return "";
}
