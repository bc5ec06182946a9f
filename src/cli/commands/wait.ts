import { isTerminal } from "../../task.ts";
import { waitForTasks } from "../../engine/wait.ts";
import { parse, positiveSeconds, UsageError } from "../args.ts";
import { type Command, help } from "../command.ts";
import { outcome, paintStatus } from "../format.ts";
import { keepReconciling, requireTask, withEngine } from "../session.ts";

export const wait: Command = {
  name: "wait",
  summary: "wait until tasks end; exit 0 only if they completed",
  help: `Usage: backburner wait ID... [--all] [--timeout S]

Wait until one of the tasks ends (with --all: every one), then print how each one stands. Exits 0
when every task that ended completed (exit code 0) and the wait did not time out; 1 otherwise.
A queued task has not ended: waiting for it waits through its queue, its --after tasks and its
retries (a task whose --after task failed ends failed without running). With no server running,
wait itself starts queued tasks as their queues allow while it waits.

Options:
  --all          wait for every task, not just the first to end
  --timeout S    give up after S seconds (default: wait as long as it takes)

Examples:
  backburner wait k3x9m2p7q4wz && echo passed
  backburner wait --all --timeout 600 k3x9m2p7q4wz p7q4wzk3x9m2
  backburner wait "$(backburner run --queue gpu -- python train.py)"`,
  async run(args, terminal) {
    const { values, positionals } = parse("wait", args, {
      all: { type: "boolean" },
      timeout: { type: "string" },
    });
    if (values.help) return help(terminal, this);
    if (positionals.length === 0) {
      throw new UsageError("wait needs a task id: see backburner wait --help");
    }
    const timeout = positiveSeconds("timeout", values.timeout);
    const ids = [...new Set(positionals)];
    // Registered, so that with no server running it starts queued tasks while it waits (only an
    // engine the others know of may claim one); what it started, a server adopts later.
    return await withEngine({ register: true }, async (engine) => {
      for (const id of ids) requireTask(engine, id);
      await engine.tick();
      const stop = keepReconciling(engine);
      let result;
      try {
        result = await waitForTasks(engine, {
          taskIds: ids,
          mode: values.all ? "all" : "any",
          timeoutMs: timeout === undefined ? Infinity : timeout * 1000,
        });
      } finally {
        stop();
      }
      const now = Date.now();
      for (const task of result.tasks) {
        terminal.print(
          `${task.id} ${paintStatus(task.status, outcome(task, now), terminal.color)}`,
        );
      }
      const ended = result.tasks.filter((task) => isTerminal(task.status));
      const passed = result.reason !== "timeout" &&
        ended.every((task) => task.status === "completed");
      return passed ? 0 : 1;
    });
  },
};
