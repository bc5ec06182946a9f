import assert from "node:assert/strict";
import { afterWrapperExit, decide, type TaskFacts, triage } from "../../src/engine/reconcile.ts";
import type { Task } from "../../src/task.ts";

const NOW = 1_000_000;

const TASK: Task = {
  id: "abcdefghijkl",
  command: "sleep 1",
  cwd: "/",
  status: "working",
  exitCode: null,
  signal: null,
  statusMessage: null,
  createdAt: NOW - 5000,
  startedAt: NOW - 4000,
  endedAt: null,
  pid: 1234,
  timeoutSeconds: null,
  deadlineAt: null,
  owner: "me",
  stopReason: null,
  stopRequestedAt: null,
  label: null,
  ttlMs: null,
  startedBy: "me",
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

function facts(
  overrides: Partial<Omit<TaskFacts, "task">> & { task?: Partial<Task> } = {},
): TaskFacts {
  return {
    ownership: "mine",
    stoppingHere: false,
    watchedHere: false,
    record: null,
    processesLeft: null,
    graceMs: 5000,
    now: NOW,
    ...overrides,
    task: { ...TASK, ...overrides.task },
  };
}

Deno.test("triage: a log past its cap is stopped, a watched task is left, the rest looked at", () => {
  assert.equal(
    triage({ mineUnstopped: true, watchedHere: true, logOverCap: true })?.state,
    "log_over_cap",
  );
  assert.equal(
    triage({ mineUnstopped: true, watchedHere: true, logOverCap: false })?.state,
    "watched_by_child",
  );
  assert.equal(triage({ mineUnstopped: false, watchedHere: true, logOverCap: false }), null);
});

Deno.test("decide names each inconsistent state and what it becomes", () => {
  const cases: [string, TaskFacts, string, string][] = [
    ["owner alive", facts({ ownership: "owner_alive" }), "owner_alive", "nothing"],
    ["owner dead", facts({ ownership: "owner_dead" }), "owner_dead", "adopt"],
    ["stopping here", facts({ stoppingHere: true }), "stopping_here", "nothing"],
    [
      "a stop asked by a dead server",
      facts({ ownership: "adopted", task: { stopReason: "cancel", stopRequestedAt: NOW } }),
      "stop_by_dead_server",
      "stop",
    ],
    [
      "a stop far past its grace",
      facts({ watchedHere: true, task: { stopReason: "cancel", stopRequestedAt: NOW - 20_000 } }),
      "stop_stalled",
      "stop",
    ],
    [
      "a stop that lost its child",
      facts({ task: { stopReason: "cancel", stopRequestedAt: NOW } }),
      "stop_stalled",
      "stop",
    ],
    [
      "a stop under way",
      facts({ watchedHere: true, task: { stopReason: "cancel", stopRequestedAt: NOW } }),
      "stop_under_way",
      "nothing",
    ],
    [
      "the wrapper's own stop",
      facts({ record: { code: 143, at: NOW, reason: "timeout" } }),
      "wrapper_recorded_stop",
      "stop",
    ],
    [
      "an exit record",
      facts({ record: { code: 0, at: NOW, reason: null } }),
      "exit_recorded",
      "end",
    ],
    ["a deadline passed", facts({ task: { deadlineAt: NOW } }), "deadline_passed", "stop"],
    ["unwatched", facts(), "unwatched", "look_for_processes"],
    ["still running", facts({ processesLeft: true }), "still_running", "nothing"],
    ["gone without record", facts({ processesLeft: false }), "gone_without_record", "end"],
    [
      "claimed by a dead server that never began its spawn",
      facts({ ownership: "owner_dead", spawnBegun: false, task: { pid: null, startedAt: null } }),
      "claimed_never_spawned",
      "requeue",
    ],
    [
      "claimed by a dead server that began its spawn",
      facts({ ownership: "owner_dead", spawnBegun: true, task: { pid: null, startedAt: null } }),
      "owner_dead",
      "adopt",
    ],
    [
      "spawn begun, but its command never ran and nothing is left",
      facts({ processesLeft: false, commandStarted: false, task: { pid: null } }),
      "never_started",
      "requeue",
    ],
    [
      "its command ran, and nothing is left",
      facts({ processesLeft: false, commandStarted: true, task: { pid: null } }),
      "gone_without_record",
      "end",
    ],
  ];
  for (const [name, input, state, action] of cases) {
    const decision = decide(input);
    assert.equal(decision.state, state, name);
    assert.equal(decision.action.kind, action, name);
  }
});

Deno.test("an exit record never ends a task before it started; interrupted has its sentence", () => {
  const early = decide(facts({ record: { code: 1, at: NOW - 10_000, reason: null } })).action;
  assert.ok(early.kind === "end");
  assert.equal(early.end.endedAt, TASK.startedAt);
  assert.equal(early.end.status, "failed");
  const gone = decide(facts({ processesLeft: false })).action;
  assert.ok(gone.kind === "end");
  assert.equal(gone.end.status, "interrupted");
  assert.equal(gone.onRace, "nothing");
});

Deno.test("afterWrapperExit: the wrapper's code is the end when no record could be written", () => {
  const exit = { code: 3, signal: null };
  assert.equal(
    afterWrapperExit({ task: undefined, exit, record: null, now: NOW }).state,
    "already_ended",
  );
  assert.equal(
    afterWrapperExit({ task: { ...TASK, stopReason: "cancel" }, exit, record: null, now: NOW })
      .state,
    "stop_requested",
  );
  const unwritten = afterWrapperExit({ task: TASK, exit, record: null, now: NOW });
  assert.equal(unwritten.state, "record_unwritten");
  assert.ok(unwritten.action.kind === "end");
  assert.equal(unwritten.action.end.exitCode, 3);
  assert.equal(
    afterWrapperExit({
      task: TASK,
      exit: { code: null, signal: "SIGKILL" },
      record: null,
      now: NOW,
    })
      .state,
    "wrapper_killed",
  );
});
