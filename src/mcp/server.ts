import type { Engine } from "../engine.ts";
import { McpServer } from "./sdk.ts";
import { registerTaskTools } from "./tools.ts";

export const SERVER_NAME = "backburner";

export interface ServerOptions {
  readonly engine: Engine;
  readonly version: string;
  readonly log: (message: string) => void;
}

/** An MCP server exposing the engine; connect it to any transport. */
export function createMcpServer(options: ServerOptions): McpServer {
  const server = new McpServer(
    { name: SERVER_NAME, version: options.version },
    {
      instructions:
        "backburner runs shell commands in the background. Use start_task for anything slow (tests, builds, installs), keep working, then use task_status / task_result to collect the result, cancel_task to stop it, list_tasks to find tasks again.",
    },
  );
  registerTaskTools(server, options.engine, options.log);
  return server;
}
