/**
 * The engine as a command opens it: over the server's state directory, with the server's settings,
 * as a passer-by that watches nothing by itself (cli.ts says why).
 */

import { type Config, loadConfig } from "../config.ts";
import { Engine } from "../engine/engine.ts";
import { isBackburnerError } from "../errors.ts";
import { parsePolicy } from "../policy/policy.ts";
import type { Progress } from "../logs/progress.ts";
import type { Store } from "../store.ts";
import { type StatusView, type Task, viewStatus } from "../task.ts";
import { UsageError } from "./args.ts";

/** What the command line needs from its caller (main.ts). */
export interface CliContext {
  readonly version: string;
  /** Opens (creating if needed) the state database in `config.home`, as the server does. */
  readonly openStore: (config: Config) => Store;
}

/** Exit code 1: what was asked for failed (an unknown task, a refused command, a failed wait). */
export class Failure extends Error {}

/** How often a waiting command reconciles tasks that no running server watches, in ms. */
const WATCH_INTERVAL_MS = 500;
/** Output a command line reads is not an agent's reply: read up to the largest cap there is. */
const CLI_MAX_OUTPUT_CHARS = 10_000_000;

export interface SessionOptions {
  /** Register in the servers table while the command runs (only `run` needs to). Default false. */
  readonly register?: boolean;
  /** Overrides the retention setting (prune --older-than). */
  readonly retentionDays?: number;
}

/**
 * Runs `body` with an engine over the state directory that never watches by itself (see cli.ts),
 * and closes it after, finishing any stop it began (a deadline it found passed).
 */
export async function withEngine<T>(
  context: CliContext,
  options: SessionOptions,
  body: (engine: Engine) => Promise<T>,
): Promise<T> {
  let config: Config;
  try {
    config = loadConfig(Deno.env.toObject(), Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE"));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const store = context.openStore(config);
  const engine = new Engine({
    store,
    home: config.home,
    policy: parsePolicy(config.allow, config.deny),
    graceSeconds: config.graceSeconds,
    maxOutputChars: CLI_MAX_OUTPUT_CHARS,
    maxLogBytes: config.maxLogBytes,
    retentionDays: options.retentionDays ?? config.retentionDays,
    // Where the person runs the command; an inherited INIT_CWD may be any launcher's.
    defaultCwd: Deno.cwd(),
    // Adoptions and sweeps are the server log's business; a command reports its own outcome.
    log: () => {},
    watch: false,
  });
  try {
    if (options.register) await engine.open();
    return await body(engine);
  } finally {
    try {
      await engine.close({ cancelRunning: false });
    } finally {
      store.close();
    }
  }
}

/** While a command waits, keeps tasks no server watches moving: ends recorded, deadlines kept. */
export function keepReconciling(engine: Engine): () => void {
  const timer = setInterval(() => void engine.tick(), WATCH_INTERVAL_MS);
  return () => clearInterval(timer);
}

/** The task with this id, or a Failure that says how to find the ids. */
export function requireTask(engine: Engine, id: string): Task {
  try {
    return engine.status(id).task;
  } catch (error) {
    if (isBackburnerError(error) && error.code === "unknown_task") {
      throw new Failure(`unknown task "${id.slice(0, 80)}": run backburner ls to see the task ids`);
    }
    throw error;
  }
}

/** A task and its task_status view. */
export async function inspect(
  engine: Engine,
  id: string,
): Promise<{ task: Task; view: StatusView<Progress> }> {
  const { task, outputBytes, output } = await engine.inspect(id);
  return { task, view: viewStatus(task, outputBytes, output, Date.now()) };
}
