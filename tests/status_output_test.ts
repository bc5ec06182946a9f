import assert from "node:assert/strict";
import { cleanup, posixTest, runToEnd, startServer, tempDir, waitFor } from "./helpers.ts";

type Progress = { percent?: number; current?: number; total?: number; message?: string };

posixTest("task_status shows tqdm-style progress as it redraws, in colour", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    // A tqdm-like bar redrawn with \r, coloured, then held at 45% until released.
    const task = await server.call("start_task", {
      command:
        `for i in 10 20 45; do printf '\\r\\033[32mtrain: %3d%%|####      | %d/100 [00:01<00:02, 30.00it/s]\\033[0m' $i $i; sleep 0.1; done; while [ ! -f ${home}/go ]; do sleep 0.05; done; printf '\\r\\033[32mtrain: 100%%|##########| 100/100\\033[0m\\n'`,
    });
    const at45 = await waitFor(async () => {
      const status = await server.call("task_status", { task_id: task.task_id });
      return (status.progress as Progress | null)?.percent === 45 ? status : null;
    }, { what: "progress 45%" });
    assert.deepEqual(
      { ...(at45.progress as Progress), updated_at: undefined, message: undefined },
      { percent: 45, current: 45, total: 100, updated_at: undefined, message: undefined },
    );
    assert.equal(at45.waiting_for_input, false);
    assert.equal(typeof at45.seconds_since_output, "number");
    Deno.writeTextFileSync(`${home}/go`, "");
    const done = await runToEnd(server, { command: "true" });
    assert.equal(done.status, "completed");
    const end = await waitFor(async () => {
      const status = await server.call("task_status", { task_id: task.task_id });
      return status.status === "completed" ? status : null;
    });
    assert.equal((end.progress as Progress).percent, 100);
    // The clean output is what a terminal finally showed, without colour codes.
    const result = await server.call("task_result", { task_id: task.task_id });
    assert.ok(!String(result.output).includes("\x1b"), "no escape sequences");
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("task_status reads an explicit ::progress:: marker line", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const task = await runToEnd(server, {
      command: "echo '::progress:: 1/4 fetching'; echo 'step 9/10 of something else'; " +
        "echo '::progress:: 3/4 compiling module foo'",
    });
    const status = await server.call("task_status", { task_id: task.task_id });
    const progress = status.progress as Progress;
    assert.equal(progress.current, 3);
    assert.equal(progress.total, 4);
    assert.equal(progress.percent, 75);
    assert.equal(progress.message, "compiling module foo");
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest(
  "task_status flags a command waiting on a prompt, and seconds_since_output grows",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      const task = await server.call("start_task", {
        command:
          "echo 'Installing 3 packages'; printf 'Proceed with installation? [y/N] '; sleep 600",
      });
      const waiting = await waitFor(async () => {
        const status = await server.call("task_status", { task_id: task.task_id });
        return status.waiting_for_input === true ? status : null;
      }, { what: "waiting_for_input" });
      assert.equal(waiting.status, "working");
      await waitFor(async () =>
        Number(
          (await server.call("task_status", { task_id: task.task_id })).seconds_since_output,
        ) >=
          1
      );
      const plain = await runToEnd(server, { command: "echo 'Compiling foo:'" });
      assert.equal(
        (await server.call("task_status", { task_id: plain.task_id })).waiting_for_input,
        false,
      );
      await server.call("cancel_task", { task_id: task.task_id });
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);
