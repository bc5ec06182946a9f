import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { SCHEMA_VERSION, Store } from "../src/store.ts";
import { isTaskId, newTaskId } from "../src/task.ts";
import { cleanup, runToEnd, startServer, tempDir } from "./helpers.ts";

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
    store.insertTask({
      id: newTaskId(),
      command: "true",
      cwd: "/",
      createdAt: Date.now(),
      timeoutSeconds: null,
      owner: "x",
      label: null,
    });
    store.close();
    const again = new Store(fresh);
    assert.equal(again.countTasks(), 1);
    assert.equal(again.integrityCheck(), "ok");
    again.close();
  } finally {
    await cleanup(dir);
  }
});
