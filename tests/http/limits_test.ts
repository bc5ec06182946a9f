/**
 * The HTTP face's bounds: a body over BACKBURNER_MAX_MESSAGE_BYTES (413), a body sent too slowly
 * (408), and more requests in flight from one client than its share (429 with Retry-After) while
 * every other client is still served.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../../src/config.ts";
import { openApp } from "../../src/app.ts";
import { serveHttp } from "../../src/http/server.ts";
import { cleanup, posixTest, tempDir, waitFor } from "../helpers.ts";
import {
  connectLegacy,
  type HttpServer,
  parseAnswer,
  sessionHeaders,
  startHttpServer,
} from "./harness.ts";

const MIB = 1024 * 1024;

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

/** A tools/call of the session's era, as a JSON-RPC request body. */
function call(id: number, name: string, args: Record<string, unknown>): string {
  return JSON.stringify({
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: { name, arguments: args },
  });
}

posixTest(
  "a body over BACKBURNER_MAX_MESSAGE_BYTES is 413, declared or streamed; the session goes on",
  () =>
    withServer({ BACKBURNER_MAX_MESSAGE_BYTES: String(MIB) }, async (server) => {
      const agent = await connectLegacy(server);
      try {
        const huge = call(1, "start_task", { command: `echo ${"x".repeat(2 * MIB)}` });
        const declared = await fetch(server.url, {
          method: "POST",
          headers: sessionHeaders(server, agent.sessionId),
          body: huge,
        });
        assert.equal(declared.status, 413);
        assert.match((await declared.json()).error.message, /larger than 1048576 bytes/);

        // Without a Content-Length (chunked), it is cut off once past the bound.
        const bytes = new TextEncoder().encode(huge);
        const streamed = await fetch(server.url, {
          method: "POST",
          headers: sessionHeaders(server, agent.sessionId),
          body: new ReadableStream<Uint8Array>({
            start(controller) {
              for (let at = 0; at < bytes.length; at += 64 * 1024) {
                controller.enqueue(bytes.slice(at, at + 64 * 1024));
              }
              controller.close();
            },
          }),
        });
        assert.equal(streamed.status, 413);
        await streamed.body?.cancel();

        // Nothing was started, and the session is still served.
        const listed = await agent.call("list_tasks", {});
        assert.deepEqual(listed.tasks, []);
      } finally {
        await agent.close();
      }
    }),
);

// The server's body timeout is 30 s, too long for a test of a subprocess: this one serves the
// same HTTP face in-process, over a real engine and socket, with the option shortened.
posixTest("a body that does not arrive within the time bound is 408", async () => {
  const home = await tempDir();
  const config = loadConfig({ BACKBURNER_HOME: home }, undefined);
  const app = await openApp(config, { defaultCwd: home, log: () => {}, watch: false });
  const token = "a-token-for-this-test-only";
  const face = serveHttp({
    engine: app.engine,
    version: "test",
    log: () => {},
    listen: { hostname: "127.0.0.1", port: 0 },
    token,
    maxBodyBytes: MIB,
    bodyTimeoutMs: 300,
  });
  const { port } = new URL(face.url);
  const connection = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
  try {
    const head = [
      "POST /mcp HTTP/1.1",
      `host: 127.0.0.1:${port}`,
      `authorization: Bearer ${token}`,
      "content-type: application/json",
      "content-length: 200",
      "connection: close",
    ].join("\r\n");
    const started = Date.now();
    // The head and a few bytes of the body, then nothing.
    await connection.write(new TextEncoder().encode(`${head}\r\n\r\n{"jsonrpc":`));
    // Read the answer as far as its Content-Length: the socket itself stays open (Deno's HTTP
    // server keeps a connection whose request body was not read whole despite its
    // `connection: close`), so reading to its end would wait for the client to hang up.
    let text = "";
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(4096);
    // Should no answer come, the read ends with the connection and waitFor says so.
    const guard = setTimeout(() => connection.close(), 10_000);
    await waitFor(async () => {
      const read = await connection.read(buffer);
      if (read === null) return true;
      text += decoder.decode(buffer.subarray(0, read), { stream: true });
      const split = text.indexOf("\r\n\r\n");
      const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? NaN);
      return split >= 0 && text.length - split - 4 >= length;
    }, { what: "the 408 answer", intervalMs: 0 }).finally(() => clearTimeout(guard));
    const answer = parseAnswer(text);
    assert.equal(answer.status, 408);
    assert.match(answer.body, /did not arrive within 0\.3 s/);
    assert.ok(Date.now() - started < 10_000);
  } finally {
    try {
      connection.close();
    } catch { /* closed by the server */ }
    await face.close();
    await app.close({ cancelRunning: true });
    await cleanup(home);
  }
});

posixTest(
  "one client past its bound of requests in flight gets 429 with Retry-After while another client is served",
  () =>
    withServer({ BACKBURNER_GRACE_SECONDS: "1" }, async (server) => {
      const greedy = await connectLegacy(server, "greedy");
      const other = await connectLegacy(server, "other");
      try {
        const started = await greedy.call("start_task", { command: "sleep 600" });
        const id = String(started.task_id);
        // 24 concurrent waits from one session: 16 requests in flight is its bound (its event
        // stream counts among them).
        const answers = await Promise.all(
          Array.from({ length: 24 }, (_, i) =>
            fetch(server.url, {
              method: "POST",
              headers: sessionHeaders(server, greedy.sessionId),
              body: call(1000 + i, "wait_for_task", { task_ids: [id], timeout_seconds: 45 }),
            })),
        );
        const admitted = answers.filter((a) => a.status === 200);
        const refused = answers.filter((a) => a.status === 429);
        assert.equal(admitted.length + refused.length, answers.length);
        assert.ok(
          admitted.length >= 15 && admitted.length <= 16,
          `${admitted.length} admitted`,
        );
        for (const answer of refused) {
          assert.equal(answer.headers.get("retry-after"), "1");
          const body = await answer.json();
          assert.match(
            body.error.message,
            /^Too many requests: this client has 16 requests in flight/,
          );
        }

        // Meanwhile the other client is served at once, and ends the task the waits are on.
        const status = await other.call("task_status", { task_id: id });
        assert.equal(status.status, "working");
        const listed = await other.call("list_tasks", {});
        assert.equal((listed.tasks as { task_id: string }[])[0].task_id, id);
        await other.call("cancel_task", { task_id: id });

        // Every admitted wait then ends with the task; the greedy client is served again.
        const bodies = await Promise.all(admitted.map((a) => a.text()));
        for (const body of bodies) assert.match(body, /"reason\\?":\\?"ended\\?"/);
        await waitFor(async () => {
          const view = await greedy.call("task_status", { task_id: id });
          return view.status === "cancelled";
        }, { what: "the greedy client to be served again" });
      } finally {
        await other.close();
        await greedy.close();
      }
    }),
);
