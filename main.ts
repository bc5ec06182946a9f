import { join } from "node:path";
import denoConfig from "./deno.json" with { type: "json" };
import { runCli } from "./src/cli.ts";
import { type Config, loadConfig } from "./src/config.ts";
import { Engine } from "./src/engine.ts";
import { createMcpServer } from "./src/mcp/server.ts";
import { StdioTransport } from "./src/mcp/stdio.ts";
import { parsePolicy } from "./src/policy.ts";
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
  const path = join(config.home, "state.db");
  try {
    // SQLite creates the -wal and -shm files with the database file's mode.
    Deno.writeFileSync(path, new Uint8Array(), { mode: 0o600, createNew: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  return new Store(path);
}

/** Runs the MCP server on stdio until stdin closes or a termination signal arrives. */
export async function serve(config: Config): Promise<void> {
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
    // `deno task start` runs in the project folder; INIT_CWD is where the person started it.
    defaultCwd: Deno.env.get("INIT_CWD") || Deno.cwd(),
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

/** `backburner` and `backburner serve` serve MCP on stdio; everything else is the command line. */
async function main(args: string[]): Promise<number> {
  if (args.length > 1 || (args.length === 1 && args[0] !== "serve")) {
    return await runCli(args, { version: VERSION, openStore });
  }
  let config: Config;
  try {
    config = loadConfig(Deno.env.toObject(), Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE"));
  } catch (error) {
    log((error as Error).message);
    return 2;
  }
  try {
    await serve(config);
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
