/**
 * The engine as a command opens it: over the server's state directory, with the server's settings,
 * as a passer-by that watches nothing by itself (main.ts says why).
 */

import { configFromEnvironment, openApp } from "../app.ts";
import type { Config } from "../config.ts";
import { isBackburnerError } from "../errors.ts";
import type { Engine } from "../engine/engine.ts";
import type { Task } from "../task.ts";
import { queueWait, type StatusView, viewStatus } from "../views.ts";
import { UsageError } from "./args.ts";

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
 * Runs `body` with an engine over the state directory that never watches by itself (see main.ts),
 * and closes it after, finishing any stop it began (a deadline it found passed).
 */
export async function withEngine<T>(
  options: SessionOptions,
  body: (engine: Engine) => Promise<T>,
): Promise<T> {
  let config: Config;
  try {
    config = configFromEnvironment();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const app = await openApp(config, {
    maxOutputChars: CLI_MAX_OUTPUT_CHARS,
    retentionDays: options.retentionDays,
    // Where the person runs the command; an inherited INIT_CWD may be any launcher's.
    defaultCwd: Deno.cwd(),
    // Adoptions and sweeps are the server log's business; a command reports its own outcome.
    log: () => {},
    watch: false,
  });
  try {
    if (options.register) await app.engine.open();
    return await body(app.engine);
  } finally {
    await app.close({ cancelRunning: false });
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
): Promise<{ task: Task; view: StatusView }> {
  const { task, outputBytes, output, input } = await engine.inspect(id);
  return {
    task,
    view: viewStatus(task, outputBytes, output, Date.now(), queueWait(engine, task), input),
  };
}
