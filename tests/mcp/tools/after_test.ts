/** start_task's after: chains in order, failures down a chain, a diamond, refused references. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cleanup, posixTest, startServer, tempDir, waitFor } from "../../helpers.ts";
import { ok, refused, type Reply } from "./helpers.ts";

function ms(iso: unknown): number {
  return Date.parse(iso as string);
}

posixTest("a chain build → test → package runs in order, each after the one before", async () => {
  const home = await tempDir();
  const work = await tempDir("backburner-work-");
  const server = await startServer(home);
  try {
    const build = await ok(server, "start_task", {
      command: "sleep 0.3; echo build >> order",
      cwd: work,
      label: "build",
    });
    const test = await ok(server, "start_task", {
      command: "echo test >> order",
      cwd: work,
      after: [build.task_id],
    });
    const pack = await ok(server, "start_task", {
      command: "echo package >> order",
      cwd: work,
      after: [test.task_id],
    });
    assert.equal(build.status, "working");
    assert.equal(test.status, "queued");
    assert.deepEqual(test.after, [build.task_id]);
    assert.deepEqual(test.waiting_on, [build.task_id]);
    assert.match(test.status_message as string, new RegExp(`waits for task ${build.task_id}`));
    assert.equal(test.position, null);
    const status = await ok(server, "task_status", { task_id: pack.task_id });
    assert.equal(status.status, "queued");
    assert.deepEqual(status.waiting_on, [test.task_id]);

    const { tasks } = await ok(server, "wait_for_task", {
      task_ids: [pack.task_id],
      timeout_seconds: 20,
    }) as { tasks: Reply[] };
    assert.equal(tasks[0].status, "completed");
    assert.equal(Deno.readTextFileSync(join(work, "order")), "build\ntest\npackage\n");
    const [b, t, p] = await Promise.all(
      [build, test, pack].map((task) => ok(server, "task_status", { task_id: task.task_id })),
    );
    assert.ok(ms(t.started_at) >= ms(b.ended_at), "test started before build ended");
    assert.ok(ms(p.started_at) >= ms(t.ended_at), "package started before test ended");
    assert.deepEqual(p.waiting_on, []);
  } finally {
    await server.close();
    await cleanup(home);
    await Deno.remove(work, { recursive: true });
  }
});

posixTest(
  "a failure propagates down a chain: each dependent fails without running, naming its dependency",
  async () => {
    const home = await tempDir();
    const work = await tempDir("backburner-work-");
    const server = await startServer(home);
    try {
      const build = await ok(server, "start_task", { command: "sleep 0.2; exit 3", cwd: work });
      const test = await ok(server, "start_task", {
        command: "touch test-ran",
        cwd: work,
        after: [build.task_id],
      });
      const pack = await ok(server, "start_task", {
        command: "touch package-ran",
        cwd: work,
        after: [test.task_id],
      });
      const { tasks } = await ok(server, "wait_for_task", {
        task_ids: [build.task_id, test.task_id, pack.task_id],
        mode: "all",
        timeout_seconds: 20,
      }) as { tasks: Reply[] };
      const [b, t, p] = tasks;
      assert.equal(b.status, "failed");
      assert.equal(b.exit_code, 3);
      for (const [task, dependency, status] of [[t, b, "failed"], [p, t, "failed"]] as const) {
        assert.equal(task.status, "failed");
        assert.equal(task.exit_code, null);
        assert.equal(task.started_at, null);
        assert.equal(task.output_bytes, 0);
        assert.match(
          task.status_message as string,
          new RegExp(`${dependency.task_id}.*${status}`),
        );
      }
      assert.deepEqual([...Deno.readDirSync(work)], []);
    } finally {
      await server.close();
      await cleanup(home);
      await Deno.remove(work, { recursive: true });
    }
  },
);

posixTest(
  "a diamond: the join runs once after both branches; a failed branch fails the join only",
  async () => {
    const home = await tempDir();
    const work = await tempDir("backburner-work-");
    const server = await startServer(home);
    try {
      const start = (command: string, after: unknown[] = []) =>
        ok(server, "start_task", { command, cwd: work, after });
      const top = await start("sleep 0.2; echo top >> order");
      const left = await start("sleep 0.3; echo left >> order", [top.task_id]);
      const right = await start("echo right >> order", [top.task_id]);
      const join_ = await start("echo join >> order", [left.task_id, right.task_id]);
      assert.deepEqual(join_.waiting_on, [left.task_id, right.task_id]);
      const { tasks } = await ok(server, "wait_for_task", {
        task_ids: [join_.task_id],
        timeout_seconds: 20,
      }) as { tasks: Reply[] };
      assert.equal(tasks[0].status, "completed");
      const order = Deno.readTextFileSync(join(work, "order")).trim().split("\n");
      assert.equal(order.length, 4, order.join(" "));
      assert.equal(order[0], "top");
      assert.deepEqual(order.slice(1, 3).sort(), ["left", "right"]);
      assert.equal(order[3], "join");

      const bad = await start("exit 4", [top.task_id]);
      const good = await start("echo good >> order", [top.task_id]);
      const joined = await start("echo joined >> order", [good.task_id, bad.task_id]);
      const ended = await waitFor(async () => {
        const status = await ok(server, "task_status", { task_id: joined.task_id });
        return status.status === "failed" ? status : null;
      }, { what: "the join of a failed branch to fail" });
      assert.match(ended.status_message as string, new RegExp(`${bad.task_id}.*failed`));
      assert.equal(ended.started_at, null);
      // The other branch is not held back by the failed one.
      await waitFor(async () =>
        (await ok(server, "task_status", { task_id: good.task_id })).status === "completed"
      );
      assert.doesNotMatch(Deno.readTextFileSync(join(work, "order")), /joined/);
    } finally {
      await server.close();
      await cleanup(home);
      await Deno.remove(work, { recursive: true });
    }
  },
);

posixTest(
  "after refuses unknown and malformed task ids, so no cycle can form; nothing is started",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      const unknown = "k3x9m2p7q4wz";
      const text = await refused(server, "start_task", { command: "true", after: [unknown] });
      assert.match(text, new RegExp(unknown));
      assert.match(
        await refused(server, "start_task", { command: "true", after: ["../x"] }),
        /\.\.\/x/,
      );
      assert.match(
        await refused(server, "start_task", { command: "true", after: "k3x9m2p7q4wz" }),
        /after/,
      );
      // A task can only wait for tasks that exist already, so it can never wait for itself.
      assert.equal((await ok(server, "list_tasks", {})).total, 0);
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);
