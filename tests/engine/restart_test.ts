import assert from "node:assert/strict";
import { join } from "node:path";
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

async function killServer(server: ServerHandle): Promise<void> {
  Deno.kill(server.pid, "SIGKILL");
  await waitFor(() => !isAlive(server.pid), { what: "the server to die" });
  await server.client.close().catch(() => {});
}

async function statusOf(server: ServerHandle, id: unknown) {
  return await server.call("task_status", { task_id: id });
}

async function ended(server: ServerHandle, id: unknown, timeoutMs = 15_000) {
  return await waitFor(async () => {
    const status = await statusOf(server, id);
    return status.status === "working" ? null : status;
  }, { timeoutMs, what: `task ${id} to end` });
}

function logOf(home: string, id: unknown): string {
  return Deno.readTextFileSync(join(home, "tasks", String(id), "output.log"));
}

posixTest("tasks outlive a kill -9 of the server and the next server adopts them", async () => {
  const home = await tempDir();
  let first: ServerHandle | undefined;
  let second: ServerHandle | undefined;
  try {
    first = await startServer(home);
    const ticker = await first.call("start_task", {
      command: "for i in 1 2 3 4 5 6; do echo tick $i; sleep 0.2; done",
    });
    const failing = await first.call("start_task", { command: "sleep 0.5; echo bye; exit 7" });
    const long = await first.call("start_task", { command: "echo long; sleep 600" });
    const late = await first.call("start_task", { command: "sleep 600", timeout_seconds: 1 });
    const vanishing = await first.call("start_task", { command: "sleep 600" });
    await waitFor(() => logOf(home, ticker.task_id).includes("tick 1"));
    await waitFor(() => taskPids(String(vanishing.task_id)).length > 0);
    await killServer(first);

    // No server is alive: the tasks go on writing their own logs.
    await waitFor(() => logOf(home, ticker.task_id).includes("tick 6"), { what: "tick 6" });
    await waitFor(() => logOf(home, failing.task_id).includes("bye"));
    // Kill one task's whole tree from outside, so it leaves no exit record.
    for (const pid of taskPids(String(vanishing.task_id))) Deno.kill(pid, "SIGKILL");
    await waitFor(() => taskPids(String(vanishing.task_id)).length === 0);
    // Let the timed task's deadline pass while nobody watches.
    await waitFor(() => Date.now() > Date.parse(String(late.created_at)) + 1500);

    second = await startServer(home);
    const tickerEnd = await ended(second, ticker.task_id);
    assert.equal(tickerEnd.status, "completed");
    assert.equal(tickerEnd.exit_code, 0);
    const result = await second.call("task_result", { task_id: ticker.task_id });
    assert.equal(result.output, "tick 1\ntick 2\ntick 3\ntick 4\ntick 5\ntick 6\n");

    const failingEnd = await ended(second, failing.task_id);
    assert.equal(failingEnd.status, "failed");
    assert.equal(failingEnd.exit_code, 7);

    const lateEnd = await ended(second, late.task_id);
    assert.equal(lateEnd.status, "timed_out");
    assert.deepEqual(taskPids(String(late.task_id)), []);

    const vanishedEnd = await ended(second, vanishing.task_id);
    assert.equal(vanishedEnd.status, "interrupted");
    assert.match(String(vanishedEnd.status_message), /left no exit code/);

    // Still running: adopted, not interrupted, and the new server can stop it.
    assert.equal((await statusOf(second, long.task_id)).status, "working");
    assert.ok(taskPids(String(long.task_id)).length > 0);
    const cancelled = await second.call("cancel_task", { task_id: long.task_id });
    assert.equal(cancelled.status, "cancelled");
    assert.deepEqual(taskPids(String(long.task_id)), []);
  } finally {
    await second?.close();
    if (first && isAlive(first.pid)) await first.close();
    await cleanup(home);
  }
});

for (const how of ["stdin closed", "SIGTERM"] as const) {
  posixTest(`tasks keep running when the server exits (${how})`, async () => {
    const home = await tempDir();
    let second: ServerHandle | undefined;
    try {
      const first = await startServer(home);
      const task = await first.call("start_task", {
        command: "echo begun; while [ ! -f stop ]; do sleep 0.05; done; echo finished",
      });
      await waitFor(() => logOf(home, task.task_id).includes("begun"));
      if (how === "SIGTERM") {
        Deno.kill(first.pid, "SIGTERM");
        await waitFor(() => !isAlive(first.pid), { what: "the server to exit" });
        await first.client.close().catch(() => {});
      } else {
        await first.close();
      }
      assert.ok(taskPids(String(task.task_id)).length > 0, "the task died with the server");
      Deno.writeTextFileSync(join(home, "stop"), "");
      await waitFor(() => logOf(home, task.task_id).includes("finished"));

      second = await startServer(home);
      const end = await ended(second, task.task_id);
      assert.equal(end.status, "completed");
      assert.equal(
        (await second.call("task_result", { task_id: task.task_id })).output,
        "begun\nfinished\n",
      );
    } finally {
      await second?.close();
      await cleanup(home);
    }
  });
}

posixTest("BACKBURNER_ON_EXIT=cancel stops the server's tasks before it exits", async () => {
  const home = await tempDir();
  let second: ServerHandle | undefined;
  try {
    const first = await startServer(home, {
      env: { BACKBURNER_ON_EXIT: "cancel", BACKBURNER_GRACE_SECONDS: "1" },
    });
    const task = await first.call("start_task", {
      command: `sh -c 'trap "" TERM; while :; do sleep 0.1; done' & sleep 600`,
    });
    await waitFor(() => taskPids(String(task.task_id)).length >= 3);
    await first.close();
    // close() returns once the server process is gone, and the server exits only after the tree.
    assert.deepEqual(taskPids(String(task.task_id)), []);
    second = await startServer(home);
    const end = await statusOf(second, task.task_id);
    assert.equal(end.status, "cancelled");
    assert.match(String(end.status_message), /BACKBURNER_ON_EXIT=cancel/);
  } finally {
    await second?.close();
    await cleanup(home);
  }
});
