import { join, resolve } from "node:path";
import denoConfig from "./deno.json" with { type: "json" };
import { runCli } from "./src/cli.ts";
import { type Config, loadConfig } from "./src/config.ts";
import { Engine } from "./src/engine/engine.ts";
import { createMcpServer } from "./src/mcp/server.ts";
import { StdioTransport } from "./src/mcp/stdio.ts";
import { parsePolicy } from "./src/policy/policy.ts";
import { Store } from "./src/store.ts";

const VERSION = denoConfig.version;

function log(message: string): void {
  console.error(`backburner: ${message}`);
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

/** Runs the MCP server on stdio until stdin closes or a termination signal arrives. */
export async function serve(config: Config, options: { cwd?: string } = {}): Promise<void> {
  const policy = parsePolicy(config.allow, config.deny);
  if (policy.error) log(`${policy.error}; until then every command is refused`);
  const store = openStore(config);
  const engine = new Engine({
    store,
    home: config.home,
    policy,
    graceSeconds: config.graceSeconds,
    maxOutputChars: config.maxOutputChars,
    maxLogBytes: config.maxLogBytes,
    retentionDays: config.retentionDays,
    // The directory the server was started in: an inherited INIT_CWD may be any launcher's
    // (npm run sets it for everything below it). `deno task start`, which runs in the project
    // folder, passes the person's directory with --cwd.
    defaultCwd: options.cwd === undefined ? Deno.cwd() : resolve(Deno.cwd(), options.cwd),
    log,
  });
  await engine.open();
  const { server, connect, dispose } = createMcpServer({ engine, version: VERSION, log });

  let stopping: Promise<void> | undefined;
  const shutdown = (why: string) => {
    stopping ??= (async () => {
      log(`shutting down (${why})`);
      try {
        dispose();
        await engine.close({ cancelRunning: config.onExit === "cancel" });
        await server.close();
      } finally {
        store.close();
      }
    })();
    return stopping;
  };
  // A bug in one task's handling must not take the server, and every other task's watch, down.
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    log(`unexpected error: ${event.reason instanceof Error ? event.reason.stack : event.reason}`);
  });
  // Windows delivers only SIGINT and SIGBREAK to a listener; the others throw there.
  const signals = Deno.build.os === "windows"
    ? (["SIGINT", "SIGBREAK"] as const)
    : (["SIGTERM", "SIGINT", "SIGHUP"] as const);
  for (const signal of signals) {
    Deno.addSignalListener(signal, () => void shutdown(signal).finally(() => Deno.exit(0)));
  }
  const transport = new StdioTransport(Deno.stdin.readable, Deno.stdout, {
    maxMessageBytes: config.maxMessageBytes,
  });
  transport.onerror = (error) => log(`stdio: ${error.message}`);
  // Closes when stdin ends, and when stdout is closed or left unread: a client that is gone.
  transport.onclose = () =>
    void shutdown(transport.closeReason ?? "connection closed").finally(() => Deno.exit(0));
  await connect(transport);
  log(`serving on stdio (state directory ${config.home})`);
}

/** The options of `backburner serve`, or null for arguments that are the command line's. */
function serveOptions(args: string[]): { cwd?: string } | null {
  if (args.length === 0) return {};
  if (args[0] !== "serve") return null;
  const [option, value, ...rest] = args.slice(1);
  if (option === undefined) return {};
  if (option === "--cwd" && value !== undefined && value !== "" && rest.length === 0) {
    return { cwd: value };
  }
  if (option.startsWith("--cwd=") && option.length > 6 && value === undefined) {
    return { cwd: option.slice(6) };
  }
  return null;
}

/** `backburner` and `backburner serve` serve MCP on stdio; everything else is the command line. */
async function main(args: string[]): Promise<number> {
  const options = serveOptions(args);
  if (options === null) return await runCli(args, { version: VERSION, openStore });
  let config: Config;
  try {
    config = loadConfig(Deno.env.toObject(), Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE"));
  } catch (error) {
    log((error as Error).message);
    return 2;
  }
  try {
    await serve(config, options);
  } catch (error) {
    log(`cannot start: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  return -1;
}

if (import.meta.main) {
  const code = await main(Deno.args);
  if (code >= 0) Deno.exit(code);
}
