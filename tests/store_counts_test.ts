/**
 * list_tasks' total comes from counts that SQLite triggers keep (src/store.ts TASK_COUNTS): these
 * tests hold them to count(*) through every kind of write, from two stores at once, from a writer
 * that is not the Store, and through the migration of an older database.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Store } from "../src/store.ts";
import { TASK_STATUSES, type TaskStatus } from "../src/task.ts";
import { cleanup, tempDir } from "./helpers.ts";

const CHECKS = {
  onKey: () => ({ kind: "insert" as const }),
  onUnknownDependency: (id: string): never => {
    throw new Error(`unknown ${id}`);
  },
  onCycle: (): never => {
    throw new Error("cycle");
  },
};

/** A small seeded generator, so that a failing sequence can be run again. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** Every total list_tasks can give, against count(*) over the rows, read by a third connection. */
function assertExact(store: Store, db: DatabaseSync, context: string): void {
  const count = (where: string, ...values: string[]) =>
    (db.prepare(`SELECT count(*) AS n FROM tasks ${where}`).get(...values) as { n: number }).n;
  assert.equal(store.listTasks({ limit: 1 }).total, count(""), `${context}: total`);
  for (const status of TASK_STATUSES) {
    assert.equal(
      store.listTasks({ limit: 1, status }).total,
      count("WHERE status = ?", status),
      `${context}: ${status}`,
    );
  }
  for (const label of ["a", "b"]) {
    assert.equal(
      store.listTasks({ limit: 1, label }).total,
      count("WHERE label = ?", label),
      `${context}: label ${label}`,
    );
    assert.equal(
      store.listTasks({ limit: 1, label, status: "completed" }).total,
      count("WHERE label = ? AND status = 'completed'", label),
      `${context}: label ${label}, completed`,
    );
  }
  assert.equal(
    store.listTasks({ limit: 1, cwd: "/x" }).total,
    count("WHERE cwd = '/x'"),
    `${context}: cwd`,
  );
  const listed = store.listTasks({ limit: 1000 });
  assert.ok(listed.total >= listed.tasks.length, `${context}: total below the page`);
  for (const [status, n] of store.statusCounts()) {
    assert.ok(n > 0, `${context}: ${status} counted ${n}`);
  }
}

Deno.test("list_tasks' totals stay exact through random writes from two stores and a raw writer", async () => {
  const dir = await tempDir();
  const path = join(dir, "state.db");
  const stores = [new Store(path), new Store(path)];
  const db = new DatabaseSync(path, { timeout: 10_000 });
  try {
    for (const seed of [1, 2, 3]) {
      const next = random(seed);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
      let clock = 1_000 + seed * 1_000_000;
      let serial = 0;
      const ids = () => (db.prepare("SELECT id, status FROM tasks").all() as {
        id: string;
        status: TaskStatus;
      }[]);
      for (let step = 0; step < 400; step++) {
        const store = pick(stores);
        const now = ++clock;
        const all = ids();
        const withStatus = (...statuses: TaskStatus[]) =>
          all.filter((row) => statuses.includes(row.status)).map((row) => row.id);
        const op = Math.floor(next() * 12);
        const some = (list: string[]) => list.length ? pick(list) : null;
        switch (op) {
          case 0:
          case 1: {
            const id = `t${seed}${String(serial++).padStart(10, "0")}`.slice(0, 12);
            store.insertQueued({
              id,
              command: "true",
              cwd: pick(["/x", "/y"]),
              createdAt: now,
              timeoutSeconds: null,
              owner: "s",
              label: pick(["a", "b", null]),
              queue: "default",
              after: [],
              retries: 1,
              retryDelayMs: 0,
              idempotencyKey: null,
              restartOf: null,
              env: {},
            }, CHECKS);
            break;
          }
          case 2:
            store.dispatch(pick(["s1", "s2"]), now, (snapshot) => ({
              start: snapshot.queued.slice(0, 3).map((row) => row.id),
              fail: snapshot.queued.slice(3, 4).map((row) => ({ id: row.id, message: "no" })),
            }));
            break;
          case 3: {
            const id = some(withStatus("working"));
            if (id) {
              store.finishExited(id, {
                status: pick(["completed", "failed"] as const),
                exitCode: 0,
                signal: null,
                statusMessage: null,
                endedAt: now,
              });
            }
            break;
          }
          case 4: {
            const id = some(withStatus("working"));
            if (id) {
              store.finish(id, {
                status: pick(["cancelled", "timed_out", "interrupted"] as const),
                exitCode: null,
                signal: "SIGTERM",
                statusMessage: null,
                endedAt: now,
              });
            }
            break;
          }
          case 5: {
            const id = some(withStatus("queued"));
            if (id) store.cancelQueued(id, now, "cancelled");
            break;
          }
          case 6: {
            const id = some(withStatus("working"));
            if (id) store.requeueUnspawned(id, pick(["s1", "s2"]));
            break;
          }
          case 7: {
            const id = some(withStatus("working"));
            if (id) store.scheduleRetry(id, 1, now);
            break;
          }
          case 8: {
            const id = some(all.map((row) => row.id));
            if (id) store.deleteTask(id);
            break;
          }
          case 9: {
            const id = some(withStatus("queued"));
            if (id) store.deleteQueued(id);
            break;
          }
          case 10:
            // The retention sweep and the CLI's prune: every ended task before a cutoff.
            store.deleteExpired(now - Math.floor(next() * 200), now);
            break;
          default: {
            // A writer that is not this Store (an older backburner, a hand-made fix).
            const id = some(all.map((row) => row.id));
            if (id && next() < 0.5) {
              db.prepare("UPDATE tasks SET status = ? WHERE id = ?").run(
                pick(TASK_STATUSES),
                id,
              );
            } else if (id) db.prepare("DELETE FROM tasks WHERE id = ?").run(id);
          }
        }
        assertExact(pick(stores), db, `seed ${seed}, step ${step}, op ${op}`);
      }
      db.exec("DELETE FROM tasks");
      assertExact(stores[0], db, `seed ${seed}, all deleted`);
      assert.equal(stores[1].listTasks({ limit: 1 }).total, 0);
    }
  } finally {
    db.close();
    for (const store of stores) store.close();
    await cleanup(dir);
  }
});

Deno.test("a database from an older version gets its counts from the rows it holds", async () => {
  const dir = await tempDir();
  try {
    const path = join(dir, "state.db");
    // Schema version 3, as an earlier release left it, with tasks in several statuses.
    const db = new DatabaseSync(path);
    db.exec(`CREATE TABLE tasks (id TEXT PRIMARY KEY, command TEXT NOT NULL, cwd TEXT NOT NULL,
      status TEXT NOT NULL, exit_code INTEGER, signal TEXT, status_message TEXT,
      created_at INTEGER NOT NULL, started_at INTEGER, ended_at INTEGER, pid INTEGER,
      timeout_seconds REAL, deadline_at INTEGER, owner TEXT, stop_reason TEXT,
      stop_requested_at INTEGER, label TEXT, ttl_ms INTEGER);
      CREATE INDEX tasks_by_created ON tasks (created_at DESC);
      CREATE TABLE servers (id TEXT PRIMARY KEY, pid INTEGER NOT NULL, start_time TEXT NOT NULL,
      started_at INTEGER NOT NULL);
      PRAGMA user_version = 3;`);
    const insert = db.prepare(
      `INSERT INTO tasks (id, command, cwd, status, created_at, ended_at, label)
       VALUES (?, 'true', ?, ?, ?, ?, ?)`,
    );
    const statuses = ["completed", "completed", "failed", "working", "cancelled"] as const;
    for (let i = 0; i < 50; i++) {
      insert.run(
        `old${String(i).padStart(9, "0")}`,
        i % 2 ? "/x" : "/y",
        statuses[i % 5],
        i,
        statuses[i % 5] === "working" ? null : i,
        i % 3 ? "a" : null,
      );
    }
    db.close();
    const store = new Store(path);
    const check = new DatabaseSync(path);
    try {
      assert.deepEqual(
        Object.fromEntries(store.statusCounts()),
        { completed: 20, failed: 10, working: 10, cancelled: 10 },
      );
      assertExact(store, check, "migrated");
      store.deleteExpired(Number.MAX_SAFE_INTEGER, 0);
      assertExact(store, check, "after a sweep");
      assert.equal(store.listTasks({ limit: 1 }).total, 10);
    } finally {
      check.close();
      store.close();
    }
  } finally {
    await cleanup(dir);
  }
});
