import { isTerminal } from "../../task.ts";
import type { GrepResult } from "../../logs.ts";
import { compileLinePattern } from "../../pattern.ts";
import { terminalText } from "../../text.ts";
import { oneId, parse, UsageError, wholeNumber } from "../args.ts";
import { type Command, help } from "../command.ts";
import { outcome } from "../format.ts";
import { LogCopier } from "../log_copier.ts";
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
      const copier = new LogCopier(engine.logPath(id), from, {
        raw,
        write: (bytes) => terminal.write(bytes),
      });
      if (!values.follow) {
        await copier.copy(true);
        return 0;
      }
      const stop = keepReconciling(engine);
      try {
        for (;;) {
          const task = requireTask(engine, id);
          await copier.copy(isTerminal(task.status));
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

/** The --grep pattern, validated as the server does (see pattern.ts). */
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
