/**
 * An HTTP server under test: main.ts started with `serve --http 127.0.0.1:0` as a subprocess
 * (the port the system picks is read from its log), with the token it generated in its state
 * directory; and the MCP clients the tests drive it with.
 */

import { join } from "node:path";
import { isAlive, MAIN, serverPermissions, ToolError, waitFor } from "../helpers.ts";
import {
  type CallToolResult,
  CallToolResultSchema,
  Client,
  StreamableHTTPClientTransport,
} from "../sdk.ts";

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
  /** POSIX only: the server's limit on open file descriptors (`ulimit -n`). */
  readonly fileLimit?: number;
  /** "dashboard": `backburner dashboard --http …` (the dashboard without MCP). Default "serve". */
  readonly command?: "serve" | "dashboard";
}

/** Starts the HTTP server on a free loopback port over `home`; resolves once it listens. */
export async function startHttpServer(
  home: string,
  options: HttpServerOptions = {},
): Promise<HttpServer> {
  const { INIT_CWD: _, ...inherited } = Deno.env.toObject();
  const deno = [
    Deno.execPath(),
    "run",
    ...serverPermissions(home),
    "--allow-net",
    MAIN,
    options.command ?? "serve",
    "--http",
    options.listen ?? "127.0.0.1:0",
    ...(options.args ?? []),
  ];
  // With a file limit, through sh: its ulimit, then exec, so that the pid is the server's.
  const [command, ...args] = options.fileLimit === undefined
    ? deno
    : ["sh", "-c", `ulimit -n ${options.fileLimit} && exec "$@"`, "sh", ...deno];
  const child = new Deno.Command(command, {
    args,
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
      return /serving (?:MCP over HTTP|the dashboard) at (\S+)/.exec(stderr)?.[1];
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

type Json = Record<string, unknown>;

/** An MCP client of the 2025-11-25 era: the v1 SDK's client over Streamable HTTP, in a session. */
export interface LegacyClient {
  readonly client: Client;
  readonly transport: StreamableHTTPClientTransport;
  readonly sessionId: string;
  /** Every JSON-RPC message the server sent this client, in order. */
  readonly received: Json[];
  /** Calls a tool; its structuredContent, or throws the error text of an isError result. */
  call(name: string, args?: Json, options?: RequestOptions): Promise<Json>;
  /** Ends the session with DELETE and closes the client. */
  close(): Promise<void>;
}

type RequestOptions = Parameters<Client["callTool"]>[2];

/** Connects a v1 SDK client to `server` (initialize opens a session). */
export async function connectLegacy(
  server: HttpServer,
  name = "backburner-http-tests",
): Promise<LegacyClient> {
  const transport = new StreamableHTTPClientTransport(new URL(server.url), {
    requestInit: { headers: authHeaders(server) },
  });
  const received: Json[] = [];
  // Protocol.connect chains a preset onmessage: this sees every message first.
  transport.onmessage = (message) => void received.push(structuredClone(message) as Json);
  const client = new Client({ name, version: "1.0.0" });
  await client.connect(transport);
  const sessionId = transport.sessionId;
  if (sessionId === undefined) throw new Error("The server opened no session");
  let closed = false;
  return {
    client,
    transport,
    sessionId,
    received,
    async call(tool, args = {}, options) {
      const result = await client.callTool(
        { name: tool, arguments: args },
        CallToolResultSchema,
        options,
      ) as CallToolResult;
      if (result.isError) {
        throw new ToolError(result.content.map((c) => c.type === "text" ? c.text : "").join(""));
      }
      return result.structuredContent as Json;
    },
    async close() {
      if (closed) return;
      closed = true;
      await transport.terminateSession().catch(() => {});
      await client.close().catch(() => {});
    },
  };
}

/** The headers of a 2025-11-25 request, in a session (all but initialize name one). */
export function sessionHeaders(server: HttpServer, sessionId?: string): Record<string, string> {
  return {
    ...authHeaders(server),
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    ...(sessionId === undefined ? {} : { "mcp-session-id": sessionId }),
    "mcp-protocol-version": "2025-11-25",
  };
}

/** An HTTP answer read whole. */
export interface RawAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

/**
 * One HTTP/1.1 request written by hand on a TCP connection: for what fetch will not send (a Host
 * header of our choosing). The server's answer is read to the end of the connection.
 */
export async function rawHttp(
  url: string,
  request: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<RawAnswer> {
  const { hostname, port, pathname } = new URL(url);
  const body = request.body ?? "";
  const headers: Record<string, string> = {
    host: `${hostname}:${port}`,
    connection: "close",
    ...(request.method === "GET"
      ? {}
      : { "content-length": String(new TextEncoder().encode(body).length) }),
    ...request.headers,
  };
  const head = [
    `${request.method ?? "POST"} ${pathname} HTTP/1.1`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ].join("\r\n");
  const connection = await Deno.connect({ hostname, port: Number(port) });
  try {
    await connection.write(new TextEncoder().encode(`${head}\r\n\r\n${body}`));
    const text = await new Response(connection.readable).text();
    return parseAnswer(text);
  } finally {
    try {
      connection.close();
    } catch { /* closed by reading to the end */ }
  }
}

/** Parses an HTTP/1.1 answer (chunked or not) read whole from a socket. */
export function parseAnswer(text: string): RawAnswer {
  const split = text.indexOf("\r\n\r\n");
  const [statusLine, ...lines] = text.slice(0, split).split("\r\n");
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  let body = text.slice(split + 4);
  if (headers.get("transfer-encoding") === "chunked") {
    let decoded = "";
    for (let rest = body;;) {
      const end = rest.indexOf("\r\n");
      const size = parseInt(rest.slice(0, end), 16);
      if (!(size > 0)) break;
      decoded += rest.slice(end + 2, end + 2 + size);
      rest = rest.slice(end + 2 + size + 2);
    }
    body = decoded;
  }
  return { status: Number(statusLine.split(" ")[1]), headers, body };
}
