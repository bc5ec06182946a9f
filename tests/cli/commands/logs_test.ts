import assert from "node:assert/strict";
import { cleanup, posixTest, tempDir } from "../../helpers.ts";
import { assertNoBacktracking, cli, runTask } from "../helpers.ts";

posixTest(
  "logs prints the whole log, its tail, matching lines with numbers, or the raw bytes",
  async () => {
    const home = await tempDir();
    try {
      const id = await runTask(home, [
        "--",
        String.raw`printf 'one\ntwo\n\033[31mred\033[0m\nbar 10%%\rbar 100%%\nthree'`,
      ]);
      assert.equal((await cli(home, ["wait", id])).code, 0);
      const whole = await cli(home, ["logs", id]);
      assert.equal(whole.code, 0, whole.stderr);
      assert.equal(whole.stdout, "one\ntwo\nred\nbar 100%\nthree\n");
      assert.equal((await cli(home, ["logs", id, "--tail", "2"])).stdout, "bar 100%\nthree\n");
      assert.equal((await cli(home, ["logs", id, "-n", "99"])).stdout, whole.stdout);
      assert.equal((await cli(home, ["logs", id, "--grep", "^t"])).stdout, "2:two\n5:three\n");
      assert.equal((await cli(home, ["logs", id, "--grep", "nothing"])).stdout, "");
      await assertNoBacktracking(home);
      assert.equal(
        (await cli(home, ["logs", id, "--raw"])).stdout,
        "one\ntwo\n\x1b[31mred\x1b[0m\nbar 10%\rbar 100%\nthree",
      );
      // Following a task that has already ended prints it all and how it ended.
      const followed = await cli(home, ["logs", id, "--follow", "--tail", "1"]);
      assert.equal(followed.stdout, "three\n");
      assert.match(
        followed.stderr,
        new RegExp(`^\\[backburner\\] task ${id} completed \\(exit 0\\) after \\d+\\.\\d s\\n$`),
      );
    } finally {
      await cleanup(home);
    }
  },
);
