/**
 * Running the MCP server, on stdio (what a client starts; the default) or over HTTP (one
 * long-lived server several clients share): the same engine and state directory either way, one
 * shutdown for both — on a termination signal, and for stdio when its client goes — that applies
 * BACKBURNER_ON_EXIT, closes the face, then the engine, then the store.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { openApp } from "./app.ts";
import type { Engine } from "./engine/engine.ts";
import type { Config } from "./config.ts";
import type { Store } from "./store.ts";
import type { ListenAddress } from "./http/address.ts";
import { createMcpServer } from "./mcp/server.ts";
import { StdioTransport } from "./mcp/stdio.ts";

/** How `backburner serve` was asked to run (src/cli/commands/serve.ts parses it). */
export interface ServeOptions {
  /** Where tasks started without a cwd run; default the directory the server started in. */
  readonly cwd?: string;
  /** Serve MCP over HTTP here instead of stdio. */
  readonly http?: ListenAddress;
  /** HTTP on loopback without a token (loudly logged). */
  readonly noToken?: boolean;
  readonly allowHosts?: readonly string[];
  readonly allowOrigins?: readonly string[];
  /** Test only: the conformance suite's fixture tools. */
  readonly fixtures?: boolean;
  /** The dashboard alone, without MCP (`backburner dashboard`); needs http. */
  readonly dashboardOnly?: boolean;
}

export interface ServeContext {
  readonly version: string;
  readonly log: (message: string) => void;
  /** BACKBURNER_TOKEN, for HTTP. */
  readonly tokenFromEnvironment?: string;
}

/** Said on stderr when a person starts the server in a terminal, where no client will connect. */
const TERMINAL_NOTICE =
  "this is an MCP server: it speaks MCP (JSON-RPC) on stdin and stdout and is waiting for a client, such as an AI agent that starts it. To use backburner by hand, run the command line instead: deno task cli --help (backburner --help once installed). Press Ctrl-D or Ctrl-C to stop";

/**
 * Serves until a termination signal (or, on stdio, the end of the client), then exits the
 * process; resolves once serving has begun. Throws a sentence when it cannot start.
 */
export async function serve(
  config: Config,
  options: ServeOptions,
  context: ServeContext,
): Promise<void> {
  const { log } = context;
  const { engine, store } = await openApp(config, {
    // The directory the server was started in: an inherited INIT_CWD may be any launcher's
    // (npm run sets it for everything below it). `deno task start`, which runs in the project
    // folder, passes the person's directory with --cwd.
    defaultCwd: options.cwd === undefined ? Deno.cwd() : resolve(Deno.cwd(), options.cwd),
    log,
  });
  let closeFace: () => Promise<void> = () => Promise.resolve();
  let stopping: Promise<void> | undefined;
  const shutdown = (why: string) => {
    stopping ??= (async () => {
      log(`shutting down (${why})`);
      try {
        await closeFace().catch((error) => log(`closing: ${(error as Error).message}`));
        await engine.close({ cancelRunning: config.onExit === "cancel" });
      } finally {
        store.close();
      }
    })();
    return stopping.finally(() => Deno.exit(0));
  };
  try {
    await engine.open();
    // A bug in one task's handling must not take the server, and every other task's watch, down.
    globalThis.addEventListener("unhandledrejection", (event) => {
      event.preventDefault();
      log(`unexpected error: ${event.reason instanceof Error ? event.reason.stack : event.reason}`);
    });
    // Windows delivers only SIGINT and SIGBREAK to a listener; the others throw there.
    const signals = Deno.build.os === "windows"
      ? (["SIGINT", "SIGBREAK"] as const)
      : (["SIGTERM", "SIGINT", "SIGHUP"] as const);
    for (const signal of signals) Deno.addSignalListener(signal, () => void shutdown(signal));
    closeFace = options.http === undefined
      ? await serveStdio(engine, config, context, (why) => void shutdown(why))
      : await serveOverHttp(engine, store, config, options, options.http, context);
  } catch (error) {
    await engine.close({ cancelRunning: false }).catch(() => {});
    store.close();
    throw error;
  }
}

async function serveStdio(
  engine: Engine,
  config: Config,
  context: ServeContext,
  onClientGone: (why: string) => void,
): Promise<() => Promise<void>> {
  const { log } = context;
  const { server, connect, dispose } = createMcpServer({ engine, version: context.version, log });
  const transport = new StdioTransport(Deno.stdin.readable, Deno.stdout, {
    maxMessageBytes: config.maxMessageBytes,
  });
  transport.onerror = (error) => log(`stdio: ${error.message}`);
  // Closes when stdin ends, and when stdout is closed or left unread: a client that is gone.
  transport.onclose = () => onClientGone(transport.closeReason ?? "connection closed");
  await connect(transport);
  log(`serving on stdio (state directory ${config.home})`);
  if (Deno.stdin.isTerminal()) log(TERMINAL_NOTICE);
  return async () => {
    dispose();
    await server.close();
  };
}

async function serveOverHttp(
  engine: Engine,
  store: Store,
  config: Config,
  options: ServeOptions,
  address: ListenAddress,
  context: ServeContext,
): Promise<() => Promise<void>> {
  const { log } = context;
  // Loaded only here: stdio pays nothing for the HTTP face and the v2 SDK it uses.
  const [
    { serveHttp },
    { loadToken, sameToken },
    { connectionsFor, descriptorLimit },
    { createDashboard },
  ] = await Promise.all([
    import("./http/server.ts"),
    import("./http/token.ts"),
    import("./http/front.ts"),
    import("./dashboard/dashboard.ts"),
  ]);
  const token = options.noToken ? null : loadToken(config.home, context.tokenFromEnvironment);
  // Tasks inherit the server's environment: a script that prints or ships its environment (a
  // failing build, a telemetry hook) must not carry the key to this shell along with it.
  if (Deno.env.get("BACKBURNER_TOKEN") !== undefined) Deno.env.delete("BACKBURNER_TOKEN");
  // The server's own socket, behind the TCP front, where only this user can reach it (Windows
  // has none: there it serves the address directly). A socket's path has at most ~100 bytes.
  const socket = join(config.home, `http-${Deno.pid}.sock`);
  const front = Deno.build.os !== "windows" && new TextEncoder().encode(socket).length <= 100;
  if (!front && Deno.build.os !== "windows") {
    log(
      `WARNING: the state directory's path is too long for a Unix socket (${socket}): serving without the front that bounds connections and times out slow ones; use a shorter BACKBURNER_HOME`,
    );
  }
  const dashboard = createDashboard({
    engine,
    store,
    token: token?.value ?? null,
    sameToken,
    log,
    allowOrigins: options.allowOrigins,
  });
  const face = serveHttp({
    dashboard,
    mcp: !options.dashboardOnly,
    engine,
    version: context.version,
    log,
    listen: address,
    token: token?.value ?? null,
    allowHosts: options.allowHosts,
    allowOrigins: options.allowOrigins,
    maxBodyBytes: config.maxMessageBytes,
    fixtures: options.fixtures,
    ...(front
      ? { socketPath: socket, maxConnections: connectionsFor(await descriptorLimit()) }
      : {}),
  });
  const where = token === null
    ? "no token"
    : token.source === "environment"
    ? "token from BACKBURNER_TOKEN"
    : `token in ${token.path}${token.source === "generated" ? " (generated now)" : ""}`;
  log(
    options.dashboardOnly
      ? `serving the dashboard at ${face.url} (${where}; state directory ${config.home})`
      : `serving MCP over HTTP at ${face.url} (${where}; state directory ${config.home})`,
  );
  // A one-time link: whoever opens it first gets the session; the token itself stays out of URLs
  // (and so out of browser history). The login page also takes the token.
  dashboard.announceLogin(face.origin);
  return () => face.close();
}
