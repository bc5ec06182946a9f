/**
 * One bootstrap for the server and the command line: the configuration from the environment, the
 * state directory (checked, then its database opened) and an engine over it.
 *
 * @module
 */

import { join } from "node:path";
import { type Config, loadConfig } from "./config.ts";
import { Engine } from "./engine/engine.ts";
import { openPolicyGate } from "./policy/gate.ts";
import { parsePolicy } from "./policy/rules.ts";
import { Store } from "./store.ts";

/** The settings from the environment; throws a sentence saying which one is wrong. */
export function configFromEnvironment(): Config {
  return loadConfig(Deno.env.toObject(), Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE"));
}

/** How a face runs the engine; the rest comes from the configuration. */
export interface AppOptions {
  /** Where tasks started without a cwd run. */
  readonly defaultCwd: string;
  /** Where the engine's remarks (adoptions, sweeps, a policy error) go. */
  readonly log: (message: string) => void;
  /** Most characters of output in a reply. Default: the configuration's. */
  readonly maxOutputChars?: number;
  /** Days an ended task is kept. Default: the configuration's. */
  readonly retentionDays?: number;
  /** false: an engine that never watches tasks by itself (the command line). Default true. */
  readonly watch?: boolean;
}

/** An engine over the state directory, and the store it writes to. */
export interface App {
  readonly config: Config;
  readonly store: Store;
  readonly engine: Engine;
  /** Closes the engine, then the store, even when the engine fails to close. */
  close(options: { readonly cancelRunning: boolean }): Promise<void>;
}

/** Opens the state directory (creating it if needed) and an engine over it; `open()` is the caller's. */
export async function openApp(config: Config, options: AppOptions): Promise<App> {
  const policy = await openPolicyGate(parsePolicy(config.allow, config.deny));
  if (policy.error) options.log(`${policy.error}; until then every command is refused`);
  const store = openStore(config);
  const engine = new Engine({
    store,
    home: config.home,
    policy,
    graceSeconds: config.graceSeconds,
    maxOutputChars: options.maxOutputChars ?? config.maxOutputChars,
    maxLogBytes: config.maxLogBytes,
    retentionDays: options.retentionDays ?? config.retentionDays,
    defaultCwd: options.defaultCwd,
    log: options.log,
    watch: options.watch,
    queueLimits: config.queueLimits,
    defaultExecutor: config.defaultExecutor,
  });
  return {
    config,
    store,
    engine,
    async close({ cancelRunning }) {
      try {
        await engine.close({ cancelRunning });
      } finally {
        store.close();
      }
    },
  };
}

function openStore(config: Config): Store {
  try {
    Deno.mkdirSync(config.home, { recursive: true, mode: 0o700 });
    Deno.readDirSync(config.home);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new Error(
        `no read and write access to the state directory "${config.home}": run deno with --allow-read=${config.home} --allow-write=${config.home} (deno task start grants only $HOME/.backburner)`,
      );
    }
    throw error;
  }
  checkStateDirectory(config.home);
  const path = join(config.home, "state.db");
  refuseLostDatabase(config.home, path);
  try {
    // SQLite creates the -wal and -shm files with the database file's mode.
    Deno.writeFileSync(path, new Uint8Array(), { mode: 0o600, createNew: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  return new Store(path);
}

/**
 * Refuses a state directory that another user owns or may write to: they could plant tasks in it,
 * or replace what it records. (Whoever can write a directory can rename its files, whatever their
 * own modes.)
 */
function checkStateDirectory(home: string): void {
  if (Deno.build.os === "windows") return;
  // Deno.uid() needs --allow-sys; the owner of a file this process just made is this user.
  const probe = Deno.makeTempFileSync({ dir: home, prefix: ".owner-" });
  let uid: number | null;
  try {
    uid = Deno.statSync(probe).uid;
  } finally {
    Deno.removeSync(probe);
  }
  for (const path of [home, join(home, "tasks"), join(home, "state.db")]) {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    const mode = (info.mode ?? 0) & 0o777;
    const octal = mode.toString(8).padStart(4, "0");
    if (info.uid !== uid) {
      throw new Error(
        `the state directory "${home}" is not yours: "${path}" belongs to user id ${info.uid} (mode ${octal}), and whoever owns it can plant tasks or read their output: set BACKBURNER_HOME to a directory of your own, or take it over with chown -R`,
      );
    }
    if (info.isDirectory && (mode & 0o022) !== 0) {
      throw new Error(
        `the state directory "${home}" is unsafe: "${path}" is writable by other users (mode ${octal}), so another user could plant tasks or replace what it records: run chmod 700 "${path}", or set BACKBURNER_HOME to a directory of your own`,
      );
    }
  }
}

/**
 * Refuses an empty or missing database beside task folders: the database was lost (deleted,
 * truncated), and serving from a new one would forget those tasks, then remove their folders as
 * leftovers of failed starts.
 */
function refuseLostDatabase(home: string, path: string): void {
  let size: number | null = null;
  try {
    size = Deno.statSync(path).size;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (size !== null && size > 0) return;
  const tasks = join(home, "tasks");
  let folders = 0;
  try {
    for (const entry of Deno.readDirSync(tasks)) if (entry.isDirectory) folders++;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (folders === 0) return;
  throw new Error(
    `the state database "${path}" is ${
      size === null ? "missing" : "empty"
    } but "${tasks}" holds ${folders} task folders: the database was lost, and starting afresh would forget those tasks. Restore state.db from a backup, or move the folder away (mv "${tasks}" "${tasks}.lost") to start with no tasks`,
  );
}
