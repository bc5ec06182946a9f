/** Tasks are said only to a client that negotiated a revision that has them (2025-11-25). */
import assert from "node:assert/strict";
import { cleanup, posixTest, tempDir, waitFor } from "../helpers.ts";
import { RawClient } from "./raw_client.ts";

/** initialize at `version`, run a task to its end; the capabilities and the status notices. */
async function tasksSaidTo(version: string) {
  const home = await tempDir();
  const client = new RawClient(home);
  try {
    const result = await client.initialize(version);
    const started = await client.call("start_task", { command: "true" });
    const id = (started.result!.structuredContent as { task_id: string }).task_id;
    await client.call("wait_for_task", { task_ids: [id], timeout_seconds: 20 });
    // The end is announced just after it is recorded: give it time to arrive.
    await new Promise((resolve) => setTimeout(resolve, 500));
    return {
      protocolVersion: result.protocolVersion,
      capabilities: result.capabilities as Record<string, unknown>,
      notices: client.notifications("notifications/tasks/status"),
    };
  } finally {
    await client.close();
    await cleanup(home);
  }
}

posixTest("a 2025-06-18 client sees no tasks capability and no task notifications", async () => {
  for (const version of ["2025-06-18", "2025-03-26", "2024-11-05"]) {
    const said = await tasksSaidTo(version);
    assert.equal(said.protocolVersion, version);
    assert.ok(!("tasks" in said.capabilities), `${version}: ${JSON.stringify(said.capabilities)}`);
    assert.ok(said.capabilities.tools && said.capabilities.resources, version);
    assert.deepEqual(said.notices, [], version);
  }
});

posixTest("a 2025-11-25 client sees the tasks capability and task notifications", async () => {
  const said = await tasksSaidTo("2025-11-25");
  assert.equal(said.protocolVersion, "2025-11-25");
  assert.deepEqual(said.capabilities.tasks, {
    list: {},
    cancel: {},
    requests: { tools: { call: {} } },
  });
  await waitFor(() => said.notices.length > 0, { what: "a tasks/status notification" });
  assert.equal(said.notices.at(-1)!.params!.status, "completed");
});
