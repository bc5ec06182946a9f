import { strict as assert } from "node:assert";
import { endFromRecord, slurmStep } from "../../src/engine/slurm_reconcile.ts";
import type { Task } from "../../src/task.ts";

const TASK = {
  id: "abcdefghijkm",
  createdAt: 1000,
  startedAt: null,
  timeoutSeconds: 5,
  slurmJobId: "42",
} as unknown as Task;

Deno.test("the exit record decides first; then Slurm's state, with its words", () => {
  const record = { code: 3, at: 2000, reason: null };
  assert.deepEqual(slurmStep(TASK, record, queued(), 9), {
    kind: "end",
    end: endFromRecord(TASK, record),
  });
  assert.equal(endFromRecord(TASK, record).status, "failed");
  assert.equal(endFromRecord(TASK, { code: 143, at: 2000, reason: "timeout" }).status, "timed_out");
  assert.deepEqual(slurmStep(TASK, null, queued(), 9), {
    kind: "state",
    status: "queued",
    message: "Slurm job 42: Waiting in Slurm's queue (Resources)",
  });
  assert.deepEqual(
    slurmStep(TASK, null, { status: "working", ended: false, exitCode: null, message: null }, 9),
    { kind: "state", status: "working", message: null },
  );
  const vanished = slurmStep(TASK, null, {
    status: "interrupted",
    ended: true,
    exitCode: null,
    message: "Slurm job 42 vanished from Slurm without an exit record",
  }, 9);
  assert.equal(vanished.kind, "end");
  assert.equal(vanished.kind === "end" && vanished.end.status, "interrupted");
});

function queued() {
  return {
    status: "queued" as const,
    ended: false,
    exitCode: null,
    message: "Waiting in Slurm's queue (Resources)",
  };
}
