import assert from "node:assert/strict";
import { join } from "node:path";
import { cleanup, posixTest, startServer, tempDir } from "../../helpers.ts";
import { assertOneErrorLine, cli, ended, logOf, runTask } from "../helpers.ts";

posixTest(
  "run --after, --queue, --retries and --key; ls shows queue and position; wait on a queued task",
  async () => {
    const home = await tempDir();
    const work = await tempDir("backburner-work-");
    const server = await startServer(home);
    try {
      assert.equal((await cli(home, ["queue", "one", "--limit", "1"])).code, 0);
      const gate = "while [ ! -f go ]; do sleep 0.05; done";
      const build = await runTask(home, ["--queue", "one", "--cwd", work, "--", gate]);
      const second = await runTask(home, ["--queue", "one", "--label", "second", "--", "true"]);
      const test = await runTask(home, [
        "--after",
        `${build},${second}`,
        "--key",
        "test-1",
        "--",
        "echo tested",
      ]);
      const table = (await cli(home, ["ls"])).stdout.split("\n");
      assert.match(table[0], /^ID +STATUS +LABEL +QUEUE +EXECUTOR +PROGRESS +STARTED/);
      assert.match(table[1], new RegExp(`^${test}  queued +- +default +local +after 2 tasks `));
      assert.match(table[2], new RegExp(`^${second}  queued +second +one +local +#1 `));
      assert.match(table[3], new RegExp(`^${build}  working +- +one +local `));
      const shown = JSON.parse((await cli(home, ["show", test, "--json"])).stdout);
      assert.deepEqual(shown.waiting_on, [build, second]);
      assert.equal(shown.idempotency_key, "test-1");
      const show = (await cli(home, ["show", second])).stdout;
      assert.match(show, /\nStatus +queued: waits for a slot in queue "one"; position 1 in line\n/);
      assert.match(show, /\nQueue +one \(#1 in line\)\n/);

      const early = await cli(home, ["wait", "--timeout", "0.3", test]);
      assert.equal(early.code, 1);
      assert.equal(early.stdout, `${test} still queued\n`);

      // The same key gives the same task, and says so on stderr.
      const again = await cli(home, [
        "run",
        "--key",
        "test-1",
        "--after",
        build,
        "--",
        "echo tested",
      ]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout, `${test}\n`);
      assert.match(
        again.stderr,
        new RegExp(`^task ${test} \\(queued\\) already holds --key "test-1"`),
      );

      Deno.writeTextFileSync(join(work, "go"), "");
      const waited = await cli(home, ["wait", test]);
      assert.equal(waited.code, 0, waited.stdout);
      assert.match(waited.stdout, new RegExp(`^${test} completed \\(exit 0\\)`));
      assert.equal(logOf(home, test), "tested\n");

      const flaky = await runTask(home, ["--retries", "1", "--retry-delay", "0", "--", "exit 3"]);
      const failed = await cli(home, ["wait", flaky]);
      assert.equal(failed.code, 1);
      assert.match(failed.stdout, /failed \(exit 3\)/);
      assert.match(logOf(home, flaky), /\[backburner\] attempt 1 of 2 failed \(exit 3\)/);
      const after = await runTask(home, ["--after", flaky, "--", "echo never"]);
      const end = await ended(server, after);
      assert.equal(end.status, "failed");
      assert.match(end.status_message as string, new RegExp(flaky));

      assertOneErrorLine(
        await cli(home, ["run", "--retries", "x", "--", "true"]),
        2,
        /--retries "x" is not a whole number from 0 to 100/,
      );
      assertOneErrorLine(
        await cli(home, ["run", "--retry-delay=-1", "--", "true"]),
        2,
        /--retry-delay "-1" is not a number of seconds from 0 to 3600/,
      );
      assertOneErrorLine(
        await cli(home, ["run", "--after", "k3x9m2p7q4wz", "--", "true"]),
        1,
        /k3x9m2p7q4wz/,
      );
    } finally {
      await server.close();
      await cleanup(home);
      await Deno.remove(work, { recursive: true });
    }
  },
);

posixTest("backburner restart starts a task again and prints the new id", async () => {
  const home = await tempDir();
  try {
    const first = await runTask(home, ["--label", "again", "--env", "WHO=me", "--", "echo $WHO"]);
    assert.equal((await cli(home, ["wait", first])).code, 0);
    const restarted = await cli(home, ["restart", first]);
    assert.equal(restarted.code, 0, restarted.stderr);
    assert.match(restarted.stdout, /^[a-z2-9]{12}\n$/);
    const id = restarted.stdout.trim();
    assert.notEqual(id, first);
    assert.match(restarted.stderr, new RegExp(`^restarted task ${first} as task ${id} `));
    assert.equal((await cli(home, ["wait", id])).code, 0);
    const shown = JSON.parse((await cli(home, ["show", id, "--json"])).stdout);
    assert.equal(shown.restart_of, first);
    assert.equal(shown.label, "again");
    assert.equal(logOf(home, id), "me\n");
    assertOneErrorLine(await cli(home, ["restart", "k3x9m2p7q4wz"]), 1, /unknown task/);
    assertOneErrorLine(await cli(home, ["restart"]), 2, /restart takes one task id/);
    const help = await cli(home, ["restart", "--help"]);
    assert.match(help.stdout, /^Usage: backburner restart ID\n/);
    assert.match(help.stdout, /\nExamples:\n {2}backburner restart k3x9m2p7q4wz\n/);
    const overview = (await cli(home, ["--help"])).stdout;
    assert.match(overview, /^ {2}restart +start a task again/m);
    assert.match(overview, /^ {2}queue +show queues/m);
  } finally {
    await cleanup(home);
  }
});

posixTest(
  "with no server running, backburner wait starts queued tasks as their queue allows",
  async () => {
    const home = await tempDir();
    const work = await tempDir("backburner-work-");
    try {
      assert.equal((await cli(home, ["queue", "one", "--limit", "1"])).code, 0);
      const command = "echo $BACKBURNER_TASK_ID >> ran; sleep 0.2";
      const first = await runTask(home, ["--queue", "one", "--cwd", work, "--", command]);
      const second = await runTask(home, ["--queue", "one", "--cwd", work, "--", command]);
      const third = await runTask(home, ["--after", second, "--cwd", work, "--", command]);
      const waited = await cli(home, ["wait", "--all", "--timeout", "20", first, second, third]);
      assert.equal(waited.code, 0, waited.stdout + waited.stderr);
      assert.equal(Deno.readTextFileSync(join(work, "ran")), `${first}\n${second}\n${third}\n`);
    } finally {
      await cleanup(home);
      await Deno.remove(work, { recursive: true });
    }
  },
);
