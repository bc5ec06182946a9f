import { queueWait, StatusViewSchema, viewStatus } from "../../views.ts";
import { guarded, taskIdOnlyInput, type ToolRegistration } from "./tool.ts";

export const registerTaskStatus: ToolRegistration = (server, context) => {
  server.registerTool("task_status", {
    title: "Task status",
    description:
      "Check a task's status without reading its output: queued, working, completed, failed, cancelled, timed_out or interrupted, with exit code, times, duration, output size, the progress its output shows, seconds since it last printed, and whether it seems to wait for input. A queued task says why it waits: its position in a full queue, or the after tasks it waits on (waiting_on). A retried task shows attempt of attempts. Cheap; use it to see whether a task has ended or how far it got.",
    inputSchema: taskIdOnlyInput,
    outputSchema: StatusViewSchema.shape,
    annotations: { readOnlyHint: true, idempotentHint: true },
  }, ({ task_id }) =>
    guarded(context, async () => {
      const { engine } = context;
      const { task, outputBytes, output, input } = await engine.inspect(task_id);
      return viewStatus(task, outputBytes, output, Date.now(), queueWait(engine, task), input);
    }));
};
