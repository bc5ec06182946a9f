/** What the end-to-end tests of the tools share: calls that check every reply. */
import assert from "node:assert/strict";
import { errorText, hasEnded, type ServerHandle, waitFor } from "../../helpers.ts";
import type { CallToolResult } from "../../sdk.ts";

export type Reply = Record<string, unknown>;

export const TOOLS = [
  "start_task",
  "task_status",
  "task_result",
  "cancel_task",
  "restart_task",
  "list_tasks",
  "wait_for_task",
  "run_command",
  "send_input",
];

/**
 * Checks that a successful reply carries structuredContent and one text content holding the same
 * JSON, and returns the structuredContent.
 */
export function mirrored(tool: string, result: CallToolResult): Reply {
  assert.ok(!result.isError, `${tool} failed: ${JSON.stringify(result.content)}`);
  const structured = result.structuredContent;
  assert.ok(structured && typeof structured === "object", `${tool} has no structuredContent`);
  const texts = result.content.filter((c) => c.type === "text");
  assert.equal(texts.length, 1, `${tool} should carry exactly one text content`);
  const text = texts[0].type === "text" ? texts[0].text : "";
  assert.deepEqual(JSON.parse(text), structured, `${tool}: text and structuredContent differ`);
  return structured as Reply;
}

/** Calls a tool that must succeed; every reply is checked for the JSON mirror. */
export async function ok(server: ServerHandle, tool: string, args: Reply = {}): Promise<Reply> {
  return mirrored(tool, await server.raw(tool, args));
}

/** Calls a tool that must fail; returns the error text after checking it is short and clean. */
export async function refused(server: ServerHandle, tool: string, args: Reply): Promise<string> {
  const result = await server.raw(tool, args);
  const shown = JSON.stringify(args).slice(0, 120);
  assert.equal(result.isError, true, `${tool} ${shown} should be an error`);
  const text = errorText(result);
  assert.ok(text.length > 0, `${tool} ${shown}: empty error text`);
  assert.ok(text.length < 500, `${tool} ${shown}: error text is ${text.length} chars`);
  assert.ok(!text.includes("    at "), `${tool} ${shown}: error text has a stack: ${text}`);
  return text;
}

/** Starts a task and polls task_status until it has ended. */
export async function finish(
  server: ServerHandle,
  args: Reply,
  timeoutMs = 15_000,
): Promise<Reply> {
  const started = await ok(server, "start_task", args);
  return await waitFor(async () => {
    const status = await ok(server, "task_status", { task_id: started.task_id });
    return hasEnded(status.status) ? status : null;
  }, { timeoutMs, what: `task ${started.task_id} (${args.command}) to end` });
}

export async function output(server: ServerHandle, id: unknown): Promise<string> {
  return (await ok(server, "task_result", { task_id: id })).output as string;
}

/**
 * Runs each bad call, checks it is refused with a short clean message, and that the server still
 * answers task_status of a real task after it. Returns the error texts in order.
 */
export async function refuseAll(
  server: ServerHandle,
  realId: unknown,
  calls: [string, Reply][],
): Promise<string[]> {
  const texts: string[] = [];
  for (const [tool, args] of calls) {
    texts.push(await refused(server, tool, args));
    const status = await ok(server, "task_status", { task_id: realId });
    assert.equal(status.task_id, realId);
  }
  return texts;
}

export const HUGE_ID = "k".repeat(10_000);
