/**
 * The conformance fixtures through the real HTTP server: absent from a normal start, served with
 * the loud --conformance-fixtures flag, and working under the server's narrow permissions (their
 * input boxes live in the state directory).
 */
import assert from "node:assert/strict";
import { cleanup, isAlive, posixTest, taskPids, tempDir, waitFor } from "../helpers.ts";
import { authHeaders, type HttpServer, startHttpServer } from "./harness.ts";

type Json = Record<string, unknown>;

const TASKS = "io.modelcontextprotocol/tasks";

/** One 2026-07-28 request with its headers and envelope; the JSON-RPC answer. */
async function modern(server: HttpServer, method: string, params: Json = {}): Promise<Json> {
  const name = method === "tools/call" ? params.name : params.taskId;
  const response = await fetch(server.url, {
    method: "POST",
    headers: {
      ...authHeaders(server),
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": method,
      ...(typeof name === "string" ? { "mcp-name": name } : {}),
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method,
      params: {
        ...params,
        _meta: {
          "io.modelcontextprotocol/protocolVersion": "2026-07-28",
          "io.modelcontextprotocol/clientInfo": { name: "fixtures-http-test", version: "1.0.0" },
          "io.modelcontextprotocol/clientCapabilities": { extensions: { [TASKS]: {} } },
        },
      },
    }),
  });
  const text = await response.text();
  // A JSON body, or an SSE stream whose data line holds the answer.
  const json = response.headers.get("content-type")?.includes("text/event-stream")
    ? text.split("\n").filter((line) => line.startsWith("data:")).map((line) => line.slice(5))
      .at(-1) ?? ""
    : text;
  return JSON.parse(json);
}

async function toolNames(server: HttpServer): Promise<string[]> {
  const answer = await modern(server, "tools/list");
  return ((answer.result as Json).tools as { name: string }[]).map((tool) => tool.name);
}

posixTest("a normal HTTP start serves no conformance fixture", async () => {
  const home = await tempDir();
  const server = await startHttpServer(home);
  try {
    const names = await toolNames(server);
    assert.ok(names.includes("start_task"));
    assert.ok(!names.includes("greet") && !names.includes("slow_compute"), `${names}`);
    const refused = await modern(server, "tools/call", { name: "greet", arguments: { name: "x" } });
    assert.equal((refused.error as Json).code, -32602);
    assert.doesNotMatch(server.stderr(), /conformance-fixtures/);
  } finally {
    await server.stop();
    await cleanup(home);
  }
});

posixTest(
  "--conformance-fixtures serves the fixtures loudly, as real tasks under narrow permissions",
  async () => {
    const home = await tempDir();
    const server = await startHttpServer(home, { args: ["--conformance-fixtures"] });
    try {
      assert.match(server.stderr(), /WARNING: --conformance-fixtures/);
      assert.ok((await toolNames(server)).includes("test_tool_with_task"));

      const created = await modern(server, "tools/call", {
        name: "slow_compute",
        arguments: { seconds: 60, label: "http" },
      });
      const taskId = (created.result as Json).taskId as string;
      const pids = await waitFor(() => {
        const found = taskPids(taskId);
        return found.length >= 2 ? found : null;
      });
      const ack = (await modern(server, "tasks/cancel", { taskId })).result as Json;
      assert.equal(ack.resultType, "complete");
      assert.ok(!("taskId" in ack) && !("status" in ack));
      await waitFor(async () =>
        ((await modern(server, "tasks/get", { taskId })).result as Json).status === "cancelled"
      );
      assert.deepEqual(pids.filter(isAlive), []);

      const asking = await modern(server, "tools/call", {
        name: "confirm_delete",
        arguments: { filename: "a.txt" },
      });
      const boxTask = (asking.result as Json).taskId as string;
      await waitFor(async () =>
        ((await modern(server, "tasks/get", { taskId: boxTask })).result as Json).status ===
          "input_required"
      );
      await modern(server, "tasks/update", {
        taskId: boxTask,
        inputResponses: { confirm: { action: "accept", content: { confirm: true } } },
      });
      const ended = await waitFor(async () => {
        const task = (await modern(server, "tasks/get", { taskId: boxTask })).result as Json;
        return task.status === "completed" ? task : null;
      });
      assert.match(JSON.stringify(ended.result), /deleting a\.txt confirmed/);
    } finally {
      await server.stop();
      await cleanup(home);
    }
  },
);
