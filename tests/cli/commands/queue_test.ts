import assert from "node:assert/strict";
import { join } from "node:path";
import { cleanup, posixTest, startServer, tempDir, waitFor } from "../../helpers.ts";
import { assertOneErrorLine, cli } from "../helpers.ts";

posixTest(
  "backburner queue shows each queue and changes a limit that a running server obeys at once",
  async () => {
    const home = await tempDir();
    const work = await tempDir("backburner-work-");
    const server = await startServer(home, { env: { BACKBURNER_QUEUES: "gpu=2" } });
    try {
      const set = await cli(home, ["queue", "lim", "--limit", "1"]);
      assert.equal(set.code, 0, set.stderr);
      assert.equal(set.stdout, "QUEUE  LIMIT  WORKING  QUEUED\nlim    1      0        0\n");
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const started = await server.call("start_task", {
          command: "while [ ! -f go ]; do sleep 0.05; done",
          cwd: work,
          queue: "lim",
        });
        ids.push(started.task_id as string);
      }
      const statuses = async () =>
        await Promise.all(
          ids.map(async (id) => (await server.call("task_status", { task_id: id })).status),
        );
      assert.deepEqual(await statuses(), ["working", "queued", "queued"]);

      const table = await cli(home, ["queue"]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^QUEUE +LIMIT +WORKING +QUEUED\n/);
      assert.match(table.stdout, /\ngpu +2 +0 +0\n/);
      assert.match(table.stdout, /\nlim +1 +1 +2\n/);
      const json = JSON.parse((await cli(home, ["queue", "--json"])).stdout);
      assert.deepEqual(json.find((q: { name: string }) => q.name === "lim"), {
        name: "lim",
        limit: 1,
        working: 1,
        queued: 2,
      });

      const raised = Date.now();
      assert.equal((await cli(home, ["queue", "lim", "--limit", "3"])).code, 0);
      await waitFor(async () => (await statuses()).every((status) => status === "working"), {
        what: "the running server to start the queued tasks under the new limit",
      });
      const latency = Date.now() - raised;
      assert.ok(latency < 5_000, `took ${latency} ms`);

      const none = await cli(home, ["queue", "lim", "--limit", "none", "--json"]);
      assert.deepEqual(JSON.parse(none.stdout), [
        { name: "lim", limit: null, working: 3, queued: 0 },
      ]);
      Deno.writeTextFileSync(join(work, "go"), "");

      assertOneErrorLine(
        await cli(home, ["queue", "lim", "--limit", "0"]),
        2,
        /--limit "0" is not a whole number from 1 to 10000/,
      );
      assertOneErrorLine(
        await cli(home, ["queue", "--limit", "2"]),
        2,
        /--limit needs the queue it applies to/,
      );
      assertOneErrorLine(await cli(home, ["queue", "no/such"]), 2, /is not a queue name/);
      const help = await cli(home, ["queue", "--help"]);
      assert.match(help.stdout, /^Usage: backburner queue \[NAME\] \[--limit N\|none\]/);
      assert.match(help.stdout, /backburner queue gpu --limit 1/);
    } finally {
      await server.close();
      await cleanup(home);
      await Deno.remove(work, { recursive: true });
    }
  },
);
