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
                      [--executor local|slurm] [--partition P] [--cpus N] [--memory M]
                      [--gpus G] [--time-limit T] [--account A] [--interactive]
                      -- COMMAND...

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
  --executor E       where it runs: local (here) or slurm (a Slurm job, submitted with sbatch
                     before this command returns); default BACKBURNER_EXECUTOR, else local
  Slurm settings, with --executor slurm:
  --partition P      the partition (default: the cluster's default)
  --cpus N           CPUs for the job
  --memory M         memory for the job: megabytes, or with a unit, as in 8G
  --gpus G           GPUs: a count, or type:count, as in a100:2
  --time-limit T     the job's time limit: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS
  --account A        the account to charge
  --interactive      keep the command's stdin open: answer it with backburner send ID TEXT, and
                     end its input with backburner send --close ID (default: empty stdin)

Examples:
  backburner run -- npm test
  backburner run --label build --timeout 600 -- 'make -j8 && make check'
  id=$(backburner run --env CI=1 -- ./slow-job.sh) && backburner wait "$id"
  build=$(backburner run --key build-1f3a9c -- make) &&
    test=$(backburner run --after "$build" --retries 2 -- make test) &&
    backburner run --after "$test" --queue package -- make dist
  backburner run --executor slurm --cpus 8 --memory 32G --time-limit 4:00:00 -- python train.py`,
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
      executor: { type: "string" },
      partition: { type: "string" },
      cpus: { type: "string" },
      memory: { type: "string" },
      gpus: { type: "string" },
      "time-limit": { type: "string" },
      account: { type: "string" },
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
          executor: values.executor,
          slurm: slurmSettings(values),
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

/** The Slurm flags given, as start_task's slurm object; undefined when none was given. */
function slurmSettings(values: {
  partition?: string;
  cpus?: string;
  memory?: string;
  gpus?: string;
  "time-limit"?: string;
  account?: string;
}): Record<string, unknown> | undefined {
  const settings: Record<string, unknown> = {};
  if (values.partition !== undefined) settings.partition = values.partition;
  // A count as a number, as start_task takes it; anything else as written, for the check to name.
  if (values.cpus !== undefined) {
    settings.cpus = /^\d+$/.test(values.cpus) ? Number(values.cpus) : values.cpus;
  }
  if (values.memory !== undefined) settings.memory = values.memory;
  if (values.gpus !== undefined) settings.gpus = values.gpus;
  if (values["time-limit"] !== undefined) settings.time_limit = values["time-limit"];
  if (values.account !== undefined) settings.account = values.account;
  return Object.keys(settings).length > 0 ? settings : undefined;
}
