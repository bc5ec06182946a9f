/**
 * When a server looks at the tasks it does not watch through their processes. A look (the
 * engine's tick: adoption, ends nobody saw, the dispatch of queued tasks) reads every working
 * task, so it runs when something may have changed, not on a timer:
 *
 * - an exit event (exit_events.ts): a wrapper recorded its command's end;
 * - another connection wrote to the store (SQLite's data_version moved): a task started, ended,
 *   was claimed or queued elsewhere, a server came or went;
 * - another server let go of its lock (server_lock.ts): it died, and its tasks need an owner;
 * - something nothing announces needs a look every interval (Slurm jobs, or an executor whose
 *   wrappers announce no exits);
 * - the safety sweep: every `sweepMs`, whatever happened, as a backstop for what no event covers
 *   (a wrapper killed before it wrote its record, a missed event).
 *
 * Each interval costs one small query and a lock try per other server: nothing that grows with the
 * number of tasks.
 *
 * @module
 */
import { type ExitEventWatch, watchExitEvents } from "./exit_events.ts";
import { serverLiveness } from "./server_lock.ts";

export interface MonitorOptions {
  readonly home: string;
  /** How often the cheap checks run, in ms. */
  readonly intervalMs: number;
  /** The safety sweep's period, in ms. */
  readonly sweepMs: number;
  /** Whether the executor's wrappers announce exits; without, every interval is a look. */
  readonly exitEvents: boolean;
  /** A number that changes whenever another connection commits to the store. */
  readonly dataVersion: () => number;
  /** The ids of the other servers registered at the last look. */
  readonly otherServers: () => Iterable<string>;
  /** True while something needs a look every interval anyway. */
  readonly busy: () => boolean;
  /** Ids of exit events this server needs no look for (its own children tell it). */
  readonly watchedHere: (id: string) => boolean;
  readonly look: () => Promise<void>;
  readonly log: (message: string) => void;
}

export class Monitor {
  readonly #options: MonitorOptions;
  #timer: ReturnType<typeof setInterval> | undefined;
  #watch: ExitEventWatch | null = null;
  #version: number | null = null;
  #lookedAt = 0;
  #closed = false;

  constructor(options: MonitorOptions) {
    this.#options = options;
  }

  /** Starts the watch and the interval. A failed watch falls back to a look every interval. */
  start(): void {
    const options = this.#options;
    if (options.exitEvents) {
      try {
        this.#watch = watchExitEvents(options.home, (ids) => {
          if (ids.some((id) => !options.watchedHere(id))) this.#look();
        });
        const watch = this.#watch;
        watch.done.then(() => {
          const failure = watch.failure();
          if (failure === null || this.#closed) return;
          options.log(`watching exit events failed (${failure}): checking tasks every interval`);
          this.#watch = null;
        });
      } catch (error) {
        options.log(
          `cannot watch exit events (${
            error instanceof Error ? error.message : error
          }): checking tasks every interval`,
        );
      }
    }
    this.#version = options.dataVersion();
    this.#lookedAt = Date.now();
    const timer = setInterval(() => this.#check(), options.intervalMs);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#watch?.close();
    this.#watch = null;
  }

  /** Why a look is due now, or null. */
  #due(): string | null {
    const options = this.#options;
    if (this.#watch === null) return "no exit events";
    const version = options.dataVersion();
    if (version !== this.#version) {
      this.#version = version;
      return "store changed";
    }
    if (options.busy()) return "busy";
    if (Date.now() - this.#lookedAt >= options.sweepMs) return "sweep";
    for (const server of options.otherServers()) {
      if (serverLiveness(options.home, server) === "dead") return "server died";
    }
    return null;
  }

  #check(): void {
    if (this.#closed) return;
    try {
      if (this.#due() !== null) this.#look();
    } catch (error) {
      this.#options.log(
        `checking for changes failed: ${error instanceof Error ? error.message : error}`,
      );
      this.#look();
    }
  }

  #look(): void {
    if (this.#closed) return;
    this.#lookedAt = Date.now();
    this.#options.look().catch((error) =>
      this.#options.log(`checking tasks failed: ${error instanceof Error ? error.message : error}`)
    );
  }
}
