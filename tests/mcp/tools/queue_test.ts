/**
 * start_task's queue: limits that hold under concurrent starts from two servers, a queue drained
 * by the next server after a kill -9, and a queued task cancelled before it ever ran.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import {
  cleanup,
  posixTest,
  type ServerHandle,
  startServer,
  taskPids,
  tempDir,
  waitFor,
} from "../../helpers.ts";
import { ok, type Reply } from "./helpers.ts";

/** How many tasks of `queue` the database says are working, read as another process would. */
function workingIn(home: string, queue: string): number {
  const db = new DatabaseSync(join(home, "state.db"), { readOnly: true, timeout: 5_000 });
  try {
    const row = db.prepare("SELECT count(*) AS n FROM tasks WHERE status = 'working' AND queue = ?")
      .get(queue) as { n: number };
    return row.n;
  } finally {
    db.close();
  }
}

async function statusOf(server: ServerHandle, id: unknown): Promise<Reply> {
  return await ok(server, "task_status", { task_id: id });
}

posixTest(
  "a queue limit holds under 50 concurrent starts from two servers: never more than 3 working",
  async () => {
    const home = await tempDir();
    const work = await tempDir("backburner-work-");
    const env = { BACKBURNER_QUEUES: "lim=3" };
    const one = await startServer(home, { env });
    const two = await startServer(home, { env });
    let sampling = true;
    try {
      // Each task counts the tasks whose processes run beside it, by their files in running/.
      const command = 'mkdir -p running; touch "running/$BACKBURNER_TASK_ID"; ' +
        'ls running | wc -l >> counts; sleep 0.2; rm "running/$BACKBURNER_TASK_ID"';
      const samples: number[] = [];
      const sampler = (async () => {
        while (sampling) {
          samples.push(workingIn(home, "lim"));
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();
      const started = await Promise.all(
        Array.from(
          { length: 50 },
          (_, i) => ok(i % 2 ? one : two, "start_task", { command, cwd: work, queue: "lim" }),
        ),
      );
      assert.equal(new Set(started.map((task) => task.task_id)).size, 50);
      assert.ok(started.every((task) => task.queue === "lim"));
      assert.ok(started.some((task) => task.status === "queued"), "some start must have waited");
      const ids = started.map((task) => task.task_id);
      await waitFor(async () => {
        const { tasks } = await ok(one, "wait_for_task", { task_ids: ids, mode: "all" }) as {
          tasks: Reply[];
        };
        return tasks.every((task) => task.status === "completed");
      }, { timeoutMs: 60_000, what: "the 50 tasks to complete" });
      sampling = false;
      await sampler;
      const counts = Deno.readTextFileSync(join(work, "counts")).trim().split("\n").map(Number);
      assert.equal(counts.length, 50, "each task ran exactly once");
      assert.ok(Math.max(...counts) <= 3, `processes ran beside each other: ${counts}`);
      assert.ok(samples.length > 10);
      assert.ok(Math.max(...samples) <= 3, `the database showed ${Math.max(...samples)} working`);
      assert.equal(Math.max(...samples), 3, "the limit was used");
    } finally {
      sampling = false;
      await one.close();
      await two.close();
      await cleanup(home);
      await Deno.remove(work, { recursive: true });
    }
  },
);

posixTest(
  "a server killed with kill -9 while tasks wait: the next server drains the queue, each task once",
  async () => {
    const home = await tempDir();
    const work = await tempDir("backburner-work-");
    const env = { BACKBURNER_QUEUES: "one=1" };
    let server = await startServer(home, { env });
    try {
      const command = 'echo "$BACKBURNER_TASK_ID" >> ran; sleep 0.3';
      const ids: unknown[] = [];
      for (let i = 0; i < 4; i++) {
        ids.push((await ok(server, "start_task", { command, cwd: work, queue: "one" })).task_id);
      }
      const first = await statusOf(server, ids[0]);
      assert.equal(first.status, "working");
      const last = await statusOf(server, ids[3]);
      assert.equal(last.status, "queued");
      assert.equal(last.position, 3);
      assert.match(
        last.status_message as string,
        /waits for a slot in queue "one"; position 3 in line/,
      );

      Deno.kill(server.pid, "SIGKILL");
      await server.close();
      server = await startServer(home, { env });
      const next = server;
      const ended = await waitFor(async () => {
        const statuses = await Promise.all(ids.map((id) => statusOf(next, id)));
        return statuses.every((task) => task.status === "completed") ? statuses : null;
      }, { timeoutMs: 20_000, what: "the next server to drain the queue" });
      const ran = Deno.readTextFileSync(join(work, "ran")).trim().split("\n");
      assert.deepEqual(ran, ids, "every task ran once, oldest first");
      // One at a time: each started once the one before it had ended.
      for (let i = 1; i < ended.length; i++) {
        assert.ok(
          Date.parse(ended[i].started_at as string) >= Date.parse(ended[i - 1].ended_at as string),
          `task ${i} started before task ${i - 1} ended`,
        );
      }
    } finally {
      await server.close();
      await cleanup(home);
      await Deno.remove(work, { recursive: true });
    }
  },
);

posixTest(
  "a queued task cancelled never runs: no output file, no process, and its dependents fail",
  async () => {
    const home = await tempDir();
    const work = await tempDir("backburner-work-");
    const server = await startServer(home, { env: { BACKBURNER_QUEUES: "one=1" } });
    try {
      const blocker = await ok(server, "start_task", {
        command: "while [ ! -f go ]; do sleep 0.05; done",
        cwd: work,
        queue: "one",
      });
      const queued = await ok(server, "start_task", {
        command: "touch ran",
        cwd: work,
        queue: "one",
      });
      assert.equal(queued.status, "queued");
      assert.equal(queued.started_at, null);
      const dependent = await ok(server, "start_task", {
        command: "touch dependent-ran",
        cwd: work,
        after: [queued.task_id],
      });
      assert.equal(dependent.status, "queued");
      assert.deepEqual(dependent.waiting_on, [queued.task_id]);

      const waiting = await ok(server, "list_tasks", { status: "queued" });
      assert.deepEqual(
        (waiting.tasks as Reply[]).map((task) => task.task_id),
        [dependent.task_id, queued.task_id],
      );
      const cancelled = await ok(server, "cancel_task", { task_id: queued.task_id });
      assert.equal(cancelled.status, "cancelled");
      assert.equal(cancelled.already_ended, false);
      assert.equal(cancelled.started_at, null);
      assert.equal(cancelled.pid, null);
      assert.equal(cancelled.output_bytes, 0);

      const failed = await waitFor(async () => {
        const status = await statusOf(server, dependent.task_id);
        return status.status === "failed" ? status : null;
      }, { what: "the dependent to fail" });
      assert.match(failed.status_message as string, new RegExp(`${queued.task_id}.*cancelled`));
      assert.equal(failed.started_at, null);

      // The slot frees; nothing of the cancelled task runs then either.
      Deno.writeTextFileSync(join(work, "go"), "");
      await waitFor(async () => (await statusOf(server, blocker.task_id)).status === "completed");
      await new Promise((resolve) => setTimeout(resolve, 300));
      for (const id of [queued.task_id, dependent.task_id] as string[]) {
        assert.throws(
          () => Deno.statSync(join(home, "tasks", id, "output.log")),
          Deno.errors.NotFound,
        );
        assert.deepEqual(taskPids(id), []);
      }
      assert.throws(() => Deno.statSync(join(work, "ran")), Deno.errors.NotFound);
      assert.throws(() => Deno.statSync(join(work, "dependent-ran")), Deno.errors.NotFound);
      const listed = await ok(server, "list_tasks", { status: "queued" });
      assert.equal(listed.total, 0);
    } finally {
      await server.close();
      await cleanup(home);
      await Deno.remove(work, { recursive: true });
    }
  },
);
