import assert from "node:assert/strict";
import { cleanup, posixTest, tempDir } from "../../helpers.ts";
import { cli, runTask } from "../helpers.ts";

posixTest(
  "ls filters by status and label, limits, and shortens commands to the width",
  async () => {
    const home = await tempDir();
    try {
      const long = await runTask(home, ["--label", "long", "--", `sleep 600 # ${"x".repeat(300)}`]);
      const quick = await runTask(home, ["--label", "quick", "--", "true"]);
      assert.equal((await cli(home, ["wait", quick])).code, 0);

      const table = await cli(home, ["ls"]);
      const lines = table.stdout.trimEnd().split("\n");
      assert.equal(lines.length, 3);
      assert.ok(lines.every((line) => line.length <= 120), table.stdout);
      assert.match(lines[2], new RegExp(`^${long}  working .*sleep 600 # x+…$`));
      assert.match(lines[1], new RegExp(`^${quick}  completed  quick `));

      const ids = async (args: string[]) =>
        JSON.parse((await cli(home, ["ls", "--json", ...args])).stdout).map((
          t: { task_id: string },
        ) => t.task_id);
      assert.deepEqual(await ids([]), [quick, long]);
      assert.deepEqual(await ids(["--status", "working"]), [long]);
      assert.deepEqual(await ids(["--label", "quick"]), [quick]);
      assert.deepEqual(await ids(["--limit", "1"]), [quick]);
      assert.deepEqual(await ids(["--status", "failed"]), []);
      assert.equal((await cli(home, ["ls", "--status", "failed"])).stdout, "No tasks match.\n");
      assert.equal((await cli(home, ["cancel", long])).code, 0);
    } finally {
      await cleanup(home);
    }
  },
);
