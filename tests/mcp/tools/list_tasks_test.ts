import assert from "node:assert/strict";
import { join } from "node:path";
import { cleanup, errorText, posixTest, runToEnd, startServer, tempDir } from "../../helpers.ts";
import { finish, ok, type Reply } from "./helpers.ts";

posixTest("list_tasks lists newest first, respects the limit and counts its tasks", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const ids: unknown[] = [];
    for (const n of [1, 2, 3]) {
      ids.push((await finish(server, { command: `echo ${n}` })).task_id);
    }
    const all = await ok(server, "list_tasks", {});
    assert.equal(all.count, 3);
    const tasks = all.tasks as Reply[];
    assert.deepEqual(tasks.map((task) => task.task_id), [...ids].reverse());
    assert.deepEqual(tasks.map((task) => task.command), ["echo 3", "echo 2", "echo 1"]);
    assert.deepEqual(tasks.map((task) => task.status), ["completed", "completed", "completed"]);
    const two = await ok(server, "list_tasks", { limit: 2 });
    assert.equal(two.count, 2);
    assert.deepEqual((two.tasks as Reply[]).map((task) => task.task_id), [ids[2], ids[1]]);
    const one = await ok(server, "list_tasks", { limit: 1 });
    assert.equal(one.count, 1);
    assert.deepEqual((one.tasks as Reply[]).map((task) => task.task_id), [ids[2]]);
    const many = await ok(server, "list_tasks", { limit: 1000 });
    assert.equal(many.count, 3);
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
      /^list_tasks cannot use status "done": pass one of "queued", "working", "completed", /,
    );
    await server.call("cancel_task", { task_id: running.task_id });
  } finally {
    await server.close();
    await cleanup(home);
  }
});
