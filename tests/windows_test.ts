// Windows only: tasks run through cmd.exe and trees are stopped with taskkill. The rest of the
// suite checks processes through /proc or ps, which Windows has not; these cover its own path.
import assert from "node:assert/strict";
import { cleanup, isAlive, runToEnd, startServer, tempDir, waitFor } from "./helpers.ts";

const onWindows = Deno.build.os === "windows";

Deno.test({
  name: "on Windows a task's output and exit code are recorded",
  ignore: !onWindows,
  fn: async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      const task = await runToEnd(server, { command: "echo hello & echo a ^& b & exit /b 3" });
      assert.equal(task.status, "failed");
      assert.equal(task.exit_code, 3);
      const result = await server.call("task_result", { task_id: task.task_id });
      assert.match(String(result.output), /^hello\s*\r?\na & b\s*\r?\n$/);
      const ok = await runToEnd(server, { command: "ver" });
      assert.equal(ok.status, "completed");
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
});

Deno.test({
  name: "on Windows cancel_task ends the task's process tree",
  ignore: !onWindows,
  fn: async () => {
    const home = await tempDir();
    const server = await startServer(home, { env: { BACKBURNER_GRACE_SECONDS: "1" } });
    try {
      const task = await server.call("start_task", { command: "ping -n 120 127.0.0.1 > nul" });
      const pid = Number(task.pid);
      await waitFor(() => isAlive(pid), { what: "the task to start" });
      const cancelled = await server.call("cancel_task", { task_id: task.task_id });
      assert.equal(cancelled.status, "cancelled");
      assert.equal(isAlive(pid), false);
      const timed = await runToEnd(server, {
        command: "ping -n 120 127.0.0.1 > nul",
        timeout_seconds: 1,
      }, 60_000);
      assert.equal(timed.status, "timed_out");
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
});

Deno.test({
  name: "on Windows interactive is refused at start with a sentence, and nothing is started",
  ignore: !onWindows,
  fn: async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      const result = await server.raw("start_task", { command: "more", interactive: true });
      assert.equal(result.isError, true);
      const text = result.content.map((c) => c.type === "text" ? c.text : "").join("");
      assert.match(text, /^Cannot start task: interactive tasks need a POSIX system/);
      assert.equal((await server.call("list_tasks", {})).total, 0);
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
});
