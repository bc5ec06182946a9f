/** What a command of the command line is: its name, its help, and how it runs. */

import type { Terminal } from "./terminal.ts";

export interface Command {
  readonly name: string;
  /** One line for the overview. */
  readonly summary: string;
  readonly help: string;
  /** Runs the command with its arguments; returns the exit code, or throws (see main.ts). */
  run(args: string[], terminal: Terminal): Promise<number>;
}

/** Prints a command's help; exit code 0. */
export function help(terminal: Terminal, command: Command): number {
  terminal.print(command.help);
  return 0;
}
