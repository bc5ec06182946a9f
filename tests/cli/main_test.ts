import assert from "node:assert/strict";
import denoConfig from "../../deno.json" with { type: "json" };
import { join } from "node:path";
import { cleanup, posixTest, startServer, taskPids, tempDir, waitFor } from "../helpers.ts";
import {
  assertOneErrorLine,
  cli,
  logOf,
  ownerOf,
  type RunningCli,
  runTask,
  spawnCli,
  TERMINAL_CONTROL,
} from "./helpers.ts";

posixTest(
  "a task the agent started is listed, shown, followed and cancelled from the command line",
  async () => {
    const home = await tempDir();
    const server = await startServer(home, { env: { BACKBURNER_GRACE_SECONDS: "1" } });
    let follower: RunningCli | undefined;
    try {
      const started = await server.call("start_task", {
        command: `sleep 600 & echo hello from the agent; echo '::progress:: 45% halfway'
        while [ ! -f go ]; do sleep 0.05; done; echo released; wait`,
        cwd: home,
        label: "agent-task",
      });
      const id = String(started.task_id);
      await waitFor(() => logOf(home, id).includes("halfway"), { what: "the task's output" });
      const owner = ownerOf(home, id);
      assert.ok(owner);

      const listed = await cli(home, ["ls"]);
      assert.equal(listed.code, 0, listed.stderr);
      const [header, row, ...rest] = listed.stdout.trimEnd().split("\n");
      assert.match(
        header,
        /^ID +STATUS +LABEL +QUEUE +EXECUTOR +PROGRESS +STARTED +DURATION +COMMAND$/,
      );
      assert.deepEqual(rest, []);
      assert.match(
        row,
        new RegExp(
          `^${id}  working +agent-task +default +local +45% +\\d+ s ago +\\d+\\.\\d s +sleep 600 &`,
        ),
      );
      assert.ok(!listed.stdout.includes("\x1b"), "no colour when stdout is not a terminal");

      const json = await cli(home, ["ls", "--json"]);
      const [view] = JSON.parse(json.stdout);
      const status = await server.call("task_status", { task_id: id });
      assert.deepEqual(Object.keys(view).sort(), Object.keys(status).sort());
      assert.equal(view.task_id, id);
      assert.equal(view.status, "working");
      assert.equal(view.progress.percent, 45);

      const shown = await cli(home, ["show", id]);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, new RegExp(`^ID +${id}$`, "m"));
      assert.match(shown.stdout, /^Label +agent-task$/m);
      assert.match(shown.stdout, /^Status +working: The task is still running$/m);
      assert.match(shown.stdout, /^Command +sleep 600 & echo hello from the agent;/m);
      assert.match(shown.stdout, /^Progress +45% halfway$/m);
      assert.match(shown.stdout, /^Executor +local$/m);
      // The same object as task_status, but for what depends on the moment and the reader.
      const same = (view: Record<string, unknown>) => ({
        ...view,
        duration_seconds: 0,
        seconds_since_output: 0,
        progress: { ...view.progress as object, updated_at: "" },
      });
      const shownJson = JSON.parse((await cli(home, ["show", id, "--json"])).stdout);
      assert.deepEqual(same(shownJson), same(status));

      follower = spawnCli(home, ["logs", id, "--follow"]);
      await waitFor(() => follower!.stdout().includes("hello from the agent\n"), {
        what: "logs --follow to print the output so far",
      });
      Deno.writeTextFileSync(join(home, "go"), "");
      await waitFor(() => follower!.stdout().includes("released\n"), {
        what: "logs --follow to print new output",
      });
      assert.equal(follower.stderr(), "");
      // Reading never takes a task from the server that watches it.
      assert.equal(ownerOf(home, id), owner);

      const cancelled = await cli(home, ["cancel", id]);
      assert.equal(cancelled.code, 0, cancelled.stderr);
      assert.match(
        cancelled.stdout,
        /^cancelled: Cancelled on request; all of its processes are gone \([^)]+\)\n$/,
      );
      assert.deepEqual(taskPids(id), []);
      assert.equal(await follower.done, 0);
      // bash may add "Terminated" for the background sleep it lost.
      assert.match(
        follower.stdout(),
        /^hello from the agent\n::progress:: 45% halfway\nreleased\n/,
      );
      assert.match(
        follower.stderr(),
        new RegExp(`^\\[backburner\\] task ${id} cancelled .*after \\d`),
      );
      assert.equal((await server.call("task_status", { task_id: id })).status, "cancelled");
      assert.doesNotMatch(server.stderr(), /adopted|interrupted/);
    } finally {
      await follower?.kill();
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest("every command has --help with examples; --version prints the version", async () => {
  const home = await tempDir();
  try {
    const overview = await cli(home, ["--help"]);
    assert.equal(overview.code, 0);
    const commands = ["serve", "ls", "show", "logs", "run", "cancel", "wait", "prune"];
    for (const command of commands) {
      assert.match(overview.stdout, new RegExp(`^  ${command} `, "m"));
      const help = await cli(home, [command, "--help"]);
      assert.equal(help.code, 0, `${command} --help: ${help.stderr}`);
      assert.match(help.stdout, new RegExp(`^Usage: backburner \\[?${command}`));
      assert.match(help.stdout, /\nExamples?( \(.*\))?:\n/);
      assert.equal((await cli(home, ["help", command])).stdout, help.stdout);
    }
    const version = await cli(home, ["--version"]);
    assert.deepEqual(version, { code: 0, stdout: `${denoConfig.version}\n`, stderr: "" });
    // Help and version need no state directory.
    assert.throws(() => Deno.statSync(join(home, "state.db")), Deno.errors.NotFound);
  } finally {
    await cleanup(home);
  }
});

posixTest(
  "bad usage exits 2 and a failure of what was asked exits 1, each with one line on stderr",
  async () => {
    const home = await tempDir();
    try {
      const usage: [string[], RegExp][] = [
        [["frobnicate"], /unknown command "frobnicate"/],
        [["--frobnicate"], /unknown option "--frobnicate"/],
        [["ls", "--bogus"], /unknown option "--bogus" for ls/],
        [["ls", "--limit", "many"], /--limit "many" is not a whole number/],
        [["ls", "--status", "done"], /--status "done" is not a status/],
        [["run"], /run needs a command/],
        [["run", "ls", "-la"], /put the command after --/],
        [["run", "--env", "NOVALUE", "--", "true"], /--env "NOVALUE" is not NAME=VALUE/],
        [["run", "--timeout", "soon", "--", "true"], /--timeout "soon" is not a number/],
        [["show"], /show takes one task id, but got 0/],
        [["logs", "k3x9m2p7q4wz", "--grep", "("], /is not a valid regular expression/],
        [["logs", "k3x9m2p7q4wz", "--grep", "x", "--follow"], /--grep goes alone/],
        [["wait"], /wait needs a task id/],
        [["prune", "--older-than", "-1"], /option --older-than got a value that starts with "-"/],
        [["serve", "--stdio"], /unknown option "--stdio" for serve/],
      ];
      for (const [args, pattern] of usage) {
        assertOneErrorLine(await cli(home, args), 2, pattern);
      }
      const failures: [string[], RegExp][] = [
        [["show", "k3x9m2p7q4wz"], /^backburner: unknown task "k3x9m2p7q4wz": run backburner ls/],
        [["logs", "nope"], /unknown task "nope"/],
        [["cancel", "nope"], /unknown task "nope"/],
        [["wait", "nope"], /unknown task "nope"/],
        [["run", "--cwd", join(home, "missing"), "--", "true"], /cwd ".*missing" does not exist/],
      ];
      for (const [args, pattern] of failures) {
        assertOneErrorLine(await cli(home, args), 1, pattern);
      }
      const refused = await cli(home, ["run", "--", "rm -rf ~/nothing"], {
        env: { BACKBURNER_DENY: String.raw`\brm\b` },
      });
      assertOneErrorLine(
        refused,
        1,
        /Command refused by policy: "rm -rf ~\/nothing" matches BACKBURNER_DENY/,
      );
      assertOneErrorLine(
        await cli(home, ["ls"], { env: { BACKBURNER_GRACE_SECONDS: "forever" } }),
        2,
        /Invalid BACKBURNER_GRACE_SECONDS "forever"/,
      );
      assert.deepEqual(JSON.parse((await cli(home, ["ls", "--json"])).stdout), []);
    } finally {
      await cleanup(home);
    }
  },
);

posixTest(
  "no command, directory, message or output reaches the terminal with escapes or controls",
  async () => {
    const home = await tempDir();
    try {
      // A clipboard write (OSC 52), a screen clear, an 8-bit CSI, a bidi override, a bell.
      const hostile = "\x1b]52;c;aGk=\x07\x1b[2J\u009b31m\u202e\x07";
      const cwd = join(home, `dir${hostile}`);
      Deno.mkdirSync(cwd);
      const command = `printf '::progress:: 50%% half\\007way\\033]0;t\\007\\001\\n'; ` +
        `printf 'out\\033]52;c;aGk=\\007put\\001\\016\\n'; sleep 600 # ${hostile}`;
      const id = await runTask(home, ["--cwd", cwd, "--", command]);
      await waitFor(() => logOf(home, id).includes("put"), { what: "the task's output" });

      for (const args of [["ls"], ["show", id], ["logs", id], ["logs", id, "--grep", "out"]]) {
        const result = await cli(home, args);
        assert.equal(result.code, 0, result.stderr);
        assert.doesNotMatch(result.stdout, TERMINAL_CONTROL, `${args.join(" ")}: ${result.stdout}`);
      }
      const shown = (await cli(home, ["show", id])).stdout;
      assert.match(shown, /^Progress +50% halfway$/m);
      assert.match(shown, /^Command +printf .*; sleep 600 # $/m);
      assert.match(shown, /^Directory +\/.*\/dir$/m);
      assert.equal((await cli(home, ["logs", id])).stdout, "::progress:: 50% halfway\noutput\n");

      // JSON keeps every character, escaped.
      const json = (await cli(home, ["show", id, "--json"])).stdout;
      assert.doesNotMatch(json, TERMINAL_CONTROL);
      const view = JSON.parse(json);
      assert.equal(view.command, command);
      assert.equal(view.cwd, cwd);
      assert.doesNotMatch(
        (await cli(home, ["ls", "--json"])).stdout,
        TERMINAL_CONTROL,
      );

      const cancelled = await cli(home, ["cancel", id]);
      assert.equal(cancelled.code, 0, cancelled.stderr);
      assert.doesNotMatch(cancelled.stdout, TERMINAL_CONTROL);
      // Errors that quote what was given are one safe line too.
      const refused = await cli(home, [
        "run",
        "--cwd",
        join(home, `missing${hostile}`),
        "--",
        "true",
      ]);
      assert.equal(refused.code, 1);
      assert.doesNotMatch(refused.stderr, TERMINAL_CONTROL);
      assert.match(
        refused.stderr,
        /^backburner: Cannot start task: cwd ".*missing.*" does not exist/,
      );
    } finally {
      await cleanup(home);
    }
  },
);
