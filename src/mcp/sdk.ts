// The SDK's "./*" export maps types to "./dist/esm/*.d.ts", so a subpath imported with its ".js"
// ending loses its types under Deno. This module is the one place that imports SDK subpaths,
// each with a @ts-types pointing at the extension-less subpath, whose types resolve.

// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/server/mcp"
export { McpServer, ResourceTemplate } from "npm:@modelcontextprotocol/sdk@1.32.2/server/mcp.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/shared/transport"
export type { Transport } from "npm:@modelcontextprotocol/sdk@1.32.2/shared/transport.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/types"
export type { CallToolResult } from "npm:@modelcontextprotocol/sdk@1.32.2/types.js";
export type {
  CreateTaskOptions,
  TaskStore,
} from "npm:@modelcontextprotocol/sdk@1.32.2/experimental/tasks";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/types"
export type {
  JSONRPCErrorResponse,
  JSONRPCMessage,
  ReadResourceResult,
  Request,
  RequestId,
  Result,
  Task as ProtocolTask,
} from "npm:@modelcontextprotocol/sdk@1.32.2/types.js";
// @ts-types="npm:@modelcontextprotocol/sdk@1.32.2/types"
export {
  ClientRequestSchema,
  ErrorCode,
  JSONRPCErrorResponseSchema,
  JSONRPCMessageSchema,
  JSONRPCNotificationSchema,
  JSONRPCRequestSchema,
  JSONRPCResultResponseSchema,
  ListResourcesRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from "npm:@modelcontextprotocol/sdk@1.32.2/types.js";
