import assert from "node:assert/strict";
import { join } from "node:path";
import { cleanup, errorText, posixTest, runToEnd, startServer, tempDir } from "./helpers.ts";

posixTest("start_task passes env, label and stdin to the task", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const task = await runToEnd(server, {
      command: 'echo "$GREETING $WHO"; cat; echo "[stdin closed]"',
      env: { GREETING: "hello", WHO: "world" },
      label: "greeter",
      stdin: "line one\nline two\n",
    });
    assert.equal(task.status, "completed");
    assert.equal(task.label, "greeter");
    const result = await server.call("task_result", { task_id: task.task_id });
    assert.equal(result.output, "hello world\nline one\nline two\n[stdin closed]\n");
    // Without stdin, a command that reads it sees end of input at once instead of hanging.
    const reader = await runToEnd(server, { command: "cat; echo done" });
    assert.equal(
      (await server.call("task_result", { task_id: reader.task_id })).output,
      "done\n",
    );
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("start_task refuses bad env, label and stdin", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ env: { "1BAD": "x" } }, /env name "1BAD" is not a valid variable name/],
      [{ env: { "A-B": "x" } }, /not a valid variable name/],
      [{ env: { BACKBURNER_TASK_ID: "x" } }, /may not set BACKBURNER_TASK_ID/],
      [{ env: { A: 1 } }, /Input validation error/],
      [{ label: "" }, /label "" must be 1 to 100 printable characters/],
      [{ label: "x".repeat(101) }, /must be 1 to 100 printable characters/],
      [{ label: "a\nb" }, /printable/],
      [{ stdin: "x".repeat(11 * 1024 * 1024) }, /stdin is \d+ bytes, more than/],
    ];
    for (const [args, expected] of cases) {
      const result = await server.raw("start_task", { command: "true", ...args });
      assert.match(errorText(result), expected, JSON.stringify(args).slice(0, 80));
    }
    assert.equal((await server.call("list_tasks", {})).total, 0);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("the policy sees env entries as assignments", async () => {
  const home = await tempDir();
  const server = await startServer(home, {
    env: { BACKBURNER_ALLOW: "^echo( |$),^CI=", BACKBURNER_DENY: "^LD_PRELOAD=" },
  });
  try {
    const preload = await server.raw("start_task", {
      command: "echo hi",
      env: { LD_PRELOAD: "/tmp/x.so" },
    });
    assert.equal(
      errorText(preload),
      'Command refused by policy: "LD_PRELOAD=/tmp/x.so" matches BACKBURNER_DENY rule "^LD_PRELOAD=" (from the env parameter)',
    );
    const other = await server.raw("start_task", { command: "echo hi", env: { FOO: "1" } });
    assert.match(errorText(other), /"FOO=1" matches no BACKBURNER_ALLOW rule/);
    const fine = await runToEnd(server, { command: "echo $CI", env: { CI: "1" } });
    assert.equal(fine.status, "completed");
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("list_tasks filters by status, label and cwd and gives the total", async () => {
  const home = await tempDir();
  const other = join(home, "other");
  Deno.mkdirSync(other);
  const server = await startServer(home);
  try {
    for (let i = 0; i < 3; i++) await runToEnd(server, { command: "true", label: "ok" });
    await runToEnd(server, { command: "exit 1", label: "bad", cwd: other });
    const running = await server.call("start_task", { command: "sleep 600", label: "long" });

    const all = await server.call("list_tasks", { limit: 2 });
    assert.equal(all.count, 2);
    assert.equal(all.total, 5);
    assert.equal((all.tasks as { task_id: string }[])[0].task_id, running.task_id);

    const ok = await server.call("list_tasks", { label: "ok" });
    assert.equal(ok.total, 3);
    const failed = await server.call("list_tasks", { status: "failed" });
    assert.deepEqual((failed.tasks as { label: string }[]).map((t) => t.label), ["bad"]);
    const working = await server.call("list_tasks", { status: "working" });
    assert.equal(working.total, 1);
    const inOther = await server.call("list_tasks", { cwd: other });
    assert.equal(inOther.total, 1);
    const none = await server.call("list_tasks", { label: "ok", status: "failed" });
    assert.deepEqual([none.total, none.count], [0, 0]);
    assert.match(
      errorText(await server.raw("list_tasks", { status: "done" })),
      /Input validation error/,
    );
    await server.call("cancel_task", { task_id: running.task_id });
  } finally {
    await server.close();
    await cleanup(home);
  }
});
