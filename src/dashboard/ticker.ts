/**
 * One clock for every open dashboard page: every ~200 ms, while any page listens, one tiny query
 * (SQLite's data_version, on a connection of its own) says whether anything in the state
 * directory changed — a write by this process, another server or the command line — and every
 * listener is told at once. A page costs nothing per task: the listeners (one per filter, one per
 * task page; see list.ts and detail.ts) decide what to read again, and share it among their pages.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";

/** Called on every tick; `storeChanged` when the database changed since the last tick. */
export type TickListener = (storeChanged: boolean) => Promise<void> | void;

export class StoreTicker {
  readonly #path: string;
  readonly #intervalMs: number;
  readonly #log: (message: string) => void;
  readonly #listeners = new Set<TickListener>();
  #db: DatabaseSync | undefined;
  #version: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ticking = false;
  #poked = false;
  #closed = false;

  constructor(path: string, options: { intervalMs?: number; log: (message: string) => void }) {
    this.#path = path;
    this.#intervalMs = options.intervalMs ?? 200;
    this.#log = options.log;
  }

  /**
   * Listens from the next tick on; returns the unsubscribe function. A change committed after
   * this call is reported, so a listener that reads its first state after it misses none.
   */
  listen(listener: TickListener): () => void {
    if (this.#version === undefined) {
      try {
        this.#version = this.#readVersion();
      } catch {
        // the first tick says why
      }
    }
    this.#listeners.add(listener);
    this.#schedule();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stop();
    };
  }

  /**
   * A change this process made (the engine says so): tick now rather than at the next interval,
   * so this server's own changes reach its pages in milliseconds.
   */
  poke(): void {
    if (this.#listeners.size === 0 || this.#closed) return;
    if (this.#ticking) {
      this.#poked = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#tick(), 5);
  }

  #schedule(delay = this.#intervalMs): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setTimeout(() => void this.#tick(), delay);
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    if (this.#listeners.size === 0 || this.#closed) return;
    this.#ticking = true;
    this.#poked = false;
    let changed = false;
    try {
      // data_version moves when another connection (this process's store among them) commits.
      const version = this.#readVersion();
      changed = this.#version !== undefined && version !== this.#version;
      this.#version = version;
    } catch (error) {
      this.#log(`dashboard: cannot read the state database: ${(error as Error).message}`);
    }
    // One at a time: a slow listener delays the next tick rather than piling ticks up.
    await Promise.all(
      [...this.#listeners].map(async (listener) => {
        try {
          await listener(changed);
        } catch (error) {
          this.#log(`dashboard: ${error instanceof Error ? error.stack : String(error)}`);
        }
      }),
    );
    this.#ticking = false;
    if (this.#listeners.size > 0) this.#schedule(this.#poked ? 5 : this.#intervalMs);
  }

  #readVersion(): number {
    this.#db ??= new DatabaseSync(this.#path, { timeout: 1000 });
    // all(), not get(): a statement stepped to its end is reset and holds no read snapshot.
    const [{ data_version: version }] = this.#db.prepare("PRAGMA data_version").all() as {
      data_version: number;
    }[];
    return version;
  }

  #stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#db?.close();
    this.#db = undefined;
    this.#version = undefined;
  }

  close(): void {
    this.#closed = true;
    this.#listeners.clear();
    this.#stop();
  }
}
