import { z } from "zod";
import { MAX_TIMEOUT_SECONDS } from "../../engine/requests.ts";
import { TaskViewSchema, viewTask } from "../../views.ts";
import { guarded, type ToolRegistration } from "./tool.ts";

export const registerStartTask: ToolRegistration = (server, context) => {
  server.registerTool("start_task", {
    title: "Start a background task",
    description:
      "Run a shell command in the background and return at once with its task_id. Use it for anything that may take more than a few seconds — test suites, builds, installs, scrapes, batch jobs — so you can keep working and collect the result later with task_status / task_result. The command runs with bash (sh if bash is missing), stdin empty, stdout and stderr captured together. It keeps running if the MCP server restarts.",
    inputSchema: {
      command: z.string().describe(
        'Shell command line, e.g. "npm test 2>&1" or "make -j4 && ./run"',
      ),
      cwd: z.string().optional().describe(
        "Working directory (absolute, or relative to the server's). Default: the server's working directory",
      ),
      timeout_seconds: z.number().positive().max(MAX_TIMEOUT_SECONDS).optional().describe(
        "Stop the task (whole process tree) after this many seconds; it ends as timed_out. Default: no timeout",
      ),
      env: z.record(z.string(), z.string()).optional().describe(
        'Extra environment variables for this task only, e.g. {"CI": "1", "NODE_ENV": "test"}',
      ),
      label: z.string().optional().describe(
        'A short name shown in lists and usable as a list_tasks filter, e.g. "unit-tests"',
      ),
      stdin: z.string().optional().describe(
        "Text fed to the command's standard input, which is then closed. Default: empty stdin, so nothing waits for input",
      ),
    },
    outputSchema: TaskViewSchema.shape,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
  }, ({ command, cwd, timeout_seconds, env, label, stdin }) =>
    guarded(context, () => {
      const task = context.engine.start({
        command,
        cwd,
        timeoutSeconds: timeout_seconds,
        env,
        label,
        stdin,
      });
      return viewTask(task, 0, Date.now());
    }));
};
