import assert from "node:assert/strict";
import { cleanup, killTasksOf, posixTest, startServer, tempDir, waitFor } from "../../helpers.ts";
import { cli, ended, runTask } from "../helpers.ts";

posixTest(
  "backburner send answers a task started with run --interactive, and --close ends its input",
  async () => {
    const home = await tempDir();
    try {
      const id = await runTask(home, [
        "--interactive",
        "--",
        "printf 'Proceed? [y/N] '; read -r a; echo \"answer=$a\"; cat; echo end",
      ]);
      const first = await cli(home, ["send", id, "y"]);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(first.stdout, "");
      assert.equal(first.stderr, `wrote 2 bytes (task ${id})\n`);
      // Written as given with -n, then the input closed: cat reads end-of-file.
      const last = await cli(home, ["send", "-n", "--close", id, "tail"]);
      assert.equal(last.code, 0, last.stderr);
      assert.equal(last.stderr, `wrote 4 bytes and closed its input (task ${id})\n`);
      const waited = await cli(home, ["wait", id]);
      assert.equal(waited.code, 0, waited.stderr);
      const logs = await cli(home, ["logs", id]);
      assert.equal(logs.stdout, "Proceed? [y/N] answer=y\ntailend\n");

      const again = await cli(home, ["send", id, "y"]);
      assert.equal(again.code, 1);
      assert.equal(
        again.stderr,
        `backburner: Cannot send input: task ${id} has ended (completed): start it again to answer it\n`,
      );
      const usage = await cli(home, ["send", id]);
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /send needs TEXT, or --close/);
      const unknown = await cli(home, ["send", "k3x9m2p7q4wz", "y"]);
      assert.equal(unknown.code, 1);
    } finally {
      killTasksOf(home);
      await cleanup(home);
    }
  },
);

posixTest(
  "backburner send answers a task an agent started, and refuses one that never asked",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      const started = await server.call("start_task", {
        command: 'read -r line; echo "got $line"',
        interactive: true,
      });
      const id = String(started.task_id);
      const sent = await cli(home, ["send", id, "hello there"]);
      assert.equal(sent.code, 0, sent.stderr);
      const done = await ended(server, id);
      assert.equal(done.status, "completed");
      assert.equal((await server.call("task_result", { task_id: id })).output, "got hello there\n");

      const plain = String((await server.call("start_task", { command: "sleep 30" })).task_id);
      const refused = await cli(home, ["send", plain, "y"]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /was not started with interactive: true/);
      await server.call("cancel_task", { task_id: plain });
      await waitFor(async () =>
        (await server.call("task_status", { task_id: plain })).status !== "working"
      );
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);
