import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { SCHEMA_VERSION, Store } from "../src/store.ts";
import { isTaskId, newTaskId } from "../src/task.ts";
import { cleanup, runToEnd, startServer, tempDir } from "./helpers.ts";

const QUEUE_DEFAULTS = {
  queue: "default",
  after: [],
  retries: 0,
  retryDelayMs: 1000,
  idempotencyKey: null,
  restartOf: null,
  env: {},
};

const CHECKS = {
  onKey: () => ({ kind: "insert" as const }),
  onUnknownDependency: (id: string): never => {
    throw new Error(`unknown ${id}`);
  },
  onCycle: (): never => {
    throw new Error("cycle");
  },
};

Deno.test("task ids are random, 12 characters, unique, and validated", () => {
  const ids = new Set(Array.from({ length: 10_000 }, () => newTaskId()));
  assert.equal(ids.size, 10_000);
  for (const id of ids) assert.ok(isTaskId(id), id);
  for (const bad of ["../../etc", "", "ABCDEFGHJKMN", "abc", "abcdefghjkmn/", "a".repeat(13)]) {
    assert.equal(isTaskId(bad), false, bad);
  }
});

Deno.test("the state directory is private: folders 0700, database and logs 0600", async () => {
  const parent = await tempDir();
  const home = join(parent, "state");
  const server = await startServer(home, { cwd: parent });
  try {
    const task = await runToEnd(server, { command: "echo private" });
    const mode = (path: string) => (Deno.statSync(path).mode ?? 0) & 0o777;
    assert.equal(mode(home), 0o700);
    assert.equal(mode(join(home, "tasks")), 0o700);
    assert.equal(mode(join(home, "tasks", String(task.task_id))), 0o700);
    assert.equal(mode(join(home, "state.db")), 0o600);
    assert.equal(mode(join(home, "tasks", String(task.task_id), "output.log")), 0o600);
    assert.equal(mode(join(home, "tasks", String(task.task_id), "exit")), 0o600);
  } finally {
    await server.close();
    await cleanup(parent);
  }
});

Deno.test("the schema is versioned, migrates forward, and refuses a newer database", async () => {
  const dir = await tempDir();
  try {
    const path = join(dir, "state.db");
    new Store(path).close();
    const db = new DatabaseSync(path);
    const version = db.prepare("PRAGMA user_version").get() as { user_version: number };
    assert.equal(version.user_version, SCHEMA_VERSION);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    assert.throws(() => new Store(path), /newer than this backburner knows/);
    // Reopening an up-to-date database leaves it as it is.
    const fresh = join(dir, "fresh.db");
    const store = new Store(fresh);
    store.insertQueued({
      id: newTaskId(),
      command: "true",
      cwd: "/",
      createdAt: Date.now(),
      timeoutSeconds: null,
      owner: "x",
      label: null,
      ...QUEUE_DEFAULTS,
    }, CHECKS);
    store.close();
    const again = new Store(fresh);
    assert.equal(again.countTasks(), 1);
    assert.equal(again.integrityCheck(), "ok");
    again.close();
  } finally {
    await cleanup(dir);
  }
});

Deno.test("a database from before started_by migrates, its tasks started by nobody known", async () => {
  const dir = await tempDir();
  try {
    const path = join(dir, "state.db");
    // Schema version 3, as the previous release left it, with one running task.
    const db = new DatabaseSync(path);
    db.exec(`CREATE TABLE tasks (id TEXT PRIMARY KEY, command TEXT NOT NULL, cwd TEXT NOT NULL,
      status TEXT NOT NULL, exit_code INTEGER, signal TEXT, status_message TEXT,
      created_at INTEGER NOT NULL, started_at INTEGER, ended_at INTEGER, pid INTEGER,
      timeout_seconds REAL, deadline_at INTEGER, owner TEXT, stop_reason TEXT,
      stop_requested_at INTEGER, label TEXT, ttl_ms INTEGER);
      CREATE TABLE servers (id TEXT PRIMARY KEY, pid INTEGER NOT NULL, start_time TEXT NOT NULL,
      started_at INTEGER NOT NULL);
      INSERT INTO tasks (id, command, cwd, status, created_at, owner)
        VALUES ('aaaaaaaaaaaa', 'sleep 1', '/', 'working', 1, 'old-server');
      PRAGMA user_version = 3;`);
    db.close();
    const store = new Store(path);
    try {
      assert.equal(store.getTask("aaaaaaaaaaaa")?.startedBy, null);
      store.insertQueued({
        id: "bbbbbbbbbbbb",
        command: "true",
        cwd: "/",
        createdAt: 2,
        timeoutSeconds: null,
        owner: "this-server",
        label: null,
        ...QUEUE_DEFAULTS,
      }, CHECKS);
      assert.equal(store.getTask("bbbbbbbbbbbb")?.startedBy, "this-server");
    } finally {
      store.close();
    }
  } finally {
    await cleanup(dir);
  }
});
