import assert from "node:assert/strict";
import { cleanup, posixTest, runToEnd, startServer, tempDir, waitFor } from "../../helpers.ts";
import { finish, HUGE_ID, ok, refuseAll, type Reply } from "./helpers.ts";

type Progress = { percent?: number; current?: number; total?: number; message?: string };

posixTest("task_status reports every field, with ISO 8601 times", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const status = await finish(server, { command: "echo hi" });
    assert.deepEqual(Object.keys(status).sort(), [
      "after",
      "attempt",
      "attempts",
      "command",
      "created_at",
      "cwd",
      "duration_seconds",
      "ended_at",
      "executor",
      "exit_code",
      "idempotency_key",
      "input_open",
      "interactive",
      "label",
      "next_attempt_at",
      "output_bytes",
      "pid",
      "position",
      "progress",
      "queue",
      "restart_of",
      "seconds_since_output",
      "signal",
      "slurm_job_id",
      "started_at",
      "status",
      "status_message",
      "task_id",
      "timeout_seconds",
      "waiting_for_input",
      "waiting_on",
    ]);
    assert.equal(status.queue, "default");
    assert.deepEqual([status.position, status.after, status.waiting_on], [null, [], []]);
    assert.deepEqual([status.attempt, status.attempts, status.restart_of], [1, 1, null]);
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
    // A second read agrees on everything but the time since the last output, which grows.
    const same = await ok(server, "task_status", { task_id: status.task_id });
    const { seconds_since_output: later, ...sameRest } = same;
    const { seconds_since_output: first, ...statusRest } = status;
    assert.deepEqual(sameRest, statusRest);
    assert.ok((later as number) >= (first as number), `${later} < ${first}`);
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
