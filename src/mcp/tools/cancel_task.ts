import { CancelViewSchema, viewOf } from "../../views.ts";
import { guarded, taskIdOnlyInput, type ToolRegistration } from "./tool.ts";

export const registerCancelTask: ToolRegistration = (server, context) => {
  server.registerTool("cancel_task", {
    title: "Cancel a task",
    description:
      "Stop a running task and every process it started (SIGTERM, then SIGKILL after a grace period). Returns only when all of them are gone, with the final status. A queued task is cancelled without ever starting, and the tasks started after it fail without running. Cancelling a task that already ended keeps its status and stops any background processes it left running.",
    inputSchema: taskIdOnlyInput,
    outputSchema: CancelViewSchema.shape,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  }, ({ task_id }) =>
    guarded(context, async () => {
      const { engine } = context;
      const { task, alreadyEnded, leftoversStopped } = await engine.cancel(task_id);
      return {
        ...viewOf(engine, task),
        already_ended: alreadyEnded,
        leftover_processes_stopped: leftoversStopped,
      };
    }));
};
