/** What every tool shares: its dependencies, the shape of a reply, the task_id input. */

import { z } from "zod";
import type { Engine } from "../../engine/engine.ts";
import { BackburnerError } from "../../errors.ts";
import { compileLinePattern } from "../../logs/pattern.ts";
import { viewResult } from "../../views.ts";
import { toolError } from "../errors.ts";
import type { CallToolResult, McpServer } from "../sdk.ts";

/** What a tool's handler may use; passed in, never global. */
export interface ToolContext {
  readonly engine: Engine;
  readonly log: (message: string) => void;
}

/**
 * Registers one tool on a server; returns a function that stops what it keeps running (for a
 * shutdown), if anything.
 */
export type ToolRegistration = (server: McpServer, context: ToolContext) => (() => void) | void;

export const taskIdInput = z.string().describe(
  'The task_id that start_task returned, e.g. "k3x9m2p7q4wz"',
);

/** The input of a tool that takes a task_id and nothing else. */
export const taskIdOnlyInput = { task_id: taskIdInput };

function reply(structured: object): CallToolResult {
  return {
    content: [{ type: "text", text: JSON.stringify(structured, null, 2) }],
    structuredContent: structured as Record<string, unknown>,
  };
}

/**
 * Runs a handler that just throws on error, and turns an error into an isError result of one
 * sentence (see errors.ts).
 */
export async function guarded(
  context: ToolContext,
  handler: () => Promise<object> | object,
): Promise<CallToolResult> {
  try {
    return reply(await handler());
  } catch (error) {
    return toolError(error, context.log);
  }
}

/** What run_command returns, plain or as a task's result: an error result when it did not succeed. */
export async function commandResult(engine: Engine, id: string): Promise<CallToolResult> {
  const structured = viewResult(await engine.output(id));
  return { ...reply(structured), isError: structured.status !== "completed" };
}

/**
 * An agent's regex, or an error saying what is wrong with it: invalid, or one that could only
 * be matched by backtracking without bound (see pattern.ts), refused before any output is read.
 */
export function toolPattern(source: string): RegExp {
  if (source.length === 0 || source.length > 1000) {
    throw new BackburnerError(
      "invalid_argument",
      "The pattern must be 1 to 1000 characters: pass a regular expression",
    );
  }
  return new RegExp(compileLinePattern(source).source);
}
