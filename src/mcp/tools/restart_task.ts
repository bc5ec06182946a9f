import { RestartViewSchema, viewOf } from "../../views.ts";
import { guarded, taskIdInput, type ToolRegistration } from "./tool.ts";

export const registerRestartTask: ToolRegistration = (server, context) => {
  server.registerTool("restart_task", {
    title: "Restart a task",
    description:
      "Start a new task with the same command, cwd, env, stdin (or interactive stdin), label, queue, timeout and retries as an earlier one — to run a failed, cancelled or flaky task again without retyping it. The old task is left as it is (even a running one); the new one has its own task_id, and restart_of names the old one. It waits for a free slot in its queue like any start, but not for the old task's after list.",
    inputSchema: { task_id: taskIdInput.describe("The task to run again") },
    outputSchema: RestartViewSchema.shape,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
  }, ({ task_id }) =>
    guarded(context, async () => {
      const { engine } = context;
      const task = await engine.settle(engine.restart(task_id));
      return {
        ...viewOf(engine, task),
        note: `Restarted task ${task_id} as task ${task.id} (${task.status})`,
      };
    }));
};
