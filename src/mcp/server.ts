import type { Engine } from "../engine/engine.ts";
import { registerTaskResources } from "./resources.ts";
import { EraRouter } from "./eras.ts";
import { ScreenedTransport } from "./screen.ts";
import { McpServer, type Transport } from "./sdk.ts";
import { announceTaskStatus, EngineTaskStore } from "./tasks.ts";
import { registeredTools, screenToolCall } from "./tools/call_screen.ts";
import { LEGACY_FIXTURES } from "./fixtures/legacy.ts";
import { TOOLS } from "./tools/list.ts";

export const SERVER_NAME = "backburner";

export const INSTRUCTIONS =
  "backburner runs shell commands in the background. Use start_task for anything slow (tests, builds, installs), keep working, then use wait_for_task, task_status or task_result to collect the result, cancel_task to stop it, list_tasks to find tasks again. A task started with interactive: true can be answered at a prompt with send_input.";

export interface ServerOptions {
  readonly engine: Engine;
  readonly version: string;
  readonly log: (message: string) => void;
  /** Test only: also serve the conformance fixtures in the 2026-07-28 era. Default false */
  readonly fixtures?: boolean;
}

export interface BackburnerServer {
  readonly server: McpServer;
  /**
   * Serves on a transport, in the era its client opens with (eras.ts): 2025-11-25 by this
   * server, 2026-07-28 by the modern handler, loaded then. Malformed requests are answered
   * before any handler sees them.
   */
  connect(transport: Transport): Promise<void>;
  /** Stops the resources' watches and the status announcements. */
  dispose(): void;
}

/** An MCP server exposing the engine; connect it to any transport. Close it with `dispose`. */
export function createMcpServer(options: ServerOptions): BackburnerServer {
  const server = new McpServer(
    { name: SERVER_NAME, version: options.version },
    {
      capabilities: {
        // Revision 2025-11-25 tasks: the SDK serves tasks/* from the store, which is the engine.
        tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
      },
      taskStore: new EngineTaskStore(options.engine),
      instructions: INSTRUCTIONS,
    },
  );
  const context = { engine: options.engine, log: options.log };
  const registrations = options.fixtures ? [...TOOLS, ...LEGACY_FIXTURES] : TOOLS;
  const stopTools = registrations.map((register) => register(server, context));
  const stopResources = registerTaskResources(server, options.engine, options.log);
  const stopAnnouncing = announceTaskStatus(server, options.engine);
  const tool = registeredTools(server);
  return {
    server,
    connect(transport) {
      const router = new EraRouter(transport, async (send) => {
        const { createModernHandler } = await import("./modern/server.ts");
        return createModernHandler({
          engine: options.engine,
          name: SERVER_NAME,
          version: options.version,
          instructions: INSTRUCTIONS,
          tools: TOOLS,
          log: options.log,
          fixtures: options.fixtures,
        }, send);
      });
      return server.connect(
        new ScreenedTransport(
          router,
          (method) => hasHandler(server, method),
          (params) => screenToolCall(tool(params.name), params),
        ),
      );
    },
    dispose() {
      for (const stop of stopTools) stop?.();
      stopResources();
      stopAnnouncing();
    },
  };
}

function hasHandler(server: McpServer, method: string): boolean {
  // The SDK tells whether a method has a handler only by refusing to let one be set twice.
  try {
    server.server.assertCanSetRequestHandler(method);
    return false;
  } catch {
    return true;
  }
}
