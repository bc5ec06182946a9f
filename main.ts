import process from "node:process";
import { join, resolve } from "node:path";
import denoConfig from "./deno.json" with { type: "json" };
import { runCli } from "./src/cli.ts";
import { type Config, loadConfig } from "./src/config.ts";
import { Engine } from "./src/engine.ts";
import { createMcpServer } from "./src/mcp/server.ts";
import { StdioServerTransport } from "./src/mcp/sdk.ts";
import { parsePolicy } from "./src/policy.ts";
import { Store } from "./src/store.ts";

const VERSION = denoConfig.version;
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

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
  // Windows delivers only SIGINT and SIGBREAK to a listener; the others throw there.
  const signals = Deno.build.os === "windows"
    ? (["SIGINT", "SIGBREAK"] as const)
    : (["SIGTERM", "SIGINT", "SIGHUP"] as const);
  for (const signal of signals) {
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
