/** start_task's retries and restart_task. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cleanup, posixTest, startServer, tempDir, waitFor } from "../../helpers.ts";
import { finish, ok, output, refused } from "./helpers.ts";

/** A command that fails until its third run, counting runs in a file. */
const THIRD_TIME_LUCKY = "n=$(($(cat runs 2>/dev/null || echo 0) + 1)); echo $n > runs; " +
  'echo "run $n"; [ $n -ge 3 ] || exit 2';

posixTest(
  "retries run a failing command again: attempts counted in the status and marked in the log",
  async () => {
    const home = await tempDir();
    const work = await tempDir("backburner-work-");
    const server = await startServer(home);
    try {
      const started = await ok(server, "start_task", {
        command: THIRD_TIME_LUCKY,
        cwd: work,
        retries: 3,
        retry_delay_seconds: 0.5,
      });
      assert.equal(started.attempt, 1);
      assert.equal(started.attempts, 4);
      // Between attempts the task waits, queued, and says when it runs again.
      const waiting = await waitFor(async () => {
        const status = await ok(server, "task_status", { task_id: started.task_id });
        return status.status === "queued" ? status : null;
      }, { what: "the task to wait for its retry" });
      assert.equal(waiting.attempt, 2);
      assert.match(waiting.status_message as string, /attempt 2 of 4 starts in 1 s/);
      assert.notEqual(waiting.next_attempt_at, null);
      const done = await waitFor(async () => {
        const status = await ok(server, "task_status", { task_id: started.task_id });
        return status.status === "completed" ? status : null;
      }, { what: "the third attempt to complete" });
      assert.equal(done.attempt, 3);
      assert.equal(done.attempts, 4);
      assert.equal(done.exit_code, 0);
      const log = await output(server, started.task_id);
      assert.match(
        log,
        /^run 1\n\[backburner\] attempt 1 of 4 failed \(exit 2\); retrying in 0\.5 s\n/,
      );
      assert.match(
        log,
        /run 2\n\[backburner\] attempt 2 of 4 failed \(exit 2\); retrying in 1 s\n/,
      );
      assert.match(log, /run 3\n$/);
      assert.equal(Deno.readTextFileSync(join(work, "runs")), "3\n");

      // Out of retries: the last attempt's failure is the task's.
      const spent = await finish(server, {
        command: "echo once; exit 5",
        retries: 1,
        retry_delay_seconds: 0,
      });
      assert.equal(spent.status, "failed");
      assert.equal(spent.exit_code, 5);
      assert.equal(spent.attempt, 2);
      assert.equal((await output(server, spent.task_id)).match(/once/g)?.length, 2);

      // A timeout is never retried.
      const late = await finish(server, {
        command: "sleep 5",
        timeout_seconds: 0.5,
        retries: 2,
        retry_delay_seconds: 0,
      });
      assert.equal(late.status, "timed_out");
      assert.equal(late.attempt, 1);
    } finally {
      await server.close();
      await cleanup(home);
      await Deno.remove(work, { recursive: true });
    }
  },
);

posixTest(
  "restart_task starts a new task with the same command, cwd, env, label and queue",
  async () => {
    const home = await tempDir();
    const work = await tempDir("backburner-work-");
    const server = await startServer(home);
    try {
      const first = await finish(server, {
        command: 'echo "$GREETING from $(pwd)"; exit 4',
        cwd: work,
        env: { GREETING: "hello" },
        label: "flaky",
        queue: "checks",
        timeout_seconds: 60,
      });
      assert.equal(first.status, "failed");
      const again = await ok(server, "restart_task", { task_id: first.task_id });
      assert.notEqual(again.task_id, first.task_id);
      assert.equal(again.restart_of, first.task_id);
      assert.match(
        again.note as string,
        new RegExp(`^Restarted task ${first.task_id} as task ${again.task_id}`),
      );
      for (const field of ["command", "cwd", "label", "queue", "timeout_seconds"]) {
        assert.equal(again[field], first[field], field);
      }
      const ended = await waitFor(async () => {
        const status = await ok(server, "task_status", { task_id: again.task_id });
        return status.status === "failed" ? status : null;
      });
      assert.equal(ended.exit_code, 4);
      assert.equal(await output(server, again.task_id), `hello from ${work}\n`);
      // The old task is left as it was.
      const old = await ok(server, "task_status", { task_id: first.task_id });
      assert.equal(old.status, "failed");
      assert.equal(old.restart_of, null);

      const text = await refused(server, "restart_task", { task_id: "k3x9m2p7q4wz" });
      assert.match(text, /k3x9m2p7q4wz/);
    } finally {
      await server.close();
      await cleanup(home);
      await Deno.remove(work, { recursive: true });
    }
  },
);
