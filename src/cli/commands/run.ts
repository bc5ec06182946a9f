import { MAX_AFTER, MAX_RETRIES, MAX_RETRY_DELAY_SECONDS } from "../../engine/requests.ts";
import type { Task } from "../../task.ts";
import { listValues, parse, positiveSeconds, seconds, UsageError, wholeNumber } from "../args.ts";
import { type Command, help } from "../command.ts";
import { oneLine, shellJoin } from "../format.ts";
import { Failure, withEngine } from "../session.ts";

export const run: Command = {
  name: "run",
  summary: "start a command as a background task and print its id",
  help: `Usage: backburner run [--cwd DIR] [--timeout S] [--label L] [--env K=V]... [--queue Q]
                      [--after ID]... [--retries N] [--retry-delay S] [--key K]
                      [--interactive] -- COMMAND...

Start a command in the background and print its task id (only the id, for scripts). The task
keeps running after this command returns; a running backburner server watches it, or the next
one to start (any backburner command that looks at tasks brings it up to date meanwhile).
BACKBURNER_ALLOW and BACKBURNER_DENY apply, as for the server.

One argument after -- is a shell command line, run by bash (sh where bash is missing); several are
a program and its arguments, quoted for the shell exactly as given.

A task that must wait (its queue is full, or a task of --after has not completed) is queued, and
starts when it may: a running server starts it, or, with none running, backburner wait or the
next server to start.

Options:
  --cwd DIR          working directory (default: the current one)
  --timeout S        stop the whole process tree after S seconds of running; the task ends
                     timed_out (the task's own wrapper keeps it, and BACKBURNER_MAX_LOG_BYTES,
                     with no server running)
  --label L          a short name shown in lists and usable as a filter
  --env K=V          an extra environment variable for the task; repeat for more
  --queue Q          the queue to run in (default "default"); see backburner queue
  --after ID         start only once task ID completed (exit 0); if it fails, is cancelled, times
                     out or is interrupted, this task fails without running. Repeat it, or give a
                     comma-separated list, for several
  --retries N        run the command again, up to N more times (0 to ${MAX_RETRIES}), when it exits
                     non-zero; never after a cancel or a timeout
  --retry-delay S    seconds before the first retry, doubling for each later one (default 1)
  --key K            an idempotency key: while a task started with the same key is queued or
                     working, or ended less than 24 h ago, print that task's id instead of
                     starting another (a note on stderr says so)
  --interactive      keep the command's stdin open: answer it with backburner send ID TEXT, and
                     end its input with backburner send --close ID (default: empty stdin)

Examples:
  backburner run -- npm test
  backburner run --label build --timeout 600 -- 'make -j8 && make check'
  id=$(backburner run --env CI=1 -- ./slow-job.sh) && backburner wait "$id"
  build=$(backburner run --key build-1f3a9c -- make) &&
    test=$(backburner run --after "$build" --retries 2 -- make test) &&
    backburner run --after "$test" --queue package -- make dist`,
  async run(args, terminal) {
    const { values, positionals } = parse("run", args, {
      cwd: { type: "string" },
      timeout: { type: "string" },
      label: { type: "string" },
      env: { type: "string", multiple: true },
      queue: { type: "string" },
      after: { type: "string", multiple: true },
      retries: { type: "string" },
      "retry-delay": { type: "string" },
      key: { type: "string" },
      interactive: { type: "boolean" },
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
    const after = listValues(values.after);
    if (after.length > MAX_AFTER) {
      throw new UsageError(
        `--after names ${after.length} tasks, more than ${MAX_AFTER}: wait for fewer`,
      );
    }
    const retries = wholeNumber("retries", values.retries, { min: 0, max: MAX_RETRIES });
    const retryDelaySeconds = seconds(
      "retry-delay",
      values["retry-delay"],
      MAX_RETRY_DELAY_SECONDS,
    );
    // Registered while it starts the task, so no server takes the task, not yet spawned, for an
    // orphan; once this process ends, the task is an orphan, and the next watcher adopts it.
    return await withEngine({ register: true }, async (engine) => {
      let started: { task: Task; existing: boolean };
      try {
        started = engine.startOrFind({
          command,
          cwd: values.cwd,
          timeoutSeconds,
          label: values.label,
          env,
          queue: values.queue,
          after: after.length > 0 ? after : undefined,
          retries,
          retryDelaySeconds,
          idempotencyKey: values.key,
          interactive: values.interactive,
        });
        // A slurm task's job is submitted before the command returns; a refusal removes it.
        started = { task: await engine.settle(started.task), existing: started.existing };
      } catch (error) {
        // A start the engine refuses (the policy, a missing cwd) is what was asked failing: exit 1,
        // as the overview says, even when the engine calls the cause an invalid argument.
        throw new Failure((error as Error).message);
      }
      const { task, existing } = started;
      terminal.print(task.id);
      if (existing) {
        terminal.note(
          `task ${task.id} (${task.status}) already holds --key "${
            oneLine(values.key ?? "").slice(0, 80)
          }": nothing new was started`,
        );
      }
      return 0;
    });
  },
};
