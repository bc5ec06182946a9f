/**
 * A Transport wrapper that checks every request for a method the SDK knows against the SDK's own
 * schema for it before any handler sees it. The SDK's handlers parse their request themselves and
 * fail with -32603 and the schema errors dumped as JSON; here a request that does not fit is
 * answered -32602 with one sentence naming the parameter at fault.
 */
import { relayCloseAndError } from "./relay.ts";
import {
  ClientRequestSchema,
  ErrorCode,
  type JSONRPCMessage,
  type RequestId,
  type Transport,
} from "./sdk.ts";
import type { CallVerdict } from "./tools/call_screen.ts";
import { NegotiatedVersion } from "./versions.ts";

/** A tools/call request's params, once they fit the SDK's schema. */
export interface CallParams {
  readonly name: string;
  readonly arguments?: Record<string, unknown>;
  readonly task?: unknown;
}

interface Issue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

interface RequestSchema {
  safeParse(value: unknown): { success: boolean; error?: { issues: readonly Issue[] } };
}

/** Each request method a client may send, with the schema the SDK's handler parses it with. */
function requestSchemas(): Map<string, RequestSchema> {
  const schemas = new Map<string, RequestSchema>();
  for (const option of ClientRequestSchema.options) {
    schemas.set(option.shape.method.value, option as unknown as RequestSchema);
  }
  return schemas;
}

/** Why a request does not fit its method's schema, in one sentence; null when it fits. */
export function paramsProblem(
  schema: RequestSchema,
  request: { method: string; params?: unknown },
): string | null {
  const issues = schema.safeParse(request).error?.issues ?? [];
  if (issues.length === 0) return null;
  const [first] = issues;
  const where = first.path.map(String).join(".") || "params";
  const what = first.message.replace(/^Invalid input:?\s*/, "") || "not a valid value";
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
  return `Invalid params for "${request.method}": ${where}: ${what}${more}`;
}

/** The SDK prefixes "MCP error <code>: " to its errors' messages, sometimes twice over. */
function withoutCodePrefixes(message: JSONRPCMessage): JSONRPCMessage {
  if (!("error" in message)) return message;
  const text = message.error.message.replace(/MCP error -?\d+: /g, "");
  return text === message.error.message
    ? message
    : { ...message, error: { ...message.error, message: text } };
}

/** Wraps a transport so malformed requests are answered before they reach the SDK's handlers. */
export class ScreenedTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: Transport["onmessage"];

  readonly #inner: Transport;
  readonly #schemas = requestSchemas();
  readonly #handles: (method: string) => boolean;
  readonly #screenCall: (params: CallParams) => CallVerdict;
  /** What this connection's client negotiated; tasks are said only to a revision that has them. */
  readonly #negotiated = new NegotiatedVersion();

  /**
   * `handles` says whether the server serves a method: one it does not is left to answer -32601.
   * `screenCall` checks a well-formed tools/call before the SDK runs the tool.
   */
  constructor(
    inner: Transport,
    handles: (method: string) => boolean,
    screenCall: (params: CallParams) => CallVerdict = () => null,
  ) {
    this.#inner = inner;
    this.#handles = handles;
    this.#screenCall = screenCall;
    relayCloseAndError(inner, this);
    inner.onmessage = (message, extra) => {
      if ("method" in message && "id" in message) {
        const schema = this.#schemas.get(message.method);
        const problem = schema && this.#handles(message.method) && paramsProblem(schema, message);
        if (problem) {
          this.#refuse(message.id, problem);
          return;
        }
        const verdict = message.method === "tools/call" && schema
          ? this.#screenCall(message.params as unknown as CallParams)
          : null;
        if (verdict) {
          this.#answer(
            "error" in verdict
              ? { jsonrpc: "2.0", id: message.id, error: verdict.error }
              : { jsonrpc: "2.0", id: message.id, result: verdict.result },
          );
          return;
        }
      }
      this.#negotiated.received(message);
      this.onmessage?.(message, extra);
    };
  }

  get sessionId(): string | undefined {
    return this.#inner.sessionId;
  }

  start(): Promise<void> {
    return this.#inner.start();
  }

  send(message: JSONRPCMessage, options?: Parameters<Transport["send"]>[1]): Promise<void> {
    const said = this.#negotiated.sending(message);
    return said ? this.#inner.send(withoutCodePrefixes(said), options) : Promise.resolve();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  setProtocolVersion(version: string): void {
    this.#inner.setProtocolVersion?.(version);
  }

  #refuse(id: RequestId, message: string): void {
    this.#answer({ jsonrpc: "2.0", id, error: { code: ErrorCode.InvalidParams, message } });
  }

  #answer(message: JSONRPCMessage): void {
    this.#inner.send(message)
      .catch((error) => this.onerror?.(error instanceof Error ? error : new Error(String(error))));
  }
}
