import assert from "node:assert/strict";
import { BackburnerError } from "../../src/errors.ts";
import { RESOURCE_NOT_FOUND, rpcError, toolError } from "../../src/mcp/errors.ts";
import { McpError } from "../../src/mcp/sdk.ts";

function collect(): { log: (message: string) => void; lines: string[] } {
  const lines: string[] = [];
  return { log: (message) => lines.push(message), lines };
}

Deno.test("an expected error is an isError result of its own sentence, and nothing is logged", () => {
  const { log, lines } = collect();
  const result = toolError(
    new BackburnerError("refused_by_policy", 'Command "rm -rf /" refused: not allowed'),
    log,
  );
  assert.deepEqual(result, {
    isError: true,
    content: [{ type: "text", text: 'Command "rm -rf /" refused: not allowed' }],
  });
  assert.deepEqual(lines, []);
});

Deno.test("a bug is one sentence to the agent and its stack on the log", () => {
  const { log, lines } = collect();
  const result = toolError(new SyntaxError("Unexpected token\n    at somewhere"), log);
  assert.deepEqual(result.content, [{ type: "text", text: "Unexpected token" }]);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^tool failed: SyntaxError: Unexpected token/);
});

Deno.test("JSON-RPC codes: unknown task -32602 or -32002, bad argument -32602, a bug -32603", () => {
  const { log } = collect();
  const unknown = new BackburnerError("unknown_task", 'Unknown task_id "x"');
  assert.equal(rpcError(unknown, log).code, -32602);
  const resource = rpcError(unknown, log, { codes: { unknown_task: RESOURCE_NOT_FOUND } });
  assert.equal(resource.code, -32002);
  assert.match(resource.message, /Unknown task_id "x"/);
  assert.equal(rpcError(new BackburnerError("invalid_argument", "bad"), log).code, -32602);
  assert.equal(rpcError(new SyntaxError("oops"), log).code, -32603);
  const passed = new McpError(-32601, "no such method");
  assert.equal(rpcError(passed, log), passed);
});

Deno.test("an error without a code is a bug: logged with its stack, -32603 on the wire", () => {
  const { log, lines } = collect();
  for (const error of [new RangeError("a"), new TypeError("b"), new Error("c")]) {
    assert.equal(rpcError(error, log).code, -32603);
    assert.equal(toolError(error, log).isError, true);
  }
  assert.equal(lines.length, 6);
  const unknown = rpcError(new BackburnerError("unknown_task", "no such task"), log, {
    codes: { unknown_task: RESOURCE_NOT_FOUND },
  });
  assert.equal(unknown.code, -32002);
});
