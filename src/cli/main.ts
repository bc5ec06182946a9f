/**
 * The human command line: the same engine and state directory as the MCP server, for a terminal
 * and for scripts. Each command parses its arguments, asks the engine, and formats the answer.
 *
 * How it shares tasks with servers: a command is a passer-by, not a watcher. A command that reads
 * makes one reconcile pass (engine.tick), and one that waits makes one every half second, which
 * records the ends of tasks nobody watches and adopts orphans, but leaves every task a live server
 * owns to that server. Only the commands that start tasks register in the servers table, while
 * they run: `run` and `restart` (so that no server takes the task, recorded but not yet spawned,
 * for an orphan and marks it interrupted), `queue --limit` (a raised limit starts queued tasks) and
 * `wait` (with no server running, it starts queued tasks as their queues allow; only a registered
 * engine may claim one). Once the command has exited, what it started is an orphan that the
 * running server adopts on its next pass, or the next server at start, or any command that looks
 * at it meanwhile.
 */

import { isBackburnerError } from "../errors.ts";
import { UsageError } from "./args.ts";
import { COMMANDS } from "./commands/list.ts";
import { oneLine } from "./format.ts";
import { Terminal } from "./terminal.ts";

/** What the command line needs from its caller (main.ts). */
export interface CliContext {
  readonly version: string;
}

function overview(version: string): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length)) + 2;
  return `backburner ${version}: run shell commands as background tasks, for AI agents and people

Usage: backburner [COMMAND] [OPTIONS]

Commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(width)}${command.summary}`).join("\n")}

  backburner COMMAND --help   options and examples of a command
  backburner --version        the version

Settings come from the environment, as for the server: see backburner serve --help.

The command line and every server share the state directory (BACKBURNER_HOME, default
~/.backburner), so a task started by an agent can be followed and cancelled here, and the other
way round.

Exit codes: 0 success, 1 the thing asked for failed (an unknown task, a refused command, a wait
that did not end in success), 2 bad usage.`;
}

/**
 * Runs one command of the command line (everything but serving) and returns its exit code; the
 * caller exits. Errors become one line on stderr, never a stack trace.
 */
export async function runCli(args: string[], context: CliContext): Promise<number> {
  const terminal = new Terminal();
  try {
    const [name, ...rest] = args;
    if (name === undefined || name === "--help" || name === "-h" || name === "help") {
      const topic = name === "help" ? rest[0] : undefined;
      const command = COMMANDS.find((candidate) => candidate.name === topic);
      if (topic !== undefined && !command) throw unknownCommand(topic);
      terminal.print(command ? command.help : overview(context.version));
      return 0;
    }
    if (name === "--version" || name === "-V") {
      if (rest.length > 0) throw new UsageError("--version takes no arguments");
      terminal.print(context.version);
      return 0;
    }
    const command = COMMANDS.find((candidate) => candidate.name === name);
    if (!command) throw unknownCommand(name);
    return await command.run(rest, terminal);
  } catch (error) {
    if (error instanceof Deno.errors.BrokenPipe) return 0;
    const message = error instanceof Error ? error.message : String(error);
    // An error may quote a command or a directory: it reaches the terminal as one safe line.
    console.error(`backburner: ${oneLine(message).replaceAll(" ⏎ ", " ")}`);
    return exitCode(error);
  }
}

/**
 * The one mapping of errors to exit codes: 2 for a command line that is wrong (a UsageError is an
 * invalid_argument), 1 for everything else: what was asked for failed.
 */
function exitCode(error: unknown): number {
  return isBackburnerError(error) && error.code === "invalid_argument" ? 2 : 1;
}

function unknownCommand(name: string): UsageError {
  return new UsageError(
    name.startsWith("-")
      ? `unknown option "${name.slice(0, 80)}": see backburner --help`
      : `unknown command "${name.slice(0, 80)}": see backburner --help`,
  );
}
