import assert from "node:assert/strict";
import { cleanup, posixTest, startServer, tempDir, waitFor } from "../helpers.ts";
import { ResourceUpdatedNotificationSchema } from "../sdk.ts";
import { cli, runTask } from "../cli/helpers.ts";
import { RawClient } from "./raw_client.ts";

posixTest("tasks are resources: listed through templates, readable, and subscribable", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const { resourceTemplates } = await server.client.listResourceTemplates();
    assert.deepEqual(resourceTemplates.map((t) => t.uriTemplate).sort(), [
      "backburner://tasks/{task_id}",
      "backburner://tasks/{task_id}/output",
    ]);
    const task = await server.call("start_task", {
      command: `echo first; while [ ! -f ${home}/more ]; do sleep 0.05; done; echo second; ` +
        `while [ ! -f ${home}/end ]; do sleep 0.05; done`,
      label: "watched",
    });
    const id = String(task.task_id);
    const { resources } = await server.client.listResources();
    const uris = resources.map((r) => r.uri);
    assert.ok(uris.includes(`backburner://tasks/${id}`));
    assert.ok(uris.includes(`backburner://tasks/${id}/output`));
    assert.equal(resources.find((r) => r.uri === `backburner://tasks/${id}`)?.name, "watched");

    const status = await server.client.readResource({ uri: `backburner://tasks/${id}` });
    const parsed = JSON.parse(String((status.contents[0] as { text: string }).text));
    assert.equal(parsed.task_id, id);
    assert.equal(parsed.status, "working");
    await waitFor(async () => {
      const output = await server.client.readResource({ uri: `backburner://tasks/${id}/output` });
      return (output.contents[0] as { text: string }).text === "first\n";
    }, { what: "the output resource to show the first line" });

    const updates: string[] = [];
    server.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updates.push(n.params.uri);
    });
    await server.client.subscribeResource({ uri: `backburner://tasks/${id}` });
    await server.client.subscribeResource({ uri: `backburner://tasks/${id}/output` });
    Deno.writeTextFileSync(`${home}/more`, "");
    await waitFor(() => updates.includes(`backburner://tasks/${id}/output`), {
      what: "an update for the output",
    });
    assert.ok(!updates.includes(`backburner://tasks/${id}`), "the status did not change yet");
    Deno.writeTextFileSync(`${home}/end`, "");
    await waitFor(() => updates.includes(`backburner://tasks/${id}`), {
      what: "an update for the status",
    });
    const ended = await server.client.readResource({ uri: `backburner://tasks/${id}` });
    assert.equal(
      JSON.parse(String((ended.contents[0] as { text: string }).text)).status,
      "completed",
    );
    // Output growth is announced at most once a second.
    const outputUpdates = updates.filter((u) => u.endsWith("/output")).length;
    assert.ok(outputUpdates <= 3, `${outputUpdates} output updates`);

    await server.client.unsubscribeResource({ uri: `backburner://tasks/${id}/output` });
    await assert.rejects(
      server.client.readResource({ uri: "backburner://tasks/zzzzzzzzzzzz" }),
      /Unknown task_id/,
    );
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("starting tasks sends resources/list_changed, debounced", async () => {
  const home = await tempDir();
  const client = new RawClient(home);
  try {
    const result = await client.initialize();
    assert.deepEqual((result.capabilities as { resources: unknown }).resources, {
      subscribe: true,
      listChanged: true,
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(client.notifications("notifications/resources/list_changed").length, 0);
    for (let i = 0; i < 3; i++) await client.call("start_task", { command: "true" });
    await waitFor(() => client.notifications("notifications/resources/list_changed").length > 0, {
      what: "resources/list_changed after a start",
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const sent = client.notifications("notifications/resources/list_changed").length;
    assert.ok(sent <= 2, `${sent} notifications for three starts`);
  } finally {
    await client.close();
    await cleanup(home);
  }
});

posixTest(
  "tasks started and pruned elsewhere on the state directory send resources/list_changed",
  async () => {
    const home = await tempDir();
    const client = new RawClient(home);
    const other = await startServer(home);
    const changes = () => client.notifications("notifications/resources/list_changed").length;
    try {
      await client.initialize();
      // The command line: a connection of another process.
      let before = changes();
      const id = await runTask(home, ["--", "true"]);
      await waitFor(() => changes() > before, { what: "resources/list_changed after `run`" });
      assert.equal((await cli(home, ["wait", id])).code, 0);
      before = changes();
      const pruned = await cli(home, ["prune", "--older-than", "0"]);
      assert.equal(pruned.stdout, "removed 1 ended task\n", pruned.stderr);
      await waitFor(() => changes() > before, { what: "resources/list_changed after `prune`" });
      // Another server.
      before = changes();
      await other.call("start_task", { command: "true" });
      await waitFor(() => changes() > before, {
        what: "resources/list_changed after a start there",
      });
    } finally {
      await client.close();
      await other.close();
      await cleanup(home);
    }
  },
);

posixTest("resources/list pages through every task with nextCursor", async () => {
  const home = await tempDir();
  const client = new RawClient(home);
  try {
    await client.initialize();
    const ids: string[] = [];
    for (let i = 0; i < 53; i++) {
      const started = await client.call("start_task", { command: "true", label: `t${i}` });
      ids.push((started.result!.structuredContent as { task_id: string }).task_id);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const answer = await client.request("resources/list", cursor ? { cursor } : {});
      const page = answer.result as { resources: { uri: string }[]; nextCursor?: string };
      assert.ok(page.resources.length <= 100, `${page.resources.length} resources`);
      seen.push(...page.resources.map((r) => r.uri));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== undefined && pages < 10);
    assert.equal(pages, 2);
    const expected = ids.flatMap((
      id,
    ) => [`backburner://tasks/${id}`, `backburner://tasks/${id}/output`]);
    assert.deepEqual([...seen].sort(), [...expected].sort());
    assert.equal(new Set(seen).size, seen.length, "no task listed twice");

    const bad = await client.request("resources/list", { cursor: "nope" });
    assert.equal(bad.error?.code, -32602);
  } finally {
    await client.close();
    await cleanup(home);
  }
});
