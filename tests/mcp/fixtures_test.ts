/**
 * The conformance fixtures (src/mcp/fixtures/), served by the 2026-07-28 dispatcher with
 * `fixtures: true` over a real engine on a temporary state directory: real tasks, real processes,
 * real cancels. The HTTP suite run (scripts/conformance.ts) drives them through the server itself.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { openApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { FIXTURES_DIR } from "../../src/mcp/fixtures/fixtures.ts";
import { createModernDispatcher } from "../../src/mcp/modern/server.ts";
import { RpcFailure } from "../../src/mcp/modern/tasks.ts";
import { createMcpServer } from "../../src/mcp/server.ts";
import { TOOLS } from "../../src/mcp/tools/list.ts";
import { cleanup, errorText, isAlive, posixTest, taskPids, tempDir, waitFor } from "../helpers.ts";
import { Client, InMemoryTransport } from "../sdk.ts";

type Json = Record<string, unknown>;

const TASKS = "io.modelcontextprotocol/tasks";

interface Harness {
  readonly home: string;
  /** Sends one request of the era; `tasks` declares the tasks extension. */
  request(method: string, params?: Json, options?: { tasks?: boolean }): Promise<Json>;
  /** The JSON-RPC error a request gets; fails when it gets a result. */
  failure(method: string, params?: Json, options?: { tasks?: boolean }): Promise<RpcFailure>;
  /** Polls tasks/get until the task has left working and input_required. */
  ended(taskId: string): Promise<Json>;
  close(): Promise<void>;
}

/** A real engine on a new temporary state directory. */
async function openEngine() {
  const home = await tempDir();
  const logs: string[] = [];
  const config = loadConfig(
    { BACKBURNER_HOME: home, BACKBURNER_GRACE_SECONDS: "1" },
    undefined,
  );
  const app = await openApp(config, { defaultCwd: home, log: (message) => logs.push(message) });
  await app.engine.open();
  return { home, app, logs };
}

async function harness(options: { fixtures?: boolean } = {}): Promise<Harness> {
  const { home, app, logs } = await openEngine();
  const dispatcher = createModernDispatcher({
    engine: app.engine,
    name: "backburner",
    version: "0.0.0-test",
    instructions: "",
    tools: TOOLS,
    log: (message) => logs.push(message),
    fixtures: options.fixtures ?? true,
  }, async () => {});
  let nextId = 1;
  const request = (method: string, params: Json = {}, { tasks = true } = {}) =>
    dispatcher.dispatch(nextId++, method, {
      ...params,
      _meta: {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": { name: "fixtures-test", version: "1.0.0" },
        "io.modelcontextprotocol/clientCapabilities": tasks ? { extensions: { [TASKS]: {} } } : {},
      },
    }, async () => {});
  return {
    home,
    request,
    async failure(method, params, options) {
      try {
        const result = await request(method, params, options);
        throw new Error(`Expected an error, got ${JSON.stringify(result)}`);
      } catch (error) {
        if (error instanceof RpcFailure) return error;
        throw error;
      }
    },
    ended: (taskId) =>
      waitFor(async () => {
        const task = await request("tasks/get", { taskId });
        return task.status === "working" || task.status === "input_required" ? null : task;
      }, { what: `task ${taskId} to end` }),
    async close() {
      try {
        await app.close({ cancelRunning: true });
      } finally {
        await cleanup(home);
      }
    },
  };
}

function text(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((part) => part.text ?? "").join("\n");
}

posixTest(
  "fixtures are listed and callable only when the dispatcher is told to serve them",
  async () => {
    const plain = await harness({ fixtures: false });
    try {
      const { tools } = await plain.request("tools/list") as { tools: { name: string }[] };
      assert.ok(!tools.some((tool) => tool.name === "greet"));
      const refused = await plain.failure("tools/call", {
        name: "greet",
        arguments: { name: "x" },
      });
      assert.equal(refused.code, -32602);
    } finally {
      await plain.close();
    }
    const served = await harness();
    try {
      const { tools } = await served.request("tools/list") as { tools: { name: string }[] };
      const names = tools.map((tool) => tool.name);
      for (
        const name of [
          "start_task",
          "greet",
          "slow_compute",
          "failing_job",
          "protocol_error_job",
          "confirm_delete",
          "multi_input",
          "test_tool_with_task",
        ]
      ) assert.ok(names.includes(name), `${name} missing from ${names}`);
      const greeting = await served.request("tools/call", {
        name: "greet",
        arguments: { name: "World" },
        task: { ttl: 60_000 },
      });
      assert.deepEqual(greeting, {
        resultType: "complete",
        content: [{ type: "text", text: "Hello, World!" }],
      });
    } finally {
      await served.close();
    }
  },
);

posixTest("slow_compute is a real task whose sleep tasks/cancel kills mid-run", async () => {
  const server = await harness();
  try {
    const created = await server.request("tools/call", {
      name: "slow_compute",
      arguments: { seconds: 60, label: "cancel-me" },
    });
    assert.equal(created.resultType, "task");
    assert.equal(created.status, "working");
    const taskId = created.taskId as string;
    const pids = await waitFor(() => {
      const found = taskPids(taskId);
      return found.length >= 2 ? found : null;
    }, { what: "the task's processes" });
    assert.equal((await server.request("tasks/get", { taskId })).status, "working");

    const ack = await server.request("tasks/cancel", { taskId });
    assert.deepEqual(ack, { resultType: "complete" });
    const ended = await server.ended(taskId);
    assert.equal(ended.status, "cancelled");
    assert.ok(!("result" in ended) && !("error" in ended));
    assert.deepEqual(pids.filter(isAlive), []);
    // Cancelling an ended task is the same ack, and changes nothing.
    assert.deepEqual(await server.request("tasks/cancel", { taskId }), { resultType: "complete" });
    assert.equal((await server.request("tasks/get", { taskId })).status, "cancelled");
  } finally {
    await server.close();
  }
});

posixTest(
  "slow_compute without the tasks extension waits for its task and answers its result",
  async () => {
    const server = await harness();
    try {
      const result = await server.request("tools/call", {
        name: "slow_compute",
        arguments: { seconds: 0.2, label: "plain" },
      }, { tasks: false });
      assert.equal(result.resultType, "complete");
      assert.ok(!("taskId" in result));
      assert.match(text(result), /slow_compute plain: done after 0\.2 s/);
      const bad = await server.request("tools/call", {
        name: "slow_compute",
        arguments: { seconds: -1 },
      });
      assert.equal(bad.isError, true);
      assert.match(text(bad), /^Input validation error: slow_compute: /);
    } finally {
      await server.close();
    }
  },
);

posixTest(
  "failing_job's task completes with isError; a client without the extension gets -32021",
  async () => {
    const server = await harness();
    try {
      const refused = await server.failure("tools/call", { name: "failing_job", arguments: {} }, {
        tasks: false,
      });
      assert.equal(refused.code, -32021);
      assert.deepEqual(refused.data, { requiredCapabilities: { extensions: { [TASKS]: {} } } });

      const started = Date.now();
      const created = await server.request("tools/call", { name: "failing_job", arguments: {} });
      assert.equal(created.resultType, "task");
      const ended = await server.ended(created.taskId as string);
      assert.ok(Date.now() - started >= 900, "it fails after about a second");
      assert.equal(ended.status, "completed");
      const result = ended.result as Json;
      assert.equal(result.isError, true);
      assert.match(text(result), /failing_job: this job fails on purpose/);
      assert.match(text(result), /"exit_code": 3/);
    } finally {
      await server.close();
    }
  },
);

posixTest(
  "protocol_error_job's processes vanish: its task ends failed with an error and no result",
  async () => {
    const server = await harness();
    try {
      const created = await server.request("tools/call", {
        name: "protocol_error_job",
        arguments: {},
      });
      const taskId = created.taskId as string;
      const ended = await server.ended(taskId);
      assert.equal(ended.status, "failed");
      assert.ok(!("result" in ended));
      const error = ended.error as { code: number; message: string };
      assert.equal(error.code, -32603);
      assert.match(error.message, /^interrupted: /);
      assert.deepEqual(taskPids(taskId), []);

      // Plainly called, the same end is a JSON-RPC error.
      const plain = await server.failure("tools/call", {
        name: "protocol_error_job",
        arguments: {},
      }, { tasks: false });
      assert.equal(plain.code, -32603);
    } finally {
      await server.close();
    }
  },
);

posixTest(
  "confirm_delete is input_required until tasks/update answers it, then completes and removes its box",
  async () => {
    const server = await harness();
    try {
      const created = await server.request("tools/call", {
        name: "confirm_delete",
        arguments: { filename: "notes's.txt" },
      });
      const taskId = created.taskId as string;
      const asking = await waitFor(async () => {
        const task = await server.request("tasks/get", { taskId });
        return task.status === "input_required" ? task : null;
      });
      const requests = asking.inputRequests as Record<string, { method: string; params: Json }>;
      assert.deepEqual(Object.keys(requests), ["confirm"]);
      assert.equal(requests.confirm.method, "elicitation/create");
      assert.equal(requests.confirm.params.message, `Delete "notes's.txt"?`);
      const boxes = [...Deno.readDirSync(join(server.home, FIXTURES_DIR))];
      assert.equal(boxes.length, 1);

      // An answer to a question nobody asked changes nothing.
      const ignored = await server.request("tasks/update", {
        taskId,
        inputResponses: { "unknown-key": { ignored: true } },
      });
      assert.deepEqual(ignored, { resultType: "complete" });
      assert.equal((await server.request("tasks/get", { taskId })).status, "input_required");
      const malformed = await server.failure("tasks/update", {
        taskId,
        inputResponses: { confirm: "yes" },
      });
      assert.equal(malformed.code, -32602);

      const ack = await server.request("tasks/update", {
        taskId,
        inputResponses: { confirm: { action: "accept", content: { confirm: true } } },
      });
      assert.deepEqual(ack, { resultType: "complete" });
      const ended = await server.ended(taskId);
      assert.equal(ended.status, "completed");
      assert.match(
        text(ended.result),
        /confirm_delete: deleting notes's\.txt confirmed \(a fixture: nothing was deleted\)/,
      );
      assert.ok(!existsSync(join(server.home, FIXTURES_DIR, boxes[0].name)), "box removed");
    } finally {
      await server.close();
    }
  },
);

posixTest(
  "multi_input stays input_required with only the unanswered question after a partial update",
  async () => {
    const server = await harness();
    try {
      const created = await server.request("tools/call", { name: "multi_input", arguments: {} });
      const taskId = created.taskId as string;
      const asking = await waitFor(async () => {
        const task = await server.request("tasks/get", { taskId });
        return task.status === "input_required" ? task : null;
      });
      const [first, second] = Object.keys(asking.inputRequests as Json);
      assert.ok(first && second);
      await server.request("tasks/update", {
        taskId,
        inputResponses: { [first]: { action: "accept", content: { name: "one", confirm: true } } },
      });
      const partial = await server.request("tasks/get", { taskId });
      assert.equal(partial.status, "input_required");
      assert.deepEqual(Object.keys(partial.inputRequests as Json), [second]);
      await server.request("tasks/update", {
        taskId,
        inputResponses: { [second]: { action: "decline" } },
      });
      const ended = await server.ended(taskId);
      assert.equal(ended.status, "completed");
      const { output } =
        (ended.result as { structuredContent: { output: string } }).structuredContent;
      assert.equal(
        output,
        'multi_input: name answer {"action":"accept","content":{"name":"one","confirm":true}}\n' +
          'multi_input: confirm answer {"action":"decline"}\n',
      );
    } finally {
      await server.close();
    }
  },
);

posixTest(
  "a cancelled confirm_delete stops waiting for its answer and removes its box",
  async () => {
    const server = await harness();
    try {
      const created = await server.request("tools/call", {
        name: "confirm_delete",
        arguments: { filename: "keep.txt" },
      });
      const taskId = created.taskId as string;
      const pids = await waitFor(() => {
        const found = taskPids(taskId);
        return found.length >= 2 ? found : null;
      });
      await server.request("tasks/cancel", { taskId });
      assert.equal((await server.ended(taskId)).status, "cancelled");
      assert.deepEqual(pids.filter(isAlive), []);
      await waitFor(() => [...Deno.readDirSync(join(server.home, FIXTURES_DIR))].length === 0, {
        what: "the box to be removed",
      });
    } finally {
      await server.close();
    }
  },
);

posixTest(
  "test_tool_with_task asks for a name first, then starts a task that uses the answer",
  async () => {
    const server = await harness();
    try {
      const refused = await server.failure("tools/call", {
        name: "test_tool_with_task",
        arguments: {},
      }, { tasks: false });
      assert.equal(refused.code, -32021);

      const first = await server.request("tools/call", {
        name: "test_tool_with_task",
        arguments: {},
      });
      assert.equal(first.resultType, "input_required");
      assert.ok(!("taskId" in first));
      const [key] = Object.keys(first.inputRequests as Json);
      const second = await server.request("tools/call", {
        name: "test_tool_with_task",
        arguments: {},
        inputResponses: { [key]: { action: "accept", content: { name: "Alice" } } },
      });
      assert.equal(second.resultType, "task");
      assert.ok(!("requestState" in second) && !("inputRequests" in second));
      const ended = await server.ended(second.taskId as string);
      assert.equal(ended.status, "completed");
      assert.match(
        text(ended.result),
        /Hello, Alice! \(the name was given before the task started\)/,
      );

      const declined = await server.request("tools/call", {
        name: "test_tool_with_task",
        arguments: {},
        inputResponses: { [key]: { action: "decline" } },
      });
      assert.equal(declined.isError, true);
    } finally {
      await server.close();
    }
  },
);

posixTest("the 2025-11-25 fixtures run real tasks, and exist only with fixtures on", async () => {
  for (const fixtures of [false, true]) {
    const { home, app, logs } = await openEngine();
    const server = createMcpServer({
      engine: app.engine,
      version: "0.0.0-test",
      log: (message) => logs.push(message),
      fixtures,
    });
    const client = new Client({ name: "fixtures-test", version: "1.0.0" });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    try {
      await server.connect(serverSide);
      await client.connect(clientSide);
      const names = (await client.listTools()).tools.map((tool) => tool.name);
      assert.ok(names.includes("run_command"));
      if (!fixtures) {
        assert.ok(!names.some((name) => name.startsWith("test_")), `${names}`);
        continue;
      }
      const simple = await client.callTool({ name: "test_simple_text", arguments: {} });
      assert.ok(!simple.isError);
      const view = simple.structuredContent as { task_id: string; output: string };
      assert.equal(view.output, "This is a simple text response for testing.\n");
      assert.equal(app.engine.status(view.task_id).task.label, "fixture:test_simple_text");

      const failing = await client.callTool({ name: "test_error_handling", arguments: {} });
      assert.match(errorText(failing as never), /This tool intentionally returns an error/);
      assert.match(errorText(failing as never), /"exit_code": 1/);

      const progress: number[] = [];
      const progressed = await client.callTool(
        { name: "test_tool_with_progress", arguments: {} },
        undefined,
        { onprogress: (update) => progress.push(update.progress) },
      );
      assert.ok(!progressed.isError);
      assert.deepEqual(progress, [0, 50, 100]);
    } finally {
      await client.close();
      server.dispose();
      await app.close({ cancelRunning: true });
      await cleanup(home);
    }
  }
});
