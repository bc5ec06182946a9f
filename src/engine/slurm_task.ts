/**
 * A task run as a Slurm job: the script the job runs (backburner's POSIX wrapper, written to the
 * task's folder on the shared filesystem, so output.log and the exit record land there as for a
 * local task), and what the wrapper's record or Slurm's state make of the task. Pure but for the
 * files it writes.
 *
 * @module
 */
import { join } from "node:path";
import type { ExitRecord } from "../executors/executor.ts";
import { TASK_MARKER } from "../executors/executor.ts";
import { logLimitBlocks, STOPPER, WRAPPER } from "../executors/local/posix.ts";
import type { SlurmOutcome } from "../executors/slurm/outcome.ts";
import type { TaskEnd } from "../store.ts";
import { signalFromExitCode, statusForExit, type Task } from "../task.ts";
import { START_WINDOW_MS } from "../executors/executor.ts";

/** The job's name in Slurm: how a task's job is found again when its id was never recorded. */
export function slurmJobName(taskId: string): string {
  return `bb-${taskId}`;
}

/** A word for sh, single-quoted. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

export interface JobScriptRequest {
  readonly taskId: string;
  readonly command: string;
  /** The task's folder: the wrapper, the stopper and the job script are written there. */
  readonly dir: string;
  readonly logPath: string;
  readonly exitPath: string;
  readonly stdinPath: string | undefined;
  /** Variables the job sets (the task's env) and those it unsets (unsafe inherited ones). */
  readonly env: Record<string, string>;
  readonly unset: readonly string[];
  readonly maxLogBytes: number;
  readonly timeoutSeconds: number | null;
  readonly graceSeconds: number;
  /** The exit event the wrapper touches once the record is written (exit_events.ts). */
  readonly exitEventPath?: string;
}

/**
 * Writes the wrapper, the stopper and the job script (0600, in the task's 0700 folder) and returns
 * the command line sbatch --wrap runs. The job gets sbatch's environment (the server's), then the
 * task's own, and the task marker; the wrapper runs with no cgroup of its own (Slurm owns it).
 */
export function writeJobScript(request: JobScriptRequest): string {
  const wrapper = join(request.dir, "wrapper.sh");
  const stopper = join(request.dir, "stopper.sh");
  const script = join(request.dir, "job.sh");
  Deno.writeTextFileSync(wrapper, WRAPPER + "\n", { mode: 0o600 });
  Deno.writeTextFileSync(stopper, STOPPER + "\n", { mode: 0o600 });
  const timeout = request.timeoutSeconds;
  const lines = [
    `# backburner task ${request.taskId}, run as a Slurm job`,
    ...request.unset.map((name) => `unset ${name}`),
    ...Object.entries(request.env).map(([name, value]) => `export ${name}=${shellQuote(value)}`),
    `export ${TASK_MARKER}=${shellQuote(request.taskId)}`,
    "exec sh " + [
      wrapper,
      request.command,
      request.logPath,
      request.exitPath,
      request.stdinPath ?? "/dev/null",
      "",
      logLimitBlocks(request.maxLogBytes),
      timeout === null ? "" : Math.max(timeout, START_WINDOW_MS / 1000).toFixed(3),
      String(Math.ceil(request.graceSeconds * 10)),
      request.taskId,
    ].map(shellQuote).join(" ") + ` "$(cat ${shellQuote(stopper)})" '' ` +
    // No input pipe (a Slurm task is never interactive), then the exit event.
    shellQuote(request.exitEventPath ?? ""),
  ];
  Deno.writeTextFileSync(script, lines.join("\n") + "\n", { mode: 0o600 });
  return `exec sh ${shellQuote(script)}`;
}

/** What a Slurm task becomes in one reconcile look. */
export type SlurmStep =
  | {
    readonly kind: "state";
    readonly status: "queued" | "working";
    readonly message: string | null;
  }
  | { readonly kind: "end"; readonly end: TaskEnd };

/** The end an exit record says: the wrapper's own stop (timeout, log cap), or the command's code. */
export function endFromRecord(task: Task, record: ExitRecord): TaskEnd {
  const endedAt = Math.max(record.at, task.startedAt ?? task.createdAt);
  if (record.reason === "timeout") {
    return {
      status: "timed_out",
      exitCode: record.code,
      signal: null,
      statusMessage:
        `The task ran past its timeout of ${task.timeoutSeconds} s and backburner's wrapper stopped it on the Slurm node (job ${task.slurmJobId})`,
      endedAt,
    };
  }
  if (record.reason === "log_limit") {
    return {
      status: "failed",
      exitCode: record.code,
      signal: null,
      statusMessage:
        "The task's output passed the log cap (BACKBURNER_MAX_LOG_BYTES) and backburner's wrapper stopped it",
      endedAt,
    };
  }
  return {
    status: statusForExit(record.code),
    exitCode: record.code,
    signal: signalFromExitCode(record.code),
    statusMessage: null,
    endedAt,
  };
}

/**
 * The exit record first (the wrapper wrote it: the command's own end), then what Slurm says.
 * `outcome` is slurmOutcome of the job as read now (null job: Slurm no longer knows it).
 */
export function slurmStep(
  task: Task,
  record: ExitRecord | null,
  outcome: SlurmOutcome,
  now: number,
): SlurmStep {
  if (record !== null) return { kind: "end", end: endFromRecord(task, record) };
  if (outcome.status === "queued") {
    return {
      kind: "state",
      status: "queued",
      message: `Slurm job ${task.slurmJobId}: ${outcome.message ?? "Waiting in Slurm's queue"}`,
    };
  }
  if (!outcome.ended) return { kind: "state", status: "working", message: null };
  const status = outcome.status === "working" ? "interrupted" : outcome.status;
  return {
    kind: "end",
    end: {
      status,
      exitCode: outcome.exitCode,
      signal: outcome.exitCode === null ? null : signalFromExitCode(outcome.exitCode),
      statusMessage: outcome.message,
      endedAt: now,
    },
  };
}
