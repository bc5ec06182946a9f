/**
 * The HTTP server's life: killed with kill -9, the next one on the state directory adopts the
 * tasks it left running; stopped with SIGTERM, it ends its open streams, exits 0 and applies
 * BACKBURNER_ON_EXIT to its running tasks.
 */
import assert from "node:assert/strict";
import { cli } from "../cli/helpers.ts";
import { cleanup, isAlive, posixTest, taskPids, tempDir, waitFor } from "../helpers.ts";
import { connectLegacy, type HttpServer, sessionHeaders, startHttpServer } from "./harness.ts";

posixTest(
  "kill -9 of the HTTP server with tasks running: the next one adopts them, they end completed with their output",
  async () => {
    const home = await tempDir();
    let second: HttpServer | undefined;
    const first = await startHttpServer(home);
    try {
      const agent = await connectLegacy(first);
      const quick = await agent.call("start_task", { command: "sleep 2; echo adopted" });
      const slow = await agent.call("start_task", { command: "sleep 600" });
      const quickId = String(quick.task_id);
      const slowId = String(slow.task_id);
      await waitFor(() => taskPids(quickId).length > 0 && taskPids(slowId).length > 0, {
        what: "the tasks to start",
      });
      await first.kill();
      await agent.client.close().catch(() => {});
      // The tasks outlive their server.
      assert.ok(taskPids(slowId).length > 0, "the slow task runs on without a server");

      second = await startHttpServer(home);
      const next = await connectLegacy(second);
      try {
        const waited = await next.call("wait_for_task", {
          task_ids: [quickId],
          timeout_seconds: 20,
        });
        const [view] = waited.tasks as Record<string, unknown>[];
        assert.equal(view.status, "completed");
        assert.equal(view.exit_code, 0);
        const result = await next.call("task_result", { task_id: quickId });
        assert.equal(result.output, "adopted\n");
        // The new server owns the slow one: it is still working, and it can stop it.
        const status = await next.call("task_status", { task_id: slowId });
        assert.equal(status.status, "working");
        await next.call("cancel_task", { task_id: slowId });
        await waitFor(() => taskPids(slowId).length === 0, { what: "the adopted task to stop" });
        assert.equal((await next.call("task_status", { task_id: slowId })).status, "cancelled");
      } finally {
        await next.close();
      }
    } catch (error) {
      console.error(first.stderr(), second?.stderr());
      throw error;
    } finally {
      await first.kill();
      await second?.stop();
      await cleanup(home);
    }
  },
);

/** A 2025-11-25 session opened by hand, and its GET event stream. */
async function openStream(server: HttpServer): Promise<{
  sessionId: string;
  reader: ReadableStreamDefaultReader<Uint8Array>;
}> {
  const init = await fetch(server.url, {
    method: "POST",
    headers: sessionHeaders(server),
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "stream-holder", version: "1" },
      },
    }),
  });
  assert.equal(init.status, 200);
  await init.text();
  const sessionId = init.headers.get("mcp-session-id");
  assert.ok(sessionId);
  const initialized = await fetch(server.url, {
    method: "POST",
    headers: sessionHeaders(server, sessionId),
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  });
  await initialized.body?.cancel();
  assert.equal(initialized.status, 202);
  const stream = await fetch(server.url, {
    method: "GET",
    headers: { ...sessionHeaders(server, sessionId), accept: "text/event-stream" },
  });
  assert.equal(stream.status, 200);
  assert.equal(stream.headers.get("content-type"), "text/event-stream");
  return { sessionId, reader: stream.body!.getReader() };
}

/** How the stream ended: closed by the server ("done") or cut off with its connection. */
async function streamEnd(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  try {
    while (!(await reader.read()).done) { /* keep-alives, if any */ }
    return "done";
  } catch (error) {
    return `cut off: ${error}`;
  }
}

async function stopWithStreamOpen(onExit: "keep" | "cancel") {
  const home = await tempDir();
  const server = await startHttpServer(home, {
    env: { BACKBURNER_ON_EXIT: onExit, BACKBURNER_GRACE_SECONDS: "1" },
  });
  try {
    const agent = await connectLegacy(server);
    const started = await agent.call("start_task", { command: "sleep 600" });
    const id = String(started.task_id);
    const pids = await waitFor(() => {
      const found = taskPids(id);
      return found.length > 0 ? found : null;
    }, { what: "the task to start" });
    const { reader } = await openStream(server);
    let ended: string | undefined;
    const ending = streamEnd(reader).then((how) => (ended = how));
    // A request in flight too: a long wait_for_task, answered on its own stream.
    const waiting = await fetch(server.url, {
      method: "POST",
      headers: sessionHeaders(server, agent.sessionId),
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 99,
        method: "tools/call",
        params: { name: "wait_for_task", arguments: { task_ids: [id], timeout_seconds: 45 } },
      }),
    });
    assert.equal(waiting.status, 200);
    const waitingEnd = streamEnd(waiting.body!.getReader());

    const status = await server.stop("SIGTERM");
    assert.equal(status.code, 0, server.stderr());
    await waitFor(() => ended, { what: "the open event stream to end" });
    await ending;
    assert.equal(ended, "done", "the server ended the stream before it exited");
    assert.equal(await waitingEnd, "done", "the request's stream ended too");
    await agent.client.close().catch(() => {});
    assert.match(server.stderr(), /shutting down \(SIGTERM\)/);
    return { id, pids, home };
  } catch (error) {
    console.error(server.stderr());
    await server.stop();
    await cleanup(home);
    throw error;
  }
}

posixTest(
  "SIGTERM with an event stream open: the stream ends, exit 0, BACKBURNER_ON_EXIT=cancel stops the running task",
  async () => {
    const { id, pids, home } = await stopWithStreamOpen("cancel");
    try {
      await waitFor(() => pids.every((pid) => !isAlive(pid)), { what: "the task to be stopped" });
      assert.deepEqual(taskPids(id), []);
    } finally {
      await cleanup(home);
    }
  },
);

posixTest(
  "SIGTERM with BACKBURNER_ON_EXIT=keep (the default): the server exits 0, its running task goes on",
  async () => {
    const { id, home } = await stopWithStreamOpen("keep");
    try {
      assert.ok(taskPids(id).length > 0, "the task runs on after the server");
      // And the state directory says so: the command line finds it working.
      const shown = await cli(home, ["show", id, "--json"]);
      assert.equal(shown.code, 0, shown.stderr);
      assert.equal(JSON.parse(shown.stdout).status, "working");
    } finally {
      await cleanup(home);
    }
  },
);
