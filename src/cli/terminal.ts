/** Where a command's output goes, and how it may look there. */

/** Columns assumed when stdout is not a terminal. */
const PIPE_COLUMNS = 120;

const encoder = new TextEncoder();

/**
 * Standard output as a command sees it: coloured only on a terminal with NO_COLOR unset, as wide
 * as the terminal or 120 columns in a pipe. A closed pipe throws Deno.errors.BrokenPipe.
 */
export class Terminal {
  readonly color: boolean;
  readonly columns: number;
  readonly interactive: boolean;

  constructor() {
    this.interactive = Deno.stdout.isTerminal();
    this.color = this.interactive && !Deno.noColor;
    let columns = PIPE_COLUMNS;
    if (this.interactive) {
      try {
        columns = Deno.consoleSize().columns;
      } catch {
        // A terminal that does not say its size: keep the default.
      }
    }
    this.columns = columns;
  }

  write(bytes: Uint8Array): void {
    for (let written = 0; written < bytes.length;) {
      written += Deno.stdout.writeSync(bytes.subarray(written));
    }
  }

  print(text = ""): void {
    this.write(encoder.encode(`${text}\n`));
  }

  /** A line on stderr that is not an error: how a followed task ended, what a reply left out. */
  note(text: string): void {
    Deno.stderr.writeSync(encoder.encode(`${text}\n`));
  }
}
