import { StatusViewSchema, viewStatus } from "../../views.ts";
import { guarded, taskIdInput, type ToolRegistration } from "./tool.ts";

export const registerTaskStatus: ToolRegistration = (server, context) => {
  server.registerTool("task_status", {
    title: "Task status",
    description:
      "Check a task's status without reading its output: working, completed, failed, cancelled, timed_out or interrupted, with exit code, times, duration, output size, the progress its output shows, seconds since it last printed, and whether it seems to wait for input. Cheap; use it to see whether a task has ended or how far it got.",
    inputSchema: { task_id: taskIdInput },
    outputSchema: StatusViewSchema.shape,
    annotations: { readOnlyHint: true, idempotentHint: true },
  }, ({ task_id }) =>
    guarded(context, async () => {
      const { task, outputBytes, output } = await context.engine.inspect(task_id);
      return viewStatus(task, outputBytes, output, Date.now());
    }));
};
