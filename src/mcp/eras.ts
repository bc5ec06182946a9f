/**
 * Two protocol eras on one connection. A 2025-11-25 client opens with `initialize` and is served
 * by the SDK v1 server, as before; a 2026-07-28 client opens with `server/discover` or a request
 * whose `_meta` names that revision, and is served by the modern era's handler (modern/), which is
 * loaded only when such a client arrives, so a legacy session pays nothing for it.
 *
 * The first message that tells decides; a later `initialize` moves the connection to the legacy
 * era, since a modern client falls back to it after an error it does not understand
 * (specification 2026-07-28, basic/versioning). Messages before either go to the legacy server,
 * which answers them as it always did.
 *
 * @module
 */

import { relayCloseAndError } from "./relay.ts";
import type { JSONRPCMessage, Transport } from "./sdk.ts";

/** The revision the modern era speaks. */
export const MODERN_VERSION = "2026-07-28";
export const PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion";

export type Era = "legacy" | "modern";

/** Answers one modern-era message: a response for a request, null for a notification. */
export interface ModernHandler {
  handle(message: JSONRPCMessage): Promise<JSONRPCMessage | null>;
}

function metaVersion(message: JSONRPCMessage): unknown {
  if (!("method" in message)) return undefined;
  const meta = (message.params as { _meta?: Record<string, unknown> } | undefined)?._meta;
  return typeof meta === "object" && meta !== null ? meta[PROTOCOL_VERSION_KEY] : undefined;
}

/** The era a message asks for, or null when it does not tell. */
export function eraOf(message: JSONRPCMessage): Era | null {
  if (!("method" in message)) return null;
  if (message.method === "initialize") return "legacy";
  if (message.method === "server/discover" || metaVersion(message) !== undefined) return "modern";
  return null;
}

/**
 * A Transport for the legacy server over the real one: it sees only the legacy era's messages;
 * the modern era's go to the handler `loadModern` gives, loaded on first use.
 */
export class EraRouter implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: Transport["onmessage"];

  readonly #inner: Transport;
  readonly #loadModern: (
    send: (message: JSONRPCMessage) => Promise<void>,
  ) => Promise<ModernHandler>;
  #modern: Promise<ModernHandler> | undefined;
  #era: Era | null = null;

  /** `loadModern` is given the way to send the modern era's own messages (progress). */
  constructor(
    inner: Transport,
    loadModern: (send: (message: JSONRPCMessage) => Promise<void>) => Promise<ModernHandler>,
  ) {
    this.#inner = inner;
    this.#loadModern = loadModern;
    relayCloseAndError(inner, this);
    inner.onmessage = (message, extra) => {
      const asked = eraOf(message);
      if (asked === "legacy" || (asked === "modern" && this.#era === null)) this.#era = asked;
      if (this.#era === "modern") void this.#serveModern(message);
      else this.onmessage?.(message, extra);
    };
  }

  /** The era this connection speaks; null until a message tells. */
  get era(): Era | null {
    return this.#era;
  }

  async #serveModern(message: JSONRPCMessage): Promise<void> {
    try {
      this.#modern ??= this.#loadModern((outgoing) => this.#inner.send(outgoing));
      const response = await (await this.#modern).handle(message);
      if (response !== null) await this.#inner.send(response);
    } catch (error) {
      this.onerror?.(error instanceof Error ? error : new Error(String(error)));
      if ("method" in message && "id" in message) {
        await this.#inner.send({
          jsonrpc: "2.0",
          id: message.id,
          error: { code: -32603, message: "Internal error: see the server's log" },
        });
      }
    }
  }

  get sessionId(): string | undefined {
    return this.#inner.sessionId;
  }

  start(): Promise<void> {
    return this.#inner.start();
  }

  send(message: JSONRPCMessage, options?: Parameters<Transport["send"]>[1]): Promise<void> {
    // Notifications of the legacy server (tasks status, resources) are not the modern era's.
    if (this.#era === "modern" && !("id" in message)) return Promise.resolve();
    return this.#inner.send(message, options);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  setProtocolVersion(version: string): void {
    this.#inner.setProtocolVersion?.(version);
  }
}
