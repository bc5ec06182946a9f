/**
 * A job as Slurm reports it: `scontrol show job -o ID`, with `squeue` as the fallback.
 *
 * @module
 */
import type { CommandRunner } from "./command_runner.ts";
import { commandFailed, UNREACHABLE } from "./slurm_error.ts";
import { parseSlurmTime } from "./resources.ts";

export interface SlurmJob {
  readonly id: string;
  /** Slurm's base state: PENDING, RUNNING, COMPLETING, COMPLETED, FAILED, TIMEOUT, CANCELLED… */
  readonly state: string;
  /** Slurm's Reason field ("Resources", "Priority", "NonZeroExitCode"); null for "None". */
  readonly reason: string | null;
  /** The batch script's exit code (ExitCode=code:signal); null when unknown (squeue). */
  readonly exitCode: number | null;
  /** The signal that ended the batch script; 0 for none, null when unknown. */
  readonly exitSignal: number | null;
  /** The job's time limit in seconds; null for UNLIMITED or unknown. */
  readonly timeLimitSeconds: number | null;
  /** The node(s) it runs or ran on; null before it was scheduled. */
  readonly nodes: string | null;
  /** Which command the figures came from. */
  readonly source: "scontrol" | "squeue";
}

/** Slurm's "Invalid job id specified": the job has left Slurm's memory (or never was). */
const INVALID_JOB = /invalid job id/i;

/**
 * The fields of one `scontrol show job -o` line. Values never hold a space followed by
 * `Key=`, so a space before a word ending in `=` starts the next field.
 */
export function parseScontrolFields(line: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const part of line.trim().split(/ (?=[A-Za-z][A-Za-z0-9/:_]*=)/)) {
    const equals = part.indexOf("=");
    if (equals > 0) fields.set(part.slice(0, equals), part.slice(equals + 1));
  }
  return fields;
}

function nullish(value: string | undefined): string | null {
  return value === undefined || value === "" || value === "None" || value === "(null)"
    ? null
    : value;
}

/** A job from one `scontrol show job -o` line; null when the line is not a job. */
export function parseScontrolJob(line: string): SlurmJob | null {
  const fields = parseScontrolFields(line);
  const id = fields.get("JobId");
  const state = fields.get("JobState");
  if (!id || !state) return null;
  const exit = /^(\d+):(\d+)$/.exec(fields.get("ExitCode") ?? "");
  const limit = fields.get("TimeLimit");
  return {
    id,
    state,
    reason: nullish(fields.get("Reason")),
    exitCode: exit ? Number(exit[1]) : null,
    exitSignal: exit ? Number(exit[2]) : null,
    timeLimitSeconds: limit && limit !== "UNLIMITED" ? parseSlurmTime(limit) : null,
    nodes: nullish(fields.get("NodeList")),
    source: "scontrol",
  };
}

/** A job from one `squeue -h -t all -o "%i|%T|%r|%l|%N"` line. */
export function parseSqueueJob(line: string): SlurmJob | null {
  const [id, state, reason, limit, nodes] = line.trim().split("|");
  if (!id || !state) return null;
  return {
    id,
    state,
    reason: nullish(reason),
    exitCode: null,
    exitSignal: null,
    timeLimitSeconds: limit && limit !== "UNLIMITED" ? parseSlurmTime(limit) : null,
    nodes: nullish(nodes),
    source: "squeue",
  };
}

export interface ReadJobOptions {
  /** Deadline per Slurm command (ms). Default 15 s. */
  readonly timeoutMs?: number;
}

/**
 * The job as Slurm knows it now; null once Slurm no longer knows the job (it ended more than
 * MinJobAge ago, or it vanished). Asks scontrol; when scontrol fails otherwise than by not
 * reaching slurmctld, or says nothing usable, squeue. Throws SlurmError when neither answers.
 */
export async function readJob(
  run: CommandRunner,
  jobId: string,
  options: ReadJobOptions = {},
): Promise<SlurmJob | null> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const shown = await run("scontrol", ["show", "job", "-o", jobId], { timeoutMs });
  if (shown.code === 0) {
    const job = parseScontrolJob(shown.stdout.split("\n")[0] ?? "");
    if (job) return job;
  } else if (INVALID_JOB.test(shown.stderr)) {
    return null;
  } else if (UNREACHABLE.test(shown.stderr)) {
    // squeue would ask the same controller, and retry as long.
    throw commandFailed("scontrol", shown.stderr);
  }
  const listed = await run("squeue", ["-h", "-t", "all", "-j", jobId, "-o", "%i|%T|%r|%l|%N"], {
    timeoutMs,
  });
  if (listed.code === 0) {
    const line = listed.stdout.split("\n").find((row) => row.startsWith(`${jobId}|`));
    return line ? parseSqueueJob(line) : null;
  }
  if (INVALID_JOB.test(listed.stderr)) return null;
  throw commandFailed("scontrol", shown.code === 0 ? listed.stderr : shown.stderr);
}

/** States squeue reports fully (no exit code is needed to tell what they mean). */
const UNENDED =
  /^(PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED|REQUEUED|REQUEUE_HOLD|REQUEUE_FED|RESV_DEL_HOLD|RESIZING|SIGNALING|STAGE_OUT|STOPPED)$/;

/**
 * Several jobs at once, for a reconcile pass: one `squeue -j id1,id2,…` for all of them, then
 * readJob only for those that ended (their exit code is scontrol's) or that squeue did not list.
 * When squeue fails, each job is read by readJob. Throws SlurmError as readJob does.
 */
export async function readJobs(
  run: CommandRunner,
  jobIds: readonly string[],
  options: ReadJobOptions = {},
): Promise<Map<string, SlurmJob | null>> {
  const jobs = new Map<string, SlurmJob | null>();
  if (jobIds.length === 0) return jobs;
  const listed = await run(
    "squeue",
    ["-h", "-t", "all", "-j", jobIds.join(","), "-o", "%i|%T|%r|%l|%N"],
    { timeoutMs: options.timeoutMs ?? 15_000 },
  );
  if (listed.code === 0) {
    for (const line of listed.stdout.split("\n")) {
      const job = parseSqueueJob(line);
      if (job && jobIds.includes(job.id) && UNENDED.test(job.state)) jobs.set(job.id, job);
    }
  } else if (UNREACHABLE.test(listed.stderr)) {
    throw commandFailed("squeue", listed.stderr);
  }
  for (const id of jobIds) {
    if (!jobs.has(id)) jobs.set(id, await readJob(run, id, options));
  }
  return jobs;
}

/** What `squeue -n NAME` found: whether Slurm answered, and the job's id if it knows one. */
export interface JobByName {
  readonly answered: boolean;
  readonly jobId: string | null;
}

/**
 * The job named `name` (in any state), for a task whose job id was never recorded (its server
 * died around sbatch). Throws when squeue cannot be run.
 */
export async function findJobByName(
  run: CommandRunner,
  name: string,
  options: ReadJobOptions = {},
): Promise<JobByName> {
  const result = await run("squeue", ["-h", "-t", "all", "-n", name, "-o", "%i"], {
    timeoutMs: options.timeoutMs ?? 15_000,
  });
  if (result.code !== 0) return { answered: false, jobId: null };
  const jobId = result.stdout.trim().split("\n")[0]?.trim();
  return { answered: true, jobId: jobId && /^\d+$/.test(jobId) ? jobId : null };
}
