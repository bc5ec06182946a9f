/**
 * The 2025-11-25 era over HTTP: sessions. An `initialize` without a session opens one — the v1
 * SDK's Streamable HTTP transport with its own McpServer, as a stdio connection has — and every
 * later request names it in `Mcp-Session-Id`; the transport serves the SSE streams (progress,
 * task status, resource updates) and ends the session on DELETE.
 *
 * Sessions are bounded: past `maxSessions`, opening one closes the session idle the longest, and
 * a session nobody used for `idleMs` is closed (its client gets 404 and opens a new one, as the
 * specification has clients do). Tasks belong to the state directory, not to a session: closing
 * one loses nothing.
 *
 * @module
 */

import type { BackburnerServer } from "../mcp/server.ts";
import { afterBody } from "./body.ts";
import { WebStandardStreamableHTTPServerTransport } from "./sdk.ts";

export interface LegacyOptions {
  /** A new MCP server (the one stdio serves) for a new session. */
  readonly createServer: () => BackburnerServer;
  readonly maxSessions: number;
  readonly idleMs: number;
  readonly maxBodyBytes: number;
  readonly keepAliveMs: number;
  readonly log: (message: string) => void;
}

interface Session {
  readonly id: string;
  readonly transport: WebStandardStreamableHTTPServerTransport;
  readonly server: BackburnerServer;
  lastSeen: number;
  /** Requests being answered, streams included. */
  busy: number;
}

const SESSION_NOT_FOUND = JSON.stringify({
  jsonrpc: "2.0",
  error: {
    code: -32001,
    message:
      "Session not found: it ended or expired; send initialize without an Mcp-Session-Id to open a new one",
  },
  id: null,
});

/** The era's sessions; `handle` answers a request, `close` ends every session. */
export class LegacySessions {
  readonly #options: LegacyOptions;
  readonly #sessions = new Map<string, Session>();
  readonly #sweeper: ReturnType<typeof setInterval>;

  constructor(options: LegacyOptions) {
    this.#options = options;
    this.#sweeper = setInterval(
      () => this.#expire(),
      Math.max(1000, Math.min(options.idleMs, 60_000)),
    );
  }

  /** Sessions open now. */
  get size(): number {
    return this.#sessions.size;
  }

  /** The session a request names, if it exists; undefined when it names none. */
  sessionOf(request: Request): string | undefined {
    return request.headers.get("mcp-session-id") ?? undefined;
  }

  async handle(request: Request): Promise<Response> {
    const id = this.sessionOf(request);
    if (id === undefined) return await this.#open(request);
    const session = this.#sessions.get(id);
    if (!session) {
      return new Response(SESSION_NOT_FOUND, {
        status: 404,
        headers: { "content-type": "application/json" },
      });
    }
    return await this.#serve(session, request);
  }

  async #serve(session: Session, request: Request): Promise<Response> {
    session.busy++;
    session.lastSeen = Date.now();
    let response: Response;
    try {
      response = await session.transport.handleRequest(request);
    } catch (error) {
      session.busy--;
      throw error;
    }
    return afterBody(response, () => {
      session.busy--;
      session.lastSeen = Date.now();
    });
  }

  /** A request without a session: an initialize opens one; anything else the transport refuses. */
  async #open(request: Request): Promise<Response> {
    if (this.#sessions.size >= this.#options.maxSessions && !this.#evictIdlest()) {
      return new Response(
        JSON.stringify({
          jsonrpc: "2.0",
          error: {
            code: -32000,
            message:
              `All ${this.#options.maxSessions} sessions are busy: retry in a moment, or close sessions you no longer use (DELETE)`,
          },
          id: null,
        }),
        { status: 429, headers: { "content-type": "application/json", "retry-after": "1" } },
      );
    }
    const server = this.#options.createServer();
    let session: Session | undefined;
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID(),
      maxRequestBodySize: this.#options.maxBodyBytes,
      keepAliveMs: this.#options.keepAliveMs,
      onsessioninitialized: (id) => {
        session = { id, transport, server, lastSeen: Date.now(), busy: 1 };
        this.#sessions.set(id, session);
      },
    });
    transport.onclose = () => {
      if (session) this.#sessions.delete(session.id);
      server.dispose();
    };
    await server.connect(transport);
    let response: Response;
    try {
      response = await transport.handleRequest(request);
    } catch (error) {
      await transport.close();
      throw error;
    }
    if (!session) {
      // Not an initialize (the transport said why): nothing to keep.
      await transport.close();
      return response;
    }
    const opened = session;
    return afterBody(response, () => {
      opened.busy--;
      opened.lastSeen = Date.now();
    });
  }

  /** Closes the session idle the longest, if one is idle; false when every session is busy. */
  #evictIdlest(): boolean {
    let idlest: Session | undefined;
    for (const session of this.#sessions.values()) {
      if (session.busy === 0 && (!idlest || session.lastSeen < idlest.lastSeen)) idlest = session;
    }
    if (!idlest) return false;
    this.#options.log(`http: closing session ${idlest.id}, idle the longest, to open a new one`);
    this.#end(idlest);
    return true;
  }

  #expire(): void {
    const now = Date.now();
    for (const session of [...this.#sessions.values()]) {
      if (session.busy === 0 && now - session.lastSeen >= this.#options.idleMs) {
        this.#options.log(
          `http: closing session ${session.id}, unused for ${
            Math.round((now - session.lastSeen) / 1000)
          } s`,
        );
        this.#end(session);
      }
    }
  }

  #end(session: Session): void {
    this.#sessions.delete(session.id);
    void session.transport.close().catch(() => {});
  }

  /** Ends every session (their open streams end) and stops the sweeper. */
  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.all(sessions.map((session) => session.transport.close().catch(() => {})));
  }
}
