/**
 * The 2025-11-25 era over HTTP: sessions. An `initialize` without a session opens one — the v1
 * SDK's Streamable HTTP transport with its own McpServer, as a stdio connection has — and every
 * later request names it in `Mcp-Session-Id`; the transport serves the SSE streams (progress,
 * task status, resource updates) and ends the session on DELETE.
 *
 * Sessions are bounded, and the client that holds the most pays for it: a client (its address and
 * name) opening more than `sessionsPerClient` closes its own least recently used one, and past
 * `maxSessions` opening one closes the least recently used session of the client holding the most
 * (idle ones first) — so one that opens sessions and never closes them (each with its event
 * stream) cannot take every session, nor end another client's. A session nobody used for
 * `idleMs` is closed (its client gets 404 and opens a new one, as the specification has clients
 * do). Tasks belong to the state directory, not to a session: closing one loses nothing.
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
  /** Sessions one client may hold; its next one closes its least recently used. */
  readonly sessionsPerClient: number;
  readonly idleMs: number;
  readonly maxBodyBytes: number;
  readonly keepAliveMs: number;
  readonly log: (message: string) => void;
}

interface Session {
  readonly id: string;
  readonly transport: WebStandardStreamableHTTPServerTransport;
  readonly server: BackburnerServer;
  /** Who opened it (admission's name for the client: its address and name). */
  readonly client: string;
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

  /** Answers a request of `client` (who opens the session, when it opens one). */
  async handle(request: Request, client: string): Promise<Response> {
    const id = this.sessionOf(request);
    if (id === undefined) return await this.#open(request, client);
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
  async #open(request: Request, client: string): Promise<Response> {
    const server = this.#options.createServer();
    let session: Session | undefined;
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID(),
      maxRequestBodySize: this.#options.maxBodyBytes,
      keepAliveMs: this.#options.keepAliveMs,
      onsessioninitialized: (id) => {
        this.#makeRoom(client);
        session = { id, transport, server, client, lastSeen: Date.now(), busy: 1 };
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

  /**
   * Before `client` gets a new session: closes its own least recently used one when it holds
   * its share, else, when every session is taken, the least recently used one of the client
   * holding the most.
   */
  #makeRoom(client: string): void {
    const byClient = new Map<string, Session[]>();
    for (const session of this.#sessions.values()) {
      const held = byClient.get(session.client) ?? [];
      held.push(session);
      byClient.set(session.client, held);
    }
    const own = byClient.get(client) ?? [];
    let payer: Session[] | undefined;
    if (own.length >= this.#options.sessionsPerClient) {
      payer = own;
    } else if (this.#sessions.size >= this.#options.maxSessions) {
      for (const held of byClient.values()) {
        if (!payer || held.length > payer.length) payer = held;
      }
    }
    if (!payer || payer.length === 0) return;
    // Idle sessions first, then the one used the longest ago.
    const [victim] = [...payer].sort((a, b) =>
      (a.busy === 0 ? 0 : 1) - (b.busy === 0 ? 0 : 1) || a.lastSeen - b.lastSeen
    );
    this.#options.log(
      `http: closing session ${victim.id} of ${victim.client}, its least recently used of ${payer.length}, to open a new one`,
    );
    this.#end(victim);
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
