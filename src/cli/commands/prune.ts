import { noPositionals, parse, UsageError } from "../args.ts";
import { type Command, help } from "../command.ts";
import { withEngine } from "../session.ts";

export const prune: Command = {
  name: "prune",
  summary: "remove ended tasks and their logs",
  help: `Usage: backburner prune [--older-than DAYS]

Remove tasks that ended more than DAYS days ago, with their logs, and print how many. Running tasks
are never removed. Servers do this by themselves for tasks past BACKBURNER_RETENTION_DAYS.

Options:
  --older-than DAYS   default: BACKBURNER_RETENTION_DAYS (30); 0 removes every ended task

Examples:
  backburner prune --older-than 7
  backburner prune --older-than 0.5`,
  async run(args, terminal) {
    const { values, positionals } = parse("prune", args, {
      "older-than": { type: "string" },
    });
    if (values.help) return help(terminal, this);
    noPositionals("prune", positionals);
    const raw = values["older-than"];
    let days: number | undefined;
    if (raw !== undefined) {
      days = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(days) || days < 0 || days > 36_500) {
        throw new UsageError(`--older-than "${raw}" is not a number of days from 0 to 36500`);
      }
    }
    return await withEngine({ retentionDays: days }, async (engine) => {
      await engine.tick();
      const removed = engine.sweep();
      terminal.print(`removed ${removed} ended task${removed === 1 ? "" : "s"}`);
      return 0;
    });
  },
};
