import assert from "node:assert/strict";
import { join } from "node:path";
import { cleanup, posixTest, taskPids, tempDir, waitFor } from "../../helpers.ts";
import { cli, runTask } from "../helpers.ts";

posixTest(
  "wait exits 0 only when the tasks it waited for completed, even with no server up",
  async () => {
    const home = await tempDir();
    try {
      const passing = await runTask(home, ["--", "sleep 0.3"]);
      const failing = await runTask(home, ["--", "sleep 0.3; exit 2"]);
      const sleeping = await runTask(home, ["--label", "sleeper", "--", "sleep 600"]);

      const one = await cli(home, ["wait", passing]);
      assert.equal(one.code, 0, one.stderr);
      assert.match(
        one.stdout,
        new RegExp(`^${passing} completed \\(exit 0\\) after 0\\.\\d s\\n$`),
      );

      const both = await cli(home, ["wait", "--all", passing, failing]);
      assert.equal(both.code, 1);
      assert.match(
        both.stdout,
        new RegExp(`^${passing} completed .*\\n${failing} failed \\(exit 2\\)`),
      );

      const late = await cli(home, ["wait", "--timeout", "0.3", sleeping]);
      assert.equal(late.code, 1);
      assert.match(late.stdout, new RegExp(`^${sleeping} still working after \\d`));

      // "any": the first to end decides; the one still working does not fail the wait.
      const any = await cli(home, ["wait", passing, sleeping]);
      assert.equal(any.code, 0, any.stdout);

      const cancelled = await cli(home, ["cancel", sleeping]);
      assert.equal(cancelled.code, 0, cancelled.stderr);
      assert.match(cancelled.stdout, /^cancelled: /);
      assert.deepEqual(taskPids(sleeping), []);
      const again = await cli(home, ["cancel", sleeping]);
      assert.match(again.stdout, /^cancelled: .*\(it had already ended\)\n$/);
      assert.equal((await cli(home, ["wait", sleeping])).code, 1);

      // A task that ended while nobody watched keeps its real end when it is cancelled after.
      const unseen = await runTask(home, ["--", "exit 0"]);
      await waitFor(() => Deno.statSync(join(home, "tasks", unseen, "exit")).isFile);
      const afterwards = await cli(home, ["cancel", unseen]);
      assert.equal(
        afterwards.stdout,
        "completed: The command exited with code 0 (it had already ended)\n",
      );
    } finally {
      await cleanup(home);
    }
  },
);
