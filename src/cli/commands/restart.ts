import { oneId, parse } from "../args.ts";
import { type Command, help } from "../command.ts";
import { Failure, requireTask, withEngine } from "../session.ts";

export const restart: Command = {
  name: "restart",
  summary: "start a task again as a new task and print its id",
  help: `Usage: backburner restart ID

Start a new task with the same command, directory, environment, stdin, label, queue, timeout and
retries as task ID (not its --after list nor its key), and print the new task's id (only the id,
for scripts); a note on stderr says which task it restarts. Task ID is left as it is, even if it
is still running. The new task waits for a free slot in its queue like any other.

Examples:
  backburner restart k3x9m2p7q4wz
  backburner wait "$(backburner restart k3x9m2p7q4wz)"`,
  async run(args, terminal) {
    const { values, positionals } = parse("restart", args, {});
    if (values.help) return help(terminal, this);
    const id = oneId("restart", positionals);
    // Registered while it starts the task, as run is (see run.ts).
    return await withEngine({ register: true }, async (engine) => {
      requireTask(engine, id);
      let task;
      try {
        task = await engine.settle(engine.restart(id));
      } catch (error) {
        throw new Failure((error as Error).message);
      }
      terminal.print(task.id);
      terminal.note(`restarted task ${id} as task ${task.id} (${task.status})`);
      return 0;
    });
  },
};
