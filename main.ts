import process from "node:process";
import { join } from "node:path";
import { parseArgs } from "node:util";
import denoConfig from "./deno.json" with { type: "json" };
import { type Config, loadConfig } from "./src/config.ts";
import { Engine } from "./src/engine.ts";
import { createMcpServer } from "./src/mcp/server.ts";
import { StdioServerTransport } from "./src/mcp/sdk.ts";
import { parsePolicy } from "./src/policy.ts";
import { Store } from "./src/store.ts";

const VERSION = denoConfig.version;
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

const HELP = `backburner ${VERSION}: an MCP server that runs shell commands as background tasks

Usage:
  backburner [serve]   Run the MCP server on stdio (what an MCP client starts)
  backburner --version
  backburner --help

Settings come from the environment; see the README for each:
  BACKBURNER_HOME, BACKBURNER_GRACE_SECONDS, BACKBURNER_MAX_OUTPUT_CHARS,
  BACKBURNER_MAX_LOG_BYTES, BACKBURNER_RETENTION_DAYS, BACKBURNER_ON_EXIT,
  BACKBURNER_ALLOW, BACKBURNER_DENY`;

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
  const { server, dispose } = createMcpServer({ engine, version: VERSION, log });

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
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    Deno.addSignalListener(signal, () => void shutdown(signal).finally(() => Deno.exit(0)));
  }
  process.stdin.once("end", () => void shutdown("stdin closed").finally(() => Deno.exit(0)));
  // The SDK's default 10 MiB cap on one message is below what start_task's stdin may carry.
  const transport = new StdioServerTransport(process.stdin, process.stdout, {
    maxBufferSize: MAX_MESSAGE_BYTES,
  });
  transport.onerror = (error) => log(`stdio: ${error.message}`);
  // The transport also closes itself on a message past the cap; say so and shut down cleanly.
  transport.onclose = () => void shutdown("connection closed").finally(() => Deno.exit(0));
  await server.connect(transport);
  log(`serving on stdio (state directory ${config.home})`);
}

async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { help: { type: "boolean", short: "h" }, version: { type: "boolean", short: "V" } },
    });
  } catch (error) {
    log(`${(error as Error).message}: see backburner --help`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(HELP);
    return 0;
  }
  if (parsed.values.version) {
    console.log(VERSION);
    return 0;
  }
  const [command = "serve", ...rest] = parsed.positionals;
  if (command !== "serve" || rest.length > 0) {
    log(`unknown command "${parsed.positionals.join(" ")}": see backburner --help`);
    return 2;
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
