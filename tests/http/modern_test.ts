/**
 * The 2026-07-28 era over HTTP, through the v2 SDK's client pinned to it and ext-tasks: no
 * session, the era's headers, tasks created by tools/call and driven by tasks/get and
 * tasks/cancel; GET and DELETE are not part of the era (405); a header that contradicts the body
 * is refused (-32020).
 */
import assert from "node:assert/strict";
import { cleanup, isAlive, posixTest, taskPids, tempDir, waitFor } from "../helpers.ts";
import { authHeaders, type HttpServer, startHttpServer } from "./harness.ts";
import { connectModern, meta, VERSION } from "./modern_client.ts";

type Json = Record<string, unknown>;

function record(value: unknown, what: string): Json {
  assert.ok(
    typeof value === "object" && value !== null && !Array.isArray(value),
    `${what} is not an object: ${JSON.stringify(value)}`,
  );
  return value as Json;
}

function structured(result: unknown): Json {
  return record(record(result, "tool result").structuredContent, "structuredContent");
}

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
  "2026-07-28 over HTTP: the v2 client pinned to the era lists the tools; a task-creating tools/call, then tasks/get until completed with its result inline",
  () =>
    withServer({}, async (server) => {
      const modern = await connectModern(server);
      try {
        const { client, session, wire } = modern;
        assert.equal(client.getProtocolEra(), "modern");
        assert.equal(client.getNegotiatedProtocolVersion(), VERSION);
        assert.equal(modern.transport.sessionId, undefined, "no session in this era");
        const { tools } = await client.listTools();
        assert.ok(tools.some((t) => t.name === "run_command"));
        assert.ok(tools.some((t) => t.name === "start_task"));

        const execution = await session.callTool(
          "run_command",
          { command: "sleep 0.8; echo via an http task" },
          { task: { preference: "require" } },
        );
        assert.ok(execution.kind === "task", `not a task: ${execution.kind}`);
        const id = execution.handle.taskId;
        const { outcome } = await execution.settle();
        assert.equal(outcome.status, "completed", JSON.stringify(outcome));

        // On the wire: a task result, then tasks/get polled until completed with the result.
        const call = wire.find((e) =>
          e.dir === "out" && e.message.method === "tools/call" &&
          record(e.message.params, "params").name === "run_command"
        );
        assert.ok(call);
        const answerTo = (requestId: unknown) =>
          wire.find((e) => e.dir === "in" && e.message.id === requestId && !("method" in e.message))
            ?.message;
        const created = record(answerTo(call.message.id)?.result, "task result");
        assert.equal(created.resultType, "task");
        assert.equal(created.taskId, id);
        assert.equal(created.status, "working");
        const gets = wire.filter((e) =>
          e.dir === "out" && e.message.method === "tasks/get" &&
          record(e.message.params, "p").taskId === id
        );
        assert.ok(gets.length >= 1, "ext-tasks polled with tasks/get");
        const last = record(answerTo(gets.at(-1)!.message.id)?.result, "tasks/get");
        assert.equal(last.status, "completed");
        assert.equal(structured(last.result).output, "via an http task\n");
        assert.equal(structured(last.result).task_id, id);
      } finally {
        await modern.close();
      }
    }),
);

posixTest(
  "2026-07-28 over HTTP: tasks/cancel of a running task stops its whole process tree",
  () =>
    withServer({ BACKBURNER_GRACE_SECONDS: "1" }, async (server) => {
      const modern = await connectModern(server);
      try {
        const execution = await modern.session.callTool(
          "run_command",
          { command: "sleep 600 & sleep 600" },
          { task: { preference: "require" } },
        );
        assert.ok(execution.kind === "task");
        const id = execution.handle.taskId;
        const settling = execution.settle();
        const pids = await waitFor(() => {
          const found = taskPids(id);
          return found.length >= 2 ? found : null;
        }, { what: `task ${id} to start` });
        await execution.cancel();
        const { outcome } = await settling;
        assert.equal(outcome.status, "cancelled");
        assert.deepEqual(taskPids(id), []);
        for (const pid of pids) assert.ok(!isAlive(pid), `process ${pid} is gone`);
        const view = record(
          (await modern.rawRequest("tasks/get", { taskId: id, _meta: meta(true) })).result,
          "tasks/get",
        );
        assert.equal(view.status, "cancelled");
      } finally {
        await modern.close();
      }
    }),
);

posixTest(
  "2026-07-28 over HTTP: GET and DELETE answer 405; an Mcp-Name that contradicts the body answers -32020",
  () =>
    withServer({}, async (server) => {
      const era = {
        ...authHeaders(server),
        "mcp-protocol-version": VERSION,
        accept: "application/json, text/event-stream",
      };
      for (const method of ["GET", "DELETE"]) {
        const answer = await fetch(server.url, { method, headers: era });
        await answer.body?.cancel();
        assert.equal(answer.status, 405, `${method} answered ${answer.status}`);
      }
      const call = (name: string) =>
        fetch(server.url, {
          method: "POST",
          headers: {
            ...era,
            "content-type": "application/json",
            "mcp-method": "tools/call",
            "mcp-name": name,
          },
          body: JSON.stringify({
            jsonrpc: "2.0",
            id: 7,
            method: "tools/call",
            params: { name: "list_tasks", arguments: {}, _meta: meta(false) },
          }),
        });
      const mismatch = await call("run_command");
      const refused = await mismatch.json();
      assert.equal(mismatch.status, 400);
      assert.equal(refused.error.code, -32020);
      // The same request with the matching header is served.
      const matching = await call("list_tasks");
      assert.equal(matching.status, 200);
      const text = await matching.text();
      assert.match(text, /"tasks":\[\]/);
      assert.doesNotMatch(text, /"error"/);
    }),
);
