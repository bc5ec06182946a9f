/**
 * The protocol's own tasks (revision 2025-11-25): a TaskStore over the engine, so tasks/get,
 * tasks/result, tasks/list and tasks/cancel see the same tasks, ids and SQLite store as the plain
 * tools, and `run_command`, a tool that runs plainly or as a task.
 */
import { z } from "zod";
import type { Engine } from "../engine/engine.ts";
import { describe, isTaskId, isTerminal, type Task } from "../task.ts";
import {
  ErrorCode,
  McpError,
  type McpServer,
  type ProtocolTask,
  type Result,
  type TaskStore,
} from "./sdk.ts";
import { commandResult, commandResultShape } from "./tools.ts";

/** What clients are told to wait between tasks/get calls. */
export const POLL_INTERVAL_MS = 500;
const PAGE_SIZE = 50;

/**
 * The protocol's view of a task: its five statuses, with ours folded in and explained. A task
 * started without a protocol ttl is kept for the retention period after it ends: its ttl (from
 * creation) is reported as that, counted from its end or, while it runs, from now.
 */
export function toProtocolTask(task: Task, retentionMs: number): ProtocolTask {
  const base = {
    taskId: task.id,
    createdAt: new Date(task.createdAt).toISOString(),
    lastUpdatedAt: new Date(task.endedAt ?? task.startedAt ?? task.createdAt).toISOString(),
    ttl: task.ttlMs ?? (task.endedAt ?? Date.now()) - task.createdAt + retentionMs,
    pollInterval: POLL_INTERVAL_MS,
  };
  switch (task.status) {
    case "working":
      return { ...base, status: "working" };
    case "completed":
      return { ...base, status: "completed", statusMessage: "The command exited with code 0" };
    case "cancelled":
      return {
        ...base,
        status: "cancelled",
        statusMessage: task.statusMessage ?? "Cancelled",
      };
    case "failed":
      return { ...base, status: "failed", statusMessage: `failed: ${describe(task)}` };
    case "timed_out":
      return {
        ...base,
        status: "failed",
        statusMessage: `timed_out: ${task.statusMessage ?? "the task ran past its timeout"}`,
      };
    case "interrupted":
      return {
        ...base,
        status: "failed",
        statusMessage: `interrupted: ${task.statusMessage ?? "its processes vanished"}`,
      };
  }
}

function encodeCursor(task: Task): string {
  return btoa(JSON.stringify([task.createdAt, task.id]));
}

function decodeCursor(cursor: string): { createdAt: number; id: string } {
  try {
    const [createdAt, id] = JSON.parse(atob(cursor));
    if (typeof createdAt === "number" && typeof id === "string" && isTaskId(id)) {
      return { createdAt, id };
    }
  } catch {
    // fall through to the error below
  }
  throw new McpError(ErrorCode.InvalidParams, `Invalid cursor "${cursor.slice(0, 80)}"`);
}

/**
 * The SDK answers tasks/get, tasks/result, tasks/list and tasks/cancel from this store; every
 * answer comes from the engine, and a cancel reaches the processes through it. Over stdio there
 * is one session, and every task is visible to it, whichever tool or server started it.
 */
export class EngineTaskStore implements TaskStore {
  readonly #engine: Engine;

  constructor(engine: Engine) {
    this.#engine = engine;
  }

  #find(taskId: string): Task | null {
    if (!isTaskId(taskId)) return null;
    try {
      return this.#engine.status(taskId).task;
    } catch {
      return null;
    }
  }

  createTask(): Promise<ProtocolTask> {
    // Tasks are created by run_command through the engine, never through the store.
    return Promise.reject(
      new McpError(ErrorCode.InvalidRequest, "Tasks are created by calling run_command"),
    );
  }

  getTask(taskId: string): Promise<ProtocolTask | null> {
    const task = this.#find(taskId);
    return Promise.resolve(task && toProtocolTask(task, this.#engine.retentionMs));
  }

  storeTaskResult(): Promise<void> {
    // The engine records every end itself; results are read back from its log and record.
    return Promise.resolve();
  }

  async getTaskResult(taskId: string): Promise<Result> {
    if (!this.#find(taskId)) {
      throw new McpError(ErrorCode.InvalidParams, `Task not found: ${taskId}`);
    }
    return await commandResult(this.#engine, taskId);
  }

  async updateTaskStatus(taskId: string, status: ProtocolTask["status"]): Promise<void> {
    // Only a cancel comes from outside; every other change is the engine's to make.
    if (status !== "cancelled") return;
    const task = this.#find(taskId);
    if (!task) throw new McpError(ErrorCode.InvalidParams, `Task not found: ${taskId}`);
    if (!isTerminal(task.status)) await this.#engine.cancel(taskId);
  }

  listTasks(cursor?: string): Promise<{ tasks: ProtocolTask[]; nextCursor?: string }> {
    const before = cursor === undefined ? undefined : decodeCursor(cursor);
    const { tasks } = this.#engine.list({ limit: PAGE_SIZE + 1, before });
    const page = tasks.slice(0, PAGE_SIZE);
    return Promise.resolve({
      tasks: page.map((task) => toProtocolTask(task, this.#engine.retentionMs)),
      nextCursor: tasks.length > PAGE_SIZE ? encodeCursor(page[page.length - 1]) : undefined,
    });
  }
}

export interface TaskToolsOptions {
  readonly log: (message: string) => void;
}

/**
 * run_command: called plainly, runs the command and returns its result; called with a `task`
 * parameter, returns a task at once. Progress reaches a client that gave a progressToken. A
 * plain call whose request the client cancels cancels its task. Returns a function that stops
 * that, for a shutdown, which leaves the running tasks to BACKBURNER_ON_EXIT.
 */
export function registerRunCommand(
  server: McpServer,
  engine: Engine,
  options: TaskToolsOptions,
): () => void {
  let shuttingDown = false;
  server.experimental.tasks.registerToolTask("run_command", {
    title: "Run a command",
    description:
      "Run a shell command and get its result (status, exit code, the end of its output). Clients that speak MCP tasks can call it as a task and poll or wait for the result; called plainly, it waits until the command ends, so prefer start_task for anything that may take more than a minute.",
    inputSchema: {
      command: z.string().describe('Shell command line, e.g. "make test"'),
      cwd: z.string().optional().describe("Working directory. Default: the server's"),
      timeout_seconds: z.number().optional().describe(
        "Stop the task (whole process tree) after this many seconds",
      ),
    },
    outputSchema: commandResultShape,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
    execution: { taskSupport: "optional" },
  }, {
    createTask: ({ command, cwd, timeout_seconds }, extra) => {
      let task: Task;
      try {
        task = engine.start({
          command,
          cwd,
          timeoutSeconds: timeout_seconds,
          ttlMs: (extra as { taskRequestedTtl?: number | null }).taskRequestedTtl ?? null,
        });
      } catch (error) {
        // A refusal is the same one-sentence error as start_task's, not a task.
        throw new McpError(
          ErrorCode.InvalidParams,
          error instanceof Error ? error.message : String(error),
        );
      }
      // A plain call's client learns the task id only from the result: once it cancels the
      // request (notifications/cancelled), nothing else would ever stop the task. A task call's
      // request is answered at once, so its signal never fires after this.
      const taskId = task.id;
      extra.signal.addEventListener("abort", () => {
        if (!shuttingDown) void cancelAbandoned(engine, taskId, options.log);
      }, { once: true });
      const progressToken = extra._meta?.progressToken;
      if (progressToken !== undefined) {
        reportProgress(server, engine, task.id, progressToken, options.log);
      }
      return { task: toProtocolTask(task, engine.retentionMs) };
    },
    getTask: (_args, extra) => {
      const task = engine.status(extra.taskId).task;
      return toProtocolTask(task, engine.retentionMs);
    },
    getTaskResult: async (_args, extra) => await commandResult(engine, extra.taskId),
  });
  return () => {
    shuttingDown = true;
  };
}

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
function reportProgress(
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

/** notifications/tasks/status for every status change this server records. */
export function announceTaskStatus(server: McpServer, engine: Engine): () => void {
  return engine.onChange((id) => {
    try {
      const task = toProtocolTask(engine.status(id).task, engine.retentionMs);
      void server.server.notification({ method: "notifications/tasks/status", params: task })
        .catch(() => {});
    } catch {
      // Removed meanwhile: nothing to announce.
    }
  });
}
