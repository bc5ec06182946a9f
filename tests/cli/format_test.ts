import assert from "node:assert/strict";
import {
  formatAgo,
  formatDuration,
  listedStatus,
  renderTable,
  shellJoin,
  shorten,
} from "../../src/cli/format.ts";

Deno.test("run quotes several words for the shell exactly as given", () => {
  assert.equal(shellJoin(["npm", "test"]), "npm test");
  assert.equal(shellJoin(["echo", "a b", "it's", "$HOME"]), `echo 'a b' 'it'\\''s' '$HOME'`);
});

Deno.test("durations, ages and shortened text read well", () => {
  assert.equal(formatDuration(0.04), "0.0 s");
  assert.equal(formatDuration(12.34), "12.3 s");
  assert.equal(formatDuration(245), "4 min 05 s");
  assert.equal(formatDuration(3725), "1 h 02 min");
  assert.equal(formatDuration(2 * 86_400 + 4 * 3600), "2 d 04 h");
  const now = Date.now();
  assert.equal(formatAgo(now - 5_000, now), "5 s ago");
  assert.equal(formatAgo(now - 300_000, now), "5 min ago");
  assert.equal(formatAgo(now - 3 * 3_600_000, now), "3 h ago");
  assert.match(formatAgo(now - 3 * 86_400_000, now), /^\d{4}-\d\d-\d\d \d\d:\d\d$/);
  assert.equal(shorten("abcdef", 4), "abc…");
  assert.equal(shorten("abc", 4), "abc");
});

Deno.test("a table pads before painting and gives the last column what is left", () => {
  const paint = (text: string) => `<${text}>`;
  const lines = renderTable(
    ["ID", "STATUS", "COMMAND"],
    [[{ text: "a" }, { text: "ok", paint }, { text: "x".repeat(50) }]],
    { width: 30, minFlexWidth: 10 },
  );
  assert.deepEqual(lines, [
    "ID  STATUS  COMMAND",
    `a   <ok    >  ${"x".repeat(17)}…`,
  ]);
});

Deno.test("an 80-column table cuts the label first, then the command, and fits", () => {
  const header = ["ID", "STATUS", "LABEL", "PROGRESS", "STARTED", "DURATION", "COMMAND"];
  const row = ["jrznwfw92hx5", "working", "unit-tests", "45%", "25 s ago", "25.2 s"];
  const command = `sleep 30; echo ${"x".repeat(80)}`;
  const lines = renderTable(header, [[...row, command].map((text) => ({ text }))], {
    width: 80,
    shrinkable: [2],
    leastFlexWidth: 10,
  });
  assert.ok(lines.every((line) => [...line].length <= 80), lines.join("\n"));
  assert.match(lines[1], /^jrznwfw92hx5 {2}working {2}unit… {2}45% /);
  assert.match(lines[1], /sleep 30; echo xx+…$/);
  // Never below the header's width, and never past the least the command gets.
  const narrow = renderTable(header, [[...row, command].map((text) => ({ text }))], {
    width: 40,
    shrinkable: [2],
    leastFlexWidth: 10,
  });
  assert.match(narrow[1], / unit… /);
  assert.match(narrow[1], / sleep 30;…$/);
});

Deno.test("a working task a stop was asked for is listed as stopping, and why", () => {
  const task = {
    id: "jrznwfw92hx5",
    command: "sleep 600",
    cwd: "/",
    status: "working",
    exitCode: null,
    signal: null,
    statusMessage: null,
    createdAt: 0,
    startedAt: 0,
    endedAt: null,
    pid: 1,
    timeoutSeconds: 1,
    deadlineAt: 1000,
    owner: null,
    stopReason: null,
    stopRequestedAt: null,
    label: null,
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
  } as const;
  assert.equal(listedStatus(task), "working");
  assert.equal(
    listedStatus({ ...task, stopReason: "timeout", stopRequestedAt: 1000 }),
    "stopping (timed out)",
  );
  assert.equal(
    listedStatus({ ...task, stopReason: "cancel", stopRequestedAt: 1000 }),
    "stopping (cancelled)",
  );
  assert.equal(listedStatus({ ...task, status: "timed_out", stopReason: "timeout" }), "timed_out");
});
