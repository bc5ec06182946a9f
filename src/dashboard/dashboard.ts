/**
 * The dashboard: a small web page for the person behind the agent, served by the HTTP face at
 * `/` (`serve --http`) or on its own (`backburner dashboard`). Its own guard, after the Host
 * check the HTTP face makes for every path:
 *
 * 1. Origin: a request a browser sends from another origin is refused (403), and so is an API
 *    request its Sec-Fetch-Site says is for another origin's page; a state-changing one (POST)
 *    must name this server's origin (http://Host, or one --allow-origin names: a TLS proxy's);
 * 2. the session cookie (HttpOnly, SameSite=Strict), got once from a one-time login link the
 *    server prints, or by pasting the token into the login form; a page without it is sent to the
 *    login page, an API request gets 401;
 * 3. for POST, the session's CSRF token in the X-CSRF-Token header (403 without it).
 *
 * Everything it serves ships inside the program (assets/*.ts): nothing loads from elsewhere, and
 * the Content-Security-Policy says so to the browser too.
 *
 * @module
 */

import type { Engine } from "../engine/engine.ts";
import { BackburnerError, isBackburnerError } from "../errors.ts";
import { openLog } from "../logs/file.ts";
import { compileLinePattern } from "../logs/pattern.ts";
import type { Store } from "../store.ts";
import { isTerminal } from "../task.ts";
import { APP_JS } from "./assets/app_js.ts";
import { ICON_SVG } from "./assets/icon.ts";
import { loginPage, shellPage } from "./assets/pages.ts";
import { STYLE_CSS } from "./assets/style.ts";
import { readDetail, readOutputFrom, readOutputTail, TaskChannels } from "./detail.ts";
import { ListChannels, parseFilter, readPage } from "./list.ts";
import { cookieValues, LOGIN_CODE_MS, sameSecret, sessionCookie, Sessions } from "./session.ts";
import { eventStream } from "./sse.ts";
import { StoreTicker } from "./ticker.ts";

export interface DashboardOptions {
  readonly engine: Engine;
  readonly store: Store;
  /** The token the login form takes; null (a --no-token server): only login links work. */
  readonly token: string | null;
  /** Compares a given token with the token in constant time. */
  readonly sameToken: (expected: string, given: string) => Promise<boolean>;
  readonly log: (message: string) => void;
  /** SSE keep-alive interval, in ms. Default 15 s. */
  readonly keepAliveMs?: number;
  /** How often the store is looked at for changes, in ms. Default 200. */
  readonly tickMs?: number;
  /** How long a printed login link works, in ms. Default LOGIN_CODE_MS (10 minutes). */
  readonly loginLinkMs?: number;
  /**
   * Origins the dashboard's pages may also be served from (--allow-origin), e.g. the https://
   * origin of a TLS-terminating proxy in front: the browser names that origin, not http://Host.
   * Only whole http(s) origins count; matched exactly (scheme, host and port).
   */
  readonly allowOrigins?: readonly string[];
}

export interface Dashboard {
  /** Whether `pathname` is one of the dashboard's. */
  owns(pathname: string): boolean;
  /** Serves a request whose Host header passed the HTTP face's check. */
  handle(request: Request): Promise<Response>;
  /**
   * Prints (logs) a new one-time login link on the server at `origin` (http://host:port). The
   * dashboard prints a new one by itself when a spent or expired link is opened.
   */
  announceLogin(origin: string): void;
  /** Ends every open stream and stops the clock. */
  close(): void;
}

const ID = /^[a-z0-9]{1,64}$/;
/** Event streams (open pages) at once, in all and per session. */
const MAX_STREAMS = 128;
const MAX_STREAMS_PER_SESSION = 24;
/** The login form's body: a token and nothing else. */
const MAX_LOGIN_BODY = 4096;
/** A spent or expired link opened again and again prints a new link at most this often. */
const REISSUE_MS = 10_000;

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

const ASSETS: Record<string, { body: string; type: string }> = {
  "/assets/app.js": { body: APP_JS, type: "text/javascript; charset=utf-8" },
  "/assets/style.css": { body: STYLE_CSS, type: "text/css; charset=utf-8" },
  "/assets/icon.svg": { body: ICON_SVG, type: "image/svg+xml" },
};

function withHeaders(response: Response, extra: Record<string, string> = {}): Response {
  for (const [name, value] of Object.entries({ ...SECURITY_HEADERS, ...extra })) {
    response.headers.set(name, value);
  }
  return response;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return withHeaders(Response.json(body, { status }), { "cache-control": "no-store", ...headers });
}

function refuse(status: number, message: string): Response {
  return json(status, { error: message });
}

function html(status: number, body: string, headers: Record<string, string> = {}): Response {
  return withHeaders(
    new Response(body, { status, headers: { "content-type": "text/html; charset=utf-8" } }),
    { "cache-control": "no-store", ...headers },
  );
}

function redirect(location: string, headers: Record<string, string> = {}): Response {
  return withHeaders(new Response(null, { status: 303, headers: { location } }), headers);
}

/** The error an agent's request would get, as the page's JSON with a fitting status. */
function failure(error: unknown): Response {
  if (isBackburnerError(error)) {
    const status = error.code === "unknown_task" ? 404 : error.code === "storage_failure" ||
        error.code === "state_lost"
      ? 500
      : 400;
    return refuse(status, error.message);
  }
  if (error instanceof RangeError) return refuse(400, error.message);
  throw error;
}

export function createDashboard(options: DashboardOptions): Dashboard {
  const { engine, store, log } = options;
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  const loginLinkMs = options.loginLinkMs ?? LOGIN_CODE_MS;
  const sessions = new Sessions({ codeMs: loginLinkMs });
  /** Where links point (known once the first is printed), and when one was last reprinted. */
  let linkOrigin: string | null = null;
  let reissuedAt = -Infinity;
  const announceLogin = (origin: string) => {
    linkOrigin = origin;
    const minutes = Math.max(1, Math.round(loginLinkMs / 60_000));
    log(
      `dashboard: open ${origin}/login?code=${sessions.issueCode()} (a one-time login link; it works for ${minutes} minutes)`,
    );
  };
  /**
   * A person who opens a spent or expired link (one the server printed) wants in: a new link is
   * printed where the first was, and the page says so. A made-up code prints nothing.
   */
  const reissue = (): boolean => {
    if (linkOrigin === null) return false;
    if (Date.now() - reissuedAt >= REISSUE_MS) {
      reissuedAt = Date.now();
      announceLogin(linkOrigin);
    }
    return true;
  };
  const ticker = new StoreTicker(store.path, { intervalMs: options.tickMs, log });
  // This engine's own status changes are shown at once; other processes' within a tick.
  const unsubscribe = engine.onChange(() => ticker.poke());
  const lists = new ListChannels(engine, ticker);
  const tasks = new TaskChannels(engine, store, ticker);
  const streams = new Map<string, number>();
  const open = new Set<{ close(): void }>();
  let openStreams = 0;

  /** A stream slot for the session, or a 429. */
  const takeStream = (session: string): (() => void) | Response => {
    const mine = streams.get(session) ?? 0;
    if (openStreams >= MAX_STREAMS || mine >= MAX_STREAMS_PER_SESSION) {
      return refuse(429, "Too many open dashboard pages: close some tabs and reload");
    }
    openStreams++;
    streams.set(session, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      openStreams--;
      const left = (streams.get(session) ?? 1) - 1;
      if (left <= 0) streams.delete(session);
      else streams.set(session, left);
    };
  };

  const owns = (pathname: string) =>
    pathname === "/" || pathname === "/login" || pathname === "/logout" ||
    pathname in ASSETS || pathname.startsWith("/tasks/") || pathname === "/api" ||
    pathname.startsWith("/api/");

  const allowedOrigins = new Set(
    (options.allowOrigins ?? []).flatMap((given) => {
      const origin = webOrigin(given);
      return origin === null ? [] : [origin];
    }),
  );
  /**
   * Whether `origin` is the dashboard's own: http:// and the Host header the browser used, or
   * an origin the person allowed. Never one read from X-Forwarded-* headers, which any client
   * that reaches the port can send.
   */
  const isOwnOrigin = (request: Request, origin: string | null) =>
    origin !== null &&
    (origin === `http://${request.headers.get("host") ?? ""}` || allowedOrigins.has(origin));
  const cookieName = (request: Request) => {
    const host = request.headers.get("host") ?? "";
    const port = /:(\d+)$/.exec(host)?.[1] ?? "80";
    return `backburner_${port}`;
  };

  const login = async (request: Request, url: URL): Promise<Response> => {
    if (request.method === "GET") {
      const code = url.searchParams.get("code");
      if (code === null) return html(200, loginPage({ tokenForm: options.token !== null }));
      const redeemed = sessions.redeem(code);
      if (redeemed !== "ok") {
        const why = redeemed === "spent"
          ? "This login link was used already."
          : redeemed === "expired"
          ? `This login link has expired: a link works for ${
            Math.max(1, Math.round(loginLinkMs / 60_000))
          } minutes after the server prints it.`
          : "This login link is not this server's.";
        const next = redeemed !== "unknown" && reissue()
          ? " The server has printed a new one on its stderr, where it printed this one: open the newest link"
          : " Open the newest link the server printed";
        const token = options.token !== null
          ? ", or paste the token (backburner token prints it)."
          : ".";
        return html(
          401,
          loginPage({ tokenForm: options.token !== null, error: why + next + token }),
        );
      }
      const session = sessions.open();
      return redirect("/", { "set-cookie": sessionCookie(cookieName(request), session.id) });
    }
    if (request.method !== "POST") return refuse(405, "Use GET or POST for /login");
    if (!isOwnOrigin(request, request.headers.get("origin"))) {
      return refuse(403, "Forbidden: log in from this server's own login page");
    }
    if (options.token === null) {
      return html(
        400,
        loginPage({
          tokenForm: false,
          error: "This server runs without a token: open the login link it printed.",
        }),
      );
    }
    const length = Number(request.headers.get("content-length") ?? "0");
    if (!(length > 0 && length <= MAX_LOGIN_BODY)) {
      return refuse(413, "The login form sends the token only");
    }
    const form = new URLSearchParams(await request.text());
    const given = (form.get("token") ?? "").trim();
    if (given === "" || !await options.sameToken(options.token, given)) {
      return html(
        401,
        loginPage({
          tokenForm: true,
          error: "Wrong token: paste the one backburner token prints.",
        }),
      );
    }
    const session = sessions.open();
    return redirect("/", { "set-cookie": sessionCookie(cookieName(request), session.id) });
  };

  const api = async (
    request: Request,
    url: URL,
    session: { id: string; csrf: string },
  ): Promise<Response> => {
    const parts = url.pathname.split("/").slice(2); // after "/api"
    if (request.method === "POST") {
      // State changes: the page's own origin, and the session's CSRF token.
      const csrf = request.headers.get("x-csrf-token");
      if (csrf === null || !sameSecret(session.csrf, csrf)) {
        return refuse(403, "Forbidden: the CSRF token is missing or wrong; reload the page");
      }
      await request.body?.cancel();
      if (parts.length === 1 && parts[0] === "logout") {
        sessions.close(session.id);
        return json(200, { ok: true }, {
          "set-cookie": `${cookieName(request)}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`,
        });
      }
      if (parts.length === 3 && parts[0] === "tasks" && ID.test(parts[1])) {
        const id = parts[1];
        try {
          if (parts[2] === "cancel") {
            const outcome = await engine.cancel(id);
            return json(200, {
              id,
              status: outcome.task.status,
              already_ended: outcome.alreadyEnded,
            });
          }
          if (parts[2] === "restart") {
            const task = await engine.settle(engine.restart(id));
            return json(200, { id: task.id, status: task.status, restart_of: id });
          }
        } catch (error) {
          return failure(error);
        }
      }
      return refuse(404, "Not found");
    }
    if (request.method !== "GET") return refuse(405, "Method not allowed");
    try {
      if (parts.length === 1 && parts[0] === "tasks") {
        return json(200, await readPage(engine, parseFilter(url.searchParams)));
      }
      if (parts.length === 1 && parts[0] === "events") {
        const filter = parseFilter(url.searchParams);
        const release = takeStream(session.id);
        if (release instanceof Response) return release;
        const stream = eventStream({
          keepAliveMs,
          onClose: () => {
            release();
            open.delete(stream);
            lists.remove(filter, stream);
          },
        });
        open.add(stream);
        try {
          await lists.add(filter, stream);
        } catch (error) {
          stream.close();
          return failure(error);
        }
        return withHeaders(stream.response);
      }
      if (parts[0] !== "tasks" || parts.length < 2 || !ID.test(parts[1])) {
        return refuse(404, "Not found");
      }
      const id = parts[1];
      const what = parts.length === 2 ? "" : parts[2];
      if (parts.length > 3) return refuse(404, "Not found");
      switch (what) {
        case "":
          return json(200, await readDetail(engine, store, id));
        case "output": {
          const offset = url.searchParams.get("offset");
          if (offset === null) return json(200, await readOutputTail(engine, id));
          const { task } = engine.status(id);
          return json(
            200,
            await readOutputFrom(engine, id, byteOffset(offset), {
              complete: isTerminal(task.status),
              skipAhead: false,
            }),
          );
        }
        case "events": {
          const offset = byteOffset(url.searchParams.get("offset") ?? "0");
          engine.status(id); // unknown_task before a stream opens
          const release = takeStream(session.id);
          if (release instanceof Response) return release;
          let remove = () => {};
          const stream = eventStream({
            keepAliveMs,
            onClose: () => {
              release();
              open.delete(stream);
              remove();
            },
          });
          open.add(stream);
          try {
            remove = await tasks.add(id, offset, stream);
          } catch (error) {
            stream.close();
            return failure(error);
          }
          return withHeaders(stream.response);
        }
        case "grep": {
          const source = url.searchParams.get("pattern") ?? "";
          if (source.length === 0 || source.length > 1000) {
            return refuse(400, "The pattern must be 1 to 1000 characters");
          }
          const context = Number(url.searchParams.get("context") ?? "2");
          const result = await engine.output(id, {
            grep: new RegExp(compileLinePattern(source).source),
            context: Number.isInteger(context) ? Math.min(Math.max(context, 0), 20) : 2,
            maxMatches: 200,
          });
          const grep = result.grep!;
          return json(200, {
            matches: grep.matches,
            total_matches: grep.totalMatches,
            truncated: grep.truncated,
            note: grep.note,
          });
        }
        case "log":
          return await download(engine, id);
        default:
          return refuse(404, "Not found");
      }
    } catch (error) {
      return failure(error);
    }
  };

  return {
    owns,
    announceLogin,
    async handle(request) {
      const url = new URL(request.url);
      // A browser names the page's origin on every request but a same-origin GET; any other
      // origin is another site's page trying this one.
      const origin = request.headers.get("origin");
      if (origin !== null && !isOwnOrigin(request, origin)) {
        await request.body?.cancel();
        return refuse(403, "Forbidden: the dashboard answers only its own pages");
      }
      // A browser names who asks in Sec-Fetch-Site, which no page can set. A read for another
      // origin's page carries no Origin (an <img> or <script> of this URL) but this: refused, so
      // that no other page, not even one on another port of this host (the same "site", which
      // SameSite lets the cookie go to), gets an API answer. Links to pages stay usable.
      const site = request.headers.get("sec-fetch-site");
      if (
        site !== null && site !== "same-origin" && site !== "none" &&
        (url.pathname === "/api" || url.pathname.startsWith("/api/"))
      ) {
        await request.body?.cancel();
        return refuse(403, "Forbidden: the dashboard answers only its own pages");
      }
      if (request.method === "POST" && origin === null) {
        await request.body?.cancel();
        return refuse(403, "Forbidden: a state-changing request must come from the dashboard page");
      }
      const asset = ASSETS[url.pathname];
      if (asset !== undefined) {
        return withHeaders(
          new Response(asset.body, { headers: { "content-type": asset.type } }),
          { "cache-control": "no-cache" },
        );
      }
      if (url.pathname === "/login") return await login(request, url);
      const session = sessions.findAny(
        cookieValues(request.headers.get("cookie"), cookieName(request)),
      );
      if (session === undefined) {
        await request.body?.cancel();
        if (url.pathname.startsWith("/api")) {
          return refuse(401, "Not logged in: open the login link the server printed");
        }
        return redirect("/login");
      }
      if (url.pathname === "/api" || url.pathname.startsWith("/api/")) {
        return await api(request, url, session);
      }
      if (request.method !== "GET") return refuse(405, "Method not allowed");
      if (url.pathname.startsWith("/tasks/") && !ID.test(url.pathname.slice(7))) {
        return html(404, "<!doctype html><title>Not found</title><p>No such task.</p>");
      }
      return html(200, shellPage({ csrf: session.csrf }));
    },
    close() {
      unsubscribe();
      for (const stream of [...open]) stream.close();
      ticker.close();
    },
  };
}

/** The origin (scheme://host[:port]) of an http(s) URL, as a browser names it; null otherwise. */
function webOrigin(given: string): string | null {
  try {
    const url = new URL(given);
    return url.protocol === "https:" || url.protocol === "http:" ? url.origin : null;
  } catch {
    return null;
  }
}

function byteOffset(text: string): number {
  const offset = Number(text);
  if (!/^\d{1,16}$/.test(text) || !Number.isSafeInteger(offset)) {
    throw new BackburnerError(
      "invalid_argument",
      "offset is not a byte offset: pass a whole number from 0",
    );
  }
  return offset;
}

/** The raw log, streamed as it is on disk (never read whole into memory). */
async function download(engine: Engine, id: string): Promise<Response> {
  engine.status(id);
  // Opened as every reader of logs opens them (src/logs/file.ts): the task can replace its log.
  const file = await openLog(engine.logPath(id));
  if (file === null) {
    return withHeaders(new Response("", { headers: { "content-type": "text/plain" } }));
  }
  const size = (await file.stat()).size;
  // Up to the size now: a running task's log keeps growing, and the download ends where it was.
  let left = size;
  const body = file.readable.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        if (left <= 0) return;
        const part = chunk.byteLength > left ? chunk.subarray(0, left) : chunk;
        left -= part.byteLength;
        controller.enqueue(part);
        // Stop reading (and close the file) at the size the download announced.
        if (left <= 0) controller.terminate();
      },
    }),
  );
  return withHeaders(
    new Response(body, {
      headers: {
        "content-type": "application/octet-stream",
        "content-length": String(size),
        "content-disposition": `attachment; filename="backburner-${id}.log"`,
      },
    }),
    { "cache-control": "no-store" },
  );
}
