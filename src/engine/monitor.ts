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
 * Each check costs one small query and a lock try per other server: nothing that grows with the
 * number of tasks. While nothing happens and nothing needs the interval (no other server's lock to
 * try, no Slurm job, exit events watched), the wait between checks doubles, up to `idleIntervalMs`;
 * anything found (a write elsewhere, an exit event) brings it back to `intervalMs`.
 *
 * Why back off rather than watch the store's files: the checks every 500 ms were most of an idle
 * server's CPU (each wake of the process costs far more than its query: about 25 ms of CPU in 20 s
 * at 500 ms, 4 ms at 5 s), and the obvious watch without polling is unsafe. A watch with
 * Deno.watchFs on the database's folder (every commit writes state.db-wal) has Deno open and close
 * each file an event names (seen with strace), and closing any descriptor of a file drops every
 * POSIX lock the process holds on it: SQLite's own locks on state.db and state.db-shm. With two
 * servers on one state directory, the database was soon "malformed". What the back-off delays is
 * only what no event announces: a write by another connection after a quiet spell (a task
 * started by another server or the command line, for resources/list_changed; a new server's
 * registration) is seen within `idleIntervalMs` instead of `intervalMs`. Exits, dispatch after an
 * exit, and the liveness of other servers keep their speed.
 *
 * @module
 */
import { type ExitEventWatch, watchExitEvents } from "./exit_events.ts";
import { serverLiveness } from "./server_lock.ts";

export interface MonitorOptions {
  readonly home: string;
  /** How often the cheap checks run while something happens, in ms. */
  readonly intervalMs: number;
  /** The longest wait between two checks while nothing happens, in ms. */
  readonly idleIntervalMs: number;
  /** The safety sweep's period, in ms. */
  readonly sweepMs: number;
  /** Whether the executor's wrappers announce exits; without, every interval is a look. */
  readonly exitEvents: boolean;
  /** A number that changes whenever another connection commits to the store. */
  readonly dataVersion: () => number;
  /** Called when another connection's commit was noticed (data_version moved). Default: none. */
  readonly storeChanged?: () => void;
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
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The wait before the next check: intervalMs, doubled after each check that found nothing. */
  #delay: number;
  #watch: ExitEventWatch | null = null;
  #version: number | null = null;
  #lookedAt = 0;
  #closed = false;

  constructor(options: MonitorOptions) {
    this.#options = options;
    this.#delay = options.intervalMs;
  }

  /** Starts the watch and the checks. A failed watch falls back to a look every interval. */
  start(): void {
    const options = this.#options;
    if (options.exitEvents) {
      try {
        this.#watch = watchExitEvents(options.home, (ids) => {
          if (ids.some((id) => !options.watchedHere(id))) {
            this.#look();
            this.#quicken();
          }
        });
        const watch = this.#watch;
        watch.done.then(() => {
          const failure = watch.failure();
          if (failure === null || this.#closed) return;
          options.log(`watching exit events failed (${failure}): checking tasks every interval`);
          this.#watch = null;
          this.#quicken();
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
    this.#schedule();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#watch?.close();
    this.#watch = null;
  }

  /** Waits #delay for the next check, or less when the safety sweep is due sooner. */
  #schedule(): void {
    clearTimeout(this.#timer);
    if (this.#closed) return;
    const untilSweep = this.#lookedAt + this.#options.sweepMs - Date.now();
    const timer = setTimeout(() => this.#check(), Math.max(0, Math.min(this.#delay, untilSweep)));
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Back to a check every interval: something happened. */
  #quicken(): void {
    if (this.#delay === this.#options.intervalMs) return;
    this.#delay = this.#options.intervalMs;
    this.#schedule();
  }

  /** Whether the checks must run every interval: lock tries of other servers, Slurm jobs. */
  #needsInterval(): boolean {
    if (this.#watch === null || this.#options.busy()) return true;
    for (const _ of this.#options.otherServers()) return true;
    return false;
  }

  /** Why a look is due now, or null. */
  #due(): string | null {
    const options = this.#options;
    // Read first, also when every interval is a look anyway: storeChanged tells others.
    const version = options.dataVersion();
    if (version !== this.#version) {
      this.#version = version;
      options.storeChanged?.();
      return "store changed";
    }
    if (this.#watch === null) return "no exit events";
    if (options.busy()) return "busy";
    if (Date.now() - this.#lookedAt >= options.sweepMs) return "sweep";
    for (const server of options.otherServers()) {
      if (serverLiveness(options.home, server) === "dead") return "server died";
    }
    return null;
  }

  #check(): void {
    if (this.#closed) return;
    let due: string | null;
    try {
      due = this.#due();
    } catch (error) {
      this.#options.log(
        `checking for changes failed: ${error instanceof Error ? error.message : error}`,
      );
      due = "failed";
    }
    if (due !== null) this.#look();
    // The sweep is no news: it comes whatever happened.
    const quiet = (due === null || due === "sweep") && !this.#needsInterval();
    this.#delay = quiet
      ? Math.min(this.#delay * 2, this.#options.idleIntervalMs)
      : this.#options.intervalMs;
    this.#schedule();
  }

  #look(): void {
    if (this.#closed) return;
    this.#lookedAt = Date.now();
    this.#options.look().catch((error) =>
      this.#options.log(`checking tasks failed: ${error instanceof Error ? error.message : error}`)
    );
  }
}
