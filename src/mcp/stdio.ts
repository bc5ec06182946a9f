/**
 * The MCP stdio transport: one JSON-RPC message per line on stdin and stdout.
 *
 * The SDK's StdioServerTransport concatenates its whole buffer on every chunk and scans it from
 * the start for a newline, so reading a line took time quadratic in its length (40 MB: 45 s), and
 * a line past its cap closed the connection. This one keeps a line's chunks in a list and looks for the newline only in new
 * bytes (linear time), refuses a line past the cap with an error and keeps serving, answers every
 * malformed message it can attribute, and never lets a write to stdout take the server down.
 */
import {
  ErrorCode,
  type JSONRPCErrorResponse,
  JSONRPCErrorResponseSchema,
  type JSONRPCMessage,
  JSONRPCMessageSchema,
  JSONRPCNotificationSchema,
  JSONRPCRequestSchema,
  JSONRPCResultResponseSchema,
  type RequestId,
  type Transport,
} from "./sdk.ts";

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** How much of a refused line is kept to find its id. */
const HEAD_BYTES = 4096;
const NEWLINE = 0x0a;

export interface StdioTransportOptions {
  /** The longest line read, in bytes; a longer one is refused with an error and skipped. Default 64 MiB */
  readonly maxMessageBytes?: number;
  /**
   * Bytes of messages the client has not read yet past which it is taken as gone and the
   * connection closes. Default: maxMessageBytes
   */
  readonly maxUnreadBytes?: number;
}

/** Where messages go: Deno.stdout, or any sink that may write part of what it is given. */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<number>;
}

interface Outgoing {
  readonly bytes: Uint8Array;
  offset: number;
  readonly resolve: () => void;
}

/**
 * Splits a byte stream into lines in time linear in its size: a line's chunks are kept in a list
 * and joined once, and only new bytes are searched for the newline. A line longer than the cap is
 * reported once with its first bytes, and the rest of it, up to its newline, is dropped unread.
 */
export class LineSplitter {
  readonly #maxLineBytes: number;
  #parts: Uint8Array[] = [];
  #bytes = 0;
  #skipping = false;

  constructor(maxLineBytes: number) {
    this.#maxLineBytes = maxLineBytes;
  }

  push(
    chunk: Uint8Array,
    onLine: (line: Uint8Array) => void,
    onOversized: (head: Uint8Array) => void,
  ): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      if (!this.#skipping) {
        const piece = chunk.subarray(start, end);
        if (this.#bytes + piece.length > this.#maxLineBytes) {
          const head = join([...this.#parts, piece], HEAD_BYTES);
          this.#parts = [];
          this.#bytes = 0;
          this.#skipping = true;
          onOversized(head);
        } else if (newline !== -1) {
          const line = this.#parts.length === 0 ? piece : join([...this.#parts, piece]);
          this.#parts = [];
          this.#bytes = 0;
          onLine(line);
        } else if (piece.length > 0) {
          // A copy: a view would keep the reader's whole buffer alive for a few bytes of it.
          this.#parts.push(piece.slice());
          this.#bytes += piece.length;
        }
      }
      if (newline === -1) break;
      this.#skipping = false;
      start = newline + 1;
    }
  }
}

function join(parts: Uint8Array[], limit = Infinity): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const joined = new Uint8Array(Math.min(total, limit));
  let offset = 0;
  for (const part of parts) {
    if (offset >= joined.length) break;
    const take = part.subarray(0, joined.length - offset);
    joined.set(take, offset);
    offset += take.length;
  }
  return joined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isRequestId(value: unknown): value is RequestId {
  return typeof value === "string" || Number.isSafeInteger(value);
}

/** The id to answer with: the message's own, when it is a request with an id a client can match. */
function answerableId(message: Record<string, unknown>): RequestId | null {
  if (!("method" in message)) return null;
  const id = message.id;
  return typeof id === "string" || (typeof id === "number" && Number.isFinite(id)) ? id : null;
}

function shown(value: unknown): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  }
  return String(value);
}

const REQUEST_MEMBERS = new Set(["jsonrpc", "id", "method", "params"]);
const RESPONSE_MEMBERS = new Set(["jsonrpc", "id", "result", "error"]);

/**
 * Why a parsed value is not a JSON-RPC 2.0 message, as the error to answer with: -32602 when only
 * its params are wrong, -32600 otherwise, one sentence naming the member at fault.
 */
export function invalidMessageError(value: unknown): JSONRPCErrorResponse["error"] & {
  id: RequestId | null;
} {
  const invalid = (id: RequestId | null, message: string, code = ErrorCode.InvalidRequest) => ({
    id,
    code,
    message,
  });
  if (Array.isArray(value)) {
    return invalid(null, "Batches are not supported: send one JSON-RPC message per line");
  }
  if (!isRecord(value)) {
    return invalid(null, `A message must be a JSON object, not ${shown(value)}`);
  }
  const id = answerableId(value);
  if (value.jsonrpc !== "2.0") {
    return invalid(id, `Invalid message: "jsonrpc" must be "2.0", not ${shown(value.jsonrpc)}`);
  }
  const isCall = "method" in value;
  if (!isCall && !("result" in value) && !("error" in value)) {
    return invalid(
      null,
      'Invalid message: it has no "method" (a request or notification) and no "result" or "error" (a response)',
    );
  }
  if (isCall && typeof value.method !== "string") {
    return invalid(id, `Invalid request: "method" must be a string, not ${shown(value.method)}`);
  }
  if ("id" in value && !isRequestId(value.id)) {
    return invalid(
      id,
      `Invalid message: "id" must be a string or an integer, not ${shown(value.id)}`,
    );
  }
  const allowed = isCall ? REQUEST_MEMBERS : RESPONSE_MEMBERS;
  const extra = Object.keys(value).find((key) => !allowed.has(key));
  if (extra !== undefined) {
    return invalid(id, `Invalid message: unexpected member ${shown(extra)}`);
  }
  if (isCall && "params" in value && !isRecord(value.params)) {
    return invalid(
      id,
      `Invalid params: "params" must be an object or left out, not ${shown(value.params)}`,
      ErrorCode.InvalidParams,
    );
  }
  if (!isCall && "result" in value && "error" in value) {
    return invalid(null, 'Invalid message: a response has "result" or "error", not both');
  }
  const schema = isCall
    ? ("id" in value ? JSONRPCRequestSchema : JSONRPCNotificationSchema)
    : ("result" in value ? JSONRPCResultResponseSchema : JSONRPCErrorResponseSchema);
  const issue = schema.safeParse(value).error?.issues[0];
  const path = issue?.path.join(".") || "message";
  const what = issue?.message.replace(/^Invalid input:?\s*/, "") || "not a valid value";
  return issue?.path[0] === "params"
    ? invalid(id, `Invalid params: ${path}: ${what}`, ErrorCode.InvalidParams)
    : invalid(id, `Invalid message: ${path}: ${what}`);
}

/**
 * The id of a request from the first bytes of its line, when its top-level "id" and "method"
 * come before anything long (as clients write them); null when the id cannot be told cheaply.
 */
export function idFromHead(head: string): RequestId | null {
  const token =
    /\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|[{}[\],:])/y;
  const next = (): string | undefined => {
    const match = token.exec(head);
    return match?.[1];
  };
  if (next() !== "{") return null;
  let id: RequestId | null = null;
  let sawMethod = false;
  for (;;) {
    const key = next();
    if (key === undefined || !key.startsWith('"') || next() !== ":") break;
    const name = JSON.parse(key) as string;
    const value = next();
    if (value === undefined) break;
    if (value === "{" || value === "[") {
      // Skip a nested value: strings are whole tokens, so their brackets do not count.
      let depth = 1;
      while (depth > 0) {
        const inner = next();
        if (inner === undefined) break;
        if (inner === "{" || inner === "[") depth++;
        if (inner === "}" || inner === "]") depth--;
      }
      if (depth > 0) break;
    } else if (name === "id") {
      const parsed = JSON.parse(value);
      id = typeof parsed === "string" || Number.isFinite(parsed) ? parsed : null;
    } else if (name === "method") {
      sawMethod = true;
    }
    if (next() !== ",") break;
  }
  return sawMethod ? id : null;
}

/**
 * An MCP Transport over a byte stream in and a byte sink out (stdin and stdout). It closes, with
 * `closeReason` saying why, when stdin ends or fails, when stdout is closed or fails, or when the
 * client leaves more than `maxUnreadBytes` unread: a client that does not read is gone.
 */
export class StdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  readonly #input: ReadableStream<Uint8Array>;
  readonly #output: ByteSink;
  readonly #maxMessageBytes: number;
  readonly #maxUnreadBytes: number;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });
  readonly #encoder = new TextEncoder();
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #queue: Outgoing[] = [];
  #queuedBytes = 0;
  #writing = false;
  #started = false;
  #closeReason: string | undefined;

  constructor(
    input: ReadableStream<Uint8Array>,
    output: ByteSink,
    options: StdioTransportOptions = {},
  ) {
    this.#input = input;
    this.#output = output;
    this.#maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#maxUnreadBytes = options.maxUnreadBytes ?? this.#maxMessageBytes;
  }

  /** Why the transport closed; undefined while it is open. */
  get closeReason(): string | undefined {
    return this.#closeReason;
  }

  start(): Promise<void> {
    if (this.#started) return Promise.reject(new Error("The stdio transport is already started"));
    this.#started = true;
    void this.#read();
    return Promise.resolve();
  }

  send(message: JSONRPCMessage): Promise<void> {
    // Once closed, for a reason said once, messages are dropped: the client is gone.
    if (this.#closeReason !== undefined) return Promise.resolve();
    // The message being written does not count: one reply may be longer than the bound.
    const waiting = this.#queuedBytes -
      (this.#queue.length > 0 ? this.#queue[0].bytes.length - this.#queue[0].offset : 0);
    if (waiting > this.#maxUnreadBytes) {
      this.#finish(
        `the client stopped reading: ${waiting} bytes of messages wait to be sent, more than ${this.#maxUnreadBytes}`,
      );
      return Promise.resolve();
    }
    const bytes = this.#encoder.encode(`${JSON.stringify(message)}\n`);
    return new Promise((resolve) => {
      this.#queue.push({ bytes, offset: 0, resolve });
      this.#queuedBytes += bytes.length;
      void this.#drain();
    });
  }

  close(): Promise<void> {
    this.#finish("the server closed the connection");
    return Promise.resolve();
  }

  async #read(): Promise<void> {
    const splitter = new LineSplitter(this.#maxMessageBytes);
    const onLine = (line: Uint8Array) => this.#receive(line);
    const onOversized = (head: Uint8Array) => this.#refuseOversized(head);
    try {
      this.#reader = this.#input.getReader();
      for (;;) {
        const { value, done } = await this.#reader.read();
        if (done) break;
        if (this.#closeReason !== undefined) return;
        splitter.push(value, onLine, onOversized);
      }
      this.#finish("stdin closed");
    } catch (error) {
      this.#finish(`stdin failed (${error instanceof Error ? error.message : String(error)})`);
    }
  }

  #receive(line: Uint8Array): void {
    let text: string;
    try {
      text = this.#decoder.decode(line);
    } catch {
      this.#answer(null, ErrorCode.ParseError, "Parse error: the message is not valid UTF-8");
      return;
    }
    if (text.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      this.#answer(
        null,
        ErrorCode.ParseError,
        `Parse error: the message is not valid JSON (${(error as Error).message})`,
      );
      return;
    }
    const parsed = JSONRPCMessageSchema.safeParse(value);
    if (parsed.success) {
      this.onmessage?.(parsed.data);
      return;
    }
    const { id, code, message } = invalidMessageError(value);
    this.onerror?.(new Error(`answered a malformed message with ${code}: ${message}`));
    this.#answer(id, code, message);
  }

  #refuseOversized(head: Uint8Array): void {
    const id = idFromHead(new TextDecoder().decode(head));
    const message =
      `The message is longer than ${this.#maxMessageBytes} bytes (BACKBURNER_MAX_MESSAGE_BYTES) and was dropped: send less, e.g. pass large input as a file`;
    this.onerror?.(new Error(message));
    this.#answer(id, ErrorCode.InvalidRequest, message);
  }

  #answer(id: RequestId | null, code: number, message: string): void {
    // JSON-RPC 2.0 answers with a null id when the id cannot be known; the SDK's type has no null.
    const response = { jsonrpc: "2.0", id, error: { code, message } } as JSONRPCMessage;
    void this.send(response);
  }

  async #drain(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    try {
      while (this.#closeReason === undefined && this.#queue.length > 0) {
        const next = this.#queue[0];
        const written = await this.#output.write(next.bytes.subarray(next.offset));
        next.offset += written;
        this.#queuedBytes -= written;
        if (next.offset >= next.bytes.length) {
          this.#queue.shift();
          next.resolve();
        }
      }
    } catch (error) {
      const closed = error instanceof Deno.errors.BrokenPipe;
      this.#finish(
        `the client stopped reading: ${closed ? "stdout is closed" : "writing to stdout failed"} (${
          error instanceof Error ? error.message : String(error)
        })`,
      );
    } finally {
      this.#writing = false;
    }
  }

  #finish(reason: string): void {
    if (this.#closeReason !== undefined) return;
    this.#closeReason = reason;
    this.#reader?.cancel().catch(() => {});
    const unsent = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    for (const message of unsent) message.resolve();
    this.onclose?.();
  }
}
