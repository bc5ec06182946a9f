import { parse, UsageError } from "../args.ts";
import { type Command, help } from "../command.ts";
import { Failure, requireTask, withEngine } from "../session.ts";

export const send: Command = {
  name: "send",
  summary: "answer a running interactive task: write to its stdin",
  help: `Usage: backburner send [--no-newline] [--close] ID [TEXT]

Write TEXT, and a newline, to the stdin of task ID, which must be working and have been started
interactive (backburner run --interactive, or start_task with interactive: true). With --close,
its input is closed after the text (or alone, without TEXT): the command reads end-of-file, and
nothing more can be sent. It works for a task any server or command started. The text is data for
the command, not a command checked by BACKBURNER_ALLOW or BACKBURNER_DENY: a shell or interpreter
reading its stdin runs what you send.

Options:
  -n, --no-newline   write TEXT exactly as given, without the newline
  --close            close the task's input after the text

Examples:
  backburner send k3x9m2p7q4wz y
  backburner send k3x9m2p7q4wz 'print(6 * 7)'
  backburner send --close k3x9m2p7q4wz`,
  async run(args, terminal) {
    const { values, positionals } = parse("send", args, {
      "no-newline": { type: "boolean", short: "n" },
      close: { type: "boolean" },
    });
    if (values.help) return help(terminal, this);
    const [id, text, ...extra] = positionals;
    if (id === undefined) throw new UsageError("send needs a task id: see backburner send --help");
    if (extra.length > 0) {
      throw new UsageError(
        `send takes one TEXT, but got ${
          positionals.length - 1
        }: quote the text, as in backburner send ID 'two words'`,
      );
    }
    if (text === undefined && !values.close) {
      throw new UsageError("send needs TEXT, or --close: see backburner send --help");
    }
    const body = text === undefined ? undefined : values["no-newline"] ? text : `${text}\n`;
    return await withEngine({}, async (engine) => {
      requireTask(engine, id);
      // A task that ended with nobody watching gets its end recorded before the send is judged.
      await engine.tick();
      let outcome;
      try {
        outcome = await engine.sendInput(id, { text: body, close: values.close });
      } catch (error) {
        throw new Failure((error as Error).message);
      }
      const what = outcome.bytesWritten > 0
        ? `wrote ${outcome.bytesWritten} byte${outcome.bytesWritten === 1 ? "" : "s"}`
        : null;
      terminal.note(
        [what, outcome.closed ? "closed its input" : null].filter(Boolean).join(" and ") +
          ` (task ${id})`,
      );
      return 0;
    });
  },
};
