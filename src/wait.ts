/** Waiting for tasks to end, or for a pattern in their output, without holding a call too long. */
import type { Engine } from "./engine.ts";
import { isTerminal, type Task } from "./task.ts";
import { readAt } from "./logs.ts";
import { cleanText } from "./text.ts";

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

/** Reads a log's new bytes line by line, remembering where it stopped. */
class LineScanner {
  #offset = 0;
  #partial = "";
  readonly #decoder = new TextDecoder("utf-8", { fatal: false });

  constructor(readonly path: string) {}

  /** The first new complete line that matches, or null. */
  async find(pattern: RegExp): Promise<string | null> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.path, { read: true });
    } catch {
      return null;
    }
    try {
      const size = (await file.stat()).size;
      if (size < this.#offset) {
        this.#offset = 0;
        this.#partial = "";
      }
      const length = Math.min(size - this.#offset, SCAN_BYTES_PER_LOOK);
      if (length <= 0) return null;
      const bytes = await readAt(file, this.#offset, length);
      this.#offset += bytes.length;
      const text = this.#partial + this.#decoder.decode(bytes, { stream: true });
      const lines = text.split("\n");
      this.#partial = lines.pop() ?? "";
      for (const raw of lines) {
        const line = cleanText(raw.replaceAll("\0", "\uFFFD"));
        if (pattern.test(line)) return line;
      }
      return null;
    } finally {
      file.close();
    }
  }
}

/**
 * Waits until the listed tasks end (any or all), the pattern appears in their output, or the
 * timeout passes, whichever is first; returns each task's status either way. Sleeps between
 * looks: a change this server records wakes it at once, others are seen within LOOK_INTERVAL_MS.
 */
export async function waitForTasks(engine: Engine, options: WaitOptions): Promise<WaitOutcome> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const pattern = options.pattern
    ? new RegExp(options.pattern.source, options.pattern.flags.replace(/[gy]/g, ""))
    : undefined;
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
          if (line !== null) {
            return {
              reason: "pattern",
              tasks,
              match: { taskId: options.taskIds[i], line },
              waitedMs: Date.now() - started,
            };
          }
        }
      }
      const ended = tasks.filter((task) => isTerminal(task.status)).length;
      await options.onProgress?.(ended, tasks.length);
      const done = options.mode === "any" ? ended > 0 : ended === tasks.length;
      // With a pattern, the wait is for the pattern; a task that ended without printing it ends
      // the wait too, since the pattern can no longer appear in its output.
      if (done) {
        if (pattern) {
          // One more scan: the last lines may have been written just before the end.
          for (const [i, scanner] of scanners.entries()) {
            const line = await scanner.find(pattern);
            if (line !== null) {
              return {
                reason: "pattern",
                tasks,
                match: { taskId: options.taskIds[i], line },
                waitedMs: Date.now() - started,
              };
            }
          }
        }
        return { reason: "ended", tasks, match: null, waitedMs: Date.now() - started };
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        return { reason: "timeout", tasks, match: null, waitedMs: Date.now() - started };
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(remaining, LOOK_INTERVAL_MS));
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
