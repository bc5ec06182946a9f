import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { waitForTasks } from "../../src/engine/wait.ts";
import type { Task } from "../../src/task.ts";
import { cleanup, posixTest, taskPids, tempDir, waitFor } from "../helpers.ts";
import {
  allEnded,
  counts,
  EngineProcess,
  linesOf,
  openDb,
  openEngine,
  workingIn,
} from "./queue_helpers.ts";

/** A command that notes each run of its task in `runs` (one line: the task id). */
function counted(runs: string, rest: string): string {
  return `echo "$BACKBURNER_TASK_ID" >> '${runs}'; ${rest}`;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

posixTest(
  "a queue limit holds under 50 concurrent starts from two engines, and each task runs once",
  async () => {
    const home = await tempDir();
    const runs = join(home, "runs");
    const env = { BACKBURNER_QUEUES: "q=3" };
    const a = await EngineProcess.start(home, env);
    const b = await EngineProcess.start(home, env);
    const db = openDb(home);
    try {
      let most = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          most = Math.max(most, workingIn(db, "q"));
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
      const started = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          (i % 2 ? a : b).call("start", {
            command: counted(runs, `sleep 0.$((RANDOM % 3 + 1))`),
            queue: "q",
          })),
      );
      const ids = started.map((task) => task.id);
      const ended = await allEnded(ids, (id) => a.call("status", { id }), 60_000);
      sampling = false;
      await sampler;
      assert.ok(most <= 3, `${most} tasks of queue q worked at once; its limit is 3`);
      assert.equal(most, 3, "the queue was never full: the test proved nothing");
      assert.deepEqual(ended.map((task) => task.status), ids.map(() => "completed"));
      const ran = counts(linesOf(runs));
      assert.equal(ran.size, 50);
      for (const [id, n] of ran) assert.equal(n, 1, `task ${id} ran ${n} times`);
      const queues = await a.call<{ name: string; limit: number | null }[]>("queues");
      assert.deepEqual(queues.find((queue) => queue.name === "q"), {
        name: "q",
        limit: 3,
        working: 0,
        queued: 0,
      });
    } finally {
      db.close();
      await a.close();
      await b.close();
      await cleanup(home);
    }
  },
);

posixTest(
  "a dependency chain runs in order, each step after the one before completed",
  async () => {
    const home = await tempDir();
    const { engine, close } = await openEngine(home);
    try {
      const order = join(home, "order");
      const build = engine.start({ command: `sleep 0.3; echo build >> '${order}'` });
      const test = engine.start({ command: `echo test >> '${order}'`, after: [build.id] });
      const pack = engine.start({ command: `echo package >> '${order}'`, after: [test.id] });
      assert.equal(test.status, "queued");
      assert.deepEqual(engine.queueState(pack.id), {
        position: null,
        waitingOn: [test.id],
        notBefore: null,
      });
      assert.match(engine.queuedMessage(pack), new RegExp(`waiting on ${test.id} to complete`));
      // A queued task has no output and no process yet.
      assert.equal(exists(engine.logPath(test.id)), false);
      assert.equal(engine.status(test.id).task.startedAt, null);
      const [b, t, p] = await allEnded(
        [build.id, test.id, pack.id],
        (id) => engine.status(id).task,
      );
      assert.deepEqual(linesOf(order), ["build", "test", "package"]);
      assert.deepEqual([b.status, t.status, p.status], ["completed", "completed", "completed"]);
      assert.ok(t.startedAt! >= b.endedAt!);
      assert.ok(p.startedAt! >= t.endedAt!);
      assert.deepEqual(t.after, [build.id]);
    } finally {
      await close();
      await cleanup(home);
    }
  },
);

posixTest("a failure propagates down a chain: the dependents fail without running", async () => {
  const home = await tempDir();
  const { engine, close } = await openEngine(home);
  try {
    const ran = join(home, "ran");
    const build = engine.start({ command: "sleep 0.2; exit 2" });
    const test = engine.start({ command: `touch '${ran}'`, after: [build.id] });
    const pack = engine.start({ command: `touch '${ran}'`, after: [test.id] });
    const [, t, p] = await allEnded([build.id, test.id, pack.id], (id) => engine.status(id).task);
    assert.equal(t.status, "failed");
    assert.equal(t.statusMessage, `Dependency ${build.id} ended failed, so this task never ran`);
    assert.equal(p.status, "failed");
    assert.equal(p.statusMessage, `Dependency ${test.id} ended failed, so this task never ran`);
    for (const task of [t, p]) {
      assert.equal(task.startedAt, null);
      assert.equal(task.exitCode, null);
      assert.equal(exists(engine.logPath(task.id)), false);
    }
    assert.equal(exists(ran), false);
    // A start after a task that already failed fails at once.
    const late = engine.start({ command: `touch '${ran}'`, after: [build.id] });
    assert.equal(late.status, "failed");
  } finally {
    await close();
    await cleanup(home);
  }
});

posixTest("a diamond: the join waits for both sides, and fails when one side fails", async () => {
  const home = await tempDir();
  const { engine, close } = await openEngine(home);
  try {
    const top = engine.start({ command: "sleep 0.1" });
    const left = engine.start({ command: "sleep 0.2", after: [top.id] });
    const right = engine.start({ command: "sleep 0.4", after: [top.id] });
    const join_ = engine.start({ command: "true", after: [left.id, right.id] });
    const good = await allEnded(
      [top.id, left.id, right.id, join_.id],
      (id) => engine.status(id).task,
    );
    assert.deepEqual(good.map((task) => task.status), Array(4).fill("completed"));
    assert.ok(good[3].startedAt! >= good[2].endedAt!);

    const top2 = engine.start({ command: "sleep 0.1" });
    const bad = engine.start({ command: "exit 5", after: [top2.id] });
    const slow = engine.start({ command: "sleep 0.5", after: [top2.id] });
    const join2 = engine.start({ command: "true", after: [slow.id, bad.id] });
    const [, b, s, j] = await allEnded(
      [top2.id, bad.id, slow.id, join2.id],
      (id) => engine.status(id).task,
    );
    assert.equal(b.status, "failed");
    assert.equal(b.exitCode, 5);
    assert.equal(j.status, "failed");
    assert.equal(j.statusMessage, `Dependency ${bad.id} ended failed, so this task never ran`);
    // It failed as soon as one side had failed, not once both had ended.
    assert.ok(j.endedAt! < s.endedAt!);
  } finally {
    await close();
    await cleanup(home);
  }
});

posixTest("unknown dependencies and cycles are refused at start", async () => {
  const home = await tempDir();
  const { engine, store, close } = await openEngine(home);
  try {
    assert.throws(
      () => engine.start({ command: "true", after: ["abcdefghijkm"] }),
      /after names unknown task "abcdefghijkm"/,
    );
    assert.throws(
      () => engine.start({ command: "true", after: ["../etc"] }),
      /after names unknown task "\.\.\/etc"/,
    );
    assert.equal(store.countTasks(), 0);
    // A cycle cannot form through start (dependencies exist first); the store refuses one anyway,
    // as one edited into the database would make.
    const first = engine.start({ command: "sleep 5" });
    const second = engine.start({ command: "true", after: [first.id] });
    const cyclic = first.id === "zzzzzzzzzzzz" ? "yyyyyyyyyyyy" : "zzzzzzzzzzzz";
    const db = new DatabaseSync(join(home, "state.db"), { timeout: 10_000 });
    db.prepare("UPDATE tasks SET after_ids = ? WHERE id = ?").run(
      JSON.stringify([cyclic]),
      first.id,
    );
    db.close();
    let cycle: readonly string[] = [];
    assert.throws(() =>
      store.insertQueued({
        id: cyclic,
        command: "true",
        cwd: home,
        createdAt: Date.now(),
        timeoutSeconds: null,
        owner: "test",
        label: null,
        queue: "default",
        after: [second.id],
        retries: 0,
        retryDelayMs: 1000,
        idempotencyKey: null,
        restartOf: null,
        env: {},
      }, {
        onKey: () => ({ kind: "insert" }),
        onUnknownDependency: () => {
          throw new Error("unknown");
        },
        onCycle: (path) => {
          cycle = path;
          throw new Error("cycle");
        },
      }), /cycle/);
    assert.deepEqual(cycle, [cyclic, second.id, first.id, cyclic]);
    assert.equal(store.getTask(cyclic), undefined);
    await engine.cancel(first.id);
  } finally {
    await close();
    await cleanup(home);
  }
});

posixTest(
  "retries run the same task again after a backoff, each attempt marked in the log",
  async () => {
    const home = await tempDir();
    const { engine, close } = await openEngine(home);
    try {
      const count = join(home, "count");
      const flaky = engine.start({
        command:
          `n=$(( $(cat '${count}' 2>/dev/null || echo 0) + 1 )); echo $n > '${count}'; echo run $n; [ $n -ge 3 ] || exit 4`,
        retries: 3,
        retryDelaySeconds: 0.1,
      });
      const [done] = await allEnded([flaky.id], (id) => engine.status(id).task);
      assert.equal(done.status, "completed");
      assert.equal(done.attempt, 3);
      assert.equal(done.retries, 3);
      assert.equal(
        Deno.readTextFileSync(engine.logPath(flaky.id)),
        "run 1\n[backburner] attempt 1 of 4 failed (exit 4); retrying in 0.1 s\n" +
          "run 2\n[backburner] attempt 2 of 4 failed (exit 4); retrying in 0.2 s\nrun 3\n",
      );

      const hopeless = engine.start({ command: "exit 6", retries: 1, retryDelaySeconds: 0 });
      const [gaveUp] = await allEnded([hopeless.id], (id) => engine.status(id).task);
      assert.equal(gaveUp.status, "failed");
      assert.equal(gaveUp.exitCode, 6);
      assert.equal(gaveUp.attempt, 2);

      // A timeout and a cancel are never retried.
      const slow = engine.start({ command: "sleep 30", retries: 3, timeoutSeconds: 0.3 });
      const cancelled = engine.start({ command: "sleep 30", retries: 3 });
      await waitFor(() => taskPids(cancelled.id).length > 0);
      await engine.cancel(cancelled.id);
      const [t, c] = await allEnded([slow.id, cancelled.id], (id) => engine.status(id).task);
      assert.equal(t.status, "timed_out");
      assert.equal(t.attempt, 1);
      assert.equal(c.status, "cancelled");
      assert.equal(c.attempt, 1);
    } finally {
      await close();
      await cleanup(home);
    }
  },
);

posixTest(
  "restart starts a new task with the old one's command, env, label and queue",
  async () => {
    const home = await tempDir();
    const { engine, close } = await openEngine(home, { queueLimits: { r: 2 } });
    try {
      const first = engine.start({
        command: 'echo "$GREETING"; exit 3',
        env: { GREETING: "hello" },
        label: "greet",
        queue: "r",
        timeoutSeconds: 60,
        stdin: "ignored",
      });
      await allEnded([first.id], (id) => engine.status(id).task);
      const again = engine.restart(first.id);
      assert.notEqual(again.id, first.id);
      assert.equal(again.restartOf, first.id);
      assert.equal(again.command, first.command);
      assert.equal(again.label, "greet");
      assert.equal(again.queue, "r");
      assert.equal(again.timeoutSeconds, 60);
      const [done] = await allEnded([again.id], (id) => engine.status(id).task);
      assert.equal(done.exitCode, 3);
      assert.equal(Deno.readTextFileSync(engine.logPath(again.id)), "hello\n");
      // A working task can be restarted too: that is a second task.
      const running = engine.start({ command: "sleep 30" });
      const twin = engine.restart(running.id);
      assert.equal(twin.status, "working");
      await engine.cancel(running.id);
      await engine.cancel(twin.id);
      assert.throws(() => engine.restart("abcdefghijkm"), /Unknown task_id/);
    } finally {
      await close();
      await cleanup(home);
    }
  },
);

posixTest(
  "concurrent starts with one idempotency key from two engines give one task",
  async () => {
    const home = await tempDir();
    const a = await EngineProcess.start(home);
    const b = await EngineProcess.start(home);
    try {
      const command = "sleep 1";
      const results = await Promise.all(
        Array.from(
          { length: 20 },
          (_, i) =>
            (i % 2 ? a : b).call<{ task: Task; existing: boolean }>("startOrFind", {
              command,
              idempotencyKey: "build-42",
            }),
        ),
      );
      assert.equal(new Set(results.map((result) => result.task.id)).size, 1);
      assert.equal(results.filter((result) => !result.existing).length, 1);
      const { id } = results[0].task;
      await assert.rejects(
        () => a.call("start", { command: "sleep 2", idempotencyKey: "build-42" }),
        new RegExp(
          `idempotency_key "build-42" is held by task ${id}, started with a different command`,
        ),
      );
      // Still returned once it has ended (within the window).
      await allEnded([id], (task) => a.call("status", { id: task }));
      const later = await b.call<{ task: Task; existing: boolean }>("startOrFind", {
        command,
        idempotencyKey: "build-42",
      });
      assert.deepEqual([later.task.id, later.existing], [id, true]);
    } finally {
      await a.close();
      await b.close();
      await cleanup(home);
    }
  },
);

posixTest("a queued task cancelled never runs: no output file, no process", async () => {
  const home = await tempDir();
  const { engine, close } = await openEngine(home, { queueLimits: { one: 1 } });
  try {
    const ran = join(home, "ran");
    const blocker = engine.start({ command: "sleep 0.5", queue: "one" });
    const waiting = engine.start({ command: `touch '${ran}'; sleep 30`, queue: "one" });
    const dependent = engine.start({ command: `touch '${ran}'`, after: [waiting.id] });
    assert.equal(waiting.status, "queued");
    assert.deepEqual(
      engine.list({ status: "queued" }).tasks.map((task) => task.id).sort(),
      [
        waiting.id,
        dependent.id,
      ].sort(),
    );
    // wait treats queued as not ended.
    const wait = await waitForTasks(engine, { taskIds: [waiting.id], mode: "any", timeoutMs: 200 });
    assert.equal(wait.reason, "timeout");
    const outcome = await engine.cancel(waiting.id);
    assert.equal(outcome.task.status, "cancelled");
    assert.equal(outcome.alreadyEnded, false);
    assert.match(String(outcome.task.statusMessage), /before it started; it never ran/);
    const [, d] = await allEnded([blocker.id, dependent.id], (id) => engine.status(id).task);
    assert.equal(d.status, "failed");
    assert.match(String(d.statusMessage), new RegExp(`${waiting.id} ended cancelled`));
    // The slot it would have taken went to nobody: it never ran.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(exists(ran), false);
    assert.equal(exists(engine.logPath(waiting.id)), false);
    assert.deepEqual(taskPids(waiting.id), []);
    assert.equal(engine.status(waiting.id).task.startedAt, null);
  } finally {
    await close();
    await cleanup(home);
  }
});

posixTest(
  "a task claimed by a server that died before spawning it goes back to its queue and runs once",
  async () => {
    const home = await tempDir();
    const runs = join(home, "runs");
    // A task queued behind a limit, then claimed by a server that dies at once: the row says
    // working, owned by the dead server, no pid, no spawn mark.
    const first = await openEngine(home, { queueLimits: { q: 1 }, watch: false });
    const blocker = first.engine.start({ command: "sleep 0.5", queue: "q" });
    const queued = first.engine.start({ command: counted(runs, "true"), queue: "q" });
    const marked = first.engine.start({ command: counted(runs, "true"), queue: "q" });
    const ran = first.engine.start({ command: counted(runs, "true"), queue: "q" });
    assert.equal(queued.status, "queued");
    await first.close();
    const db = new DatabaseSync(join(home, "state.db"), { timeout: 10_000 });
    db.prepare("INSERT INTO servers (id, pid, start_time, started_at) VALUES (?, ?, ?, ?)")
      .run("dead-server", 2 ** 22 + 12345, "never", Date.now());
    db.prepare(
      "UPDATE tasks SET status = 'working', owner = 'dead-server' WHERE id IN (?, ?, ?)",
    ).run(queued.id, marked.id, ran.id);
    // One had begun to spawn (its mark is there) but its command never ran (no command note):
    // it may run, once. Another's command did run (its note), then vanished: never rerun.
    for (const id of [marked.id, ran.id]) {
      Deno.mkdirSync(join(home, "tasks", id), { recursive: true });
      Deno.writeTextFileSync(join(home, "tasks", id, "spawned"), "1\n");
    }
    Deno.writeTextFileSync(join(home, "tasks", ran.id, "command"), "123456\n");
    db.close();

    const next = await openEngine(home, { queueLimits: { q: 1 } });
    try {
      const [b, q, m, r] = await allEnded(
        [blocker.id, queued.id, marked.id, ran.id],
        (id) => next.engine.status(id).task,
      );
      assert.equal(b.status, "completed");
      assert.equal(q.status, "completed");
      assert.equal(m.status, "completed");
      assert.ok(q.startedAt! >= b.endedAt!, "the limit held for the task put back");
      assert.equal(r.status, "interrupted");
      // It did start (its command noted itself): the adopter recorded when, from its spawn mark.
      assert.ok(r.startedAt !== null && r.startedAt <= r.endedAt!);
      assert.deepEqual(linesOf(runs).sort(), [queued.id, marked.id].sort());
    } finally {
      await next.close();
      await cleanup(home);
    }
  },
);

posixTest("kill -9 of an engine while tasks wait: the next engine drains its queue", async () => {
  const home = await tempDir();
  const runs = join(home, "runs");
  const env = { BACKBURNER_QUEUES: "q=2" };
  const first = await EngineProcess.start(home, env);
  const db = openDb(home);
  let next: EngineProcess | undefined;
  try {
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      ids.push((await first.call("start", { command: counted(runs, "sleep 0.3"), queue: "q" })).id);
    }
    await first.kill();
    let most = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        most = Math.max(most, workingIn(db, "q"));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    next = await EngineProcess.start(home, env);
    const ended = await allEnded(ids, (id) => next!.call("status", { id }), 60_000);
    sampling = false;
    await sampler;
    assert.deepEqual(ended.map((task) => task.status), ids.map(() => "completed"));
    assert.ok(most <= 2, `${most} tasks of q worked at once`);
    const ran = counts(linesOf(runs));
    assert.deepEqual([...ran.keys()].sort(), [...ids].sort());
    for (const [id, n] of ran) assert.equal(n, 1, `task ${id} ran ${n} times`);
  } finally {
    db.close();
    await next?.close();
    await cleanup(home);
  }
});

posixTest(
  "a queue limit set at run time is obeyed by every engine and a raise starts tasks",
  async () => {
    const home = await tempDir();
    const a = await openEngine(home);
    const b = await openEngine(home);
    try {
      a.engine.setQueueLimit("g", 1);
      const tasks = [a, b, a].map(({ engine }) =>
        engine.start({ command: "sleep 30", queue: "g" })
      );
      assert.deepEqual(tasks.map((task) => task.status), ["working", "queued", "queued"]);
      assert.deepEqual(a.engine.queueState(tasks[2].id), {
        position: 2,
        waitingOn: [],
        notBefore: null,
      });
      const raised = b.engine.setQueueLimit("g", 3);
      assert.deepEqual(raised, { name: "g", limit: 3, working: 3, queued: 0 });
      assert.throws(() => a.engine.setQueueLimit("bad name", 1), /Invalid queue "bad name"/);
      assert.throws(() => a.engine.setQueueLimit("g", 0), /Invalid queue limit 0/);
      for (const task of tasks) await a.engine.cancel(task.id);
    } finally {
      await a.close();
      await b.close();
      await cleanup(home);
    }
  },
);
