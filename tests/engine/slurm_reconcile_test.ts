import { strict as assert } from "node:assert";
import { endFromRecord, endOfSlurmStop, slurmStep } from "../../src/engine/slurm_reconcile.ts";
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

Deno.test("a stopped Slurm task keeps its command's own end, else ends as the stop once Slurm says gone", () => {
  const facts = {
    task: { ...TASK, stopReason: "cancel" } as Task,
    reason: "cancel" as const,
    jobId: "42",
    job: null,
    outcome: { status: "cancelled" as const, ended: true, exitCode: null, message: null },
    record: null,
    now: 9,
  };
  assert.deepEqual(endOfSlurmStop(facts), {
    status: "cancelled",
    exitCode: null,
    signal: null,
    statusMessage: "Cancelled: Slurm says job 42 is gone (no longer known to Slurm)",
    endedAt: 9,
  });
  // Ended by itself before scancel reached it: its own end.
  assert.equal(
    endOfSlurmStop({ ...facts, record: { code: 0, at: 5, reason: null } })?.status,
    "completed",
  );
  // Died of the stop's signal: stopped, in the words of the stop recorded first.
  const timedOut = endOfSlurmStop({
    ...facts,
    task: { ...TASK, stopReason: "timeout" } as Task,
    record: { code: 143, at: 5, reason: null },
  });
  assert.equal(timedOut?.status, "timed_out");
  assert.match(timedOut?.statusMessage ?? "", /^Timed out: /);
  // Slurm says the job still runs: no end yet.
  assert.equal(
    endOfSlurmStop({
      ...facts,
      outcome: { status: "working", ended: false, exitCode: null, message: null },
    }),
    null,
  );
});

function queued() {
  return {
    status: "queued" as const,
    ended: false,
    exitCode: null,
    message: "Waiting in Slurm's queue (Resources)",
  };
}
