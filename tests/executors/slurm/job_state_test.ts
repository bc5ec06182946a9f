import { strict as assert } from "node:assert";
import {
  type CommandRunner,
  findJobByName,
  parseScontrolJob,
  parseSqueueJob,
  readJob,
} from "../../../src/executors/slurm/mod.ts";

// A line scontrol show job -o printed here (Slurm 22.05), shortened.
const LINE =
  "JobId=7 JobName=bb test UserId=root(0) GroupId=root(0) Priority=4294901759 Nice=0 Account=(null) " +
  "JobState=FAILED Reason=NonZeroExitCode Dependency=(null) Requeue=0 Restarts=0 BatchFlag=1 " +
  "ExitCode=3:0 RunTime=00:00:01 TimeLimit=00:02:00 TimeMin=N/A AllocNode:Sid=localhost:28551 " +
  "NodeList=vm BatchHost=vm CPUs/Task=1 ReqB:S:C:T=0:0:*:* WorkDir=/tmp/a dir StdOut=/dev/null";

Deno.test("a scontrol show job -o line parses into the job's state, reason and exit", () => {
  assert.deepEqual(parseScontrolJob(LINE), {
    id: "7",
    state: "FAILED",
    reason: "NonZeroExitCode",
    exitCode: 3,
    exitSignal: 0,
    timeLimitSeconds: 120,
    nodes: "vm",
    source: "scontrol",
  });
  const pending = parseScontrolJob(
    "JobId=8 JobName=x JobState=PENDING Reason=None ExitCode=0:0 TimeLimit=UNLIMITED NodeList=(null)",
  );
  assert.equal(pending?.reason, null);
  assert.equal(pending?.nodes, null);
  assert.equal(pending?.timeLimitSeconds, null);
  assert.equal(parseScontrolJob("nonsense"), null);
});

Deno.test("a squeue line parses, without an exit code", () => {
  assert.deepEqual(parseSqueueJob("9|PENDING|Resources|1:00|"), {
    id: "9",
    state: "PENDING",
    reason: "Resources",
    exitCode: null,
    exitSignal: null,
    timeLimitSeconds: 60,
    nodes: null,
    source: "squeue",
  });
});

Deno.test("readJob falls back to squeue when scontrol says nothing usable", async () => {
  const calls: string[] = [];
  const run: CommandRunner = (command) => {
    calls.push(command);
    return Promise.resolve(
      command === "scontrol"
        ? { code: 1, stdout: "", stderr: "scontrol: error: something odd\n" }
        : { code: 0, stdout: "12|RUNNING|None|UNLIMITED|vm\n", stderr: "" },
    );
  };
  const job = await readJob(run, "12");
  assert.deepEqual(calls, ["scontrol", "squeue"]);
  assert.equal(job?.state, "RUNNING");
  assert.equal(job?.source, "squeue");
});

Deno.test("findJobByName tells a job found, none, and a squeue that did not answer apart", async () => {
  const answering = (code: number, stdout: string): CommandRunner => (command, args) => {
    assert.equal(command, "squeue");
    assert.deepEqual(args, ["-h", "-t", "all", "-n", "bb-abc", "-o", "%i"]);
    return Promise.resolve({ code, stdout, stderr: "" });
  };
  assert.deepEqual(await findJobByName(answering(0, "31\n"), "bb-abc"), {
    answered: true,
    jobId: "31",
  });
  assert.deepEqual(await findJobByName(answering(0, ""), "bb-abc"), {
    answered: true,
    jobId: null,
  });
  assert.deepEqual(await findJobByName(answering(1, ""), "bb-abc"), {
    answered: false,
    jobId: null,
  });
});
