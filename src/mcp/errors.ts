/**
 * The one place the MCP layer turns an error into what a client sees: an isError tool result of
 * one sentence, or a JSON-RPC error with a code. An expected error (a BackburnerError) keeps its
 * sentence; anything else is a bug: its stack goes to stderr, and the client gets one sentence.
 *
 * @module
 */

import { type ErrorCode, isBackburnerError } from "../errors.ts";
import { type CallToolResult, ErrorCode as RpcCode, McpError } from "./sdk.ts";

/** MCP's error code for a resource that does not exist (specification, server/resources). */
export const RESOURCE_NOT_FOUND = -32002;

/** The code of an expected error (a BackburnerError), or null for a bug. */
export function expectedCode(error: unknown): ErrorCode | null {
  return isBackburnerError(error) ? error.code : null;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The sentence a client gets; a bug's stack goes to the log, never to the client. */
function sentence(
  error: unknown,
  code: ErrorCode | null,
  log: (message: string) => void,
  what: string,
): string {
  if (code !== null) return messageOf(error);
  log(`${what} failed: ${error instanceof Error ? error.stack : String(error)}`);
  const message = messageOf(error).split("\n")[0];
  return message === "" ? "Internal error: see the server's log" : message;
}

/** A tool's failure as an isError result of one sentence, which an agent can act on. */
export function toolError(error: unknown, log: (message: string) => void): CallToolResult {
  const code = expectedCode(error);
  return { isError: true, content: [{ type: "text", text: sentence(error, code, log, "tool") }] };
}

/** JSON-RPC codes per error code; what is not listed is -32603 (internal error). */
export interface RpcCodes {
  readonly unknown_task?: number;
}

/**
 * A failure of a protocol request (tasks/*, resources/*) as a JSON-RPC error: an unknown task is
 * -32602 unless `codes` says otherwise (resources: -32002); every other expected error, a request
 * that cannot be served as asked (a bad argument, a refusal, a failed start), -32602 as well; a
 * bug -32603.
 */
export function rpcError(
  error: unknown,
  log: (message: string) => void,
  options: { readonly codes?: RpcCodes; readonly data?: unknown } = {},
): McpError {
  if (error instanceof McpError) return error;
  const code = expectedCode(error);
  const message = sentence(error, code, log, "request");
  const rpc = code === null
    ? RpcCode.InternalError
    : code === "unknown_task"
    ? options.codes?.unknown_task ?? RpcCode.InvalidParams
    : RpcCode.InvalidParams;
  return new McpError(rpc, message, options.data);
}
