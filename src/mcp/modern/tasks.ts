/**
 * The Tasks extension of revision 2026-07-28 (io.modelcontextprotocol/tasks, SEP-2663) over the
 * engine: every backburner task, whichever tool or era started it, answers tasks/get, tasks/update
 * and tasks/cancel, from the same store, so a task outlives the server that started it.
 *
 * @module
 */

import type { Engine } from "../../engine/engine.ts";
import { isTaskId, isTerminal, type Task } from "../../task.ts";
import { expectedCode } from "../errors.ts";
import type { CallToolResult } from "../sdk.ts";
import { POLL_INTERVAL_MS, toProtocolTask } from "../tasks.ts";
import { type QueueWait, queueWait } from "../../views.ts";
import { commandResult } from "../tools/tool.ts";
import { answerPrompt, inputRequired, pendingPrompt } from "./task_input.ts";

export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";

/** JSON-RPC -32021: the request needs a client capability it did not declare. */
export const MISSING_CAPABILITY = -32021;

/** A task as the extension shows it (the flat fields of a task result and of tasks/get). */
export interface ModernTask {
  readonly taskId: string;
  readonly status: "working" | "input_required" | "completed" | "failed" | "cancelled";
  readonly statusMessage?: string;
  readonly createdAt: string;
  readonly lastUpdatedAt: string;
  readonly ttlMs: number | null;
  readonly pollIntervalMs: number;
}

/** A protocol error to answer with: code, one sentence, optional data. */
export class RpcFailure extends Error {
  readonly code: number;
  readonly data?: unknown;

  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.code = code;
    this.data = data;
  }
}

/**
 * Our six statuses in the extension's terms: a command that failed or timed out is a tool result
 * with isError, which ends "completed" in this era; "failed" is kept for a task whose processes
 * vanished (interrupted), for which there is no result.
 */
export function toModernTask(
  task: Task,
  retentionMs: number,
  wait: QueueWait | null = null,
): ModernTask {
  const legacy = toProtocolTask(task, retentionMs, wait);
  const status = task.status === "failed" || task.status === "timed_out"
    ? "completed"
    : task.status === "interrupted"
    ? "failed"
    : legacy.status;
  return {
    taskId: legacy.taskId,
    status,
    ...(legacy.statusMessage === undefined ? {} : { statusMessage: legacy.statusMessage }),
    createdAt: legacy.createdAt,
    lastUpdatedAt: legacy.lastUpdatedAt,
    ttlMs: legacy.ttl ?? null,
    pollIntervalMs: legacy.pollInterval ?? POLL_INTERVAL_MS,
  };
}

/** The tool result of an ended command; one that did not succeed says which way and why first. */
async function endedResult(engine: Engine, task: Task, why: string | undefined) {
  const result: CallToolResult = await commandResult(engine, task.id);
  if (!result.isError || why === undefined) return result;
  return { ...result, content: [{ type: "text" as const, text: why }, ...result.content] };
}

/** tasks/get, tasks/update and tasks/cancel for every task the engine knows. */
export class ModernTasks {
  readonly #engine: Engine;

  constructor(engine: Engine) {
    this.#engine = engine;
  }

  #find(taskId: unknown): Task {
    if (typeof taskId === "string" && isTaskId(taskId)) {
      try {
        return this.#engine.status(taskId).task;
      } catch (error) {
        if (expectedCode(error) !== "unknown_task") throw error;
      }
    }
    throw new RpcFailure(
      -32602,
      `Unknown task ${
        JSON.stringify(String(taskId).slice(0, 80))
      }: pass a taskId this server returned (it may have expired)`,
    );
  }

  #view(task: Task): ModernTask {
    return toModernTask(task, this.#engine.retentionMs, queueWait(this.#engine, task));
  }

  /** The task as a flat tools/call result. */
  created(taskId: string): Record<string, unknown> {
    return { resultType: "task", ...this.#view(this.#find(taskId)) };
  }

  async get(taskId: unknown): Promise<Record<string, unknown>> {
    const task = this.#find(taskId);
    const view = this.#view(task);
    const answer: Record<string, unknown> = { resultType: "complete", ...view };
    if (view.status === "completed") {
      // The inline result is a whole CallToolResult of this era, with its own resultType.
      answer.result = {
        resultType: "complete",
        ...await endedResult(this.#engine, task, view.statusMessage),
      };
    } else if (view.status === "failed") {
      answer.error = {
        code: -32603,
        message: view.statusMessage ?? "interrupted: its processes vanished",
      };
    } else if (view.status === "working") {
      const pending = await pendingPrompt(this.#engine, task);
      if (pending !== null) Object.assign(answer, inputRequired(pending));
    }
    return answer;
  }

  /**
   * Writes the answer to an interactive task's pending prompt to its stdin (task_input.ts); for
   * any other task, or an answer to a prompt no longer pending, acknowledged and nothing changes.
   */
  async update(taskId: unknown, inputResponses?: unknown): Promise<Record<string, unknown>> {
    const task = this.#find(taskId);
    try {
      await answerPrompt(this.#engine, task, inputResponses);
    } catch (error) {
      if (expectedCode(error) === null) throw error;
      throw new RpcFailure(-32602, (error as Error).message);
    }
    return { resultType: "complete" };
  }

  async cancel(taskId: unknown): Promise<Record<string, unknown>> {
    const task = this.#find(taskId);
    // Cancelling an ended task is acknowledged and changes nothing (the extension's rule).
    if (!isTerminal(task.status)) await this.#engine.cancel(task.id);
    return { resultType: "complete" };
  }
}
