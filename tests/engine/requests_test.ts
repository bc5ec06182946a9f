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
