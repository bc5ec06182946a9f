import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cleanup,
  errorText,
  posixTest,
  type ServerHandle,
  startServer,
  taskPids,
  tempDir,
  waitFor,
} from "./helpers.ts";
import type { CallToolResult } from "./sdk.ts";

type Reply = Record<string, unknown>;

const TOOLS = [
  "start_task",
  "task_status",
  "task_result",
  "cancel_task",
  "list_tasks",
  "wait_for_task",
  "run_command",
];

/**
 * Checks that a successful reply carries structuredContent and one text content holding the same
 * JSON, and returns the structuredContent.
 */
function mirrored(tool: string, result: CallToolResult): Reply {
  assert.ok(!result.isError, `${tool} failed: ${JSON.stringify(result.content)}`);
  const structured = result.structuredContent;
  assert.ok(structured && typeof structured === "object", `${tool} has no structuredContent`);
  const texts = result.content.filter((c) => c.type === "text");
  assert.equal(texts.length, 1, `${tool} should carry exactly one text content`);
  const text = texts[0].type === "text" ? texts[0].text : "";
  assert.deepEqual(JSON.parse(text), structured, `${tool}: text and structuredContent differ`);
  return structured as Reply;
}

/** Calls a tool that must succeed; every reply is checked for the JSON mirror. */
async function ok(server: ServerHandle, tool: string, args: Reply = {}): Promise<Reply> {
  return mirrored(tool, await server.raw(tool, args));
}

/** Calls a tool that must fail; returns the error text after checking it is short and clean. */
async function refused(server: ServerHandle, tool: string, args: Reply): Promise<string> {
  const result = await server.raw(tool, args);
  const shown = JSON.stringify(args).slice(0, 120);
  assert.equal(result.isError, true, `${tool} ${shown} should be an error`);
  const text = errorText(result);
  assert.ok(text.length > 0, `${tool} ${shown}: empty error text`);
  assert.ok(text.length < 500, `${tool} ${shown}: error text is ${text.length} chars`);
  assert.ok(!text.includes("    at "), `${tool} ${shown}: error text has a stack: ${text}`);
  return text;
}

/** Starts a task and polls task_status until it has ended. */
async function finish(server: ServerHandle, args: Reply, timeoutMs = 15_000): Promise<Reply> {
  const started = await ok(server, "start_task", args);
  return await waitFor(async () => {
    const status = await ok(server, "task_status", { task_id: started.task_id });
    return status.status !== "working" ? status : null;
  }, { timeoutMs, what: `task ${started.task_id} (${args.command}) to end` });
}

async function output(server: ServerHandle, id: unknown): Promise<string> {
  return (await ok(server, "task_result", { task_id: id })).output as string;
}

posixTest("tools/list shows every tool with descriptions, schemas and annotations", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const { tools } = await server.client.listTools();
    assert.deepEqual(tools.map((tool) => tool.name).sort(), [...TOOLS].sort());
    for (const tool of tools) {
      assert.ok((tool.description ?? "").length > 20, `${tool.name} needs a description`);
      assert.equal(tool.inputSchema.type, "object", `${tool.name} inputSchema`);
      assert.equal(tool.outputSchema?.type, "object", `${tool.name} outputSchema`);
      assert.ok(tool.annotations, `${tool.name} needs annotations`);
    }
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    for (const name of ["task_status", "task_result", "list_tasks", "wait_for_task"]) {
      assert.equal(byName.get(name)?.annotations?.readOnlyHint, true, `${name} readOnlyHint`);
    }
    assert.equal(byName.get("run_command")?.execution?.taskSupport, "optional");
    assert.equal(byName.get("start_task")?.execution?.taskSupport ?? "forbidden", "forbidden");
    for (const name of ["start_task", "cancel_task", "run_command"]) {
      assert.equal(byName.get(name)?.annotations?.destructiveHint, true, `${name} destructiveHint`);
      assert.notEqual(byName.get(name)?.annotations?.readOnlyHint, true, `${name} readOnlyHint`);
    }
    assert.deepEqual(byName.get("start_task")?.inputSchema.required, ["command"]);
    for (const name of ["task_status", "task_result", "cancel_task"]) {
      assert.deepEqual(byName.get(name)?.inputSchema.required, ["task_id"], name);
    }
    const statusFields = Object.keys(byName.get("task_status")?.outputSchema?.properties ?? {});
    for (const field of ["task_id", "status", "exit_code", "ended_at", "output_bytes"]) {
      assert.ok(statusFields.includes(field), `task_status outputSchema lacks ${field}`);
    }
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest(
  "every successful reply carries structuredContent and the same JSON as text",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      // ok() checks the mirror on each of these five replies.
      const started = await ok(server, "start_task", { command: "echo mirrored" });
      const id = started.task_id;
      await waitFor(async () =>
        (await ok(server, "task_status", { task_id: id })).status !== "working"
      );
      const result = await ok(server, "task_result", { task_id: id });
      assert.equal(result.output, "mirrored\n");
      const cancelled = await ok(server, "cancel_task", { task_id: id });
      assert.equal(cancelled.already_ended, true);
      assert.equal(cancelled.status, "completed");
      const listed = await ok(server, "list_tasks", {});
      assert.equal(listed.count, 1);
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

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

posixTest("task_status reports every field, with ISO 8601 times", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const status = await finish(server, { command: "echo hi" });
    assert.deepEqual(Object.keys(status).sort(), [
      "command",
      "created_at",
      "cwd",
      "duration_seconds",
      "ended_at",
      "exit_code",
      "label",
      "output_bytes",
      "pid",
      "progress",
      "seconds_since_output",
      "signal",
      "started_at",
      "status",
      "status_message",
      "task_id",
      "timeout_seconds",
      "waiting_for_input",
    ]);
    assert.match(status.task_id as string, /^[a-z0-9]{12}$/);
    assert.equal(status.status, "completed");
    assert.equal(status.command, "echo hi");
    assert.equal(status.cwd, home);
    assert.equal(status.exit_code, 0);
    assert.equal(status.signal, null);
    assert.equal(typeof status.status_message, "string");
    assert.equal(status.timeout_seconds, null);
    assert.equal(status.output_bytes, 3);
    assert.ok(Number.isInteger(status.pid) && (status.pid as number) > 0);
    for (const field of ["created_at", "started_at", "ended_at"]) {
      const value = status[field] as string;
      assert.equal(typeof value, "string", field);
      assert.ok(!Number.isNaN(Date.parse(value)), `${field} ${value} does not parse`);
      assert.equal(new Date(value).toISOString(), value, `${field} is not ISO 8601`);
    }
    assert.equal(typeof status.duration_seconds, "number");
    assert.ok((status.duration_seconds as number) >= 0);
    const same = await ok(server, "task_status", { task_id: status.task_id });
    assert.deepEqual(same, status);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("a quick task's times are in order: created, then started, then ended", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const wrong: string[] = [];
    for (let i = 0; i < 20; i++) {
      const status = await finish(server, { command: "true" });
      const created = Date.parse(status.created_at as string);
      const started = Date.parse(status.started_at as string);
      const ended = Date.parse(status.ended_at as string);
      if (!(created <= started && started <= ended)) {
        wrong.push(`${status.created_at} ${status.started_at} ${status.ended_at}`);
      }
    }
    assert.deepEqual(wrong, [], "created_at <= started_at <= ended_at should hold");
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("a running task has no end time and its duration grows", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const started = await ok(server, "start_task", { command: "sleep 30" });
    assert.equal(started.status, "working");
    assert.equal(started.ended_at, null);
    const first = await ok(server, "task_status", { task_id: started.task_id });
    assert.equal(first.status, "working");
    assert.equal(first.ended_at, null);
    assert.equal(first.exit_code, null);
    assert.equal(first.signal, null);
    assert.equal(typeof first.started_at, "string");
    assert.equal(typeof first.duration_seconds, "number");
    const later = await waitFor(async () => {
      const status = await ok(server, "task_status", { task_id: started.task_id });
      return (status.duration_seconds as number) > (first.duration_seconds as number) + 0.1
        ? status
        : null;
    }, { what: "the duration to grow" });
    assert.equal(later.status, "working");
    assert.equal(later.ended_at, null);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("task_result shows the output printed so far while the task still runs", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const started = await ok(server, "start_task", {
      command: "echo first; sleep 30; echo second",
    });
    const result = await waitFor(async () => {
      const result = await ok(server, "task_result", { task_id: started.task_id });
      return result.output === "first\n" ? result : null;
    }, { what: "the first line" });
    assert.equal(result.status, "working");
    assert.equal(result.exit_code, null);
    assert.equal(result.output_bytes, 6);
    assert.equal(result.output_truncated, false);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("list_tasks lists newest first, respects the limit and counts its tasks", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const ids: unknown[] = [];
    for (const n of [1, 2, 3]) {
      ids.push((await finish(server, { command: `echo ${n}` })).task_id);
    }
    const all = await ok(server, "list_tasks", {});
    assert.equal(all.count, 3);
    const tasks = all.tasks as Reply[];
    assert.deepEqual(tasks.map((task) => task.task_id), [...ids].reverse());
    assert.deepEqual(tasks.map((task) => task.command), ["echo 3", "echo 2", "echo 1"]);
    assert.deepEqual(tasks.map((task) => task.status), ["completed", "completed", "completed"]);
    const two = await ok(server, "list_tasks", { limit: 2 });
    assert.equal(two.count, 2);
    assert.deepEqual((two.tasks as Reply[]).map((task) => task.task_id), [ids[2], ids[1]]);
    const one = await ok(server, "list_tasks", { limit: 1 });
    assert.equal(one.count, 1);
    assert.deepEqual((one.tasks as Reply[]).map((task) => task.task_id), [ids[2]]);
    const many = await ok(server, "list_tasks", { limit: 1000 });
    assert.equal(many.count, 3);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

/**
 * Runs each bad call, checks it is refused with a short clean message, and that the server still
 * answers task_status of a real task after it. Returns the error texts in order.
 */
async function refuseAll(
  server: ServerHandle,
  realId: unknown,
  calls: [string, Reply][],
): Promise<string[]> {
  const texts: string[] = [];
  for (const [tool, args] of calls) {
    texts.push(await refused(server, tool, args));
    const status = await ok(server, "task_status", { task_id: realId });
    assert.equal(status.task_id, realId);
  }
  return texts;
}

const HUGE_ID = "k".repeat(10_000);

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

posixTest("task_status, task_result and cancel_task refuse bad task ids", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const real = await finish(server, { command: "true" });
    const calls: [string, Reply][] = [];
    for (const tool of ["task_status", "task_result", "cancel_task"]) {
      calls.push(
        [tool, {}],
        [tool, { task_id: 12 }],
        [tool, { task_id: null }],
        [tool, { task_id: { id: real.task_id } }],
        [tool, { task_id: [real.task_id] }],
        [tool, { task_id: "../../etc" }],
        [tool, { task_id: "" }],
        [tool, { task_id: HUGE_ID }],
        [tool, { task_id: "zzzzzzzzzzzz" }],
        [tool, { task_id: `${real.task_id}/../${real.task_id}` }],
        [tool, { task_id: (real.task_id as string).toUpperCase() }],
      );
    }
    const texts = await refuseAll(server, real.task_id, calls);
    for (const i of [5, 16, 27]) {
      assert.equal(
        texts[i],
        'Unknown task_id "../../etc": call list_tasks to see the task ids',
        calls[i][0],
      );
    }
    assert.equal(texts[6], 'Unknown task_id "": call list_tasks to see the task ids');
    const status = await ok(server, "task_status", { task_id: real.task_id });
    assert.equal(status.status, "completed");
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("task_result refuses bad tail_lines and list_tasks refuses bad limits", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const real = await finish(server, { command: "echo hi" });
    const id = real.task_id;
    await refuseAll(server, id, [
      ["task_result", { task_id: id, tail_lines: 0 }],
      ["task_result", { task_id: id, tail_lines: -5 }],
      ["task_result", { task_id: id, tail_lines: 1.5 }],
      ["task_result", { task_id: id, tail_lines: "5" }],
      ["task_result", { task_id: id, tail_lines: 1e12 }],
      ["task_result", { task_id: id, tail_lines: Number.NaN }],
      ["list_tasks", { limit: 0 }],
      ["list_tasks", { limit: -1 }],
      ["list_tasks", { limit: 5000 }],
      ["list_tasks", { limit: 2.5 }],
      ["list_tasks", { limit: "10" }],
      ["list_tasks", { limit: Number.NaN }],
    ]);
    const result = await ok(server, "task_result", { task_id: id, tail_lines: 1 });
    assert.equal(result.output, "hi\n");
  } finally {
    await server.close();
    await cleanup(home);
  }
});
