/**
 * A task's output as replies read it: a bounded piece of its log (the tail, the head, a byte range
 * from a cursor, or the lines matching a pattern; every reply fits the output cap), and what the
 * output shows (progress, silence, a prompt waiting for input). An ended task's output no longer
 * changes: its small final state is kept instead of the parse buffers.
 *
 * @module
 */
import { grepLog } from "../logs/grep.ts";
import { type OutputState, ProgressTracker, secondsSince } from "../logs/progress.ts";
import { readHead, readRange, readTail } from "../logs/slice.ts";
import { isTerminal, type Task } from "../task.ts";
import { checkOutput, type OutputRequest, type TaskOutput } from "./requests.ts";
import { outputModified } from "./task_files.ts";

/** Final output states of ended tasks kept for task_status; the oldest go first. */
const ENDED_OUTPUT_ENTRIES = 1000;

/** Reads a bounded piece of the log at `logPath` of `task`, as `request` asks. */
export async function readOutput(
  task: Task,
  logPath: string,
  request: OutputRequest,
  maxChars: number,
): Promise<TaskOutput> {
  checkOutput(request);
  const read = {
    maxChars,
    raw: request.raw ?? false,
    complete: isTerminal(task.status),
  };
  if (request.grep !== undefined) {
    const grep = await grepLog(logPath, {
      ...read,
      pattern: request.grep,
      context: request.context,
      maxMatches: request.maxMatches,
    });
    return { task, grep };
  }
  if (request.headLines !== undefined) {
    return { task, slice: await readHead(logPath, { ...read, lines: request.headLines }) };
  }
  if (request.offset !== undefined) {
    return {
      task,
      slice: await readRange(logPath, {
        ...read,
        offset: request.offset,
        maxBytes: request.maxBytes,
      }),
    };
  }
  return { task, slice: await readTail(logPath, { ...read, lines: request.tailLines }) };
}

/** What tasks' output shows, read incrementally while they run and kept small once they end. */
export class OutputStates {
  readonly #progress = new ProgressTracker();
  readonly #ended = new Map<string, OutputState>();

  /**
   * What the output of `task` shows now. `sentAtBytes`: the output size when input was last sent
   * (input.ts), so a prompt answered since it was printed waits no more.
   */
  async read(
    task: Task,
    logPath: string,
    outputBytes: number,
    sentAtBytes: number | null,
  ): Promise<OutputState> {
    const ended = this.#ended.get(task.id);
    if (ended) {
      // A log removed meanwhile has no output time to give.
      const secondsSinceOutput = secondsSince(outputModified(logPath), Date.now());
      return { ...ended, secondsSinceOutput };
    }
    const output = await this.#progress.read(task.id, logPath, {
      working: task.status === "working",
      now: Date.now(),
      endedAt: task.endedAt,
    });
    if (isTerminal(task.status)) {
      // Not the parse buffers: looking at thousands of ended tasks must not hold their last lines.
      this.#progress.forget(task.id);
      this.#ended.set(task.id, output);
      if (this.#ended.size > ENDED_OUTPUT_ENTRIES) {
        this.#ended.delete(this.#ended.keys().next().value!);
      }
    }
    const answered = sentAtBytes !== null && sentAtBytes >= outputBytes;
    return answered && output.waitingForInput ? { ...output, waitingForInput: false } : output;
  }

  /** Forgets what is kept of a removed task. */
  forget(id: string): void {
    this.#progress.forget(id);
    this.#ended.delete(id);
  }
}
