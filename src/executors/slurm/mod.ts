/**
 * The Slurm client layer: the script a task's job runs, submitting it, finding it by name, reading
 * its state, cancelling it, and what its state means for the task. The engine's Slurm half
 * (src/engine/slurm_tasks.ts) is built on it.
 *
 * @module
 */
export { cancelJob, type CancelOptions, waitJobGone } from "./cancel.ts";
export { pingController } from "./controller.ts";
export {
  type CommandResult,
  type CommandRunner,
  denoCommandRunner,
  type DenoCommandRunnerOptions,
  type RunOptions,
} from "./command_runner.ts";
export {
  findJobByName,
  type JobByName,
  parseScontrolFields,
  parseScontrolJob,
  parseSqueueJob,
  readJob,
  type ReadJobOptions,
  readJobs,
  type SlurmJob,
} from "./job_state.ts";
export { type JobScriptRequest, shellQuote, slurmJobName, writeJobScript } from "./job_script.ts";
export { type SlurmOutcome, slurmOutcome, type SlurmTaskStatus } from "./outcome.ts";
export {
  parseSlurmTime,
  type SlurmResources,
  type SlurmSettings,
  validateSlurmSettings,
} from "./resources.ts";
export { type JobRequest, sbatchArgs, timeLimitMinutes } from "./sbatch_args.ts";
export { SlurmError, type SlurmErrorKind } from "./slurm_error.ts";
export { submitJob, type SubmitOptions } from "./submit.ts";
