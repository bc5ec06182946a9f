/**
 * The command line on Slurm tasks, against the real one-node cluster: ls and show say where a task
 * runs and its job id, run submits a job with the Slurm flags, cancel stops a job through Slurm.
 */
import { strict as assert } from "node:assert";
import { readJob } from "../../../src/executors/slurm/mod.ts";
import { cli } from "../../cli/helpers.ts";
import { cleanup, startServer, tempDir, waitFor } from "../../helpers.ts";
import { cancelAll, markedRunner, slurmTest } from "./cluster.ts";

slurmTest(
  "the CLI lists and shows slurm tasks with their job ids, runs one with Slurm flags, and cancels one",
  async () => {
    const home = await tempDir("backburner-slurm-cli-");
    const server = await startServer(home);
    const jobs: string[] = [];
    try {
      const agent = await server.call("start_task", {
        command: "echo from-the-agent; sleep 300",
        executor: "slurm",
        slurm: { cpus: 1, time_limit: "10" },
        label: "on-slurm",
      });
      const agentJob = String(agent.slurm_job_id);
      jobs.push(agentJob);
      const id = String(agent.task_id);
      await waitFor(
        async () => (await server.call("task_status", { task_id: id })).status === "working",
        {
          what: "the agent's job to run",
          intervalMs: 100,
        },
      );

      const listed = await cli(home, ["ls"]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /^ID +STATUS +LABEL +QUEUE +EXECUTOR +PROGRESS/);
      assert.match(
        listed.stdout,
        new RegExp(`^${id}  working +on-slurm +default +slurm ${agentJob} `, "m"),
      );
      const shown = await cli(home, ["show", id]);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(
        shown.stdout,
        new RegExp(`^Executor +slurm, job ${agentJob} \\(1 CPU, time limit 10 min 00 s\\)$`, "m"),
      );
      assert.equal(
        JSON.parse((await cli(home, ["show", id, "--json"])).stdout).slurm_job_id,
        agentJob,
      );

      // run submits before it returns: the id it prints already has its job.
      const ran = await cli(home, [
        "run",
        "--executor",
        "slurm",
        "--cpus",
        "1",
        "--time-limit",
        "5:00",
        "--",
        "echo from-the-cli on $SLURM_JOB_ID",
      ]);
      assert.equal(ran.code, 0, ran.stderr);
      const cliId = ran.stdout.trim();
      const cliView = await server.call("task_status", { task_id: cliId });
      assert.equal(cliView.executor, "slurm");
      assert.match(String(cliView.slurm_job_id), /^\d+$/);
      jobs.push(String(cliView.slurm_job_id));
      const waited = await cli(home, ["wait", cliId, "--timeout", "60"]);
      assert.equal(waited.code, 0, waited.stdout + waited.stderr);
      const result = await server.call("task_result", { task_id: cliId });
      assert.match(JSON.stringify(result), new RegExp(`from-the-cli on ${cliView.slurm_job_id}`));

      // Slurm flags without the slurm executor are refused, with what to pass.
      const local = await cli(home, ["run", "--cpus", "2", "--", "true"]);
      assert.equal(local.code, 1);
      assert.match(local.stderr, /slurm settings apply only to executor "slurm"/);
      const badLimit = await cli(home, [
        "run",
        "--executor",
        "slurm",
        "--time-limit",
        "soon",
        "--",
        "true",
      ]);
      assert.equal(badLimit.code, 1);
      assert.match(badLimit.stderr, /Invalid slurm.time_limit "soon"/);

      const cancelled = await cli(home, ["cancel", id]);
      assert.equal(cancelled.code, 0, cancelled.stderr);
      assert.match(cancelled.stdout, /cancelled/);
      const job = await readJob(markedRunner().run, agentJob);
      assert.ok(job === null || job.state === "CANCELLED", JSON.stringify(job));
      assert.equal((await server.call("task_status", { task_id: id })).status, "cancelled");
    } finally {
      await cancelAll(jobs);
      await server.close();
      await cleanup(home);
    }
  },
);
