import assert from "node:assert/strict";
import { join } from "node:path";
import denoConfig from "../deno.json" with { type: "json" };
import { formatAgo, formatDuration, renderTable, shellJoin, shorten } from "../src/cli/format.ts";
import { Store } from "../src/store.ts";
import {
  cleanup,
  MAIN,
  posixTest,
  type ServerHandle,
  serverPermissions,
  startServer,
  taskPids,
  tempDir,
  waitFor,
} from "./helpers.ts";

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

interface CliOptions {
  readonly cwd?: string;
  readonly env?: Record<string, string>;
}

function cliCommand(home: string, args: string[], options: CliOptions): Deno.Command {
  // As a person's shell would run it: no INIT_CWD from `deno task`, no NO_COLOR from the tests.
  const { INIT_CWD: _, NO_COLOR: __, ...inherited } = Deno.env.toObject();
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...serverPermissions(home), MAIN, ...args],
    env: { ...inherited, BACKBURNER_HOME: home, ...options.env },
    clearEnv: true,
    cwd: options.cwd ?? home,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs the command line to its end with the server's narrow permissions. */
async function cli(home: string, args: string[], options: CliOptions = {}): Promise<CliResult> {
  const output = await cliCommand(home, args, options).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

interface RunningCli {
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** Settles with the exit code once both streams are drained. */
  readonly done: Promise<number>;
  kill(): Promise<void>;
}

/** Starts the command line and collects its output as it comes. */
function spawnCli(home: string, args: string[], options: CliOptions = {}): RunningCli {
  const child = cliCommand(home, args, options).spawn();
  let stdout = "";
  let stderr = "";
  const collect = async (stream: ReadableStream<Uint8Array>, add: (text: string) => void) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) add(text);
  };
  const done = Promise.all([
    collect(child.stdout, (text) => stdout += text),
    collect(child.stderr, (text) => stderr += text),
  ]).then(async () => (await child.status).code);
  return {
    pid: child.pid,
    stdout: () => stdout,
    stderr: () => stderr,
    done,
    async kill() {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await done;
    },
  };
}

/** The id `backburner run` printed: its whole stdout. */
async function runTask(home: string, args: string[], options: CliOptions = {}): Promise<string> {
  const result = await cli(home, ["run", ...args], options);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^[a-z2-9]{12}\n$/);
  assert.equal(result.stderr, "");
  return result.stdout.trim();
}

function ownerOf(home: string, id: string): string | null | undefined {
  const store = new Store(join(home, "state.db"));
  try {
    return store.getTask(id)?.owner;
  } finally {
    store.close();
  }
}

function logOf(home: string, id: string): string {
  try {
    return Deno.readTextFileSync(join(home, "tasks", id, "output.log"));
  } catch {
    return "";
  }
}

async function ended(server: ServerHandle, id: string): Promise<Record<string, unknown>> {
  return await waitFor(async () => {
    const status = await server.call("task_status", { task_id: id });
    return status.status === "working" ? null : status;
  }, { what: `task ${id} to end` });
}

/**
 * `logs --grep` with patterns a backtracking engine takes minutes on answers at once, and refuses
 * one it cannot match in linear time with a sentence saying what to change.
 */
async function assertNoBacktracking(home: string): Promise<void> {
  const id = await runTask(home, ["--", "printf 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\\nab\\n'"]);
  assert.equal((await cli(home, ["wait", id])).code, 0);
  const started = Date.now();
  const found = await cli(home, ["logs", id, "--grep", "(a+)+$"]);
  assert.equal(found.stdout, "", found.stderr);
  assert.equal((await cli(home, ["logs", id, "--grep", "^(a|a)*b"])).stdout, "2:ab\n");
  assert.ok(Date.now() - started < 10_000, `the searches took ${Date.now() - started} ms`);
  assertOneErrorLine(
    await cli(home, ["logs", id, "--grep", "(a*)*\\1$"]),
    2,
    /--grep: The pattern "\(a\*\)\*\\1\$" combines a backreference \(\\1\) with unbounded repetition/,
  );
}

/** One line on stderr, `backburner: …`, nothing on stdout. */
function assertOneErrorLine(result: CliResult, code: number, pattern: RegExp): void {
  assert.equal(result.code, code, `exit code of ${JSON.stringify(result)}`);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /^backburner: [^\n]+\n$/);
  assert.match(result.stderr, pattern);
}

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
      assert.match(header, /^ID +STATUS +LABEL +PROGRESS +STARTED +DURATION +COMMAND$/);
      assert.deepEqual(rest, []);
      assert.match(
        row,
        new RegExp(`^${id}  working +agent-task +45% +\\d+ s ago +\\d+\\.\\d s +sleep 600 &`),
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

posixTest(
  "a task started with backburner run is the agent's to see and cancel, and outlives the command line",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    let waiter: RunningCli | undefined;
    try {
      const greeting = await runTask(home, [
        "--label",
        "from-cli",
        "--env",
        "GREETING=hi",
        "--",
        "echo $GREETING from the terminal; sleep 600",
      ]);
      const status = await server.call("task_status", { task_id: greeting });
      assert.equal(status.status, "working");
      assert.equal(status.label, "from-cli");
      assert.equal(status.cwd, home);
      await waitFor(async () =>
        (await server.call("task_result", { task_id: greeting })).output ===
          "hi from the terminal\n"
      );
      // The command line has exited; its task runs on, and the live server takes it over.
      await waitFor(() => server.stderr().includes(`adopted task ${greeting}`), {
        what: "the server to adopt the task",
      });
      assert.ok(taskPids(greeting).length > 0);
      const cancelled = await server.call("cancel_task", { task_id: greeting });
      assert.equal(cancelled.status, "cancelled");
      assert.deepEqual(taskPids(greeting), []);

      const gated = await runTask(home, [
        "--cwd",
        home,
        "--",
        "while [ ! -f go ]; do sleep 0.05; done; echo done; exit 7",
      ]);
      await waitFor(() => server.stderr().includes(`adopted task ${gated}`));
      assert.ok(taskPids(gated).length > 0);
      waiter = spawnCli(home, ["wait", gated]);
      Deno.writeTextFileSync(join(home, "go"), "");
      const end = await ended(server, gated);
      assert.equal(end.status, "failed");
      assert.equal(end.exit_code, 7);
      assert.equal(await waiter.done, 1);
      assert.match(
        waiter.stdout(),
        new RegExp(`^${gated} failed \\(exit 7\\) after \\d+\\.\\d s\\n$`),
      );
      assert.doesNotMatch(server.stderr(), /interrupted/);
    } finally {
      await waiter?.kill();
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest(
  "a task run while no server is up is adopted by the next server, which records its exit code",
  async () => {
    const home = await tempDir();
    let server: ServerHandle | undefined;
    try {
      const id = await runTask(home, ["--", "while [ ! -f go ]; do sleep 0.05; done; exit 5"]);
      await waitFor(() => taskPids(id).length > 0);
      server = await startServer(home);
      await waitFor(() => server!.stderr().includes(`adopted task ${id}`));
      Deno.writeTextFileSync(join(home, "go"), "");
      const end = await ended(server, id);
      assert.equal(end.status, "failed");
      assert.equal(end.exit_code, 5);
    } finally {
      await server?.close();
      await cleanup(home);
    }
  },
);

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

Deno.test("run quotes several words for the shell exactly as given", () => {
  assert.equal(shellJoin(["npm", "test"]), "npm test");
  assert.equal(shellJoin(["echo", "a b", "it's", "$HOME"]), `echo 'a b' 'it'\\''s' '$HOME'`);
});

Deno.test("durations, ages and shortened text read well", () => {
  assert.equal(formatDuration(0.04), "0.0 s");
  assert.equal(formatDuration(12.34), "12.3 s");
  assert.equal(formatDuration(245), "4 min 05 s");
  assert.equal(formatDuration(3725), "1 h 02 min");
  assert.equal(formatDuration(2 * 86_400 + 4 * 3600), "2 d 04 h");
  const now = Date.now();
  assert.equal(formatAgo(now - 5_000, now), "5 s ago");
  assert.equal(formatAgo(now - 300_000, now), "5 min ago");
  assert.equal(formatAgo(now - 3 * 3_600_000, now), "3 h ago");
  assert.match(formatAgo(now - 3 * 86_400_000, now), /^\d{4}-\d\d-\d\d \d\d:\d\d$/);
  assert.equal(shorten("abcdef", 4), "abc…");
  assert.equal(shorten("abc", 4), "abc");
});

Deno.test("a table pads before painting and gives the last column what is left", () => {
  const paint = (text: string) => `<${text}>`;
  const lines = renderTable(
    ["ID", "STATUS", "COMMAND"],
    [[{ text: "a" }, { text: "ok", paint }, { text: "x".repeat(50) }]],
    { width: 30, minFlexWidth: 10 },
  );
  assert.deepEqual(lines, [
    "ID  STATUS  COMMAND",
    `a   <ok    >  ${"x".repeat(17)}…`,
  ]);
});

// deno-lint-ignore no-control-regex
const TERMINAL_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

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
