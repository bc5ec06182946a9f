/**
 * A task can write its own folder, and the server reads the small files its wrapper leaves there
 * (src/engine/task_files.ts: cgroup, command, stop, spawned, exit). A task that turns them into
 * FIFOs must not hang the server: a plain synchronous read of a FIFO blocks the whole process
 * until a writer comes. The server also writes there (a retry's spawn mark and log marker): a
 * symlink the task left must not be written through (it could point at the state database). All
 * go through src/task_folder_io.ts. Through a real server on stdio.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { cleanup, type ServerHandle, startServer, taskPids, tempDir, waitFor } from "../helpers.ts";
import { ok, output } from "../mcp/tools/helpers.ts";

/** The call's answer, or a failure naming it when the server takes longer than `ms`. */
async function within<T>(ms: number, what: string, call: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([call, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A test against a real server on stdio in a fresh state directory, stopped and removed after. */
function serverTest(name: string, fn: (server: ServerHandle, home: string) => Promise<void>): void {
  Deno.test({
    name,
    ignore: Deno.build.os === "windows",
    fn: async () => {
      const home = await tempDir();
      const server = await startServer(home);
      try {
        await fn(server, home);
      } finally {
        await server.close();
        await cleanup(home);
      }
    },
  });
}

/** Waits until task `id` has ended (retries included), asking list_tasks within 5 s each time. */
async function waitForEnd(server: ServerHandle, id: unknown, what: string): Promise<string> {
  let status = "";
  await waitFor(async () => {
    const listed = await within(5000, "list_tasks", ok(server, "list_tasks", {}));
    const tasks = listed.tasks as { task_id: string; status: string }[];
    status = tasks.find((t) => t.task_id === id)?.status ?? "";
    return status !== "" && status !== "working" && status !== "queued";
  }, { what });
  return status;
}

serverTest(
  "a task that makes its wrapper's files FIFOs does not hang a cancel or the server",
  async (server, home) => {
    const { task_id: id } = await ok(server, "start_task", {
      command: 'f="$TASKS/$BACKBURNER_TASK_ID"; rm -f "$f/cgroup" "$f/command" "$f/spawned"; ' +
        'mkfifo "$f/cgroup" "$f/command" "$f/spawned" "$f/stop"; echo ready; sleep 60',
      env: { TASKS: join(home, "tasks") },
    });
    await waitFor(async () => /ready\n$/.test(await output(server, id)), {
      what: "the task to make its FIFOs",
    });
    const status = await within(5000, "task_status", ok(server, "task_status", { task_id: id }));
    assert.equal(status.status, "working");
    const cancelled = await within(
      15_000,
      "cancel_task",
      ok(server, "cancel_task", { task_id: id }),
    );
    assert.equal(cancelled.status, "cancelled");
    assert.deepEqual(taskPids(String(id)), []);
    await within(5000, "list_tasks", ok(server, "list_tasks", {}));
  },
);

serverTest(
  "a task that makes its stdin file a FIFO does not hang a restart or the server",
  async (server, home) => {
    const { task_id: id } = await ok(server, "start_task", {
      command: 'f="$TASKS/$BACKBURNER_TASK_ID"; rm -f "$f/stdin"; mkfifo "$f/stdin"; echo done',
      stdin: "original\n",
      env: { TASKS: join(home, "tasks") },
    });
    await waitFor(async () => /done\n$/.test(await output(server, id)), {
      what: "the task to swap its stdin",
    });
    const again = await within(
      5000,
      "restart_task",
      ok(server, "restart_task", { task_id: id }),
    );
    assert.notEqual(again.task_id, id);
    await within(5000, "list_tasks", ok(server, "list_tasks", {}));
  },
);

Deno.test({
  name:
    "a retry writes its marks into the task's folder, never through a symlink the task left there",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const home = await tempDir();
    const victim = join(home, "victim.txt");
    await Deno.writeTextFile(victim, "keep me\n");
    const server = await startServer(home);
    try {
      // Each attempt points spawned (rewritten at each attempt) and the log (appended to by the
      // retry marker) at the victim, then fails so that it is retried.
      const { task_id: id } = await ok(server, "start_task", {
        command:
          'f="$TASKS/$BACKBURNER_TASK_ID"; rm -f "$f/spawned"; ln -s "$VICTIM" "$f/spawned"; ' +
          'mv "$f/output.log" "$f/old.log"; ln -s "$VICTIM" "$f/output.log"; exit 3',
        env: { TASKS: join(home, "tasks"), VICTIM: victim },
        retries: 2,
        retry_delay_seconds: 0,
      });
      assert.equal(await waitForEnd(server, id, "the retried task to end"), "failed");

      assert.equal(await Deno.readTextFile(victim), "keep me\n");
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
});

serverTest(
  "a retry of a task that made its log a FIFO does not hang the server",
  async (server, home) => {
    const { task_id: id } = await ok(server, "start_task", {
      command: 'f="$TASKS/$BACKBURNER_TASK_ID"; mv "$f/output.log" "$f/old.log"; ' +
        'mkfifo "$f/output.log"; exit 3',
      env: { TASKS: join(home, "tasks") },
      retries: 1,
      retry_delay_seconds: 0,
    });
    assert.equal(await waitForEnd(server, id, "the retried task to end"), "failed");
    await within(5000, "list_tasks", ok(server, "list_tasks", {}));
  },
);

serverTest(
  "send_input never writes through a symlink a task put in place of its input FIFO",
  async (server, home) => {
    const { task_id: other } = await ok(server, "start_task", {
      command: "cat",
      interactive: true,
    });
    const { task_id: id } = await ok(server, "start_task", {
      command: 'f="$TASKS/$BACKBURNER_TASK_ID"; rm -f "$f/input-1"; ' +
        'ln -s "$TASKS/$OTHER/input-1" "$f/input-1"; echo ready; sleep 60',
      interactive: true,
      env: { TASKS: join(home, "tasks"), OTHER: String(other) },
    });
    await waitFor(async () => /ready\n$/.test(await output(server, id)), {
      what: "the task to swap its input FIFO",
    });
    const sent = await within(
      20_000,
      "send_input",
      server.raw("send_input", { task_id: id, text: "meant for the first task\n" }),
    );
    assert.equal(sent.isError, true, JSON.stringify(sent.content));
    // The other task's own input still works, and got nothing else.
    await ok(server, "send_input", { task_id: other, text: "its own\n" });
    await waitFor(async () => /its own\n$/.test(await output(server, other)), {
      what: "the other task to echo its own input",
    });
    assert.equal(await output(server, other), "its own\n");
    await ok(server, "cancel_task", { task_id: id });
    await ok(server, "cancel_task", { task_id: other });
  },
);
