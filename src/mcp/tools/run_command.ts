import { z } from "zod";
import type { Engine } from "../../engine/engine.ts";
import { MAX_TIMEOUT_SECONDS } from "../../engine/requests.ts";
import { isTerminal, type Task } from "../../task.ts";
import { CommandResultSchema } from "../../views.ts";
import { rpcError } from "../errors.ts";
import type { McpServer } from "../sdk.ts";
import { protocolTaskOf } from "../tasks.ts";
import { commandResult, type ToolRegistration } from "./tool.ts";

/**
 * run_command: called plainly, runs the command and returns its result; called with a `task`
 * parameter, returns a task at once. Progress reaches a client that gave a progressToken. A
 * plain call whose request the client cancels cancels its task. Returns a function that stops
 * that, for a shutdown, which leaves the running tasks to BACKBURNER_ON_EXIT.
 */
export const registerRunCommand: ToolRegistration = (server, context) => {
  const { engine } = context;
  let shuttingDown = false;
  server.experimental.tasks.registerToolTask("run_command", {
    title: "Run a command",
    description:
      "Run a shell command and get its result (status, exit code, the end of its output). Clients that speak MCP tasks can call it as a task and poll or wait for the result; called plainly, it waits until the command ends, so prefer start_task for anything that may take more than a minute.",
    inputSchema: {
      command: z.string().describe('Shell command line, e.g. "make test"'),
      cwd: z.string().optional().describe("Working directory. Default: the server's"),
      timeout_seconds: z.number().positive().max(MAX_TIMEOUT_SECONDS).optional().describe(
        "Stop the task (whole process tree) after this many seconds",
      ),
      interactive: z.boolean().optional().describe(
        "Keep its stdin open for answers: as a task (2026-07-28), a prompt it prints makes the task input_required and tasks/update sends the answer; else answer with send_input. Default false",
      ),
    },
    outputSchema: CommandResultSchema.shape,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
    execution: { taskSupport: "optional" },
  }, {
    createTask: ({ command, cwd, timeout_seconds, interactive }, extra) => {
      let task: Task;
      try {
        task = engine.start({
          command,
          cwd,
          timeoutSeconds: timeout_seconds,
          interactive,
          ttlMs: (extra as { taskRequestedTtl?: number | null }).taskRequestedTtl ?? null,
        });
      } catch (error) {
        // A refusal is the same one-sentence error as start_task's, not a task.
        throw rpcError(error, context.log);
      }
      // A plain call's client learns the task id only from the result: once it cancels the
      // request (notifications/cancelled), nothing else would ever stop the task. A task call's
      // request is answered at once, so its signal never fires after this.
      const taskId = task.id;
      extra.signal.addEventListener("abort", () => {
        if (!shuttingDown) void cancelAbandoned(engine, taskId, context.log);
      }, { once: true });
      const progressToken = extra._meta?.progressToken;
      if (progressToken !== undefined) {
        reportProgress(server, engine, task.id, progressToken, context.log);
      }
      return { task: protocolTaskOf(engine, task) };
    },
    getTask: (_args, extra) => {
      return protocolTaskOf(engine, engine.status(extra.taskId).task);
    },
    getTaskResult: async (_args, extra) => await commandResult(engine, extra.taskId),
  });
  return () => {
    shuttingDown = true;
  };
};

async function cancelAbandoned(
  engine: Engine,
  taskId: string,
  log: (message: string) => void,
): Promise<void> {
  try {
    if (isTerminal(engine.status(taskId).task.status)) return;
    await engine.cancel(taskId);
    log(`task ${taskId} cancelled: the client cancelled the run_command call that started it`);
  } catch (error) {
    log(
      `cannot cancel task ${taskId} after its run_command call was cancelled: ${
        error instanceof Error ? error.message : error
      }`,
    );
  }
}

/** Sends notifications/progress from the parsed progress, once a second, until the task ends. */
export function reportProgress(
  server: McpServer,
  engine: Engine,
  taskId: string,
  progressToken: string | number,
  log: (message: string) => void,
): void {
  // The protocol wants progress to grow with every notification.
  let sent = -Infinity;
  const timer = setInterval(async () => {
    try {
      const { task, output } = await engine.inspect(taskId);
      const progress = output.progress;
      const value = progress?.percent ?? progress?.current;
      if (progress && value !== undefined && value > sent) {
        sent = value;
        await server.server.notification({
          method: "notifications/progress",
          params: {
            progressToken,
            progress: value,
            total: progress.percent !== undefined ? 100 : progress.total,
            message: progress.message,
          },
        });
      }
      if (isTerminal(task.status)) clearInterval(timer);
    } catch (error) {
      clearInterval(timer);
      log(`progress of task ${taskId} stopped: ${error instanceof Error ? error.message : error}`);
    }
  }, 1000);
  Deno.unrefTimer(timer);
}
