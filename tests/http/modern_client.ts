/**
 * An MCP client of the 2026-07-28 era over HTTP: the v2 SDK's client (`@modelcontextprotocol/client`
 * 2.4.0) pinned to 2026-07-28 on its Streamable HTTP transport, the token in its requestInit
 * headers, and an ext-tasks (0.2.2) session on it whose raw requests go out on the same
 * transport (which sets the era's MCP-Protocol-Version, Mcp-Method and Mcp-Name headers).
 */
// The v2 packages are used by tests alone, pinned inline rather than in deno.json's imports.
// deno-lint-ignore-file no-import-prefix
import { Client, StreamableHTTPClientTransport } from "npm:@modelcontextprotocol/client@2.4.0";
import {
  createTaskSessionEndpointId,
  createTaskSessionFromClient,
  type JsonRpcResponse,
  type TaskEnabledSession,
} from "npm:@modelcontextprotocol/ext-tasks@0.2.2/client";
import { authHeaders, type HttpServer } from "./harness.ts";

type Json = Record<string, unknown>;

export const VERSION = "2026-07-28";
export const TASKS = "io.modelcontextprotocol/tasks";
export const CLIENT_INFO = { name: "backburner-http-modern-tests", version: "1.0.0" };

export interface ModernClient {
  readonly client: Client;
  readonly transport: StreamableHTTPClientTransport;
  readonly session: TaskEnabledSession;
  /** Every JSON-RPC message sent ("out") and received ("in"), in order. */
  readonly wire: { readonly dir: "out" | "in"; readonly message: Json }[];
  /** Sends one request as-is (no envelope added) and returns the JSON-RPC answer. */
  rawRequest(method: string, params: Json): Promise<Json>;
  close(): Promise<void>;
}

/** The envelope every request of the era carries; `tasks` declares the extension. */
export function meta(tasks: boolean): Json {
  return {
    "io.modelcontextprotocol/protocolVersion": VERSION,
    "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
    "io.modelcontextprotocol/clientCapabilities": tasks ? { extensions: { [TASKS]: {} } } : {},
  };
}

export async function connectModern(server: HttpServer): Promise<ModernClient> {
  const transport = new StreamableHTTPClientTransport(new URL(server.url), {
    requestInit: { headers: authHeaders(server) },
  });
  const wire: ModernClient["wire"] = [];
  const pending = new Map<string, (message: Json) => void>();
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    wire.push({ dir: "out", message: structuredClone(message) as Json });
    return send(message, options);
  };
  transport.onmessage = (message) => {
    const entry = structuredClone(message) as Json;
    wire.push({ dir: "in", message: entry });
    if (typeof entry.id === "string") pending.get(entry.id)?.(entry);
  };
  const client = new Client(CLIENT_INFO, { versionNegotiation: { mode: { pin: VERSION } } });
  // The raw ids never reach the client's own table; it reports them and goes on.
  client.onerror = () => {};
  await client.connect(transport);
  let next = 0;
  const rawRequest = async (method: string, params: Json): Promise<Json> => {
    const id = `raw-${next++}`;
    const answered = new Promise<Json>((resolve) => pending.set(id, resolve));
    await transport.send({ jsonrpc: "2.0", id, method, params });
    const answer = await answered;
    pending.delete(id);
    return answer;
  };
  const session = createTaskSessionFromClient(client, {
    endpointId: await createTaskSessionEndpointId("backburner-http-tests", { url: server.url }),
    rawDispatch: async (request) => {
      const { method, params } = request as { method: string; params: Json };
      const answer = await rawRequest(method, params);
      return ("error" in answer
        ? { kind: "error", error: answer.error }
        : { kind: "result", result: answer.result }) as JsonRpcResponse;
    },
    v2RequestFraming: { protocolVersion: VERSION, clientInfo: CLIENT_INFO, clientCapabilities: {} },
  });
  return {
    client,
    transport,
    session,
    wire,
    rawRequest,
    async close() {
      await session.close().catch(() => {});
      await client.close().catch(() => {});
    },
  };
}
