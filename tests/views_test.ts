import assert from "node:assert/strict";
import type { Task } from "../src/task.ts";
import {
  queuedMessage,
  StatusViewSchema,
  TaskResultSchema,
  TaskViewSchema,
  viewResult,
  viewStatus,
  viewTask,
} from "../src/views.ts";

const TASK: Task = {
  id: "k3x9m2p7q4wz",
  command: "npm test",
  cwd: "/work",
  status: "working",
  exitCode: null,
  signal: null,
  statusMessage: null,
  createdAt: Date.UTC(2026, 10, 28, 12, 0, 0),
  startedAt: Date.UTC(2026, 10, 28, 12, 0, 1),
  endedAt: null,
  pid: 4242,
  timeoutSeconds: null,
  deadlineAt: null,
  owner: null,
  stopReason: null,
  stopRequestedAt: null,
  label: "unit",
  ttlMs: null,
  startedBy: null,
  queue: "default",
  after: [],
  attempt: 1,
  retries: 0,
  retryDelayMs: 1000,
  notBefore: null,
  idempotencyKey: null,
  restartOf: null,
  executor: "local",
  slurmJobId: null,
  slurm: null,
};

Deno.test("a task's view has the wire shape, key order included, and its schema accepts it", () => {
  const view = viewTask(TASK, 12, Date.UTC(2026, 10, 28, 12, 0, 3, 500));
  assert.deepEqual(Object.keys(view), [
    "task_id",
    "status",
    "label",
    "command",
    "cwd",
    "exit_code",
    "signal",
    "status_message",
    "created_at",
    "started_at",
    "ended_at",
    "duration_seconds",
    "timeout_seconds",
    "pid",
    "output_bytes",
    "queue",
    "position",
    "after",
    "waiting_on",
    "next_attempt_at",
    "attempt",
    "attempts",
    "restart_of",
    "idempotency_key",
    "executor",
    "slurm_job_id",
  ]);
  assert.equal(view.duration_seconds, 2.5);
  assert.equal(view.created_at, "2026-11-28T12:00:00.000Z");
  assert.deepEqual(TaskViewSchema.parse(view), view);
});

Deno.test("a status view adds what the output shows, and its schema accepts it", () => {
  const progress = { percent: 45, updated_at: "2026-11-28T12:00:02.000Z" };
  const view = viewStatus(
    TASK,
    12,
    { progress, secondsSinceOutput: 1, waitingForInput: false },
    Date.UTC(2026, 10, 28, 12, 0, 3),
  );
  assert.deepEqual(Object.keys(view).slice(-5), [
    "progress",
    "seconds_since_output",
    "waiting_for_input",
    "interactive",
    "input_open",
  ]);
  assert.equal(view.interactive, false, "not interactive unless the task folder says so");
  assert.deepEqual(StatusViewSchema.parse(view), view);
});

Deno.test("a result view says what a read left out, and its schema accepts it", () => {
  const view = viewResult({
    task: { ...TASK, status: "completed", exitCode: 0, endedAt: TASK.startedAt },
    slice: {
      text: "ok\n",
      totalBytes: 10,
      startOffset: 7,
      nextOffset: 10,
      omittedBefore: 7,
      omittedAfter: 0,
      note: "7 bytes before",
    },
  });
  assert.equal(view.output_truncated, true);
  assert.equal(view.status_message, "The command exited with code 0");
  assert.deepEqual(TaskResultSchema.parse(view), view);
});

Deno.test("a queued task's view says why it waits: its dependencies, a retry's delay, its place", () => {
  const now = Date.UTC(2026, 10, 28, 12, 0, 10);
  const queued: Task = {
    ...TASK,
    status: "queued",
    startedAt: null,
    pid: null,
    queue: "gpu",
    after: ["p7q4wzk3x9m2"],
    retries: 2,
  };
  const waiting = viewTask(queued, 0, now, {
    position: null,
    waitingOn: ["p7q4wzk3x9m2"],
    notBefore: null,
  });
  assert.equal(waiting.status_message, "Queued: waits for task p7q4wzk3x9m2 to complete");
  assert.deepEqual(waiting.waiting_on, ["p7q4wzk3x9m2"]);
  assert.equal(waiting.position, null);
  assert.equal(waiting.duration_seconds, null);
  assert.equal(waiting.attempts, 3);
  assert.deepEqual(TaskViewSchema.parse(waiting), waiting);

  const full = viewTask(queued, 0, now, { position: 2, waitingOn: [], notBefore: null });
  assert.equal(full.status_message, 'Queued: waits for a slot in queue "gpu"; position 2 in line');
  assert.equal(full.position, 2);

  const retry = { ...queued, attempt: 2 };
  const later = viewTask(retry, 0, now, { position: 1, waitingOn: [], notBefore: now + 1500 });
  assert.equal(
    later.status_message,
    "Queued: attempt 2 of 3 starts in 2 s, after the last one failed",
  );
  assert.equal(later.next_attempt_at, "2026-11-28T12:00:11.500Z");
  assert.equal(
    queuedMessage(retry, null, now),
    'Queued: waits in queue "gpu" to start (attempt 2 of 3)',
  );

  // Only a queued task shows a place in line.
  const running = viewTask(TASK, 0, now, { position: 1, waitingOn: ["x"], notBefore: null });
  assert.equal(running.position, null);
  assert.deepEqual(running.waiting_on, []);
});
