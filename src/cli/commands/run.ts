import type { Task } from "../../task.ts";
import { parse, positiveSeconds, UsageError } from "../args.ts";
import { type Command, help } from "../command.ts";
import { shellJoin } from "../format.ts";
import { Failure, withEngine } from "../session.ts";

export const run: Command = {
  name: "run",
  summary: "start a command as a background task and print its id",
  help: `Usage: backburner run [--cwd DIR] [--timeout S] [--label L] [--env K=V]... -- COMMAND...

Start a command in the background and print its task id (only the id, for scripts). The task
keeps running after this command returns; a running backburner server watches it, or the next
one to start (any backburner command that looks at tasks brings it up to date meanwhile).
BACKBURNER_ALLOW and BACKBURNER_DENY apply, as for the server.

One argument after -- is a shell command line, run by bash (sh where bash is missing); several are
a program and its arguments, quoted for the shell exactly as given.

Options:
  --cwd DIR      working directory (default: the current one)
  --timeout S    stop the whole process tree after S seconds; the task ends timed_out (the
                 task's own wrapper keeps it, and BACKBURNER_MAX_LOG_BYTES, with no server running)
  --label L      a short name shown in lists and usable as a filter
  --env K=V      an extra environment variable for the task; repeat for more

Examples:
  backburner run -- npm test
  backburner run --label build --timeout 600 -- 'make -j8 && make check'
  id=$(backburner run --env CI=1 -- ./slow-job.sh) && backburner wait "$id"`,
  async run(args, terminal) {
    const { values, positionals } = parse("run", args, {
      cwd: { type: "string" },
      timeout: { type: "string" },
      label: { type: "string" },
      env: { type: "string", multiple: true },
    });
    if (values.help) return help(terminal, this);
    if (positionals.length === 0) {
      throw new UsageError(
        "run needs a command: pass it after --, as in backburner run -- npm test",
      );
    }
    const command = positionals.length === 1 ? positionals[0] : shellJoin(positionals);
    const timeoutSeconds = positiveSeconds("timeout", values.timeout);
    const env: Record<string, string> = {};
    for (const entry of values.env ?? []) {
      const equals = entry.indexOf("=");
      if (equals < 1) {
        throw new UsageError(`--env "${entry.slice(0, 80)}" is not NAME=VALUE, as in --env CI=1`);
      }
      env[entry.slice(0, equals)] = entry.slice(equals + 1);
    }
    // Registered while it starts the task, so no server takes the task, not yet spawned, for an
    // orphan; once this process ends, the task is an orphan, and the next watcher adopts it.
    return await withEngine({ register: true }, (engine) => {
      let task: Task;
      try {
        task = engine.start({ command, cwd: values.cwd, timeoutSeconds, label: values.label, env });
      } catch (error) {
        // A start the engine refuses (the policy, a missing cwd) is what was asked failing: exit 1,
        // as the overview says, even when the engine calls the cause an invalid argument.
        throw new Failure((error as Error).message);
      }
      terminal.print(task.id);
      return Promise.resolve(0);
    });
  },
};
