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
import { CallToolResultSchema, TaskStatusNotificationSchema } from "../sdk.ts";

type Message = { type: string; task?: { taskId: string; status: string }; result?: unknown };

async function streamTask(server: ServerHandle, args: Record<string, unknown>, ttl?: number) {
  const messages: Message[] = [];
  for await (
    const message of server.client.experimental.tasks.callToolStream(
      { name: "run_command", arguments: args },
      CallToolResultSchema,
      { task: { ttl } },
    )
  ) {
    messages.push(message as Message);
  }
  return messages;
}

posixTest(
  "run_command as a task: created at once, then its result, same id space as the plain tools",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      const statuses: string[] = [];
      server.client.setNotificationHandler(TaskStatusNotificationSchema, (n) => {
        statuses.push(`${n.params.taskId}:${n.params.status}`);
      });
      const messages = await streamTask(server, { command: "echo from a task; exit 0" }, 60_000);
      assert.equal(messages[0].type, "taskCreated");
      const id = messages[0].task!.taskId;
      const last = messages.at(-1)!;
      assert.equal(last.type, "result");
      const result = last.result as {
        structuredContent: Record<string, unknown>;
        isError?: boolean;
      };
      assert.equal(result.structuredContent.status, "completed");
      assert.equal(result.structuredContent.output, "from a task\n");
      assert.notEqual(result.isError, true);

      // The protocol task is a backburner task like any other.
      const status = await server.call("task_status", { task_id: id });
      assert.equal(status.status, "completed");
      const listed = await server.call("list_tasks", {});
      assert.equal((listed.tasks as { task_id: string }[])[0].task_id, id);
      const got = await server.client.experimental.tasks.getTask(id);
      assert.equal(got.status, "completed");
      assert.equal(got.ttl, 60_000);
      assert.equal(got.pollInterval, 500);
      await waitFor(() => statuses.includes(`${id}:completed`), {
        what: "notifications/tasks/status",
      });

      // And a task started with start_task answers tasks/get and tasks/result.
      const plain = await server.call("start_task", { command: "echo plain; exit 3" });
      const fetched = await server.client.experimental.tasks.getTaskResult(
        String(plain.task_id),
        CallToolResultSchema,
      );
      assert.equal(fetched.isError, true);
      assert.equal((fetched.structuredContent as Record<string, unknown>).exit_code, 3);
      const mapped = await server.client.experimental.tasks.getTask(String(plain.task_id));
      assert.equal(mapped.status, "failed");
      assert.equal(mapped.statusMessage, "failed: The command failed with exit code 3");
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest("run_command called plainly returns the command's result", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const ok = await server.raw("run_command", { command: "printf 'a\\nb\\n'" });
    assert.notEqual(ok.isError, true);
    const structured = ok.structuredContent as Record<string, unknown>;
    assert.equal(structured.status, "completed");
    assert.equal(structured.exit_code, 0);
    assert.equal(structured.output, "a\nb\n");
    const failing = await server.raw("run_command", { command: "echo nope >&2; exit 9" });
    assert.equal(failing.isError, true);
    assert.equal((failing.structuredContent as Record<string, unknown>).exit_code, 9);
    const refused = await server.raw("run_command", { command: "true", cwd: "/nonexistent" });
    assert.equal(refused.isError, true);
    assert.match(
      refused.content.map((c) => c.type === "text" ? c.text : "").join(""),
      /cwd "\/nonexistent" does not exist/,
    );
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("tasks/cancel kills the whole tree; a timeout maps to failed with a reason", async () => {
  const home = await tempDir();
  const server = await startServer(home, { env: { BACKBURNER_GRACE_SECONDS: "1" } });
  try {
    const started = await server.call("start_task", {
      command: `sh -c 'trap "" TERM; while :; do sleep 0.1; done' & sleep 600`,
    });
    const id = String(started.task_id);
    await waitFor(() => taskPids(id).length >= 3);
    const cancelled = await server.client.experimental.tasks.cancelTask(id);
    assert.equal(cancelled.status, "cancelled");
    assert.deepEqual(taskPids(id), []);
    await assert.rejects(server.client.experimental.tasks.cancelTask(id), /terminal status/);

    const messages = await streamTask(server, { command: "sleep 600", timeout_seconds: 1 });
    const timedOut = await server.client.experimental.tasks.getTask(messages[0].task!.taskId);
    assert.equal(timedOut.status, "failed");
    assert.match(String(timedOut.statusMessage), /^timed_out: Timed out after 1 s/);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest(
  "tasks/list pages newest first; the ttl is honoured up to the retention period",
  async () => {
    const home = await tempDir();
    const server = await startServer(home, { env: { BACKBURNER_RETENTION_DAYS: "1" } });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 55; i++) {
        ids.push(String((await server.call("start_task", { command: "true" })).task_id));
      }
      const first = await server.client.experimental.tasks.listTasks();
      assert.equal(first.tasks.length, 50);
      assert.ok(first.nextCursor);
      const second = await server.client.experimental.tasks.listTasks(first.nextCursor);
      assert.equal(second.tasks.length, 5);
      assert.equal(second.nextCursor, undefined);
      assert.deepEqual(
        [...first.tasks, ...second.tasks].map((t) => t.taskId),
        [...ids].reverse(),
      );
      await assert.rejects(server.client.experimental.tasks.listTasks("bogus"), /Invalid cursor/);

      const long = await streamTask(server, { command: "true" }, 365 * 86_400_000);
      const task = await server.client.experimental.tasks.getTask(long[0].task!.taskId);
      assert.equal(task.ttl, 86_400_000);
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest(
  "a protocol task survives a kill -9 of the server and is read back from the next one",
  async () => {
    const home = await tempDir();
    let second: ServerHandle | undefined;
    try {
      const first = await startServer(home);
      const stream = first.client.experimental.tasks.callToolStream(
        { name: "run_command", arguments: { command: "sleep 1; echo survived; exit 4" } },
        CallToolResultSchema,
        { task: { ttl: 600_000 } },
      );
      const created = (await stream.next()).value as Message;
      const id = created.task!.taskId;
      Deno.kill(first.pid, "SIGKILL");
      await waitFor(() => !isAlive(first.pid));
      await first.client.close().catch(() => {});

      second = await startServer(home);
      const result = await second.client.experimental.tasks.getTaskResult(id, CallToolResultSchema);
      const structured = result.structuredContent as Record<string, unknown>;
      assert.equal(structured.exit_code, 4);
      assert.equal(structured.output, "survived\n");
      const task = await second.client.experimental.tasks.getTask(id);
      assert.equal(task.status, "failed");
      assert.equal(task.ttl, 600_000);
    } finally {
      await second?.close();
      await cleanup(home);
    }
  },
);

posixTest("a task-augmented call with a progressToken gets progress notifications", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const progress: { progress: number; total?: number; message?: string }[] = [];
    const messages: Message[] = [];
    for await (
      const message of server.client.experimental.tasks.callToolStream(
        {
          name: "run_command",
          arguments: {
            command: 'for i in 1 2 3; do echo "::progress:: $i/3 step $i"; sleep 1.2; done',
          },
        },
        CallToolResultSchema,
        { task: { ttl: 60_000 }, onprogress: (p) => progress.push(p) },
      )
    ) {
      messages.push(message as Message);
    }
    assert.equal(messages.at(-1)?.type, "result");
    assert.ok(progress.length >= 2, `got ${progress.length} progress notifications`);
    assert.ok(progress.every((p, i) => i === 0 || p.progress > progress[i - 1].progress));
    assert.equal(progress[0].total, 100);
    assert.match(String(progress[0].message), /^step \d$/);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("a plain run_command whose request the client cancels stops its task", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const controller = new AbortController();
    const call = server.client.callTool(
      { name: "run_command", arguments: { command: "sleep 1000" } },
      CallToolResultSchema,
      { signal: controller.signal },
    );
    const refused = assert.rejects(call);
    // The client never sees this id: only list_tasks shows it.
    const id = await waitFor(async () => {
      const listed = await server.call("list_tasks", { status: "working" });
      return (listed.tasks as { task_id: string }[])[0]?.task_id;
    }, { what: "the run_command task to start" });
    await waitFor(() => taskPids(id).length > 0, { what: `task ${id}'s processes` });
    // The SDK client sends notifications/cancelled for the request.
    controller.abort("the agent moved on");
    await refused;
    const end = await waitFor(async () => {
      const status = await server.call("task_status", { task_id: id });
      return status.status !== "working" ? status : null;
    }, { what: `task ${id} to end` });
    assert.equal(end.status, "cancelled");
    assert.deepEqual(taskPids(id), []);
    assert.match(server.stderr(), /cancelled the run_command call/);
    // The server serves on.
    assert.equal((await server.call("task_status", { task_id: id })).status, "cancelled");
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest(
  "a queued task is working to tasks/get and tasks/list, with a statusMessage saying why it waits",
  async () => {
    const home = await tempDir();
    const server = await startServer(home, { env: { BACKBURNER_QUEUES: "default=1" } });
    try {
      const blocker = await server.call("start_task", { command: "sleep 600" });
      const queued = await server.call("start_task", { command: "echo later" });
      const after = await server.call("start_task", {
        command: "echo last",
        after: [queued.task_id],
      });
      assert.equal(queued.status, "queued");
      const got = await server.client.experimental.tasks.getTask(queued.task_id as string);
      assert.equal(got.status, "working");
      assert.equal(
        got.statusMessage,
        'queued: waits for a slot in queue "default"; position 1 in line',
      );
      const waiting = await server.client.experimental.tasks.getTask(after.task_id as string);
      assert.equal(waiting.status, "working");
      assert.equal(waiting.statusMessage, `queued: waits for task ${queued.task_id} to complete`);
      const { tasks } = await server.client.experimental.tasks.listTasks();
      assert.deepEqual(tasks.map((task) => task.status), ["working", "working", "working"]);

      await server.call("cancel_task", { task_id: blocker.task_id });
      const done = await waitFor(async () => {
        const task = await server.client.experimental.tasks.getTask(after.task_id as string);
        return task.status === "completed" ? task : null;
      }, { what: "the queue to drain" });
      assert.equal(done.statusMessage, "The command exited with code 0");
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);
