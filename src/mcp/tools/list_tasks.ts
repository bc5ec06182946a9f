import { z } from "zod";
import { TASK_STATUSES } from "../../task.ts";
import { ListViewSchema, type TaskView, viewOf } from "../../views.ts";
import { guarded, type ToolRegistration } from "./tool.ts";

export const registerListTasks: ToolRegistration = (server, context) => {
  server.registerTool("list_tasks", {
    title: "List tasks",
    description:
      "List recent tasks, newest first, with their status — to find a task_id again or see what is still running or queued. Filter by status, label or cwd. Long commands are shortened here; task_status shows them whole.",
    inputSchema: {
      limit: z.number().int().min(1).max(1000).optional().describe(
        "How many tasks, from 1 to 1000. Default 20",
      ),
      status: z.enum(TASK_STATUSES).optional().describe(
        'Only tasks with this status, e.g. "working" or "queued"',
      ),
      label: z.string().optional().describe("Only tasks started with this label"),
      cwd: z.string().optional().describe("Only tasks that run in this directory"),
    },
    outputSchema: ListViewSchema.shape,
    annotations: { readOnlyHint: true, idempotentHint: true },
  }, ({ limit, status, label, cwd }) =>
    guarded(context, () => {
      const { engine } = context;
      const { tasks, total } = engine.list({ limit, status, label, cwd });
      const shown = tasks.map((task) => withShortCommand(viewOf(engine, task)));
      return { tasks: shown, count: shown.length, total };
    }));
};

const LIST_COMMAND_CHARS = 300;

/** A list row's command, cut to LIST_COMMAND_CHARS: task_status shows it whole. */
function withShortCommand(view: TaskView): TaskView {
  if (view.command.length > LIST_COMMAND_CHARS) {
    view.command = `${view.command.slice(0, LIST_COMMAND_CHARS)}…`;
  }
  return view;
}
