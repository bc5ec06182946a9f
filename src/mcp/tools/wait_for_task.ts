import { z } from "zod";
import { BackburnerError } from "../../errors.ts";
import { viewOf, WaitViewSchema } from "../../views.ts";
import { LINE_WINDOW_CHARS, waitForTasks } from "../../engine/wait.ts";
import { guarded, toolPattern, type ToolRegistration } from "./tool.ts";

const DEFAULT_WAIT_SECONDS = 30;
const MAX_WAIT_SECONDS = 50;
const MAX_WAIT_IDS = 50;

export const registerWaitForTask: ToolRegistration = (server, context) => {
  server.registerTool("wait_for_task", {
    title: "Wait for tasks",
    description:
      'Wait until one ("any") or every ("all") listed task has ended, or until a regex appears in their output (until_pattern, e.g. "listening on"), or until the timeout; returns each task\'s status either way. Use it instead of polling task_status in a loop. Returns at once for tasks already ended; a queued task has not ended, so waiting on one waits through its queue too. The timeout is capped at 50 s so the call ends before clients give up; call again to keep waiting.',
    inputSchema: {
      task_ids: z.array(z.string()).min(1).max(MAX_WAIT_IDS).describe(
        "The task_ids to wait for (1 to 50)",
      ),
      mode: z.enum(["any", "all"]).optional().describe(
        '"any": return when one has ended; "all": when every one has. Default "any"',
      ),
      timeout_seconds: z.number().min(0).optional().describe(
        `Most seconds to wait, up to ${MAX_WAIT_SECONDS}. Default ${DEFAULT_WAIT_SECONDS}`,
      ),
      until_pattern: z.string().optional().describe(
        `A regular expression: return as soon as a line of output matches it, the last line too before its newline is printed (a prompt such as "Password: "). A line longer than ${
          LINE_WINDOW_CHARS / 1024
        } KiB is tested on its last ${
          LINE_WINDOW_CHARS / 1024
        } KiB. Matched in linear time: with unbounded repetition (*, +, {n,}), backreferences and lookaheads are refused`,
      ),
    },
    outputSchema: WaitViewSchema.shape,
    annotations: { readOnlyHint: true, idempotentHint: true },
  }, ({ task_ids, mode, timeout_seconds, until_pattern }, extra) =>
    guarded(context, async () => {
      const { engine } = context;
      const ids = validateWaitIds(task_ids);
      for (const id of ids) engine.status(id);
      const requested = timeout_seconds ?? DEFAULT_WAIT_SECONDS;
      if (!(Number.isFinite(requested) && requested >= 0)) {
        throw new BackburnerError(
          "invalid_argument",
          `timeout_seconds ${requested} is out of range: pass 0 to ${MAX_WAIT_SECONDS} seconds`,
        );
      }
      const seconds = Math.min(requested, MAX_WAIT_SECONDS);
      const pattern = until_pattern === undefined ? undefined : toolPattern(until_pattern);
      const progressToken = extra._meta?.progressToken;
      let lastProgress = -1;
      let lastSent = 0;
      const outcome = await waitForTasks(engine, {
        taskIds: ids,
        mode: mode ?? "any",
        timeoutMs: seconds * 1000,
        pattern,
        onProgress: progressToken === undefined ? undefined : async (ended, total) => {
          // One notification per second at most, plus one whenever the count changes.
          const now = Date.now();
          if (ended === lastProgress && now - lastSent < 1000) return;
          lastProgress = ended;
          lastSent = now;
          await extra.sendNotification({
            method: "notifications/progress",
            params: {
              progressToken,
              progress: ended,
              total,
              message: `${ended} of ${total} tasks ended`,
            },
          }).catch(() => {});
        },
      });
      return {
        reason: outcome.reason,
        waited_seconds: Math.round(outcome.waitedMs) / 1000,
        tasks: outcome.tasks.map((task) => viewOf(engine, task)),
        match: outcome.match && { task_id: outcome.match.taskId, line: outcome.match.line },
        note: requested > MAX_WAIT_SECONDS
          ? `timeout_seconds ${requested} was capped at ${MAX_WAIT_SECONDS}; call again to keep waiting`
          : null,
      };
    }));
};

function validateWaitIds(ids: string[]): string[] {
  if (ids.length === 0 || ids.length > MAX_WAIT_IDS) {
    throw new BackburnerError(
      "invalid_argument",
      `task_ids has ${ids.length} ids: pass 1 to 50 task_ids from start_task or list_tasks`,
    );
  }
  return [...new Set(ids)];
}
