/**
 * Copying a task's output log to a terminal or a pipe, whole and as it grows. Unlike the engine's
 * bounded reads, which are sized for an agent's reply, this streams the bytes: a person asking for
 * a log wants all of it, and `--follow` wants each line once, as it is written.
 */

import { collapseCarriageReturns, stripAnsi, terminalText } from "../logs/text.ts";

/** Bytes read at a time. */
const CHUNK_BYTES = 1024 * 1024;
/** An unfinished line longer than this is written as it is instead of waiting for its end. */
const MAX_PENDING_CHARS = 1024 * 1024;

export interface LogCopierOptions {
  /** The bytes as written; default false: clean lines (escapes removed, `\r` redraws collapsed). */
  readonly raw: boolean;
  /** Where the output goes; may throw Deno.errors.BrokenPipe. */
  readonly write: (bytes: Uint8Array) => void;
}

const encoder = new TextEncoder();

/** A line as a terminal would finally show it, with nothing left that a terminal acts on. */
function cleanLine(line: string): string {
  return terminalText(
    collapseCarriageReturns(stripAnsi(line)).replaceAll("\0", "\uFFFD"),
    { lines: true },
  );
}

/** Copies a log from a byte offset on; each call copies what was added since the last one. */
export class LogCopier {
  readonly #path: string;
  readonly #options: LogCopierOptions;
  readonly #decoder = new TextDecoder("utf-8", { fatal: false });
  #offset: number;
  #pending = "";

  constructor(path: string, offset: number, options: LogCopierOptions) {
    this.#path = path;
    this.#offset = offset;
    this.#options = options;
  }

  /**
   * Copies the bytes the log gained. Clean text holds an unfinished last line back until its
   * newline arrives, unless `final` (the task has ended, or this is a one-off read): then it is
   * written too, with a newline.
   */
  async copy(final: boolean): Promise<void> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.#path, { read: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    try {
      await file.seek(this.#offset, Deno.SeekMode.Start);
      const buffer = new Uint8Array(CHUNK_BYTES);
      for (;;) {
        const n = await file.read(buffer);
        if (n === null) break;
        this.#offset += n;
        this.#take(buffer.subarray(0, n));
      }
    } finally {
      file.close();
    }
    if (final && !this.#options.raw) {
      const rest = this.#pending + this.#decoder.decode();
      this.#pending = "";
      if (rest !== "") this.#options.write(encoder.encode(`${cleanLine(rest)}\n`));
    }
  }

  #take(bytes: Uint8Array): void {
    if (this.#options.raw) {
      this.#options.write(bytes.slice());
      return;
    }
    const lines = (this.#pending + this.#decoder.decode(bytes, { stream: true })).split("\n");
    this.#pending = lines.pop() ?? "";
    let text = lines.map((line) => `${cleanLine(line)}\n`).join("");
    if (this.#pending.length > MAX_PENDING_CHARS) {
      text += cleanLine(this.#pending);
      this.#pending = "";
    }
    if (text !== "") this.#options.write(encoder.encode(text));
  }
}
