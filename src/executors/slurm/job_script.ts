/**
 * The job a Slurm task runs: backburner's POSIX wrapper, written with a job script to the task's
 * folder on the shared filesystem, so output.log and the exit record land there as for a local
 * task; and the job's name, by which it is found again. Pure but for the files it writes.
 *
 * @module
 */
import { join } from "node:path";
import { START_WINDOW_MS, TASK_MARKER } from "../executor.ts";
import { logLimitBlocks, STOPPER, WRAPPER } from "../local/posix.ts";
import { replaceFile } from "../../task_folder_io.ts";

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
  // A retry writes them again into a folder the task could write: replaced, never written through.
  replaceFile(wrapper, WRAPPER + "\n");
  replaceFile(stopper, STOPPER + "\n");
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
  replaceFile(script, lines.join("\n") + "\n");
  return `exec sh ${shellQuote(script)}`;
}
