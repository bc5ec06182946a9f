/**
 * The 2026-07-28 era over HTTP: the v2 SDK's per-request handler (createMcpHandler) does the
 * transport — the MCP-Protocol-Version, Mcp-Method and Mcp-Name headers and their -32020
 * mismatches, the envelope checks, 405 for GET and DELETE, JSON or an SSE stream per response —
 * and each request is answered by a fresh low-level server whose methods go to the same
 * dispatcher stdio's modern era uses (src/mcp/modern/server.ts), so both faces answer alike.
 *
 * @module
 */

import { z } from "zod";
import {
  createModernDispatcher,
  type ModernServerOptions,
  rpcError,
} from "../mcp/modern/server.ts";
import { TASKS_EXTENSION } from "../mcp/modern/tasks.ts";
import {
  createMcpHandler,
  type McpHttpHandler,
  ModernServer,
  ProtocolError,
  type ServerContext,
} from "./sdk.ts";

type Json = Record<string, unknown>;

export interface ModernLegOptions extends ModernServerOptions {
  /** Largest request body, in bytes; larger is answered 413. */
  readonly maxBodyBytes: number;
  /** Interval of SSE keep-alive comments, in ms. */
  readonly keepAliveMs: number;
}

/** The era's handler: `fetch` answers one HTTP request; `close` ends the exchanges in flight. */
export function createModernLeg(options: ModernLegOptions): McpHttpHandler {
  // Tools notify within the request they answer, so nothing is sent outside one.
  const dispatcher = createModernDispatcher(options, () => Promise.resolve());
  let exchanges = 0;

  const serve = async (method: string, params: Json, ctx: ServerContext): Promise<Json> => {
    // Ids are the client's and repeat across clients: the dispatcher gets one of its own.
    const id = `http-${++exchanges}`;
    const request = ctx.http?.req;
    const onGone = () => dispatcher.abort(id);
    request?.signal.addEventListener("abort", onGone, { once: true });
    try {
      const given = ctx.mcpReq.inputResponses === undefined
        ? params
        : { ...params, inputResponses: ctx.mcpReq.inputResponses };
      return await dispatcher.dispatch(
        id,
        method,
        // The SDK takes the envelope (protocol version, client capabilities and info) out of
        // _meta; the dispatcher reads the request as it was sent.
        {
          ...given,
          _meta: { ...params._meta as Json, ...ctx.mcpReq._meta, ...ctx.mcpReq.envelope },
        },
        (notification) =>
          ctx.mcpReq.notify(notification as Parameters<typeof ctx.mcpReq.notify>[0]),
      );
    } catch (error) {
      const failure = rpcError(error);
      if (failure === null) throw error;
      throw new ProtocolError(failure.code, failure.message, failure.data);
    } finally {
      request?.signal.removeEventListener("abort", onGone);
    }
  };

  const factory = () => {
    const server = new ModernServer(
      { name: options.name, version: options.version },
      {
        capabilities: { tools: {}, extensions: { [TASKS_EXTENSION]: {} } },
        instructions: options.instructions,
      },
    );
    const paramsOf = (request: { params?: unknown }) =>
      (typeof request.params === "object" && request.params !== null ? request.params : {}) as Json;
    server.setRequestHandler(
      "tools/list",
      (request, ctx) => serve("tools/list", paramsOf(request), ctx) as never,
    );
    server.setRequestHandler(
      "tools/call",
      (request, ctx) => serve("tools/call", paramsOf(request), ctx) as never,
    );
    const taskParams = z.looseObject({});
    for (const method of ["tasks/get", "tasks/update", "tasks/cancel"]) {
      server.setRequestHandler(
        method,
        { params: taskParams },
        (params, ctx) => serve(method, params as Json, ctx as ServerContext),
      );
    }
    return server;
  };

  return createMcpHandler(factory, {
    legacy: "reject",
    maxRequestBodySize: options.maxBodyBytes,
    keepAliveMs: options.keepAliveMs,
    onerror: (error) => {
      // Rejected requests are the client's business (their answer says why); a bug is ours.
      if (!/^Rejected inbound request/.test(error.message)) {
        options.log(`http: modern era: ${error.message}`);
      }
    },
  });
}
