/**
 * The 2025-11-25 era over HTTP, through the v1 SDK's own Streamable HTTP client: a session opened
 * by initialize, the tools, the protocol's tasks, notifications over SSE, and DELETE.
 */
import assert from "node:assert/strict";
import { cleanup, posixTest, taskPids, tempDir, waitFor } from "../helpers.ts";
import { CallToolResultSchema, TaskStatusNotificationSchema } from "../sdk.ts";
import { connectLegacy, type HttpServer, sessionHeaders, startHttpServer } from "./harness.ts";

async function withServer(
  env: Record<string, string>,
  body: (server: HttpServer) => Promise<void>,
): Promise<void> {
  const home = await tempDir();
  const server = await startHttpServer(home, { env });
  try {
    await body(server);
  } catch (error) {
    console.error(server.stderr());
    throw error;
  } finally {
    await server.stop();
    await cleanup(home);
  }
}

posixTest(
  "2025-11-25 over HTTP: a session runs the tools; wait_for_task's progress comes over SSE; DELETE ends the session",
  () =>
    withServer({}, async (server) => {
      const agent = await connectLegacy(server);
      try {
        const { client } = agent;
        assert.equal(client.getServerVersion()?.name, "backburner");
        assert.ok(client.getServerCapabilities()?.tasks, "the 2025-11-25 tasks capability");
        const { tools } = await client.listTools();
        assert.deepEqual(tools.map((t) => t.name).sort(), [
          "cancel_task",
          "list_tasks",
          "restart_task",
          "run_command",
          "send_input",
          "start_task",
          "task_result",
          "task_status",
          "wait_for_task",
        ]);

        const started = await agent.call("start_task", {
          command: "sleep 1; echo over http; exit 4",
        });
        assert.equal(started.status, "working");
        const id = String(started.task_id);
        const progress: { progress: number; total?: number }[] = [];
        const waited = await agent.call(
          "wait_for_task",
          { task_ids: [id], timeout_seconds: 20 },
          { onprogress: (p) => progress.push(p) },
        );
        assert.equal(waited.reason, "ended");
        const [view] = waited.tasks as Record<string, unknown>[];
        assert.equal(view.task_id, id);
        assert.equal(view.status, "failed");
        assert.equal(view.exit_code, 4);
        assert.ok(progress.length >= 1, "progress notifications arrived over the POST's stream");
        assert.ok(progress.every((p) => p.total === 1));
        assert.equal(progress.at(-1)?.progress, 1);
        // They came as notifications/progress on this session's stream.
        assert.ok(agent.received.some((m) => m.method === "notifications/progress"));

        const result = await agent.call("task_result", { task_id: id });
        assert.equal(result.output, "over http\n");
        assert.equal(result.exit_code, 4);

        // run_command blocks until the command ends and answers its result.
        const ran = await agent.call("run_command", { command: "printf 'a\\nb\\n'" });
        assert.equal(ran.status, "completed");
        assert.equal(ran.output, "a\nb\n");

        // DELETE ends the session: a request naming it afterwards gets 404.
        const sessionId = agent.sessionId;
        await agent.transport.terminateSession();
        const after = await fetch(server.url, {
          method: "POST",
          headers: sessionHeaders(server, sessionId),
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
        });
        assert.equal(after.status, 404);
        const answer = await after.json();
        assert.equal(answer.error.code, -32001);
        assert.match(answer.error.message, /^Session not found: /);
      } finally {
        await agent.close();
      }
    }),
);

posixTest(
  "2025-11-25 native tasks over HTTP: a task-augmented call, notifications/tasks/status over SSE, tasks/get, tasks/result, tasks/cancel",
  () =>
    withServer({ BACKBURNER_GRACE_SECONDS: "1" }, async (server) => {
      const agent = await connectLegacy(server);
      try {
        const { client } = agent;
        const statuses: string[] = [];
        client.setNotificationHandler(TaskStatusNotificationSchema, (n) => {
          statuses.push(`${n.params.taskId}:${n.params.status}`);
        });
        const messages: { type: string; task?: { taskId: string }; result?: unknown }[] = [];
        for await (
          const message of client.experimental.tasks.callToolStream(
            { name: "run_command", arguments: { command: "sleep 0.5; echo from a task" } },
            CallToolResultSchema,
            { task: { ttl: 60_000 } },
          )
        ) {
          messages.push(message as (typeof messages)[number]);
        }
        assert.equal(messages[0].type, "taskCreated");
        const id = messages[0].task!.taskId;
        assert.equal(messages.at(-1)?.type, "result");
        const result = messages.at(-1)!.result as { structuredContent: Record<string, unknown> };
        assert.equal(result.structuredContent.output, "from a task\n");
        assert.equal(result.structuredContent.task_id, id);
        await waitFor(() => statuses.includes(`${id}:completed`), {
          what: "notifications/tasks/status over HTTP",
        });
        const task = await client.experimental.tasks.getTask(id);
        assert.equal(task.status, "completed");
        assert.equal(task.ttl, 60_000);
        const fetched = await client.experimental.tasks.getTaskResult(id, CallToolResultSchema);
        assert.equal(
          (fetched.structuredContent as Record<string, unknown>).output,
          "from a task\n",
        );

        // A running task cancelled with tasks/cancel: its whole tree stops.
        const long = client.experimental.tasks.callToolStream(
          { name: "run_command", arguments: { command: "sleep 600 & sleep 600" } },
          CallToolResultSchema,
          { task: { ttl: 60_000 } },
        );
        const first = await long.next();
        const created = first.value as { type: string; task?: { taskId: string } };
        assert.equal(created.type, "taskCreated");
        const longId = created.task!.taskId;
        await waitFor(() => taskPids(longId).length >= 2, { what: `task ${longId} to start` });
        const cancelled = await client.experimental.tasks.cancelTask(longId);
        assert.equal(cancelled.status, "cancelled");
        await waitFor(() => taskPids(longId).length === 0, { what: "the tree to stop" });
        for await (const _ of long) { /* to its end */ }
        await waitFor(() => statuses.includes(`${longId}:cancelled`), {
          what: "the cancelled status over SSE",
        });
      } finally {
        await agent.close();
      }
    }),
);
