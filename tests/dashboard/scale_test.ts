/**
 * The dashboard's list over 100,000 tasks: every page — the first, one deep in the history, each
 * filter — is read through an index in a few milliseconds, not by scanning every task.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Store } from "../../src/store.ts";
import { cleanup, tempDir } from "../helpers.ts";

const TASKS = 100_000;
const STATUSES = ["completed", "failed", "cancelled", "completed", "completed"];

Deno.test("100,000 tasks: keyset pages and filters are index-backed and fast", async () => {
  const dir = await tempDir();
  try {
    const path = join(dir, "state.db");
    new Store(path).close();
    // Filled directly, in one transaction: the point is reading, not 100,000 starts.
    const db = new DatabaseSync(path);
    db.exec("BEGIN");
    const insert = db.prepare(
      `INSERT INTO tasks (id, command, cwd, status, created_at, label, queue)
       VALUES (?, ?, '/tmp', ?, ?, ?, ?)`,
    );
    const base = Date.UTC(2026, 0, 1);
    for (let i = 0; i < TASKS; i++) {
      insert.run(
        `t${String(i).padStart(11, "0")}`,
        `make target-${i}`,
        i === TASKS - 7 ? "working" : STATUSES[i % STATUSES.length],
        base + Math.floor(i / 3) * 1000, // three tasks per second: ties broken by id
        `label-${i % 100}`,
        i % 10 === 0 ? "gpu" : "default",
      );
    }
    db.exec("COMMIT");
    db.close();

    const store = new Store(path);
    try {
      const timed = (filter: Parameters<Store["listTasks"]>[0]) => {
        const start = performance.now();
        const page = store.listTasks(filter);
        return { page, ms: performance.now() - start };
      };
      // Every page of 50 from the newest, by cursor, a stretch deep into the history: each task
      // once, in order, none skipped at the ties.
      let cursor: { createdAt: number; id: string } | undefined;
      const seen: string[] = [];
      const times: number[] = [];
      for (let page = 0; page < 40; page++) {
        const { page: read, ms } = timed({ limit: 50, before: cursor, maxTotal: 10_000 });
        times.push(ms);
        seen.push(...read.tasks.map((task) => task.id));
        const last = read.tasks.at(-1)!;
        cursor = { createdAt: last.createdAt, id: last.id };
      }
      const expected = Array.from(
        { length: 2000 },
        (_, i) => `t${String(TASKS - 1 - i).padStart(11, "0")}`,
      );
      assert.deepEqual(seen, expected);
      const deep = timed({
        limit: 50,
        before: { createdAt: base + 10_000 * 1000, id: "t99999999999" },
        maxTotal: 10_000,
      });
      assert.equal(deep.page.tasks[0].id, "t00000030002");
      const filters = {
        status: timed({ limit: 50, status: "failed", maxTotal: 10_000 }),
        working: timed({ limit: 50, status: "working", maxTotal: 10_000 }),
        queue: timed({ limit: 50, queue: "gpu", maxTotal: 10_000 }),
        label: timed({ limit: 50, label: "label-42", maxTotal: 10_000 }),
        text: timed({ limit: 50, text: "target-4242", maxTotal: 10_000 }),
      };
      assert.equal(filters.working.page.total, 1);
      assert.equal(filters.queue.page.tasks.length, 50);
      assert.ok(filters.queue.page.tasks.every((task) => task.queue === "gpu"));
      assert.equal(filters.status.page.total, 10_000, "counted up to the cap");
      assert.deepEqual(
        filters.text.page.tasks.map((task) => task.command),
        [
          "make target-42429",
          "make target-42428",
          "make target-42427",
          "make target-42426",
          "make target-42425",
          "make target-42424",
          "make target-42423",
          "make target-42422",
          "make target-42421",
          "make target-42420",
          "make target-4242",
        ],
      );
      const median = times.toSorted((a, b) => a - b)[times.length >> 1];
      console.log(
        `100,000 tasks: page median ${median.toFixed(1)} ms, deep ${deep.ms.toFixed(1)} ms, ` +
          Object.entries(filters).map(([name, { ms }]) => `${name} ${ms.toFixed(1)} ms`).join(
            ", ",
          ),
      );
      // Generous bounds for a loaded CI machine; a scan of every task would take far longer
      // than the pages do here (a few ms), and the count is capped at 10,000 rows.
      assert.ok(median < 50, `page median ${median} ms`);
      assert.ok(deep.ms < 100, `deep page ${deep.ms} ms`);
      for (const [name, { ms }] of Object.entries(filters)) {
        // A text search scans (LIKE '%…%' has no index), bounded by the page and the count cap.
        assert.ok(ms < (name === "text" ? 1000 : 100), `${name}: ${ms} ms`);
      }
    } finally {
      store.close();
    }
  } finally {
    await cleanup(dir);
  }
});
