import assert from "node:assert/strict";
import { cleanup, posixTest, startServer, tempDir, waitFor } from "../../helpers.ts";
import { ok, TOOLS } from "./helpers.ts";

posixTest("tools/list shows every tool with descriptions, schemas and annotations", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const { tools } = await server.client.listTools();
    assert.deepEqual(tools.map((tool) => tool.name).sort(), [...TOOLS].sort());
    for (const tool of tools) {
      assert.ok((tool.description ?? "").length > 20, `${tool.name} needs a description`);
      assert.equal(tool.inputSchema.type, "object", `${tool.name} inputSchema`);
      assert.equal(tool.outputSchema?.type, "object", `${tool.name} outputSchema`);
      assert.ok(tool.annotations, `${tool.name} needs annotations`);
    }
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    for (const name of ["task_status", "task_result", "list_tasks", "wait_for_task"]) {
      assert.equal(byName.get(name)?.annotations?.readOnlyHint, true, `${name} readOnlyHint`);
    }
    assert.equal(byName.get("run_command")?.execution?.taskSupport, "optional");
    assert.equal(byName.get("start_task")?.execution?.taskSupport ?? "forbidden", "forbidden");
    for (const name of ["start_task", "cancel_task", "restart_task", "run_command"]) {
      assert.equal(byName.get(name)?.annotations?.destructiveHint, true, `${name} destructiveHint`);
      assert.notEqual(byName.get(name)?.annotations?.readOnlyHint, true, `${name} readOnlyHint`);
    }
    assert.deepEqual(byName.get("start_task")?.inputSchema.required, ["command"]);
    for (const name of ["task_status", "task_result", "cancel_task", "restart_task"]) {
      assert.deepEqual(byName.get(name)?.inputSchema.required, ["task_id"], name);
    }
    const statusFields = Object.keys(byName.get("task_status")?.outputSchema?.properties ?? {});
    for (const field of ["task_id", "status", "exit_code", "ended_at", "output_bytes"]) {
      assert.ok(statusFields.includes(field), `task_status outputSchema lacks ${field}`);
    }
    for (
      const field of ["queue", "position", "waiting_on", "attempt", "attempts", "restart_of"]
    ) {
      assert.ok(statusFields.includes(field), `task_status outputSchema lacks ${field}`);
    }
    const startInput = Object.keys(byName.get("start_task")?.inputSchema.properties ?? {});
    for (
      const name of ["queue", "after", "retries", "retry_delay_seconds", "idempotency_key"]
    ) {
      assert.ok(startInput.includes(name), `start_task inputSchema lacks ${name}`);
    }
    const startOutput = Object.keys(byName.get("start_task")?.outputSchema?.properties ?? {});
    assert.ok(startOutput.includes("existing"), "start_task outputSchema lacks existing");
    const statuses = (byName.get("list_tasks")?.inputSchema.properties?.status as {
      enum?: string[];
    })?.enum;
    assert.ok(statuses?.includes("queued"), `list_tasks status enum: ${statuses}`);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest(
  "every successful reply carries structuredContent and the same JSON as text",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      // ok() checks the mirror on each of these five replies.
      const started = await ok(server, "start_task", { command: "echo mirrored" });
      const id = started.task_id;
      await waitFor(async () =>
        (await ok(server, "task_status", { task_id: id })).status !== "working"
      );
      const result = await ok(server, "task_result", { task_id: id });
      assert.equal(result.output, "mirrored\n");
      const cancelled = await ok(server, "cancel_task", { task_id: id });
      assert.equal(cancelled.already_ended, true);
      assert.equal(cancelled.status, "completed");
      const listed = await ok(server, "list_tasks", {});
      assert.equal(listed.count, 1);
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);
