/**
 * The HTTP face: MCP's Streamable HTTP transport at `/mcp`, for both protocol eras, over the same
 * engine, store and ids as stdio. Connections come through the TCP front (front.ts: bounded,
 * and timed out before a request is whole), and every request passes, in order:
 *
 * 1. the path (`/mcp`, else 404);
 * 2. the Host header (the bound name, else 403: DNS rebinding) and the Origin header, when a
 *    browser sends one (allowed origins only, else 403);
 * 3. the bearer token (else 401 with WWW-Authenticate), unless the person started a loopback
 *    server with --no-token;
 * 4. its body, read whole within a size bound (413) and a time bound (408), one JSON-RPC message
 *    (400 for a batch: neither era has them, and one would be many requests in one slot);
 * 5. admission: a bound on the requests and streams each client, and all clients together, have
 *    in flight (429 past it, at once, so one client cannot starve another);
 *
 * and is then served by the era it belongs to (the v2 SDK's classification): a 2025-11-25
 * session (legacy.ts) or a 2026-07-28 request (modern.ts).
 *
 * The dashboard's paths (`/`, `/login`, `/tasks/…`, `/api/…`, `/assets/…`; src/dashboard/), when
 * it is served, pass the same Host check, then the dashboard's own guard (Origin, session cookie,
 * CSRF token). `backburner dashboard` serves it without MCP: `/mcp` is then 404 like any path.
 *
 * @module
 */

import type { Dashboard } from "../dashboard/dashboard.ts";
import type { Engine } from "../engine/engine.ts";
import { MODERN_VERSION } from "../mcp/eras.ts";
import { createMcpServer, INSTRUCTIONS, SERVER_NAME } from "../mcp/server.ts";
import { TOOLS } from "../mcp/tools/list.ts";
import { Admission, type AdmissionLimits, DEFAULT_LIMITS } from "./admission.ts";
import {
  allowedHostnames,
  hostForUrl,
  isLoopback,
  isWildcard,
  type ListenAddress,
  MCP_PATH,
} from "./address.ts";
import { afterBody, BodyRefused, readBody } from "./body.ts";
import { type Front, startFront } from "./front.ts";
import { LegacySessions } from "./legacy.ts";
import { createModernLeg } from "./modern.ts";
import {
  isLegacyRequest,
  OAuthError,
  OAuthErrorCode,
  originValidationResponse,
  requireBearerAuth,
  validateHostHeader,
} from "./sdk.ts";
import { sameToken } from "./token.ts";

export interface HttpServerOptions {
  readonly engine: Engine;
  readonly version: string;
  readonly log: (message: string) => void;
  readonly listen: ListenAddress;
  /** The bearer token every request must carry; null only for a loopback server (--no-token). */
  readonly token: string | null;
  /** Host names a Host header may name besides the bound one (--allow-host). */
  readonly allowHosts?: readonly string[];
  /** Origin host names a browser may call from besides the server's own (--allow-origin). */
  readonly allowOrigins?: readonly string[];
  /** Largest request body, in bytes. */
  readonly maxBodyBytes: number;
  /** How long a client may take to send a request's body, in ms. Default 30 s. */
  readonly bodyTimeoutMs?: number;
  readonly limits?: AdmissionLimits;
  /** Sessions of the 2025-11-25 era kept at once. Default 256. */
  readonly maxSessions?: number;
  /** Sessions of the 2025-11-25 era one client may hold. Default 32. */
  readonly sessionsPerClient?: number;
  /** A session unused this long is closed, in ms. Default 24 h. */
  readonly sessionIdleMs?: number;
  /** SSE keep-alive interval, in ms. Default 15 s. */
  readonly keepAliveMs?: number;
  /** Test only: serve the conformance suite's fixture tools too. */
  readonly fixtures?: boolean;
  /**
   * Where the server's own Unix socket goes, behind the TCP front (front.ts), in a directory
   * only this user can reach; none (Windows) serves on the address directly, without the front.
   */
  readonly socketPath?: string;
  /** Connections the front holds at once. Default 256. */
  readonly maxConnections?: number;
  /** The dashboard, served besides MCP (or alone, with mcp false). */
  readonly dashboard?: Dashboard;
  /** false: no MCP endpoint (`backburner dashboard`). Default true. */
  readonly mcp?: boolean;
}

export interface HttpFace {
  /** The endpoint, e.g. http://127.0.0.1:8787/mcp (with the port the system gave for port 0). */
  readonly url: string;
  /** The server's origin, e.g. http://127.0.0.1:8787 */
  readonly origin: string;
  /** Stops taking requests, ends open streams and sessions, and waits (bounded) for the rest. */
  close(): Promise<void>;
}

/** How long close() waits for requests in flight (a long wait_for_task) before it returns. */
const CLOSE_GRACE_MS = 2000;
/** The front's bounds (front.ts): a request's headers, an idle connection, a trickled body. */
const FRONT_HEADER_MS = 15_000;
const FRONT_IDLE_MS = 60_000;
const FRONT_SENDING_MS = 60_000;

/** Starts serving (the socket listens on return). Throws a sentence when it cannot. */
export function serveHttp(options: HttpServerOptions): HttpFace {
  const { engine, log, listen } = options;
  if (options.token === null && !isLoopback(listen.hostname)) {
    throw new RangeError(
      `--no-token is allowed only on a loopback address, not ${listen.hostname}: drop --no-token (clients then send the token of backburner token), or bind 127.0.0.1`,
    );
  }
  const hosts = allowedHostnames(listen.hostname, options.allowHosts ?? []);
  if (hosts.length === 0) {
    throw new RangeError(
      `--http ${listen.hostname} listens on every interface, so no Host name is known to allow: add --allow-host NAME for each name or address clients use to reach this machine`,
    );
  }
  const origins = [...hosts, ...(options.allowOrigins ?? []).map((o) => originHost(o))];
  const admission = new Admission(options.limits ?? DEFAULT_LIMITS);
  const mcp = options.mcp ?? true;
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  const serverOptions = {
    engine,
    version: options.version,
    log,
    ...(options.fixtures ? { fixtures: true } : {}),
  };
  const legacy = new LegacySessions({
    createServer: () => createMcpServer(serverOptions),
    maxSessions: options.maxSessions ?? 256,
    sessionsPerClient: options.sessionsPerClient ?? 32,
    idleMs: options.sessionIdleMs ?? 24 * 3600 * 1000,
    maxBodyBytes: options.maxBodyBytes,
    keepAliveMs,
    log,
  });
  const modern = createModernLeg({
    engine,
    name: SERVER_NAME,
    version: options.version,
    instructions: INSTRUCTIONS,
    tools: TOOLS,
    log,
    maxBodyBytes: options.maxBodyBytes,
    keepAliveMs,
    ...(options.fixtures ? { fixtures: true } : {}),
  });
  const token = options.token;
  const authenticate = token === null ? null : requireBearerAuth({
    verifier: {
      async verifyAccessToken(given: string) {
        if (!await sameToken(token, given)) {
          throw new OAuthError(
            OAuthErrorCode.InvalidToken,
            "Wrong token: send the one backburner token prints, as Authorization: Bearer TOKEN",
          );
        }
        return {
          token: given,
          clientId: "backburner",
          scopes: [],
          expiresAt: Math.floor(Date.now() / 1000) + 3600,
        };
      },
    },
  });

  /** Until each response has been sent whole (or its client went). */
  const responding = new Set<Promise<void>>();
  const handle = async (request: Request, info: Deno.ServeHandlerInfo): Promise<Response> => {
    // Behind the front every connection comes from it: the address is not known.
    const remote = info.remoteAddr.transport === "unix"
      ? "client"
      : (info.remoteAddr as Deno.NetAddr).hostname;
    // Aborts when the client goes before its response was delivered (and never reads
    // request.signal, which Deno also aborts after a delivered response).
    const gone = new AbortController();
    const sent = info.completed.catch(() => gone.abort());
    responding.add(sent);
    void sent.finally(() => responding.delete(sent));
    const url = new URL(request.url);
    const dashboard = options.dashboard?.owns(url.pathname) ? options.dashboard : undefined;
    if ((url.pathname !== MCP_PATH || !mcp) && dashboard === undefined) {
      return new Response(
        mcp ? `Not found: the MCP endpoint is ${MCP_PATH}\n` : "Not found\n",
        { status: 404 },
      );
    }
    const host = validateHostHeader(request.headers.get("host"), hosts);
    if (!host.ok) {
      return jsonError(
        403,
        `Forbidden: Host ${
          JSON.stringify(request.headers.get("host") ?? "")
        } is not this server's name (a DNS rebinding guard); reach it as ${hosts.join(" or ")}`,
      );
    }
    if (dashboard !== undefined) return await dashboard.handle(request);
    const badOrigin = originValidationResponse(request, origins);
    if (badOrigin) return badOrigin;
    if (authenticate) {
      const auth = await authenticate(request);
      if (auth instanceof Response) return auth;
    }
    let body: Uint8Array | null = null;
    if (request.method === "POST") {
      try {
        body = await readBody(request, options.maxBodyBytes, options.bodyTimeoutMs ?? 30_000);
      } catch (error) {
        if (error instanceof BodyRefused) return jsonError(error.status, error.message);
        throw error;
      }
      if (isBatch(body)) {
        return jsonError(
          400,
          "Bad request: JSON-RPC batches are not part of MCP (2025-11-25 and 2026-07-28): send one message per request",
          {},
          -32600,
        );
      }
    }
    const whole = new Request(request.url, {
      method: request.method,
      headers: request.headers,
      body: body as BodyInit | null,
      signal: gone.signal,
    });
    const client = clientOf(whole, body, remote);
    const slot = admission.admit(client, request.method === "GET" ? "stream" : "request");
    if (typeof slot !== "function") {
      return jsonError(429, `Too many requests: ${slot.refused}; retry in a moment`, {
        "retry-after": "1",
      });
    }
    let response: Response;
    try {
      response = await isModernRequest(whole)
        ? await modern.fetch(whole)
        : await legacy.handle(whole, client);
    } catch (error) {
      slot();
      throw error;
    }
    return afterBody(response, slot);
  };

  const stop = new AbortController();
  const serveOptions = {
    signal: stop.signal,
    onListen: () => {},
    onError: (error: unknown) => {
      log(`http: unexpected error: ${error instanceof Error ? error.stack : String(error)}`);
      return jsonError(500, "Internal error: see the server's log");
    },
  };
  let server: Deno.HttpServer;
  let front: Front | undefined;
  const socketPath = options.socketPath;
  if (socketPath !== undefined) {
    // A socket of a process killed before it could remove it.
    try {
      Deno.removeSync(socketPath);
    } catch {
      // none
    }
    // Should its listener fail (out of descriptors), it listens again: the front keeps the
    // address meanwhile, so no other program can take it.
    const listenOnSocket = (): Deno.HttpServer => {
      const listening = Deno.serve({ ...serveOptions, path: socketPath }, handle);
      Deno.chmodSync(socketPath, 0o600);
      listening.finished.catch((error) => {
        if (stop.signal.aborted) return;
        log(`http: the server's socket failed (${(error as Error).message}); listening again`);
        const retry = () => {
          if (stop.signal.aborted) return;
          try {
            Deno.removeSync(socketPath);
          } catch {
            // removed with the listener
          }
          try {
            server = listenOnSocket();
          } catch {
            setTimeout(retry, 1000);
          }
        };
        setTimeout(retry, 100);
      });
      return listening;
    };
    server = listenOnSocket();
    try {
      front = listenOn(listen, () =>
        startFront({
          listen,
          backend: socketPath,
          maxConnections: options.maxConnections ?? 256,
          headerMs: FRONT_HEADER_MS,
          idleMs: FRONT_IDLE_MS,
          sendingMs: FRONT_SENDING_MS,
          log,
        }));
    } catch (error) {
      stop.abort();
      throw error;
    }
  } else {
    server = listenOn(
      listen,
      () => Deno.serve({ ...serveOptions, hostname: listen.hostname, port: listen.port }, handle),
    );
  }
  const addr = front?.addr ?? server.addr as Deno.NetAddr;
  // Bound to every interface (0.0.0.0, ::), the address is no name a client may use: the Host
  // check refuses it, so the URL and the login link printed name the first allowed name instead.
  const origin = `http://${
    isWildcard(listen.hostname) ? hosts[0] : hostForUrl(addr.hostname)
  }:${addr.port}`;
  const url = mcp ? `${origin}${MCP_PATH}` : `${origin}/`;
  if (!isLoopback(listen.hostname)) {
    log(
      `WARNING: listening on ${listen.hostname}, reachable from other machines: anyone who can reach ${url} and has the token can run commands as this user. Prefer 127.0.0.1 and an SSH tunnel (see the README)`,
    );
  }
  if (token === null) {
    log(
      `WARNING: --no-token: any program of any user on this machine can run commands as this user through ${url}. Use it only for tests`,
    );
  }
  if (options.fixtures) {
    log("WARNING: --conformance-fixtures: serving the conformance suite's test tools too");
  }

  let closing: Promise<void> | undefined;
  return {
    url,
    origin,
    close() {
      closing ??= (async () => {
        // Its event streams are responses in flight: ended first, they do not hold the close.
        options.dashboard?.close();
        await legacy.close();
        await modern.close().catch(() => {});
        // Closing the sessions ended their streams, whose last bytes are still to be sent:
        // stopping the server now would cut them off mid-stream rather than end them.
        await within(Promise.all(responding), CLOSE_GRACE_MS);
        stop.abort();
        await within(server.finished, CLOSE_GRACE_MS);
        await front?.close(CLOSE_GRACE_MS);
        if (socketPath !== undefined) {
          try {
            Deno.removeSync(socketPath);
          } catch {
            // removed already
          }
        }
      })();
      return closing;
    },
  };
}

/**
 * Whether the request is the 2026-07-28 era's. The SDK takes every GET and DELETE for the
 * 2025-11-25 era's session operations; one that names the modern version and no session is the
 * modern era's, which answers it 405 (GET and DELETE are no part of it).
 */
async function isModernRequest(request: Request): Promise<boolean> {
  if (request.method === "GET" || request.method === "DELETE") {
    return !request.headers.has("mcp-session-id") &&
      request.headers.get("mcp-protocol-version")?.trim() === MODERN_VERSION;
  }
  return !await isLegacyRequest(request);
}

/** Waits for `promise`, `ms` at most. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([promise, new Promise((resolve) => timer = setTimeout(resolve, ms))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Listening on the address (the front, or Deno.serve), with its failures said as what to do. */
function listenOn<T>(listen: ListenAddress, start: () => T): T {
  const where = `${hostForUrl(listen.hostname)}:${listen.port}`;
  try {
    return start();
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new RangeError(
        `no permission to listen on ${where}: run deno with --allow-net=${where} (the prebuilt binary may listen on loopback only: reach it from elsewhere through an SSH tunnel)`,
      );
    }
    if (error instanceof Deno.errors.AddrInUse) {
      throw new RangeError(
        `${where} is in use (another backburner, or another program): choose another port, or 0 for a free one`,
      );
    }
    if (error instanceof Deno.errors.AddrNotAvailable) {
      throw new RangeError(`${listen.hostname} is not an address of this machine: bind 127.0.0.1`);
    }
    throw error;
  }
}

/**
 * Who a request is from, for admission: its session, else its address and client name (of the
 * request's envelope, or of the initialize that opens a session).
 */
function clientOf(request: Request, body: Uint8Array | null, remote: string): string {
  const session = request.headers.get("mcp-session-id");
  if (session) return `session ${session}`;
  if (body !== null && body.byteLength > 0) {
    try {
      const message = JSON.parse(new TextDecoder().decode(body));
      const info = message?.params?._meta?.["io.modelcontextprotocol/clientInfo"] ??
        (message?.method === "initialize" ? message?.params?.clientInfo : undefined);
      if (info && typeof info.name === "string") return `${remote} ${info.name}`;
    } catch {
      // not JSON: the era's handler says so; it is this address's request
    }
  }
  return remote;
}

function originHost(origin: string): string {
  try {
    return hostForUrl(new URL(origin).hostname);
  } catch {
    return origin.trim().toLowerCase();
  }
}

/** Whether a body is a JSON array (a JSON-RPC batch): its first byte that is not white space. */
function isBatch(body: Uint8Array): boolean {
  for (const byte of body) {
    if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) continue;
    return byte === 0x5b; // [
  }
  return false;
}

function jsonError(
  status: number,
  message: string,
  headers: Record<string, string> = {},
  code = -32000,
) {
  return Response.json(
    { jsonrpc: "2.0", error: { code, message }, id: null },
    { status, headers },
  );
}
