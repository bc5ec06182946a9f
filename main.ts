/**
 * backburner's entry point: `backburner` and `backburner serve` serve MCP on stdio; every other
 * argument list is a command of the command line. The only place that exits the process.
 *
 * @module
 */

import { resolve } from "node:path";
import denoConfig from "./deno.json" with { type: "json" };
import { configFromEnvironment, openApp } from "./src/app.ts";
import { runCli } from "./src/cli/main.ts";
import type { Config } from "./src/config.ts";
import { createMcpServer } from "./src/mcp/server.ts";
import { StdioTransport } from "./src/mcp/stdio.ts";

const VERSION = denoConfig.version;

function log(message: string): void {
  console.error(`backburner: ${message}`);
}

/** Said on stderr when a person starts the server in a terminal, where no client will connect. */
const TERMINAL_NOTICE =
  "this is an MCP server: it speaks MCP (JSON-RPC) on stdin and stdout and is waiting for a client, such as an AI agent that starts it. To use backburner by hand, run the command line instead: deno task cli --help (backburner --help once installed). Press Ctrl-D or Ctrl-C to stop";

/** Runs the MCP server on stdio until stdin closes or a termination signal arrives. */
export async function serve(config: Config, options: { cwd?: string } = {}): Promise<void> {
  const { engine, store } = openApp(config, {
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
  if (Deno.stdin.isTerminal()) log(TERMINAL_NOTICE);
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

/** The exit code, or -1 while the server runs (it exits from its shutdown). */
async function main(args: string[]): Promise<number> {
  const options = serveOptions(args);
  if (options === null) return await runCli(args, { version: VERSION });
  let config: Config;
  try {
    config = configFromEnvironment();
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
