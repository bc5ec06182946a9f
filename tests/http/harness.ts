/**
 * An HTTP server under test: main.ts started with `serve --http 127.0.0.1:0` as a subprocess
 * (the port the system picks is read from its log), with the token it generated in its state
 * directory; and the MCP clients the tests drive it with.
 */

import { join } from "node:path";
import { isAlive, MAIN, serverPermissions, waitFor } from "../helpers.ts";

export interface HttpServer {
  /** The MCP endpoint, e.g. http://127.0.0.1:40123/mcp */
  readonly url: string;
  /** The bearer token (null with --no-token). */
  readonly token: string | null;
  readonly pid: number;
  readonly home: string;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  /** SIGTERM, then waits for the process to exit; its exit status. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
  /** SIGKILL, then waits for the process to exit. */
  kill(): Promise<void>;
}

export interface HttpServerOptions {
  /** Arguments after `serve --http 127.0.0.1:0`. */
  readonly args?: readonly string[];
  readonly env?: Record<string, string>;
  /** Replaces the listen address (default 127.0.0.1:0). */
  readonly listen?: string;
}

/** Starts the HTTP server on a free loopback port over `home`; resolves once it listens. */
export async function startHttpServer(
  home: string,
  options: HttpServerOptions = {},
): Promise<HttpServer> {
  const { INIT_CWD: _, ...inherited } = Deno.env.toObject();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...serverPermissions(home),
      "--allow-net",
      MAIN,
      "serve",
      "--http",
      options.listen ?? "127.0.0.1:0",
      ...(options.args ?? []),
    ],
    env: { ...inherited, BACKBURNER_HOME: home, NO_COLOR: "1", ...options.env },
    cwd: home,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) stderr += decoder.decode(chunk, { stream: true });
  })();
  const status = child.status;
  let exited = false;
  void status.then(() => (exited = true));
  let url: string;
  try {
    url = await waitFor(() => {
      if (exited) throw new Error(`the server exited before it listened: ${stderr}`);
      return /serving MCP over HTTP at (\S+)/.exec(stderr)?.[1];
    }, { what: "the HTTP server to listen", timeoutMs: 20_000 });
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await status;
    await reading;
    throw error;
  }
  const noToken = (options.args ?? []).includes("--no-token");
  const token = noToken
    ? null
    : options.env?.BACKBURNER_TOKEN ?? Deno.readTextFileSync(join(home, "token")).trim();
  const finish = async () => {
    const result = await status;
    await reading;
    return result;
  };
  return {
    url,
    token,
    pid: child.pid,
    home,
    stderr: () => stderr,
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
      return await finish();
    },
    async kill() {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await finish();
      await waitFor(() => !isAlive(child.pid), { what: "the killed server to be gone" });
    },
  };
}

/** The headers every request to `server` carries: its token. */
export function authHeaders(server: HttpServer): Record<string, string> {
  return server.token === null ? {} : { authorization: `Bearer ${server.token}` };
}
