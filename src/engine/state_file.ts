/**
 * Noticing that the state database was removed or replaced under a running server. A task that
 * deletes the state directory leaves the server writing to a deleted file: every task started or
 * ended from then on would vanish at the next restart. Said once, loudly; new starts are refused.
 *
 * @module
 */
import { BackburnerError } from "../errors.ts";

export interface StateFileOptions {
  /** The database file the store opened. */
  readonly path: string;
  /** The state directory, named in the message. */
  readonly home: string;
  /** The ids of the tasks this server runs, named in the message. */
  readonly running: () => string[];
  readonly log: (message: string) => void;
}

/** The database file as opened, compared with what is at its path now. */
export class StateFile {
  readonly #options: StateFileOptions;
  readonly #opened: { dev: number; ino: number | null } | null;
  /** Why the state can no longer be trusted, once it cannot. */
  #lost: string | null = null;

  constructor(options: StateFileOptions) {
    this.#options = options;
    let file: Deno.FileInfo | null = null;
    try {
      file = Deno.statSync(options.path);
    } catch {
      // An in-memory store, or one opened elsewhere: nothing to compare with.
    }
    this.#opened = file && { dev: file.dev, ino: file.ino };
  }

  /** Null while the database file the store opened is still the one at its path; else why not. */
  lost(): string | null {
    if (this.#lost !== null || this.#opened === null) return this.#lost;
    let why: string | null = null;
    try {
      const now = Deno.statSync(this.#options.path);
      if (
        this.#opened.ino !== null &&
        (now.ino !== this.#opened.ino || now.dev !== this.#opened.dev)
      ) why = "replaced";
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) why = "removed";
    }
    if (why === null) return null;
    this.#lost =
      `the state database "${this.#options.path}" was ${why} while this server ran (was the state directory "${this.#options.home}" deleted?)`;
    const running = this.#options.running();
    this.#options.log(
      `ERROR: ${this.#lost}: new tasks are refused until backburner is restarted. ` +
        (running.length
          ? `The ${running.length} tasks this server runs (${
            running.join(", ")
          }) keep running and are watched until they end, but what is recorded of them now lives only in this server's memory and is gone once it exits.`
          : "This server runs no tasks."),
    );
    return this.#lost;
  }

  /** Throws "state_lost" once the state is lost: nothing started now could be found again. */
  require(): void {
    const lost = this.lost();
    if (lost !== null) {
      throw new BackburnerError(
        "state_lost",
        `Cannot start task: ${lost}; nothing started now could be found again: restart backburner`,
      );
    }
  }
}
