import { describe } from "../../task.ts";
import { parse, UsageError } from "../args.ts";
import { type Command, help } from "../command.ts";
import { oneLine, paintStatus } from "../format.ts";
import { requireTask, withEngine } from "../session.ts";

export const cancel: Command = {
  name: "cancel",
  summary: "stop tasks and every process they started",
  help: `Usage: backburner cancel ID...

Stop a task and every process it started: SIGTERM, then SIGKILL after BACKBURNER_GRACE_SECONDS.
Returns once they are all gone and prints the final status. A task that had already ended keeps
its status; any background processes it left running are stopped.

Examples:
  backburner cancel k3x9m2p7q4wz
  backburner ls --status working --json | jq -r '.[].task_id' | xargs backburner cancel`,
  async run(args, terminal) {
    const { values, positionals } = parse("cancel", args, {});
    if (values.help) return help(terminal, this);
    if (positionals.length === 0) {
      throw new UsageError("cancel needs a task id: see backburner cancel --help");
    }
    return await withEngine({}, async (engine) => {
      for (const id of positionals) requireTask(engine, id);
      // A task that ended with nobody watching gets its real end recorded, not "cancelled".
      await engine.tick();
      for (const id of new Set(positionals)) {
        const { task, alreadyEnded, leftoversStopped } = await engine.cancel(id);
        const notes = [
          alreadyEnded ? "it had already ended" : null,
          leftoversStopped > 0
            ? `stopped ${leftoversStopped} background process${
              leftoversStopped === 1 ? "" : "es"
            } it left`
            : null,
        ].filter((note) => note !== null);
        const suffix = notes.length ? ` (${notes.join("; ")})` : "";
        const prefix = positionals.length > 1 ? `${id} ` : "";
        terminal.print(
          `${prefix}${paintStatus(task.status, task.status, terminal.color)}: ${
            oneLine(describe(task))
          }${suffix}`,
        );
      }
      return 0;
    });
  },
};
