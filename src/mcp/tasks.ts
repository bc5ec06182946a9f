/**
 * The protocol's own tasks (revision 2025-11-25): a TaskStore over the engine, so tasks/get,
 * tasks/result, tasks/list and tasks/cancel see the same tasks, ids and SQLite store as the plain
 * tools (run_command, in tools/, starts them).
 */
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
import { expectedCode } from "./errors.ts";
import { queuedReason, type QueueWait, queueWait } from "../views.ts";
import { commandResult } from "./tools/tool.ts";

/** What clients are told to wait between tasks/get calls. */
export const POLL_INTERVAL_MS = 500;
const PAGE_SIZE = 50;

/**
 * The protocol's view of a task: its five statuses, with ours folded in and explained (a queued
 * task is working, and its statusMessage says why it waits: `wait`, from engine.queueState). A
 * task started without a protocol ttl is kept for the retention period after it ends: its ttl
 * (from creation) is reported as that, counted from its end or, while it runs, from now.
 */
export function toProtocolTask(
  task: Task,
  retentionMs: number,
  wait: QueueWait | null = null,
): ProtocolTask {
  const base = {
    taskId: task.id,
    createdAt: new Date(task.createdAt).toISOString(),
    lastUpdatedAt: new Date(task.endedAt ?? task.startedAt ?? task.createdAt).toISOString(),
    ttl: task.ttlMs ?? (task.endedAt ?? Date.now()) - task.createdAt + retentionMs,
    pollInterval: POLL_INTERVAL_MS,
  };
  switch (task.status) {
    case "queued":
      return {
        ...base,
        status: "working",
        statusMessage: `queued: ${queuedReason(task, wait, Date.now())}`,
      };
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

/** The protocol's view of a task as the engine stands now (why it waits, when queued). */
export function protocolTaskOf(engine: Engine, task: Task): ProtocolTask {
  return toProtocolTask(task, engine.retentionMs, queueWait(engine, task));
}

/** A keyset cursor: the page after it starts below this task, newest first. */
export function encodeCursor(task: Task): string {
  return btoa(JSON.stringify([task.createdAt, task.id]));
}

export function decodeCursor(cursor: string): { createdAt: number; id: string } {
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
    } catch (error) {
      // status() throws for no such task; an untyped throw of today's engine means just that.
      if (expectedCode(error) === "unknown_task") return null;
      throw error;
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
    return Promise.resolve(task && protocolTaskOf(this.#engine, task));
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
      tasks: page.map((task) => protocolTaskOf(this.#engine, task)),
      nextCursor: tasks.length > PAGE_SIZE ? encodeCursor(page[page.length - 1]) : undefined,
    });
  }
}

/**
 * notifications/tasks/status for every status change this server records; the transport drops
 * them for a client whose protocol revision has no tasks (versions.ts).
 */
export function announceTaskStatus(server: McpServer, engine: Engine): () => void {
  return engine.onChange((id) => {
    try {
      const task = protocolTaskOf(engine, engine.status(id).task);
      void server.server.notification({ method: "notifications/tasks/status", params: task })
        .catch(() => {});
    } catch {
      // Removed meanwhile: nothing to announce.
    }
  });
}
