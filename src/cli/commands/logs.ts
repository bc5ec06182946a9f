import { isTerminal } from "../../task.ts";
import type { GrepResult } from "../../logs/grep.ts";
import { LogCursor } from "../../logs/cursor.ts";
import { compileLinePattern } from "../../logs/pattern.ts";
import { cleanLine, terminalText } from "../../logs/text.ts";
import { oneId, parse, UsageError, wholeNumber } from "../args.ts";
import { type Command, help } from "../command.ts";
import { outcome } from "../format.ts";
import { keepReconciling, requireTask, withEngine } from "../session.ts";
import type { Terminal } from "../terminal.ts";

/** How often `logs --follow` looks for new output, in ms. */
const FOLLOW_INTERVAL_MS = 200;

export const logs: Command = {
  name: "logs",
  summary: "print a task's output (--follow streams it until the task ends)",
  help: `Usage: backburner logs ID [--tail N] [--follow] [--raw]
       backburner logs ID --grep REGEX [--raw]

Print a task's output (stdout and stderr as written, interleaved), as clean text: escape sequences
removed and carriage-return redraws collapsed to what a terminal would show.

Options:
  -n, --tail N       only the last N lines
  -f, --follow       keep printing new output until the task ends, then say on stderr how it
                     ended, e.g. "[backburner] task k3x9m2p7q4wz completed (exit 0) after 12.3 s"
  -g, --grep REGEX   only the lines matching a JavaScript regular expression, with line numbers
                     (the first 1000)
  --raw              the bytes exactly as written

Examples:
  backburner logs k3x9m2p7q4wz
  backburner logs k3x9m2p7q4wz --tail 50 --follow
  backburner logs k3x9m2p7q4wz --grep 'FAIL|Error'`,
  async run(args, terminal) {
    const { values, positionals } = parse("logs", args, {
      tail: { type: "string", short: "n" },
      follow: { type: "boolean", short: "f" },
      grep: { type: "string", short: "g" },
      raw: { type: "boolean" },
    });
    if (values.help) return help(terminal, this);
    const id = oneId("logs", positionals);
    const tail = wholeNumber("tail", values.tail, { min: 1, max: 1_000_000 });
    const raw = values.raw ?? false;
    if (values.grep !== undefined && (tail !== undefined || values.follow)) {
      throw new UsageError(
        "--grep goes alone: it reads the whole log; pipe --follow into grep to filter new output",
      );
    }
    const pattern = values.grep === undefined ? undefined : compile(values.grep);
    return await withEngine({}, async (engine) => {
      requireTask(engine, id);
      await engine.tick();
      if (pattern) {
        const { grep } = await engine.output(id, { grep: pattern, maxMatches: 1000, raw });
        printMatches(terminal, grep!, raw);
        return 0;
      }
      const from = tail === undefined
        ? 0
        : (await engine.output(id, { tailLines: tail, raw })).slice!.startOffset;
      const cursor = new LogCursor(engine.logPath(id), {
        offset: from,
        maxPendingChars: MAX_PENDING_CHARS,
        longLine: "flush",
        lines: !raw,
      });
      if (!values.follow) {
        await copyLog(cursor, terminal, { raw, final: true });
        return 0;
      }
      const stop = keepReconciling(engine);
      try {
        for (;;) {
          const task = requireTask(engine, id);
          await copyLog(cursor, terminal, { raw, final: isTerminal(task.status) });
          if (isTerminal(task.status)) {
            terminal.note(`[backburner] task ${id} ${outcome(task, Date.now())}`);
            return 0;
          }
          await new Promise((resolve) => setTimeout(resolve, FOLLOW_INTERVAL_MS));
        }
      } finally {
        stop();
      }
    });
  },
};

/** Bytes read at a time. */
const COPY_BYTES = 1024 * 1024;
/** An unfinished line longer than this is written as it is instead of waiting for its end. */
const MAX_PENDING_CHARS = 1024 * 1024;

/**
 * Copies what the log gained to the terminal: unlike the engine's bounded reads, sized for an
 * agent's reply, a person asking for a log wants all of it, and --follow each line once, as it
 * is written. Clean text holds an unfinished last line back until its newline arrives, unless
 * `final` (the task has ended, or this is a one-off read): then it is written too, with a newline.
 */
async function copyLog(
  cursor: LogCursor,
  terminal: Terminal,
  options: { raw: boolean; final: boolean },
): Promise<void> {
  // A line as a terminal would finally show it, with nothing left that a terminal acts on.
  const shown = (line: string) => terminalText(cleanLine(line), { lines: true });
  do {
    const gain = await cursor.read({ maxBytes: COPY_BYTES });
    if (gain === null) return;
    if (options.raw) {
      if (gain.bytes.length > 0) terminal.write(gain.bytes);
      continue;
    }
    let text = gain.lines.map((line) => `${shown(line)}\n`).join("");
    if (gain.flushed !== null) text += shown(gain.flushed);
    if (text !== "") terminal.write(new TextEncoder().encode(text));
  } while (cursor.behind);
  if (options.final && !options.raw) {
    const rest = cursor.takePending();
    if (rest !== "") terminal.write(new TextEncoder().encode(`${shown(rest)}\n`));
  }
}

/** The --grep pattern, validated as the server does (see logs/pattern.ts). */
function compile(source: string): RegExp {
  try {
    compileLinePattern(source);
    return new RegExp(source);
  } catch (error) {
    throw new UsageError(`--grep: ${(error as Error).message}`);
  }
}

function printMatches(terminal: Terminal, found: GrepResult, raw: boolean): void {
  for (const match of found.matches) {
    terminal.print(`${match.line}:${raw ? match.text : terminalText(match.text)}`);
  }
  if (found.matches.length < found.totalMatches) {
    terminal.note(
      `[backburner] showed the first ${found.matches.length} of ${found.totalMatches} matching lines`,
    );
  }
}
