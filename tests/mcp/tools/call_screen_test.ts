/**
 * tools/call screened before any tool runs, over raw JSON-RPC: a task-augmented call of a tool
 * that forbids tasks, and arguments that do not fit a tool's input schema.
 */
import assert from "node:assert/strict";
import { cleanup, posixTest, tempDir } from "../../helpers.ts";
import { RawClient } from "../raw_client.ts";

async function withClient(run: (client: RawClient, home: string) => Promise<void>) {
  const home = await tempDir();
  const client = new RawClient(home);
  try {
    await client.initialize();
    await run(client, home);
  } finally {
    await client.close();
    await cleanup(home);
  }
}

function assertOneSentence(text: string): void {
  assert.doesNotMatch(text, /\n|Input validation error|MCP error|Invalid arguments/, text);
  assert.match(text, /: pass /, `says what to do: ${text}`);
  assert.ok(text.length < 300, `too long: ${text}`);
}

function toolErrorText(answer: { result?: Record<string, unknown> }): string {
  const result = answer.result as { isError?: boolean; content: { text: string }[] };
  assert.equal(result?.isError, true, JSON.stringify(answer));
  return result.content.map((c) => c.text).join("");
}

posixTest(
  "a task-augmented call of a tool that forbids tasks is refused without running",
  async () => {
    await withClient(async (client, home) => {
      const marker = `${home}/ran`;
      const args = { command: `touch ${marker}` };
      for (let attempt = 0; attempt < 2; attempt++) {
        const answer = await client.call("start_task", args, { task: { ttl: 60_000 } });
        assert.equal(answer.error?.code, -32602, JSON.stringify(answer));
        assert.equal(
          answer.error?.message,
          "start_task cannot be called as a task: call it without the task parameter, or use run_command for a task-augmented call",
        );
      }
      // Every tool that forbids tasks, whatever its arguments.
      const { result } = await client.request("tools/list");
      const tools = result!.tools as { name: string; execution?: { taskSupport?: string } }[];
      const forbidden = tools.filter((t) =>
        (t.execution?.taskSupport ?? "forbidden") === "forbidden"
      );
      assert.deepEqual(forbidden.map((t) => t.name).sort(), [
        "cancel_task",
        "list_tasks",
        "restart_task",
        "send_input",
        "start_task",
        "task_result",
        "task_status",
        "wait_for_task",
      ]);
      for (const { name } of forbidden) {
        const answer = await client.call(name, {}, { task: {} });
        assert.equal(answer.error?.code, -32602, `${name}: ${JSON.stringify(answer)}`);
        assert.match(answer.error!.message, new RegExp(`^${name} cannot be called as a task: `));
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.throws(() => Deno.statSync(marker), Deno.errors.NotFound);
      const listed = await client.call("list_tasks", {});
      assert.equal((listed.result!.structuredContent as { total: number }).total, 0);

      // run_command, which allows tasks, still becomes one.
      const task = await client.call("run_command", { command: "true" }, { task: { ttl: 60_000 } });
      assert.equal(
        (task.result!.task as { status: string }).status,
        "working",
        JSON.stringify(task),
      );
    });
  },
);

posixTest("every tool answers a missing or wrong-typed argument in one sentence", async () => {
  await withClient(async (client) => {
    const cases: [tool: string, args: unknown, expected: RegExp][] = [
      ["start_task", {}, /^start_task needs command: pass shell command line, e\.g\. /],
      ["start_task", { command: 5 }, /^start_task cannot use command 5: pass a string$/],
      [
        "start_task",
        { command: "true", timeout_seconds: "10" },
        /^start_task cannot use timeout_seconds "10": pass a number above 0 and at most 2592000$/,
      ],
      [
        "start_task",
        { command: "true", timeout_seconds: 0 },
        /^timeout_seconds 0 is out of range: pass a number above 0 and at most 2592000$/,
      ],
      [
        "task_status",
        {},
        /^task_status needs task_id: pass the task_id that start_task returned, e\.g\. "k3x9m2p7q4wz"$/,
      ],
      ["task_status", { task_id: 5 }, /^task_status cannot use task_id 5: pass a string$/],
      ["task_result", {}, /^task_result needs task_id: pass the task_id that start_task returned/],
      [
        "task_result",
        { task_id: "k3x9m2p7q4wz", tail_lines: "ten" },
        /^task_result cannot use tail_lines "ten": pass a whole number from 1 to 1000000$/,
      ],
      [
        "task_result",
        { task_id: "k3x9m2p7q4wz", tail_lines: 1.5 },
        /^task_result cannot use tail_lines 1\.5: pass a whole number from 1 to 1000000$/,
      ],
      [
        "task_result",
        { task_id: "k3x9m2p7q4wz", context: 21, grep: "x" },
        /^context 21 is out of range: pass a whole number from 0 to 20$/,
      ],
      ["cancel_task", {}, /^cancel_task needs task_id: pass the task_id that start_task returned/],
      [
        "cancel_task",
        { task_id: ["a"] },
        /^cancel_task cannot use task_id \["a"\]: pass a string$/,
      ],
      [
        "list_tasks",
        { limit: "many" },
        /^list_tasks cannot use limit "many": pass a whole number from 1 to 1000$/,
      ],
      ["list_tasks", { limit: 0 }, /^limit 0 is out of range: pass a whole number from 1 to 1000$/],
      [
        "list_tasks",
        { status: 3 },
        /^list_tasks cannot use status 3: pass one of "queued", "working", "completed", /,
      ],
      ["wait_for_task", {}, /^wait_for_task needs task_ids: pass the task_ids to wait for/],
      [
        "wait_for_task",
        { task_ids: "k3x9m2p7q4wz" },
        /^wait_for_task cannot use task_ids "k3x9m2p7q4wz": pass a list of 1 to 50 strings$/,
      ],
      ["wait_for_task", { task_ids: [] }, /^task_ids has 0 items: pass a list of 1 to 50 strings$/],
      [
        "wait_for_task",
        { task_ids: ["k3x9m2p7q4wz"], mode: "some" },
        /^wait_for_task cannot use mode "some": pass one of "any", "all"$/,
      ],
      ["run_command", {}, /^run_command needs command: pass shell command line/],
      [
        "run_command",
        { command: "true", timeout_seconds: -1 },
        /^timeout_seconds -1 is out of range: pass a number above 0 and at most 2592000$/,
      ],
    ];
    for (const [tool, args, expected] of cases) {
      const text = toolErrorText(await client.call(tool, args));
      assert.match(text, expected, `${tool} ${JSON.stringify(args)}`);
      assertOneSentence(text);
    }
    const listed = await client.call("list_tasks", {});
    assert.equal((listed.result!.structuredContent as { total: number }).total, 0);
  });
});

posixTest("tools/list schemas say what the server enforces", async () => {
  await withClient(async (client) => {
    const { result } = await client.request("tools/list");
    type Schema = { properties: Record<string, Record<string, unknown>> };
    const schemas = Object.fromEntries(
      (result!.tools as { name: string; inputSchema: Schema }[]).map((t) => [
        t.name,
        t.inputSchema.properties,
      ]),
    );
    const pick = (property: Record<string, unknown>) =>
      Object.fromEntries(
        ["type", "minimum", "maximum", "exclusiveMinimum", "minItems", "maxItems"]
          .filter((key) => key in property).map((key) => [key, property[key]]),
      );
    const expected: [string, string, Record<string, unknown>][] = [
      ["start_task", "timeout_seconds", { type: "number", exclusiveMinimum: 0, maximum: 2592000 }],
      ["run_command", "timeout_seconds", { type: "number", exclusiveMinimum: 0, maximum: 2592000 }],
      ["task_result", "tail_lines", { type: "integer", minimum: 1, maximum: 1_000_000 }],
      ["task_result", "head_lines", { type: "integer", minimum: 1, maximum: 1_000_000 }],
      ["task_result", "context", { type: "integer", minimum: 0, maximum: 20 }],
      ["task_result", "max_matches", { type: "integer", minimum: 1, maximum: 1000 }],
      ["list_tasks", "limit", { type: "integer", minimum: 1, maximum: 1000 }],
      ["wait_for_task", "task_ids", { type: "array", minItems: 1, maxItems: 50 }],
      ["wait_for_task", "timeout_seconds", { type: "number", minimum: 0 }],
    ];
    for (const [tool, name, shape] of expected) {
      assert.deepEqual(pick(schemas[tool][name]), shape, `${tool}.${name}`);
    }
    for (const name of ["offset", "max_bytes"]) {
      assert.equal(schemas.task_result[name].type, "integer", name);
    }
  });
});
