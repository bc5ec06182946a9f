/**
 * Engines for queue tests: one in this process over a temp state directory, or one in a process
 * of its own (tests/engine/fixtures/engine_process.ts) that a test can kill -9, several of them
 * sharing one state directory like servers do.
 */
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Engine } from "../../src/engine/engine.ts";
import type { Executor } from "../../src/executors/executor.ts";
import { openPolicyGate } from "../../src/policy/gate.ts";
import { parsePolicy } from "../../src/policy/rules.ts";
import { Store } from "../../src/store.ts";
import { isTerminal, type Task } from "../../src/task.ts";
import { isAlive, ROOT, waitFor } from "../helpers.ts";

/** An engine in this process, and the store under it; close() closes both. */
export interface LocalEngine {
  readonly engine: Engine;
  readonly store: Store;
  close(): Promise<void>;
}

export async function openEngine(
  home: string,
  options: {
    queueLimits?: Record<string, number>;
    watch?: boolean;
    /** The safety sweep's period (default the engine's). */
    sweepIntervalMs?: number;
    log?: (message: string) => void;
    /** What runs the tasks' processes (default the engine's: a LocalExecutor). */
    executor?: Executor;
  } = {},
): Promise<LocalEngine> {
  const store = new Store(join(home, "state.db"));
  const engine = new Engine({
    store,
    home,
    policy: await openPolicyGate(parsePolicy(undefined, undefined)),
    graceSeconds: 1,
    maxOutputChars: 20_000,
    defaultCwd: home,
    maxLogBytes: 1024 ** 3,
    retentionDays: 30,
    monitorIntervalMs: 100,
    sweepIntervalMs: options.sweepIntervalMs,
    log: options.log ?? (() => {}),
    watch: options.watch,
    queueLimits: new Map(Object.entries(options.queueLimits ?? {})),
    executor: options.executor,
  });
  await engine.open();
  return {
    engine,
    store,
    async close() {
      try {
        await engine.close({ cancelRunning: false });
      } finally {
        store.close();
      }
    },
  };
}

/** An engine in a process of its own on state directory `home`. */
export class EngineProcess {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #pending = new Map<number, (reply: { result?: unknown; error?: string }) => void>();
  #next = 0;
  #stderr = "";
  readonly pid: number;
  readonly exited: Promise<Deno.CommandStatus>;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.pid = child.pid;
    this.#writer = child.stdin.getWriter();
    this.exited = child.status;
    void this.#read();
    void (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        this.#stderr += chunk;
      }
    })();
  }

  static async start(home: string, env: Record<string, string> = {}): Promise<EngineProcess> {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "--lock=deno.dev.lock",
        "-A",
        join(ROOT, "tests", "engine", "fixtures", "engine_process.ts"),
      ],
      cwd: ROOT,
      env: { BACKBURNER_HOME: home, BACKBURNER_GRACE_SECONDS: "1", ...env },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const engine = new EngineProcess(child);
    await engine.call("serverId");
    return engine;
  }

  async #read(): Promise<void> {
    let pending = "";
    for await (const chunk of this.#child.stdout.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      let newline;
      while ((newline = pending.indexOf("\n")) >= 0) {
        const reply = JSON.parse(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
        this.#pending.get(reply.id)?.(reply);
        this.#pending.delete(reply.id);
      }
    }
    for (const resolve of this.#pending.values()) resolve({ error: "the engine process exited" });
  }

  /** Calls an engine method; rejects with the engine's error message. */
  async call<T = Task>(method: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.#next++;
    const reply = new Promise<{ result?: unknown; error?: string }>((resolve) =>
      this.#pending.set(id, resolve)
    );
    await this.#writer.write(new TextEncoder().encode(JSON.stringify({ id, method, args }) + "\n"));
    const { result, error } = await reply;
    if (error !== undefined) throw new Error(error);
    return result as T;
  }

  stderr(): string {
    return this.#stderr;
  }

  async kill(): Promise<void> {
    try {
      Deno.kill(this.pid, "SIGKILL");
    } catch {
      // already gone
    }
    await this.exited;
    await this.#writer.close().catch(() => {});
    await waitFor(() => !isAlive(this.pid), { what: "the engine process to die" });
  }

  /** Closes stdin: the engine closes (keeping its tasks running) and the process exits. */
  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
    await this.exited;
  }
}

/** Reads the state database directly, as another process would. */
export function openDb(home: string): DatabaseSync {
  return new DatabaseSync(join(home, "state.db"), { timeout: 10_000, readOnly: true });
}

/** How many tasks of `queue` work now, from the database. */
export function workingIn(db: DatabaseSync, queue: string): number {
  const row = db.prepare(
    "SELECT count(*) AS n FROM tasks WHERE status = 'working' AND queue = ?",
  ).get(queue) as { n: number };
  return row.n;
}

/** Waits until every task of `ids` has ended, read through `status`. */
export async function allEnded(
  ids: readonly string[],
  status: (id: string) => Task | Promise<Task>,
  timeoutMs = 30_000,
): Promise<Task[]> {
  return await waitFor(async () => {
    const tasks = await Promise.all(ids.map((id) => status(id)));
    return tasks.every((task) => isTerminal(task.status)) ? tasks : null;
  }, { timeoutMs, what: `${ids.length} tasks to end` });
}

/** The lines of a file (each run of a counting command appends one), [] when it is missing. */
export function linesOf(path: string): string[] {
  try {
    return Deno.readTextFileSync(path).split("\n").filter((line) => line !== "");
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/** How many times each line occurs. */
export function counts(lines: readonly string[]): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of lines) found.set(line, (found.get(line) ?? 0) + 1);
  return found;
}
