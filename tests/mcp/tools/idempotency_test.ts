/** start_task's idempotency_key: one task per key, across concurrent calls and servers. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cleanup, posixTest, startServer, tempDir, waitFor } from "../../helpers.ts";
import { ok, refused, type Reply } from "./helpers.ts";

posixTest(
  "20 concurrent identical starts with one key, from two servers, give one task that runs once",
  async () => {
    const home = await tempDir();
    const work = await tempDir("backburner-work-");
    const one = await startServer(home);
    const two = await startServer(home);
    try {
      const args = {
        command: "echo ran >> runs; sleep 0.5",
        cwd: work,
        idempotency_key: "build-1f3a9c",
      };
      const replies: Reply[] = await Promise.all(
        Array.from({ length: 20 }, (_, i) => ok(i % 2 ? one : two, "start_task", args)),
      );
      const ids = new Set(replies.map((reply) => reply.task_id));
      assert.equal(ids.size, 1, `one task, not ${[...ids].join(", ")}`);
      const fresh = replies.filter((reply) => !reply.existing);
      assert.equal(fresh.length, 1, "exactly one start started it");
      assert.equal(fresh[0].note, null);
      for (const reply of replies.filter((reply) => reply.existing)) {
        assert.match(reply.note as string, /build-1f3a9c/);
        assert.equal(reply.idempotency_key, "build-1f3a9c");
      }
      const [id] = ids;
      await waitFor(async () =>
        (await ok(one, "task_status", { task_id: id })).status === "completed"
      );
      // Still within the window once ended: the same call returns the same task.
      const later = await ok(two, "start_task", args);
      assert.equal(later.task_id, id);
      assert.equal(later.existing, true);
      assert.equal(later.status, "completed");
      assert.equal(Deno.readTextFileSync(join(work, "runs")), "ran\n");
      assert.equal((await ok(one, "list_tasks", {})).total, 1);

      // The same key for another command is a mistake, not a match.
      const text = await refused(one, "start_task", { ...args, command: "echo other" });
      assert.match(text, new RegExp(String(id)));
      // Another key is another task.
      const other = await ok(one, "start_task", { ...args, idempotency_key: "build-2" });
      assert.notEqual(other.task_id, id);
      assert.equal(other.existing, false);
    } finally {
      await one.close();
      await two.close();
      await cleanup(home);
      await Deno.remove(work, { recursive: true });
    }
  },
);
