/**
 * The 2026-07-28 era: stateless requests that each carry their protocol version and the client's
 * capabilities in `_meta`, `server/discover`, the tools of tools/list.ts (the same definitions the
 * legacy server serves), and the Tasks extension. Written against the specification rather than
 * on the v2 SDK's server: that package has no tasks runtime, turns every error a tool throws into
 * a tool result (the extension needs -32021 and -32602 as protocol errors), would add a second
 * copy of the SDK to load, and the era's base protocol here is a handful of methods.
 *
 * @module
 */

import type { Engine } from "../../engine/engine.ts";
import { waitForTasks } from "../../engine/wait.ts";
import { MODERN_VERSION, type ModernHandler, PROTOCOL_VERSION_KEY } from "../eras.ts";
import { McpError } from "../sdk.ts";
import type { JSONRPCMessage, RequestId } from "../sdk.ts";
import { FixtureTools } from "../fixtures/fixtures.ts";
import { argumentsProblem } from "../tools/call_screen.ts";
import type { ToolRegistration } from "../tools/tool.ts";
import { MISSING_CAPABILITY, ModernTasks, RpcFailure, TASKS_EXTENSION } from "./tasks.ts";
import { collectTools, type ToolExtra } from "./tool_host.ts";

const CLIENT_CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities";
const SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo";
/** JSON-RPC -32022: the request names a protocol version this server does not speak. */
const UNSUPPORTED_VERSION = -32022;
/** How long a client may keep server/discover and tools/list: the tools change only on upgrade. */
const LIST_TTL_MS = 5 * 60 * 1000;

export interface ModernServerOptions {
  readonly engine: Engine;
  readonly name: string;
  readonly version: string;
  readonly instructions: string;
  readonly tools: readonly ToolRegistration[];
  readonly log: (message: string) => void;
  /**
   * Test only: also serve the conformance suite's fixture tools (src/mcp/fixtures/), which only
   * `serve --http … --conformance-fixtures` turns on. Default false
   */
  readonly fixtures?: boolean;
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Whether the request's client declared the Tasks extension. */
function declaresTasks(meta: Json): boolean {
  const capabilities = meta[CLIENT_CAPABILITIES_KEY];
  return isRecord(capabilities) && isRecord(capabilities.extensions) &&
    isRecord(capabilities.extensions[TASKS_EXTENSION]);
}

/** The request's `_meta` envelope, checked: what every request of this era must carry. */
function envelope(params: Json): Json {
  const meta = params._meta;
  if (!isRecord(meta) || meta[PROTOCOL_VERSION_KEY] === undefined) {
    throw new RpcFailure(
      -32602,
      `The request has no _meta["${PROTOCOL_VERSION_KEY}"]: send "${MODERN_VERSION}" in every request's _meta, or call initialize first`,
    );
  }
  const requested = meta[PROTOCOL_VERSION_KEY];
  if (requested !== MODERN_VERSION) {
    throw new RpcFailure(
      UNSUPPORTED_VERSION,
      `Protocol version ${
        JSON.stringify(requested)
      } is not supported: send "${MODERN_VERSION}", or call initialize for 2025-11-25`,
      { supported: [MODERN_VERSION], requested },
    );
  }
  if (!isRecord(meta[CLIENT_CAPABILITIES_KEY])) {
    throw new RpcFailure(
      -32602,
      `The request has no _meta["${CLIENT_CAPABILITIES_KEY}"]: send the client's capabilities (an object) in every request's _meta`,
    );
  }
  return meta;
}

/** Sends a notification related to the request being answered (progress). */
export type Notify = (notification: { method: string; params?: object }) => Promise<void>;

/**
 * The era's methods, each answered on its own from the engine: what the stdio handler below and
 * the HTTP face (src/http/modern.ts) both serve. `dispatch` throws RpcFailure or McpError for a
 * protocol error; `abort` stops the call in flight with that request id (notifications/cancelled).
 */
export interface ModernDispatcher {
  dispatch(id: RequestId, method: string, params: Json, notify: Notify): Promise<Json>;
  abort(requestId: RequestId): void;
}

/** The dispatcher over the engine; `send` carries notifications the tools send on their own. */
export function createModernDispatcher(
  options: ModernServerOptions,
  send: (message: JSONRPCMessage) => Promise<void>,
): ModernDispatcher {
  const { engine, log } = options;
  const tools = collectTools(options.tools, { engine, log }, send);
  const tasks = new ModernTasks(engine);
  const fixtures = options.fixtures ? new FixtureTools({ engine, tasks, log }) : null;
  const running = new Map<RequestId, AbortController>();

  const discover = (): Json => ({
    resultType: "complete",
    supportedVersions: [MODERN_VERSION],
    capabilities: { tools: {}, extensions: { [TASKS_EXTENSION]: {} } },
    instructions: options.instructions,
    ttlMs: LIST_TTL_MS,
    cacheScope: "public",
    _meta: { [SERVER_INFO_KEY]: { name: options.name, version: options.version } },
  });

  const callTool = async (
    id: RequestId,
    params: Json,
    meta: Json,
    notify: Notify,
  ): Promise<Json> => {
    if (fixtures?.has(params.name)) return await fixtures.call(params, declaresTasks(meta));
    const tool = typeof params.name === "string" ? tools.get(params.name) : undefined;
    if (!tool) {
      throw new RpcFailure(
        -32602,
        `Unknown tool ${
          JSON.stringify(params.name)
        }: call tools/list for the tools this server has`,
      );
    }
    const given = params.arguments ?? {};
    const problem = typeof given === "object" && given !== null && !Array.isArray(given)
      ? argumentsProblem(tool.name, tool.input, given as Record<string, unknown>)
      : `${tool.name} takes its arguments as an object: pass them as tools/list shows`;
    if (problem !== null) {
      return { resultType: "complete", isError: true, content: [{ type: "text", text: problem }] };
    }
    const args = tool.input.parse(params.arguments ?? {});
    const controller = new AbortController();
    running.set(id, controller);
    const extra: ToolExtra = {
      signal: controller.signal,
      _meta: meta,
      taskRequestedTtl: null,
      sendNotification: notify,
    };
    try {
      if (tool.call) return { resultType: "complete", ...await tool.call(args, extra) };
      if (!tool.task) throw new Error(`Tool ${tool.name} has no handler`);
      const { task } = await tool.task.createTask(args, extra);
      // A task only for a request that opted in (the extension's rule); others wait for the end.
      if (declaresTasks(meta)) return tasks.created(task.taskId);
      await waitForTasks(engine, { taskIds: [task.taskId], mode: "all", timeoutMs: Infinity });
      const result = await tool.task.getTaskResult(args, { ...extra, taskId: task.taskId });
      return { resultType: "complete", ...result };
    } finally {
      running.delete(id);
    }
  };

  const requireTasks = (meta: Json, method: string) => {
    if (declaresTasks(meta)) return;
    throw new RpcFailure(
      MISSING_CAPABILITY,
      `${method} needs the tasks extension: declare "${TASKS_EXTENSION}" in _meta["${CLIENT_CAPABILITIES_KEY}"].extensions`,
      { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } },
    );
  };

  const dispatch: ModernDispatcher["dispatch"] = async (id, method, params, notify) => {
    if (method === "server/discover") return discover();
    const meta = envelope(params);
    switch (method) {
      case "tools/list":
        return {
          resultType: "complete",
          tools: [
            ...[...tools.values()].map((tool) => tool.listing),
            ...fixtures?.listings() ?? [],
          ],
          ttlMs: LIST_TTL_MS,
          cacheScope: "public",
        };
      case "tools/call":
        return await callTool(id, params, meta, notify);
      case "tasks/get":
        requireTasks(meta, method);
        return fixtures
          ? fixtures.decorate(await tasks.get(params.taskId))
          : await tasks.get(params.taskId);
      case "tasks/update": {
        requireTasks(meta, method);
        const ack = await tasks.update(params.taskId, params.inputResponses);
        fixtures?.update(String(params.taskId), params.inputResponses);
        return ack;
      }
      case "tasks/cancel":
        requireTasks(meta, method);
        return await tasks.cancel(params.taskId);
      case "tasks/result":
      case "tasks/list":
        throw new RpcFailure(
          -32601,
          `Method not found: ${method} is not part of the 2026-07-28 tasks extension; call tasks/get with the taskId, whose answer holds the result once the task ends`,
        );
      default:
        throw new RpcFailure(-32601, `Method not found: ${method}`);
    }
  };

  return {
    dispatch,
    abort(requestId) {
      running.get(requestId)?.abort();
    },
  };
}

/** A protocol error as JSON-RPC error fields, or null for an error that is not one (a bug). */
export function rpcError(error: unknown): { code: number; message: string; data?: unknown } | null {
  if (!(error instanceof RpcFailure || error instanceof McpError)) return null;
  const data = error.data === undefined ? {} : { data: error.data };
  return { code: error.code, message: error.message.replace(/MCP error -?\d+: /g, ""), ...data };
}

/** The modern era's handler on a stream (stdio): answers each message on its own. */
export function createModernHandler(
  options: ModernServerOptions,
  send: (message: JSONRPCMessage) => Promise<void>,
): ModernHandler {
  const dispatcher = createModernDispatcher(options, send);
  const notify: Notify = (notification) =>
    send({ jsonrpc: "2.0", ...notification } as JSONRPCMessage);
  return {
    async handle(message) {
      if (!("method" in message)) return null;
      const params = isRecord(message.params) ? message.params : {};
      if (!("id" in message)) {
        if (message.method === "notifications/cancelled") {
          dispatcher.abort(params.requestId as RequestId);
        }
        return null;
      }
      try {
        const result = await dispatcher.dispatch(message.id, message.method, params, notify);
        return { jsonrpc: "2.0", id: message.id, result } as JSONRPCMessage;
      } catch (error) {
        const failure = rpcError(error);
        if (failure === null) throw error;
        return { jsonrpc: "2.0", id: message.id, error: failure } as JSONRPCMessage;
      }
    },
  };
}
