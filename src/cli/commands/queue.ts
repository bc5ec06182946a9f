import { isQueueName, MAX_QUEUE_LIMIT } from "../../task.ts";
import type { QueueView } from "../../views.ts";
import { parse, UsageError, wholeNumber } from "../args.ts";
import { type Command, help } from "../command.ts";
import { jsonText, oneLine, renderTable } from "../format.ts";
import { Failure, withEngine } from "../session.ts";

export const queue: Command = {
  name: "queue",
  summary: "show queues (limit, working, queued) or change a queue's limit",
  help: `Usage: backburner queue [NAME] [--limit N|none] [--json]

Without options, show each queue: its limit (the most tasks working at once), and how many of its
tasks are working and queued. A queue exists once a task names it or a limit is set for it; tasks
started without a queue run in "default".

With --limit, change a queue's limit for every server on this state directory, at once and for
good (it is stored): a running server starts queued tasks as soon as the new limit allows, and
tasks already working keep running under a lower one. "none" removes the limit.
BACKBURNER_QUEUES="default=4,gpu=1" sets the limits of queues that have none stored yet.

Options:
  --limit N|none   the most tasks of queue NAME working at once, 1 to ${MAX_QUEUE_LIMIT}, or none
  --json           a JSON array of {name, limit, working, queued}

Examples:
  backburner queue
  backburner queue gpu --limit 1
  backburner queue default --limit none
  backburner run --queue gpu -- python train.py`,
  async run(args, terminal) {
    const { values, positionals } = parse("queue", args, {
      limit: { type: "string" },
      json: { type: "boolean" },
    });
    if (values.help) return help(terminal, this);
    if (positionals.length > 1) {
      throw new UsageError(
        `queue takes at most one queue name, but got ${positionals.length}: see backburner queue --help`,
      );
    }
    const name = positionals[0];
    if (name !== undefined && !isQueueName(name)) {
      throw new UsageError(
        `"${
          oneLine(name).slice(0, 80)
        }" is not a queue name: use 1 to 64 letters, digits, _ . or -, as in backburner queue gpu`,
      );
    }
    const rawLimit = values.limit;
    if (rawLimit !== undefined && name === undefined) {
      throw new UsageError(
        "--limit needs the queue it applies to, as in backburner queue gpu --limit 1",
      );
    }
    const limit = rawLimit === undefined
      ? undefined
      : rawLimit.trim() === "none"
      ? null
      : wholeNumber("limit", rawLimit, { min: 1, max: MAX_QUEUE_LIMIT });
    // A raised limit starts queued tasks from this command: registered while it does, as run is,
    // so that no server takes a task claimed here, not yet spawned, for an orphan.
    return await withEngine({ register: limit !== undefined }, async (engine) => {
      if (limit !== undefined) {
        try {
          engine.setQueueLimit(name!, limit);
        } catch (error) {
          throw new Failure((error as Error).message);
        }
      }
      // Slots freed by tasks that ended unwatched count before the table is read.
      await engine.tick();
      let queues: QueueView[] = engine.queues().map((q) => ({
        name: q.name,
        limit: q.limit,
        working: q.working,
        queued: q.queued,
      }));
      if (name !== undefined) {
        queues = queues.filter((q) => q.name === name);
        if (queues.length === 0) {
          queues = [{ name, limit: null, working: 0, queued: 0 }];
        }
      }
      if (values.json) {
        terminal.print(jsonText(queues));
        return 0;
      }
      const rows = queues.map((q) => [
        { text: q.name },
        { text: q.limit === null ? "none" : String(q.limit) },
        { text: String(q.working) },
        { text: String(q.queued) },
      ]);
      const lines = renderTable(["QUEUE", "LIMIT", "WORKING", "QUEUED"], rows, {
        width: terminal.columns,
        flexColumn: 0,
        minFlexWidth: 5,
      });
      for (const line of lines) terminal.print(line);
      return 0;
    });
  },
};
