import { strict as assert } from "node:assert";
import { join } from "node:path";
import {
  cancelJob,
  readJob,
  readJobs,
  slurmOutcome,
  submitJob,
  validateSlurmSettings,
} from "../../../src/executors/slurm/mod.ts";
import type { JobRequest } from "../../../src/executors/slurm/mod.ts";
import { isAlive, tempDir, waitFor } from "../../helpers.ts";
import { cancelAll, markedPids, markedRunner, slurmTest, waitJob } from "./cluster.ts";

function request(dir: string, script: string, overrides: Partial<JobRequest> = {}): JobRequest {
  return {
    name: "bb-test",
    cwd: dir,
    script,
    output: join(dir, "slurm.out"),
    resources: validateSlurmSettings({}),
    timeoutSeconds: null,
    ...overrides,
  };
}

/** Runs a test with a temp dir and a list of its jobs, cancelled and removed afterwards. */
async function withJobs(fn: (dir: string, jobs: string[]) => Promise<void>): Promise<void> {
  const dir = await tempDir("backburner-slurm-");
  const jobs: string[] = [];
  try {
    await fn(dir, jobs);
  } finally {
    await cancelAll(jobs);
    await Deno.remove(dir, { recursive: true });
  }
}

const ended = (job: { state: string } | null) => slurmOutcome(job as never).ended;

slurmTest("a Slurm job runs its command and completes with exit code 0", async () => {
  await withJobs(async (dir, jobs) => {
    const { run } = markedRunner();
    const id = await submitJob(run, request(dir, "echo hello from $SLURM_JOB_ID > result.txt"));
    jobs.push(id);
    assert.match(id, /^\d+$/);
    const job = await waitJob(run, id, ended, { what: `job ${id} to end` });
    assert.equal(job?.state, "COMPLETED");
    assert.equal(job?.exitCode, 0);
    assert.deepEqual(slurmOutcome(job, id), {
      status: "completed",
      ended: true,
      exitCode: 0,
      message: null,
    });
    assert.equal(await Deno.readTextFile(join(dir, "result.txt")), `hello from ${id}\n`);
  });
});

slurmTest("a Slurm job's non-zero exit is failed with its exit code", async () => {
  await withJobs(async (dir, jobs) => {
    const { run } = markedRunner();
    const id = await submitJob(run, request(dir, "echo oops >&2; exit 3"));
    jobs.push(id);
    const job = await waitJob(run, id, ended, { what: `job ${id} to end` });
    assert.equal(job?.state, "FAILED");
    assert.equal(job?.reason, "NonZeroExitCode");
    assert.deepEqual(slurmOutcome(job, id), {
      status: "failed",
      ended: true,
      exitCode: 3,
      message: null,
    });
    // Slurm's own stdout/stderr of the job go to the file the request names.
    assert.equal(await Deno.readTextFile(join(dir, "slurm.out")), "oops\n");
  });
});

slurmTest("a Slurm job waits behind another (queued with Slurm's reason), then runs", async () => {
  await withJobs(async (dir, jobs) => {
    const { run } = markedRunner();
    const cpus = await nodeCpus();
    const blocker = await submitJob(
      run,
      request(dir, "touch blocker.started; exec sleep 300", {
        resources: validateSlurmSettings({ cpus }),
      }),
    );
    jobs.push(blocker);
    await waitJob(run, blocker, (job) => job?.state === "RUNNING", {
      what: `blocker ${blocker} to run`,
    });
    const follower = await submitJob(run, request(dir, "touch follower.ran; exec sleep 300"));
    jobs.push(follower);
    // Give the scheduler a pass at the follower; it must stay queued, with Slurm's reason.
    const queued = await waitJob(run, follower, (job) => job?.reason !== null, {
      what: `follower ${follower} to get a reason`,
    });
    assert.equal(queued?.state, "PENDING");
    const outcome = slurmOutcome(queued, follower);
    assert.equal(outcome.status, "queued");
    assert.equal(outcome.ended, false);
    assert.match(outcome.message ?? "", /^Waiting in Slurm's queue \((Resources|Priority)\)$/);
    await cancelJob(run, blocker);
    const running = await waitJob(run, follower, (job) => job?.state === "RUNNING", {
      what: `follower ${follower} to run`,
    });
    assert.equal(slurmOutcome(running, follower).status, "working");
    await waitFor(() => exists(join(dir, "follower.ran")), { what: "the follower's command" });
  });
});

slurmTest(
  "scancel of a Slurm job leaves nothing of its tree: a TERM-ignoring child and a setsid'd grandchild",
  async () => {
    await withJobs(async (dir, jobs) => {
      const { run, marker } = markedRunner();
      const script = [
        `sh -c 'trap "" TERM; setsid sh -c "echo \\$\\$ > grandchild.pid; exec sleep 1000" &`,
        `echo $$ > child.pid; while :; do sleep 1; done' &`,
        "echo $$ > main.pid; wait",
      ].join(" ");
      const id = await submitJob(run, request(dir, script));
      jobs.push(id);
      const pids = await waitFor(async () => {
        const files = ["main.pid", "child.pid", "grandchild.pid"];
        const read = await Promise.all(files.map((file) => readPid(join(dir, file))));
        return read.every((pid) => pid !== null) ? read as number[] : null;
      }, { what: "the job's three processes" });
      for (const pid of pids) assert.ok(isAlive(pid), `pid ${pid} runs before the cancel`);
      assert.ok(markedPids(marker).length >= 3);
      const started = performance.now();
      const job = await cancelJob(run, id);
      const seconds = (performance.now() - started) / 1000;
      assert.equal(job?.state, "CANCELLED");
      assert.equal(slurmOutcome(job, id).status, "cancelled");
      // Once Slurm says the job ended, every process of it is gone (proctrack/cgroup).
      for (const pid of pids) assert.ok(!isAlive(pid), `pid ${pid} is gone after the cancel`);
      assert.deepEqual(markedPids(marker), []);
      // KillWait=5: the TERM-ignoring processes needed the KILL that follows.
      assert.ok(seconds < 30, `the cancel took ${seconds.toFixed(1)} s`);
    });
  },
);

slurmTest("a Slurm job's timeout becomes its time limit, and TIMEOUT is timed_out", async () => {
  await withJobs(async (dir, jobs) => {
    const { run, marker } = markedRunner();
    const id = await submitJob(
      run,
      request(dir, "touch started; exec sleep 300", { timeoutSeconds: 61 }),
    );
    jobs.push(id);
    const running = await waitJob(run, id, (job) => job?.state === "RUNNING", {
      what: `job ${id} to run`,
    });
    // 61 s rounds up to Slurm's whole minutes.
    assert.equal(running?.timeLimitSeconds, 120);
    // Slurm checks limits about every 30 s, so a real 2-minute limit ends 2-2.5 min in. Moving the
    // job's end time to now (an operator's scontrol command) lets the next check end it instead.
    // slurmctld refuses an end time before its own clock ("Invalid time specified"), and scontrol
    // reads "now" a moment before slurmctld does: aim 2 s ahead, and try again if it still lands late.
    await waitFor(async () => {
      const update = await new Deno.Command("scontrol", {
        args: ["update", `JobId=${id}`, "EndTime=now+2"],
        stdout: "null",
        stderr: "piped",
      }).output();
      if (update.success) return true;
      throw new Error(new TextDecoder().decode(update.stderr).trim());
    }, {
      timeoutMs: 20_000,
      intervalMs: 500,
      what: `scontrol to move job ${id}'s end time to now`,
    });
    const job = await waitJob(run, id, ended, { timeoutMs: 60_000, what: `job ${id} to time out` });
    assert.equal(job?.state, "TIMEOUT");
    const outcome = slurmOutcome(job, id);
    assert.equal(outcome.status, "timed_out");
    assert.equal(outcome.message, `Slurm stopped job ${id} at its time limit (TIMEOUT, TimeLimit)`);
    await waitFor(() => markedPids(marker).length === 0, { what: "the timed-out job's processes" });
  });
});

slurmTest("a job id Slurm does not know reads as vanished: interrupted", async () => {
  const { run } = markedRunner();
  const job = await readJob(run, "999999999");
  assert.equal(job, null);
  assert.deepEqual(slurmOutcome(job, "999999999"), {
    status: "interrupted",
    ended: true,
    exitCode: null,
    message: "Slurm job 999999999 vanished from Slurm without an exit record",
  });
});

async function nodeCpus(): Promise<number> {
  const output = await new Deno.Command("sinfo", {
    args: ["-h", "-N", "-o", "%c"],
    stdout: "piped",
  }).output();
  const cpus = Number(new TextDecoder().decode(output.stdout).trim().split("\n")[0]);
  assert.ok(cpus >= 1, "sinfo names the node's CPUs");
  return cpus;
}

async function readPid(path: string): Promise<number | null> {
  try {
    const text = (await Deno.readTextFile(path)).trim();
    return /^\d+$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

slurmTest(
  "readJobs reads several jobs with one squeue, and scontrol's exit code for ended ones",
  async () => {
    await withJobs(async (dir, jobs) => {
      const { run } = markedRunner();
      const calls: string[] = [];
      const counted: typeof run = (command, args, options) => {
        calls.push(command);
        return run(command, args, options);
      };
      const failing = await submitJob(run, request(dir, "exit 5"));
      jobs.push(failing);
      await waitJob(run, failing, ended, { what: `job ${failing} to end` });
      const running = await submitJob(run, request(dir, "sleep 30"));
      jobs.push(running);
      await waitJob(run, running, (job) => job?.state === "RUNNING", {
        what: `job ${running} to run`,
      });
      const read = await readJobs(counted, [failing, running, "999999999"]);
      assert.equal(read.get(running)?.state, "RUNNING");
      assert.equal(read.get(failing)?.state, "FAILED");
      assert.equal(read.get(failing)?.exitCode, 5);
      assert.equal(read.get("999999999"), null);
      // squeue once; scontrol for the ended job and the unknown one (not for the running one).
      assert.equal(calls.filter((command) => command === "squeue").length <= 2, true);
      assert.equal(calls[0], "squeue");
    });
  },
);
