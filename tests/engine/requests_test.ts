import assert from "node:assert/strict";
import { checkList, checkOutput, checkStart, resolveCwd } from "../../src/engine/requests.ts";
import { BackburnerError } from "../../src/errors.ts";

function refusal(run: () => unknown): BackburnerError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof BackburnerError);
    return error;
  }
  assert.fail("no error thrown");
}

Deno.test("a bad request is an invalid_argument that names the argument and what to pass", () => {
  const empty = refusal(() => checkStart({ command: " " }, "/"));
  assert.equal(empty.code, "invalid_argument");
  assert.equal(
    empty.message,
    "Cannot start task: command is empty: pass the shell command to run",
  );
  assert.equal(
    refusal(() => checkStart({ command: "true", env: { BACKBURNER_TASK_ID: "x" } }, "/")).message,
    "Cannot start task: env may not set BACKBURNER_TASK_ID: backburner sets it",
  );
  assert.equal(
    refusal(() => checkOutput({ tailLines: 1, headLines: 1 })).message,
    "Pass only one of tail_lines, head_lines, offset and grep, not tail_lines and head_lines",
  );
  assert.equal(
    refusal(() => checkList({ limit: 0 })).message,
    "limit 0 is out of range: pass a whole number from 1 to 1000",
  );
});

Deno.test("a start request comes back checked: cwd resolved, label trimmed, stdin as bytes", () => {
  const start = checkStart({ command: "cat", cwd: "sub", label: " x ", stdin: "hi" }, "/work");
  assert.equal(start.cwd, "/work/sub");
  assert.equal(start.label, "x");
  assert.deepEqual(start.stdin, new TextEncoder().encode("hi"));
  assert.equal(start.timeoutSeconds, null);
  assert.equal(resolveCwd(undefined, "/home"), "/home");
  assert.equal(resolveCwd("/a/../b", "/home"), "/b");
});

Deno.test("a start names its executor: local by default, slurm with checked settings", () => {
  assert.equal(checkStart({ command: "true" }, "/").executor, "local");
  assert.equal(checkStart({ command: "true" }, "/").slurm, null);
  assert.equal(checkStart({ command: "true" }, "/", "slurm").executor, "slurm");
  const slurm = checkStart(
    { command: "true", executor: "slurm", slurm: { cpus: 2, memory: "8g", time_limit: "90" } },
    "/",
  );
  assert.deepEqual(slurm.slurm, {
    partition: null,
    cpus: 2,
    memory: "8G",
    gpus: null,
    timeLimitSeconds: 5400,
    account: null,
  });
  assert.equal(
    refusal(() => checkStart({ command: "true", executor: "k8s" }, "/")).message,
    'Cannot start task: executor "k8s" is unknown: pass "local" or "slurm", or leave it out for "local"',
  );
  assert.equal(
    refusal(() => checkStart({ command: "true", slurm: { cpus: 2 } }, "/")).message,
    'Cannot start task: slurm settings apply only to executor "slurm": pass executor "slurm" or leave slurm out',
  );
  const bad = refusal(() =>
    checkStart({ command: "true", executor: "slurm", slurm: { cpus: 0 } }, "/")
  );
  assert.equal(bad.code, "invalid_argument");
  assert.equal(
    bad.message,
    "Invalid slurm.cpus 0: pass a whole number of CPUs, 1 or more, such as 4",
  );
});
