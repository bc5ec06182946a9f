import { strict as assert } from "node:assert";
import { type SlurmJob, slurmOutcome } from "../../../src/executors/slurm/mod.ts";

function job(state: string, reason: string | null = null, exit = "0:0"): SlurmJob {
  const [code, signal] = exit.split(":").map(Number);
  return {
    id: "5",
    state,
    reason,
    exitCode: code,
    exitSignal: signal,
    timeLimitSeconds: null,
    nodes: "vm",
    source: "scontrol",
  };
}

Deno.test("each Slurm state maps to backburner's status, with Slurm's words", () => {
  const cases: [SlurmJob | null, string, boolean, number | null, string | null][] = [
    [job("PENDING", "Resources"), "queued", false, null, "Waiting in Slurm's queue (Resources)"],
    [job("PENDING"), "queued", false, null, "Waiting in Slurm's queue (PENDING)"],
    [job("RUNNING"), "working", false, null, null],
    [job("COMPLETING"), "working", false, null, "Slurm says COMPLETING"],
    [
      job("SUSPENDED", "JobHeldAdmin"),
      "working",
      false,
      null,
      "Slurm says SUSPENDED, JobHeldAdmin",
    ],
    [job("COMPLETED"), "completed", true, 0, null],
    [job("FAILED", "NonZeroExitCode", "3:0"), "failed", true, 3, null],
    [job("FAILED", null, "0:9"), "failed", true, null, "Slurm job 5 was killed by signal 9"],
    [
      job("TIMEOUT", "TimeLimit", "0:15"),
      "timed_out",
      true,
      null,
      "Slurm stopped job 5 at its time limit (TIMEOUT, TimeLimit)",
    ],
    [job("CANCELLED", null, "0:15"), "cancelled", true, null, "Slurm cancelled job 5 (CANCELLED)"],
    [
      job("OUT_OF_MEMORY", "OutOfMemory"),
      "failed",
      true,
      null,
      "Slurm job 5 ran out of memory (OUT_OF_MEMORY, OutOfMemory)",
    ],
    [
      job("NODE_FAIL", "NodeDown"),
      "interrupted",
      true,
      null,
      "Slurm job 5 lost its node (NODE_FAIL, NodeDown)",
    ],
    [job("PREEMPTED"), "interrupted", true, null, "Slurm preempted job 5 (PREEMPTED)"],
    [
      job("BOOT_FAIL"),
      "interrupted",
      true,
      null,
      "Slurm could not boot a node for job 5 (BOOT_FAIL)",
    ],
    [null, "interrupted", true, null, "Slurm job 5 vanished from Slurm without an exit record"],
  ];
  for (const [input, status, ended, exitCode, message] of cases) {
    assert.deepEqual(slurmOutcome(input, "5"), { status, ended, exitCode, message }, input?.state);
  }
});
