/**
 * The tools of tools/list.ts, registered once more for the modern era: each registration runs
 * against this host, which keeps the definition (schemas, annotations) and the handler instead of
 * serving them itself, so both eras serve the same definition of each tool.
 *
 * @module
 */

import { z } from "zod";
import type { CallToolResult, JSONRPCMessage, McpServer } from "../sdk.ts";
import type { ToolContext, ToolRegistration } from "../tools/tool.ts";

type Shape = Record<string, z.ZodType>;

/** What a handler is given beside its arguments: the members the tools read of the SDK's extra. */
export interface ToolExtra {
  readonly signal: AbortSignal;
  readonly _meta?: Record<string, unknown>;
  readonly taskRequestedTtl?: number | null;
  sendNotification(notification: { method: string; params?: object }): Promise<void>;
}

interface ToolConfig {
  readonly title?: string;
  readonly description?: string;
  readonly inputSchema?: Shape;
  readonly outputSchema?: Shape;
  readonly annotations?: Record<string, unknown>;
}

/** A tool whose call can be a task (run_command): it starts one and its result is read later. */
export interface TaskHandlers {
  createTask(args: unknown, extra: ToolExtra): Promise<{ task: { taskId: string } }> | {
    task: { taskId: string };
  };
  getTaskResult(args: unknown, extra: ToolExtra & { taskId: string }): Promise<CallToolResult>;
}

export interface ModernTool {
  readonly name: string;
  /** The tool as tools/list shows it. */
  readonly listing: Record<string, unknown>;
  readonly input: z.ZodType;
  /** Set for a plain tool. */
  readonly call?: (args: unknown, extra: ToolExtra) => Promise<CallToolResult> | CallToolResult;
  /** Set for a tool that may run as a task. */
  readonly task?: TaskHandlers;
}

function listing(name: string, config: ToolConfig): Record<string, unknown> {
  const input = z.object(config.inputSchema ?? {});
  return {
    name,
    ...(config.title === undefined ? {} : { title: config.title }),
    ...(config.description === undefined ? {} : { description: config.description }),
    inputSchema: z.toJSONSchema(input, { io: "input" }),
    ...(config.outputSchema === undefined
      ? {}
      : { outputSchema: z.toJSONSchema(z.object(config.outputSchema), { io: "output" }) }),
    ...(config.annotations === undefined ? {} : { annotations: config.annotations }),
  };
}

/** Runs every registration against a host and returns the tools it collected, by name. */
export function collectTools(
  registrations: readonly ToolRegistration[],
  context: ToolContext,
  send: (message: JSONRPCMessage) => Promise<void>,
): Map<string, ModernTool> {
  const tools = new Map<string, ModernTool>();
  const add = (name: string, config: ToolConfig, handlers: Partial<ModernTool>) => {
    tools.set(name, {
      name,
      listing: listing(name, config),
      input: z.object(config.inputSchema ?? {}),
      ...handlers,
    });
  };
  const notify = (notification: { method: string; params?: object }) =>
    send({ jsonrpc: "2.0", ...notification } as JSONRPCMessage);
  const host = {
    registerTool(name: string, config: ToolConfig, call: ModernTool["call"]) {
      add(name, config, { call });
    },
    experimental: {
      tasks: {
        registerToolTask(name: string, config: ToolConfig, task: TaskHandlers) {
          add(name, config, { task });
        },
      },
    },
    server: { notification: notify },
  };
  // The registrations use only these members of the SDK's McpServer (registerTool,
  // experimental.tasks.registerToolTask, server.notification), so the host stands in for it.
  for (const register of registrations) register(host as unknown as McpServer, context);
  return tools;
}
