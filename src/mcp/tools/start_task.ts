import { z } from "zod";
import {
  MAX_AFTER,
  MAX_RETRIES,
  MAX_RETRY_DELAY_SECONDS,
  MAX_TIMEOUT_SECONDS,
} from "../../engine/requests.ts";
import { StartViewSchema, viewOf } from "../../views.ts";
import { guarded, type ToolRegistration } from "./tool.ts";

export const registerStartTask: ToolRegistration = (server, context) => {
  server.registerTool("start_task", {
    title: "Start a background task",
    description:
      'Run a shell command in the background and return at once with its task_id. Use it for anything that may take more than a few seconds — test suites, builds, installs, scrapes, batch jobs — so you can keep working and collect the result later with task_status / task_result. The command runs with bash (sh if bash is missing), stdin empty, stdout and stderr captured together. It keeps running if the MCP server restarts. For a pipeline, start every step at once with after (e.g. test after build): each step starts when the ones it names completed, and fails without running if one of them did not. A task that must wait (its queue is full, or its after tasks have not completed) is "queued" until it may start. If you might call start_task again for the same job (after a client timeout, a retry), pass an idempotency_key: the same key returns the task already started instead of a second one.',
    inputSchema: {
      command: z.string().describe(
        'Shell command line, e.g. "npm test 2>&1" or "make -j4 && ./run"',
      ),
      cwd: z.string().optional().describe(
        "Working directory (absolute, or relative to the server's). Default: the server's working directory",
      ),
      timeout_seconds: z.number().positive().max(MAX_TIMEOUT_SECONDS).optional().describe(
        "Stop the task (whole process tree) after this many seconds of running; it ends as timed_out. Time spent queued does not count. Default: no timeout",
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
      interactive: z.boolean().optional().describe(
        "Keep the command's standard input open so you can answer it later with send_input (a [y/N] prompt, an installer's questions, a REPL); it reads end-of-file only when you send close: true. Not with stdin. Default false: empty stdin, so nothing waits for input",
      ),
      queue: z.string().optional().describe(
        'The queue to run in, e.g. "gpu" (letters, digits, _ . -; up to 64). Each queue runs at most its limit of tasks at once (set by the person: BACKBURNER_QUEUES or `backburner queue`); the others wait, queued, oldest first. Default "default"',
      ),
      after: z.array(z.string()).max(MAX_AFTER).optional().describe(
        'task_ids that must complete (exit 0) before this task starts, e.g. ["k3x9m2p7q4wz"]. If one of them fails, times out, is cancelled or interrupted, this task ends failed without running. Up to 100',
      ),
      retries: z.number().int().min(0).max(MAX_RETRIES).optional().describe(
        "Run the command again, up to this many more times, when it exits non-zero (never after a cancel or a timeout). Each attempt is marked in the output log. Default 0",
      ),
      retry_delay_seconds: z.number().min(0).max(MAX_RETRY_DELAY_SECONDS).optional().describe(
        "Seconds before the first retry; each later one waits twice as long as the one before (at most 1 h). Default 1",
      ),
      idempotency_key: z.string().optional().describe(
        'A name for this job, 1 to 200 characters, e.g. "build-web-1f3a9c": while a task started with the same key is queued or working, or ended less than 24 h ago, the same call returns that task (existing: true) instead of starting another, from any server. Pass one whenever you might repeat the call',
      ),
      executor: z.enum(["local", "slurm"]).optional().describe(
        'Where it runs: "local" (processes next to the server) or "slurm" (a job on the Slurm cluster the server submits to). Default: the server\'s BACKBURNER_EXECUTOR, else "local"',
      ),
      slurm: z.object({
        partition: z.string().optional(),
        cpus: z.number().int().min(1).optional(),
        memory: z.union([z.string(), z.number()]).optional(),
        gpus: z.union([z.string(), z.number()]).optional(),
        time_limit: z.string().optional(),
        account: z.string().optional(),
      }).strict().optional().describe(
        'What the Slurm job asks for (executor "slurm" only), e.g. {"cpus": 4, "memory": "8G", "time_limit": "2:00:00"}',
      ),
    },
    outputSchema: StartViewSchema.shape,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
  }, (args) =>
    guarded(context, async () => {
      const { engine } = context;
      const started = engine.startOrFind({
        command: args.command,
        cwd: args.cwd,
        timeoutSeconds: args.timeout_seconds,
        env: args.env,
        label: args.label,
        stdin: args.stdin,
        interactive: args.interactive,
        queue: args.queue,
        after: args.after,
        retries: args.retries,
        retryDelaySeconds: args.retry_delay_seconds,
        idempotencyKey: args.idempotency_key,
        executor: args.executor,
        slurm: args.slurm,
      });
      // A slurm task's job is submitted before start_task returns; a refusal removes it.
      const task = await engine.settle(started.task);
      const { existing } = started;
      return {
        ...viewOf(engine, task),
        existing,
        note: existing
          ? `Returned the task already started with idempotency_key ${
            JSON.stringify(task.idempotencyKey)
          } (${task.status}); nothing new was started`
          : null,
      };
    }));
};
