import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cleanup,
  errorText,
  posixTest,
  runToEnd,
  startServer,
  taskPids,
  tempDir,
  waitFor,
} from "../../helpers.ts";
import { finish, ok, output, refuseAll, refused, type Reply } from "./helpers.ts";

posixTest("a fast command's output is complete once it has ended", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const status = await finish(server, { command: "printf 'a\\nb\\n'" });
    assert.equal(status.status, "completed");
    assert.equal(status.output_bytes, 4);
    const result = await ok(server, "task_result", { task_id: status.task_id });
    assert.equal(result.output, "a\nb\n");
    assert.equal(result.output_bytes, 4);
    assert.equal(result.output_truncated, false);
    assert.equal(result.omitted_before, 0);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("a command printing 100000 lines completes with the true byte count", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const status = await finish(server, { command: "seq 1 100000" });
    assert.equal(status.status, "completed");
    assert.equal(status.exit_code, 0);
    assert.equal(status.output_bytes, 588895);
    const result = await ok(server, "task_result", { task_id: status.task_id });
    assert.equal(result.output_bytes, 588895);
    assert.ok((result.output as string).endsWith("\n99999\n100000\n"));
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("stdout and stderr interleave in the order they were written", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const status = await finish(server, { command: "echo 1; echo 2 >&2; echo 3" });
    assert.equal(status.status, "completed");
    assert.equal(await output(server, status.task_id), "1\n2\n3\n");
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("a non-zero exit ends as failed with that exit code", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const status = await finish(server, { command: "exit 3" });
    assert.equal(status.status, "failed");
    assert.equal(status.exit_code, 3);
    assert.equal(status.signal, null);
    assert.match(status.status_message as string, /exit code 3/);
    const result = await ok(server, "task_result", { task_id: status.task_id });
    assert.equal(result.status, "failed");
    assert.equal(result.exit_code, 3);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest(
  "a command killed by SIGKILL ends as failed with the signal and exit code 137",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      const status = await finish(server, { command: "sh -c 'kill -9 $$'" });
      assert.equal(status.status, "failed");
      assert.equal(status.exit_code, 137);
      assert.equal(status.signal, "SIGKILL");
      assert.match(status.status_message as string, /SIGKILL/);
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest("a missing command fails with exit code 127 and says command not found", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const status = await finish(server, { command: "definitely-not-a-command-xyz" });
    assert.equal(status.status, "failed");
    assert.equal(status.exit_code, 127);
    assert.match(status.status_message as string, /command not found/);
    assert.match(await output(server, status.task_id), /definitely-not-a-command-xyz/);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("by default a task runs in the server's working directory", async () => {
  const home = await tempDir();
  const serverCwd = await tempDir("backburner-cwd-");
  const server = await startServer(home, { cwd: serverCwd });
  try {
    const status = await finish(server, { command: "pwd" });
    assert.equal(status.status, "completed");
    assert.equal(status.cwd, serverCwd);
    assert.equal(await output(server, status.task_id), `${Deno.realPathSync(serverCwd)}\n`);
  } finally {
    await server.close();
    await cleanup(home);
    await cleanup(serverCwd);
  }
});

posixTest("an absolute cwd is used as given", async () => {
  const home = await tempDir();
  const elsewhere = await tempDir("backburner-cwd-");
  const server = await startServer(home);
  try {
    const status = await finish(server, { command: "pwd", cwd: elsewhere });
    assert.equal(status.status, "completed");
    assert.equal(status.cwd, elsewhere);
    assert.equal(await output(server, status.task_id), `${Deno.realPathSync(elsewhere)}\n`);
  } finally {
    await server.close();
    await cleanup(home);
    await cleanup(elsewhere);
  }
});

posixTest("a relative cwd resolves against the server's working directory", async () => {
  const home = await tempDir();
  const serverCwd = await tempDir("backburner-cwd-");
  Deno.mkdirSync(join(serverCwd, "sub", "inner"), { recursive: true });
  const server = await startServer(home, { cwd: serverCwd });
  try {
    const inner = join(serverCwd, "sub", "inner");
    for (const cwd of ["sub/inner", "./sub/../sub/inner"]) {
      const status = await finish(server, { command: "pwd", cwd });
      assert.equal(status.status, "completed", cwd);
      assert.equal(status.cwd, inner, cwd);
      assert.equal(await output(server, status.task_id), `${Deno.realPathSync(inner)}\n`, cwd);
    }
  } finally {
    await server.close();
    await cleanup(home);
    await cleanup(serverCwd);
  }
});

posixTest(
  "a cwd that does not exist is refused with a clear message and leaves no task",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      const text = await refused(server, "start_task", { command: "pwd", cwd: "/nonexistent/dir" });
      assert.equal(
        text,
        'Cannot start task: cwd "/nonexistent/dir" does not exist: pass an existing directory',
      );
      const listed = await ok(server, "list_tasks", {});
      assert.equal(listed.count, 0);
      assert.deepEqual(listed.tasks, []);
      assert.deepEqual([...Deno.readDirSync(join(home, "tasks"))], []);
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest("a cwd that is a file is refused as not a directory and leaves no task", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const file = join(home, "a-file");
    Deno.writeTextFileSync(file, "not a directory\n");
    const text = await refused(server, "start_task", { command: "pwd", cwd: file });
    assert.equal(
      text,
      `Cannot start task: cwd "${file}" is not a directory: pass an existing directory`,
    );
    const listed = await ok(server, "list_tasks", {});
    assert.equal(listed.count, 0);
    assert.deepEqual([...Deno.readDirSync(join(home, "tasks"))], []);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("a task past its timeout ends as timed_out and its processes are gone", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const t0 = Date.now();
    const started = await ok(server, "start_task", { command: "sleep 30", timeout_seconds: 1 });
    const id = started.task_id as string;
    assert.equal(started.timeout_seconds, 1);
    await waitFor(() => taskPids(id).length > 0, { what: "the task's processes to start" });
    const status = await waitFor(async () => {
      const status = await ok(server, "task_status", { task_id: id });
      return status.status !== "working" ? status : null;
    }, { timeoutMs: 10_000, what: "the timeout to stop the task" });
    assert.ok(Date.now() - t0 < 8000, `took ${Date.now() - t0} ms to time out`);
    assert.equal(status.status, "timed_out");
    assert.ok(status.exit_code === null || Number.isInteger(status.exit_code));
    assert.match(status.status_message as string, /timed out|timeout/i);
    assert.match(status.status_message as string, /1 s/);
    assert.ok((status.duration_seconds as number) >= 1);
    assert.ok((status.duration_seconds as number) < 8);
    // The status changes only once the whole tree is gone.
    assert.deepEqual(taskPids(id), []);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("start_task refuses bad arguments with a short message and starts nothing", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const real = await finish(server, { command: "true" });
    const texts = await refuseAll(server, real.task_id, [
      ["start_task", {}],
      ["start_task", { command: 42 }],
      ["start_task", { command: null }],
      ["start_task", { command: ["echo", "hi"] }],
      ["start_task", { command: { run: "echo" } }],
      ["start_task", { command: "" }],
      ["start_task", { command: "   \n\t " }],
      ["start_task", { command: `echo ${"x".repeat(200_000)}` }],
      ["start_task", { command: "echo a\0b" }],
      ["start_task", { command: "true", cwd: 7 }],
      ["start_task", { command: "true", cwd: "" }],
      ["start_task", { command: "true", timeout_seconds: "5" }],
      ["start_task", { command: "true", timeout_seconds: -1 }],
      ["start_task", { command: "true", timeout_seconds: 0 }],
      ["start_task", { command: "true", timeout_seconds: 1e12 }],
      ["start_task", { command: "true", timeout_seconds: Number.NaN }],
      ["start_task", { command: "true", timeout_seconds: Infinity }],
      ["start_task", { command: "true", timeout_seconds: "NaN" }],
    ]);
    assert.equal(texts[5], "Cannot start task: command is empty: pass the shell command to run");
    assert.equal(texts[6], "Cannot start task: command is empty: pass the shell command to run");
    assert.match(texts[7], /200005 characters/);
    assert.match(texts[12], /timeout_seconds -1 is out of range/);
    const listed = await ok(server, "list_tasks", {});
    assert.deepEqual((listed.tasks as Reply[]).map((task) => task.task_id), [real.task_id]);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("start_task passes env, label and stdin to the task", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const task = await runToEnd(server, {
      command: 'echo "$GREETING $WHO"; cat; echo "[stdin closed]"',
      env: { GREETING: "hello", WHO: "world" },
      label: "greeter",
      stdin: "line one\nline two\n",
    });
    assert.equal(task.status, "completed");
    assert.equal(task.label, "greeter");
    const result = await server.call("task_result", { task_id: task.task_id });
    assert.equal(result.output, "hello world\nline one\nline two\n[stdin closed]\n");
    // Without stdin, a command that reads it sees end of input at once instead of hanging.
    const reader = await runToEnd(server, { command: "cat; echo done" });
    assert.equal(
      (await server.call("task_result", { task_id: reader.task_id })).output,
      "done\n",
    );
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("start_task refuses bad env, label and stdin", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ env: { "1BAD": "x" } }, /env name "1BAD" is not a valid variable name/],
      [{ env: { "A-B": "x" } }, /not a valid variable name/],
      [{ env: { BACKBURNER_TASK_ID: "x" } }, /may not set BACKBURNER_TASK_ID/],
      [
        { env: { A: 1 } },
        /^start_task cannot use env\.A 1: pass an object whose values are strings$/,
      ],
      [{ label: "" }, /label "" must be 1 to 100 printable characters/],
      [{ label: "x".repeat(101) }, /must be 1 to 100 printable characters/],
      [{ label: "a\nb" }, /printable/],
      [{ stdin: "x".repeat(11 * 1024 * 1024) }, /stdin is \d+ bytes, more than/],
    ];
    for (const [args, expected] of cases) {
      const result = await server.raw("start_task", { command: "true", ...args });
      assert.match(errorText(result), expected, JSON.stringify(args).slice(0, 80));
    }
    assert.equal((await server.call("list_tasks", {})).total, 0);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("the policy sees env entries as assignments", async () => {
  const home = await tempDir();
  const server = await startServer(home, {
    env: { BACKBURNER_ALLOW: "^echo( |$),^CI=", BACKBURNER_DENY: "^LD_PRELOAD=" },
  });
  try {
    const preload = await server.raw("start_task", {
      command: "echo hi",
      env: { LD_PRELOAD: "/tmp/x.so" },
    });
    assert.equal(
      errorText(preload),
      'Command refused by policy: "LD_PRELOAD=/tmp/x.so" matches BACKBURNER_DENY rule "^LD_PRELOAD=" (from the env parameter)',
    );
    const other = await server.raw("start_task", { command: "echo hi", env: { FOO: "1" } });
    assert.match(errorText(other), /"FOO=1" matches no BACKBURNER_ALLOW rule/);
    const fine = await runToEnd(server, { command: "echo $CI", env: { CI: "1" } });
    assert.equal(fine.status, "completed");
  } finally {
    await server.close();
    await cleanup(home);
  }
});
