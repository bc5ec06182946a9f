/**
 * The Slurm half of the engine: submitting a claimed slurm task (its job script, a ping of
 * slurmctld, sbatch), following the jobs in each look (adopting the tasks of dead servers, finding
 * a job whose id was never recorded, one squeue for every job), a stop by scancel, and saying once
 * when Slurm stops answering. What a task becomes is slurm_reconcile.ts's; the Slurm commands are
 * src/executors/slurm/'s. The engine passes in what it shares (store, status hooks, stops).
 *
 * @module
 */
import { BackburnerError } from "../errors.ts";
import type { ExitRecord } from "../executors/executor.ts";
import {
  cancelJob,
  type CommandRunner,
  denoCommandRunner,
  findJobByName,
  pingController,
  readJobs,
  SlurmError,
  slurmJobName,
  slurmOutcome,
  submitJob,
  validateSlurmSettings,
  writeJobScript,
} from "../executors/slurm/mod.ts";
import type { PolicyGate } from "../policy/gate.ts";
import { unsafeInheritedEnv } from "../policy/rules.ts";
import type { Store, TaskEnd } from "../store.ts";
import { isTerminal, statusForStop, type StopReason, type Task } from "../task.ts";
import { exitEventPath } from "./exit_events.ts";
import { endFromRecord, endOfSlurmStop, type SlurmStep, slurmStep } from "./slurm_reconcile.ts";
import { CANCELLED_QUEUED_MESSAGE } from "./stop.ts";
import {
  commandNotedAt,
  hasStdin,
  prepareAttempt,
  readExitRecord,
  slurmOutputPath,
  taskPaths,
} from "./task_files.ts";

export interface SlurmTasksOptions {
  readonly store: Store;
  /** The state directory. */
  readonly home: string;
  /** This engine's server id: the owner of what it submits and adopts. */
  readonly serverId: string;
  /** Unsafe inherited variables are unset in the job (the policy's rules). */
  readonly policy: PolicyGate;
  readonly maxLogBytes: number;
  readonly graceSeconds: number;
  /** How Slurm's commands are run. Default: the real ones, made on first use. */
  readonly runner?: CommandRunner;
  readonly log: (message: string) => void;
  /** The servers (by id) that are alive, this one included (live_servers.ts). */
  readonly liveOwners: () => Promise<Set<string>>;
  /** Whether this engine is stopping the task (its stop decides). */
  readonly stoppingHere: (id: string) => boolean;
  /** Asks the engine for a stop nobody waits for. */
  readonly stopInBackground: (id: string, reason: StopReason) => void;
  /** A status change was recorded. */
  readonly changed: (id: string) => void;
  /** The task ended: forget what was kept for it while it ran. */
  readonly ended: (id: string) => void;
  /** Sends a task whose command failed back to its queue when it has retries left. */
  readonly retry: (id: string, end: TaskEnd) => boolean;
}

/** Submits, follows and stops the tasks this engine runs as Slurm jobs. */
export class SlurmTasks {
  readonly #options: SlurmTasksOptions;
  readonly #store: Store;
  readonly #log: (message: string) => void;
  #runner: CommandRunner | undefined;
  /** Submissions of Slurm tasks under way here, by task id: each resolves with its error. */
  readonly #submitting = new Map<string, Promise<BackburnerError | null>>();
  /** Submissions whose start call waits for them (settle), by task id. */
  readonly #ownSubmissions = new Map<string, Promise<BackburnerError | null>>();
  /** Tasks whose start call awaits its submission (settle was called before it ended). */
  readonly #settling = new Set<string>();
  /** Whether the last look found Slurm tasks to follow (nothing announces their changes). */
  #active = false;
  /** When a reconcile pass last found slurmctld not answering (logged once per outage). */
  #down = false;

  constructor(options: SlurmTasksOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#log = options.log;
  }

  /** Whether there are Slurm tasks to follow: the monitor then looks every interval. */
  get active(): boolean {
    return this.#active;
  }

  /** Resolves once no submission is under way here. */
  async submitted(): Promise<void> {
    await Promise.all(this.#submitting.values());
  }

  #paths(id: string) {
    return taskPaths(this.#options.home, id);
  }

  /** The runner of Slurm's commands, made on first use (a server without Slurm never needs it). */
  #slurm(): CommandRunner {
    return this.#runner ??= this.#options.runner ?? denoCommandRunner();
  }

  /**
   * Submits a task this server has just claimed, in the background. `own`: the start that asked
   * reports its own failure when it awaits it (settle); otherwise the task ends failed with it.
   */
  submit(task: Task, own: boolean): void {
    const submission = this.#submit(task);
    this.#submitting.set(task.id, submission);
    submission.finally(() => this.#submitting.delete(task.id));
    if (own) this.#ownSubmissions.set(task.id, submission);
    void submission.then((error) => {
      if (this.#settling.has(task.id)) return;
      this.#ownSubmissions.delete(task.id);
      this.#failSubmission(task.id, error);
    });
  }

  /**
   * Waits for the submission of a task claimed by its own start: undefined when there is none,
   * else its error or null. The caller undoes a start that failed.
   */
  async settle(id: string): Promise<BackburnerError | null | undefined> {
    const submission = this.#ownSubmissions.get(id);
    if (submission === undefined) return undefined;
    this.#settling.add(id);
    try {
      return await submission;
    } finally {
      this.#settling.delete(id);
      this.#ownSubmissions.delete(id);
    }
  }

  /**
   * Submits a claimed slurm task: the wrapper and the job script into its folder, then a ping of
   * slurmctld (it answers at once, where sbatch retries for ~9 s) and sbatch. The job id is
   * recorded and the task waits in Slurm's queue. Resolves with the error, or null.
   */
  async #submit(task: Task): Promise<BackburnerError | null> {
    const { id } = task;
    const paths = this.#paths(id);
    let script: string;
    try {
      prepareAttempt(paths, task.attempt);
      const inherited = unsafeInheritedEnv(this.#options.policy, Deno.env.toObject());
      script = writeJobScript({
        taskId: id,
        command: task.command,
        dir: paths.dir,
        logPath: paths.log,
        exitPath: paths.exit,
        stdinPath: hasStdin(paths) ? paths.stdin : undefined,
        env: this.#store.taskEnv(id),
        unset: Object.keys(inherited),
        maxLogBytes: this.#options.maxLogBytes,
        timeoutSeconds: task.timeoutSeconds,
        graceSeconds: this.#options.graceSeconds,
        exitEventPath: exitEventPath(this.#options.home, id),
      });
    } catch (error) {
      return new BackburnerError(
        "storage_failure",
        `Cannot start task: its job script could not be written to "${paths.dir}" (${
          error instanceof Error ? error.message : String(error)
        }): free disk space or fix the state directory, then try again`,
      );
    }
    let jobId: string;
    try {
      await pingController(this.#slurm());
      jobId = await submitJob(this.#slurm(), {
        name: slurmJobName(id),
        cwd: task.cwd,
        script,
        output: slurmOutputPath(paths.dir),
        resources: task.slurm ?? validateSlurmSettings({}),
        timeoutSeconds: task.timeoutSeconds,
      });
    } catch (error) {
      return new BackburnerError(
        "executor_unavailable",
        error instanceof SlurmError
          ? `Cannot start task: ${error.message}`
          : `Cannot start task: sbatch could not be run (${String(error)})`,
      );
    }
    // Nothing announces a Slurm job's changes: the monitor looks every interval while one runs.
    this.#active = true;
    try {
      if (
        !this.#store.recordSlurmJob(
          id,
          jobId,
          `Slurm job ${jobId}: submitted, waiting in Slurm's queue`,
        )
      ) {
        // Ended meanwhile (its record removed, or ended by hand): its job must not run.
        this.#log(
          `task ${id} ended while its Slurm job ${jobId} was submitted: cancelling the job`,
        );
        this.#cancelInBackground(jobId);
        return null;
      }
    } catch (error) {
      this.#cancelInBackground(jobId);
      return new BackburnerError(
        "storage_failure",
        `Cannot start task: the state directory "${this.#options.home}" could not record its Slurm job (${
          error instanceof Error ? error.message : String(error)
        }): free disk space or fix the directory, then try again`,
      );
    }
    this.#options.changed(id);
    return null;
  }

  #cancelInBackground(jobId: string): void {
    cancelJob(this.#slurm(), jobId).catch((error) =>
      this.#log(`cancelling Slurm job ${jobId} failed: ${String(error)}`)
    );
  }

  /** A queued slurm task whose submission failed ends failed with Slurm's words. */
  #failSubmission(id: string, error: BackburnerError | null): void {
    if (error === null) return;
    this.#log(`task ${id} could not be submitted to Slurm: ${error.message}`);
    if (
      this.#store.finishSlurm(id, {
        status: "failed",
        exitCode: null,
        signal: null,
        statusMessage: error.message,
        endedAt: Date.now(),
      })
    ) this.#options.changed(id);
  }

  /** Whether slurmctld answers; an outage and its end are logged once each. */
  async #controllerUp(): Promise<boolean> {
    try {
      await pingController(this.#slurm());
      if (this.#down) this.#log("Slurm answers again");
      this.#down = false;
      return true;
    } catch (error) {
      if (!this.#down) {
        this.#log(
          `Slurm is not answering, so Slurm tasks keep their status until it does: ${
            error instanceof Error ? error.message : error
          }`,
        );
      }
      this.#down = true;
      return false;
    }
  }

  /**
   * One pass over the slurm tasks: adopts those whose server died, finds the job of a task whose
   * server died between sbatch and its record (by the job's name), and moves each task as its exit
   * record (first) or Slurm says. A controller that does not answer changes nothing.
   */
  async reconcile(): Promise<void> {
    const { serverId } = this.#options;
    const tasks = this.#store.slurmTasks();
    this.#active = tasks.length > 0;
    if (tasks.length === 0) return;
    const owners = new Set<string>();
    for (const task of tasks) if (task.owner !== null) owners.add(task.owner);
    owners.delete(serverId);
    const live = owners.size > 0 ? await this.#options.liveOwners() : new Set([serverId]);
    let controllerUp: boolean | undefined;
    const controller = async () => controllerUp ??= await this.#controllerUp();
    const asking: { task: Task; jobId: string; record: ExitRecord | null }[] = [];
    for (let task of tasks) {
      const { id } = task;
      if (this.#busy(id)) continue;
      if (task.owner !== serverId) {
        if (task.owner !== null && live.has(task.owner)) continue;
        if (!this.#store.claimSlurm(id, task.owner, serverId)) continue;
        this.#log(`adopted Slurm task ${id}: the process that watched it is gone`);
        task = this.#store.getTask(id) ?? task;
      }
      if (task.stopReason) {
        // A stop its dead server began, finished here.
        this.#options.stopInBackground(id, task.stopReason);
        continue;
      }
      const record = readExitRecord(this.#paths(id).exit);
      // The command's own end: final at once, as for a local task.
      if (record !== null && record.reason === null) {
        this.#perform(task, { kind: "end", end: endFromRecord(task, record) });
        continue;
      }
      if (!await controller()) continue;
      if (task.slurmJobId === null) {
        await this.#findJob(task);
        continue;
      }
      asking.push({ task, jobId: task.slurmJobId, record });
    }
    if (asking.length === 0) return;
    let jobs;
    try {
      // One squeue for every job; scontrol only for those that ended.
      jobs = await readJobs(this.#slurm(), asking.map((entry) => entry.jobId));
    } catch (error) {
      this.#log(`reading the Slurm jobs failed: ${error instanceof Error ? error.message : error}`);
      return;
    }
    for (const { task, jobId, record: seen } of asking) {
      if (this.#busy(task.id)) continue;
      const outcome = slurmOutcome(jobs.get(jobId) ?? null, jobId);
      let record = seen;
      // The wrapper writes its record before the job ends: look again once Slurm says ended.
      if (record === null && outcome.ended) record = readExitRecord(this.#paths(task.id).exit);
      // The wrapper's own stop (timeout, log cap) is final once Slurm says the job is gone.
      if (record !== null && record.reason !== null && !outcome.ended) continue;
      this.#perform(task, slurmStep(task, record, outcome, Date.now()));
    }
  }

  /** Whether a submission or a stop of the task is under way here: it decides, not a look. */
  #busy(id: string): boolean {
    return this.#submitting.has(id) || this.#options.stoppingHere(id);
  }

  #perform(task: Task, step: SlurmStep): void {
    const dir = this.#paths(task.id).dir;
    if (step.kind === "state") {
      const at = commandNotedAt(dir) ?? Date.now();
      if (this.#store.setSlurmState(task.id, step.status, step.message, at)) {
        this.#options.changed(task.id);
      }
      return;
    }
    if (this.#options.retry(task.id, step.end)) return;
    if (this.#store.finishSlurm(task.id, step.end, commandNotedAt(dir))) {
      this.#options.ended(task.id);
      this.#options.changed(task.id);
      if (step.end.status === "interrupted") this.#log(`task ${task.id} was interrupted`);
    }
  }

  /**
   * A claimed slurm task with no job recorded and no submission here: its server died around
   * sbatch. Its job is found by name; with none, it never ran and goes back to its queue.
   */
  async #findJob(task: Task): Promise<void> {
    let found;
    try {
      found = await findJobByName(this.#slurm(), slurmJobName(task.id));
    } catch (error) {
      this.#log(`looking for the Slurm job of task ${task.id} failed: ${String(error)}`);
      return;
    }
    const { jobId } = found;
    if (jobId !== null) {
      if (
        this.#store.recordSlurmJob(task.id, jobId, `Slurm job ${jobId}: found again by its name`)
      ) {
        this.#log(`task ${task.id}: found its Slurm job ${jobId} by name`);
        this.#options.changed(task.id);
      }
      return;
    }
    if (found.answered && this.#store.requeueUnspawned(task.id, this.#options.serverId)) {
      this.#log(`task ${task.id} went back to its queue: its server died before submitting it`);
      this.#options.changed(task.id);
    }
  }

  /**
   * The stop of a slurm task: scancel, and the status changes only once Slurm says the job is gone
   * (final state, not COMPLETING). A task whose job ended by itself first keeps that end.
   */
  async stop(id: string, reason: StopReason): Promise<Task | undefined> {
    await this.#submitting.get(id);
    let task = this.#store.getTask(id);
    if (!task || isTerminal(task.status)) return task;
    if (task.slurmJobId === null) {
      if (task.status === "queued") {
        this.#store.cancelQueued(id, Date.now(), CANCELLED_QUEUED_MESSAGE);
      } else {
        this.#store.finishSlurm(id, {
          status: statusForStop(reason),
          exitCode: null,
          signal: null,
          statusMessage: "Stopped before its Slurm job was submitted; it never ran",
          endedAt: Date.now(),
        });
      }
      this.#options.changed(id);
      return this.#store.getTask(id);
    }
    const jobId = task.slurmJobId;
    task = this.#store.requestSlurmStop(id, reason, Date.now()) ?? task;
    let job;
    try {
      job = await cancelJob(this.#slurm(), jobId);
    } catch (error) {
      throw new BackburnerError(
        "executor_unavailable",
        error instanceof SlurmError
          ? `Cannot cancel task ${id}: ${error.message}`
          : `Cannot cancel task ${id}: scancel could not be run (${String(error)})`,
      );
    }
    const paths = this.#paths(id);
    const end = endOfSlurmStop({
      task,
      reason,
      jobId,
      job,
      outcome: slurmOutcome(job, jobId),
      record: readExitRecord(paths.exit),
      now: Date.now(),
    });
    if (end !== null && this.#store.finishSlurm(id, end, commandNotedAt(paths.dir))) {
      this.#options.ended(id);
      this.#options.changed(id);
    }
    return this.#store.getTask(id);
  }
}
