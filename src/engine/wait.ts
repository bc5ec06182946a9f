/** Waiting for tasks to end, or for a pattern in their output, without holding a call too long. */
import type { Engine } from "./engine.ts";
import { isTerminal, type Task } from "../task.ts";
import { LogCursor } from "../logs/cursor.ts";
import { cleanLine, cutLongLines, MAX_LINE_CHARS } from "../logs/text.ts";
import { compileLinePattern, type LinePattern } from "../logs/pattern.ts";

export interface WaitOptions {
  readonly taskIds: readonly string[];
  /** "any": return when one task has ended; "all": when every one has. */
  readonly mode: "any" | "all";
  readonly timeoutMs: number;
  /** Return as soon as this appears in a line of any listed task's output. */
  readonly pattern?: RegExp;
  /** Called on each wake with how many tasks have ended; awaited, so a report precedes the result. */
  readonly onProgress?: (ended: number, total: number) => void | Promise<void>;
}

export interface PatternMatch {
  readonly taskId: string;
  /** The matching line, as clean text. */
  readonly line: string;
}

export interface WaitOutcome {
  /** Why the wait ended. */
  readonly reason: "ended" | "pattern" | "timeout";
  readonly tasks: Task[];
  readonly match: PatternMatch | null;
  readonly waitedMs: number;
}

/** Changes by other servers and new output are looked for this often; own changes wake at once. */
const LOOK_INTERVAL_MS = 200;
/** Most new output scanned for the pattern per task per look, so one huge burst cannot stall. */
const SCAN_BYTES_PER_LOOK = 8 * 1024 * 1024;
/**
 * A line longer than this many characters is tested on its last this many only (as it grows, for
 * a line not yet ended), so a line without a newline never holds more memory than this.
 */
export const LINE_WINDOW_CHARS = 64 * 1024;
/** A scan lets other work run after this long, so the server keeps answering other calls. */
const YIELD_MS = 20;

/**
 * Reads a log's new lines for the pattern. The unfinished last line is tested too (a prompt such
 * as "Password: " has no newline), each time it grows, so it is found as soon as it is printed;
 * the wait ends at the first match, so nothing is reported twice.
 */
class LineScanner {
  readonly #cursor: LogCursor;

  constructor(path: string) {
    this.#cursor = new LogCursor(path, {
      maxPendingChars: LINE_WINDOW_CHARS,
      maxLineChars: LINE_WINDOW_CHARS,
    });
  }

  /** Whether output written before the last look is still unscanned. */
  get behind(): boolean {
    return this.#cursor.behind;
  }

  /** The first new line (finished or not) that matches, as clean text, or null. */
  async find(pattern: LinePattern): Promise<string | null> {
    let gain;
    try {
      gain = await this.#cursor.read({ maxBytes: SCAN_BYTES_PER_LOOK });
    } catch {
      return null;
    }
    if (gain === null) return null;
    let yielded = performance.now();
    for (const line of gain.lines) {
      const found = testLine(pattern, line);
      if (found !== null) return found;
      if (performance.now() - yielded >= YIELD_MS) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        yielded = performance.now();
      }
    }
    if (gain.pendingGrew && this.#cursor.pending !== "") {
      return testLine(pattern, this.#cursor.pending);
    }
    return null;
  }
}

/** The line as clean text (cut when long) when its whole clean text matches, else null. */
function testLine(pattern: LinePattern, raw: string): string | null {
  const line = cleanLine(raw);
  return pattern.test(line) ? cutLongLines(line, MAX_LINE_CHARS) : null;
}

/**
 * Waits until the listed tasks end (any or all), the pattern appears in their output, or the
 * timeout passes, whichever is first; returns each task's status either way. Sleeps between
 * looks: a change this server records wakes it at once, others are seen within LOOK_INTERVAL_MS.
 */
export async function waitForTasks(engine: Engine, options: WaitOptions): Promise<WaitOutcome> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  // Never a native backtracking match that could stall the server: see pattern.ts.
  const pattern = options.pattern
    ? compileLinePattern(options.pattern.source, options.pattern.flags)
    : undefined;
  const found = (tasks: Task[], taskId: string, line: string): WaitOutcome => ({
    reason: "pattern",
    tasks,
    match: { taskId, line },
    waitedMs: Date.now() - started,
  });
  const scanners = options.taskIds.map((id) => new LineScanner(engine.logPath(id)));
  let wake: (() => void) | undefined;
  const unsubscribe = engine.onChange((id) => {
    if (options.taskIds.includes(id)) wake?.();
  });
  try {
    for (;;) {
      const tasks = options.taskIds.map((id) => engine.status(id).task);
      if (pattern) {
        for (const [i, scanner] of scanners.entries()) {
          const line = await scanner.find(pattern);
          if (line !== null) return found(tasks, options.taskIds[i], line);
        }
      }
      const ended = tasks.filter((task) => isTerminal(task.status)).length;
      await options.onProgress?.(ended, tasks.length);
      const done = options.mode === "any" ? ended > 0 : ended === tasks.length;
      // With a pattern, the wait is for the pattern; a task that ended without printing it ends
      // the wait too, since the pattern can no longer appear in its output.
      if (done) {
        if (pattern) {
          // Scan to the end: the last lines may have been written just before it. Bounded by
          // the deadline, since a task may have ended after writing gigabytes.
          for (const [i, scanner] of scanners.entries()) {
            do {
              const line = await scanner.find(pattern);
              if (line !== null) return found(tasks, options.taskIds[i], line);
            } while (scanner.behind && Date.now() < deadline);
          }
        }
        return { reason: "ended", tasks, match: null, waitedMs: Date.now() - started };
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        return { reason: "timeout", tasks, match: null, waitedMs: Date.now() - started };
      }
      await new Promise<void>((resolve) => {
        // Output not yet scanned is read at once, after letting other calls run.
        const behind = scanners.some((scanner) => scanner.behind);
        const timer = setTimeout(resolve, behind ? 0 : Math.min(remaining, LOOK_INTERVAL_MS));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  } finally {
    unsubscribe();
  }
}
