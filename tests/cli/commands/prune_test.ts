import assert from "node:assert/strict";
import { join } from "node:path";
import { cleanup, posixTest, tempDir } from "../../helpers.ts";
import { assertOneErrorLine, cli, runTask } from "../helpers.ts";

posixTest(
  "prune removes ended tasks older than the days given, and never a running one",
  async () => {
    const home = await tempDir();
    try {
      const done = await runTask(home, ["--", "true"]);
      const running = await runTask(home, ["--", "sleep 600"]);
      assert.equal((await cli(home, ["wait", done])).code, 0);
      assert.equal((await cli(home, ["prune"])).stdout, "removed 0 ended tasks\n");
      const pruned = await cli(home, ["prune", "--older-than", "0"]);
      assert.equal(pruned.code, 0, pruned.stderr);
      assert.equal(pruned.stdout, "removed 1 ended task\n");
      const left = JSON.parse((await cli(home, ["ls", "--json"])).stdout);
      assert.deepEqual(left.map((t: { task_id: string }) => t.task_id), [running]);
      assert.throws(() => Deno.statSync(join(home, "tasks", done)), Deno.errors.NotFound);
      assertOneErrorLine(await cli(home, ["show", done]), 1, /unknown task/);
      assert.equal((await cli(home, ["cancel", running])).code, 0);
    } finally {
      await cleanup(home);
    }
  },
);
