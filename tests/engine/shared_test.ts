import assert from "node:assert/strict";
import {
  cleanup,
  isAlive,
  posixTest,
  type ServerHandle,
  startServer,
  taskPids,
  tempDir,
  waitFor,
} from "../helpers.ts";

async function ended(
  server: ServerHandle,
  id: unknown,
  timeoutMs = 20_000,
): Promise<Record<string, unknown>> {
  return await waitFor(async () => {
    const status = await server.call("task_status", { task_id: id });
    return status.status === "working" ? null : status;
  }, { timeoutMs, what: `task ${id} to end` });
}

posixTest(
  "two servers on one state directory see, finish and cancel each other's tasks",
  async () => {
    const home = await tempDir();
    const env = { BACKBURNER_GRACE_SECONDS: "1" };
    const a = await startServer(home, { env });
    const b = await startServer(home, { env });
    try {
      // Many starts and reads at once through both servers: no "database is locked".
      const starts = await Promise.all(
        Array.from(
          { length: 40 },
          (_, i) =>
            (i % 2 ? a : b).call("start_task", {
              command: `sleep 0.$((RANDOM % 5)); exit ${i % 7}`,
            }),
        ),
      );
      const reads = await Promise.all(
        starts.flatMap((t, i) => [
          (i % 2 ? b : a).call("task_status", { task_id: t.task_id }),
          (i % 2 ? a : b).call("list_tasks", { limit: 50 }),
        ]),
      );
      assert.equal(reads.length, 80);
      for (const [i, task] of starts.entries()) {
        const fromA = await ended(a, task.task_id);
        const fromB = await b.call("task_status", { task_id: task.task_id });
        assert.equal(fromA.status, i % 7 === 0 ? "completed" : "failed");
        assert.equal(fromA.exit_code, i % 7);
        // One recorded end, the same from either server.
        assert.equal(fromB.ended_at, fromA.ended_at);
        // Equal but for what grows with the time of reading.
        assert.deepEqual(fromB, {
          ...fromA,
          duration_seconds: fromB.duration_seconds,
          seconds_since_output: fromB.seconds_since_output,
        });
      }

      // A long task of A's, cancelled through B.
      const long = await a.call("start_task", {
        command: `sh -c 'trap "" TERM; while :; do sleep 0.1; done' & sleep 600`,
      });
      await waitFor(() => taskPids(String(long.task_id)).length >= 3);
      const cancelled = await b.call("cancel_task", { task_id: long.task_id });
      assert.equal(cancelled.status, "cancelled");
      assert.deepEqual(taskPids(String(long.task_id)), []);
      assert.equal((await a.call("task_status", { task_id: long.task_id })).status, "cancelled");

      // While both live, neither adopts nor interrupts the other's tasks.
      const slow = await a.call("start_task", { command: "sleep 1.5; exit 3" });
      await waitFor(() => taskPids(String(slow.task_id)).length > 0);
      const end = await ended(b, slow.task_id);
      assert.equal(end.status, "failed");
      assert.equal(end.exit_code, 3);
      for (const server of [a, b]) {
        assert.doesNotMatch(server.stderr(), /adopted|interrupted|locked/);
      }
    } finally {
      await a.close();
      await b.close();
      await cleanup(home);
    }
  },
);

posixTest("when one of two servers is killed, the other adopts its running tasks", async () => {
  const home = await tempDir();
  const a = await startServer(home);
  const b = await startServer(home);
  try {
    const task = await a.call("start_task", {
      command: "while [ ! -f release ]; do sleep 0.05; done; exit 9",
      cwd: home,
    });
    await waitFor(() => taskPids(String(task.task_id)).length > 0);
    Deno.kill(a.pid, "SIGKILL");
    await waitFor(() => !isAlive(a.pid));
    await waitFor(() => b.stderr().includes(`adopted task ${task.task_id}`), {
      what: "server B to adopt the task",
    });
    assert.equal((await b.call("task_status", { task_id: task.task_id })).status, "working");
    Deno.writeTextFileSync(`${home}/release`, "");
    const end = await ended(b, task.task_id);
    assert.equal(end.status, "failed");
    assert.equal(end.exit_code, 9);
  } finally {
    await a.client.close().catch(() => {});
    await b.close();
    await cleanup(home);
  }
});
