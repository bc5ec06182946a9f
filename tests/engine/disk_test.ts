import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cleanup,
  posixTest,
  runToEnd,
  startServer,
  taskPids,
  tempDir,
  waitFor,
} from "../helpers.ts";

posixTest(
  "a task whose log passes BACKBURNER_MAX_LOG_BYTES is stopped, and its log is kept",
  async () => {
    const home = await tempDir();
    const server = await startServer(home, { env: { BACKBURNER_MAX_LOG_BYTES: "200000" } });
    try {
      const ended = await runToEnd(server, {
        command: "while :; do echo 'a line of output that goes on and on'; done",
      });
      assert.equal(ended.status, "failed");
      assert.match(String(ended.status_message), /BACKBURNER_MAX_LOG_BYTES/);
      assert.deepEqual(taskPids(String(ended.task_id)), []);
      const size = Deno.statSync(join(home, "tasks", String(ended.task_id), "output.log")).size;
      assert.ok(size > 200_000, `the log was not kept (${size} bytes)`);
      assert.equal(ended.output_bytes, size);
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest(
  "ended tasks past BACKBURNER_RETENTION_DAYS are removed, running ones never",
  async () => {
    const home = await tempDir();
    try {
      const first = await startServer(home);
      const old = await runToEnd(first, { command: "echo old" });
      const running = await first.call("start_task", { command: "sleep 600" });
      await first.close();
      // 0.00002 days is 1.7 s.
      await waitFor(() => Date.now() > Date.parse(String(old.ended_at)) + 2000, {
        what: "the task to age past the retention period",
      });
      const second = await startServer(home, { env: { BACKBURNER_RETENTION_DAYS: "0.00002" } });
      try {
        const list = await second.call("list_tasks", {});
        assert.deepEqual((list.tasks as { task_id: string }[]).map((t) => t.task_id), [
          running.task_id,
        ]);
        assert.throws(() => Deno.statSync(join(home, "tasks", String(old.task_id))));
        assert.match(second.stderr(), /removed 1 tasks past the retention period/);
        assert.equal(
          (await second.call("task_status", { task_id: running.task_id })).status,
          "working",
        );
        await second.call("cancel_task", { task_id: running.task_id });
      } finally {
        await second.close();
      }
    } finally {
      await cleanup(home);
    }
  },
);

/** The log cap holds within this margin whatever the write speed. */
const CAP_MARGIN = 64 * 1024;

for (
  const [what, command] of [
    ["a 200 MB fast writer", "head -c 200000000 /dev/zero"],
    ["yes", "yes"],
  ] as const
) {
  posixTest(`the log cap holds against ${what}`, async () => {
    const home = await tempDir();
    const cap = 10_000_000;
    const server = await startServer(home, {
      env: { BACKBURNER_MAX_LOG_BYTES: String(cap), BACKBURNER_GRACE_SECONDS: "1" },
    });
    try {
      const ended = await runToEnd(server, { command });
      const id = String(ended.task_id);
      const size = Deno.statSync(join(home, "tasks", id, "output.log")).size;
      assert.ok(size >= cap && size <= cap + CAP_MARGIN, `the log has ${size} bytes`);
      assert.equal(ended.status, "failed");
      assert.match(
        String(ended.status_message),
        /^Stopped because its output passed the BACKBURNER_MAX_LOG_BYTES limit; the log so far is kept; all of its processes are gone \(/,
      );
      assert.deepEqual(taskPids(id), []);
    } finally {
      await server.close();
      await cleanup(home);
    }
  });
}

posixTest("the log cap limits only the log: the task may write bigger files", async () => {
  const home = await tempDir();
  const server = await startServer(home, { env: { BACKBURNER_MAX_LOG_BYTES: "100000" } });
  try {
    const file = join(home, "artifact");
    const ended = await runToEnd(server, {
      command: `head -c 3000000 /dev/zero > '${file}' && echo built`,
    });
    assert.equal(ended.status, "completed");
    assert.equal(ended.exit_code, 0);
    assert.equal(Deno.statSync(file).size, 3_000_000);
    assert.equal((await server.call("task_result", { task_id: ended.task_id })).output, "built\n");
  } finally {
    await server.close();
    await cleanup(home);
  }
});
