/**
 * One HTTP server shared: two agents on it each get only the answers and notifications of their
 * own requests, while the tasks belong to the state directory — both agents, the command line
 * and a stdio server on the same directory see the same tasks, whichever face started them.
 */
import assert from "node:assert/strict";
import { cli } from "../cli/helpers.ts";
import { cleanup, posixTest, startServer, tempDir, waitFor } from "../helpers.ts";
import { connectLegacy, type HttpServer, startHttpServer } from "./harness.ts";

type Json = Record<string, unknown>;

async function withServer(body: (server: HttpServer, home: string) => Promise<void>) {
  const home = await tempDir();
  const server = await startHttpServer(home);
  try {
    await body(server, home);
  } catch (error) {
    console.error(server.stderr());
    throw error;
  } finally {
    await server.stop();
    await cleanup(home);
  }
}

function ids(listed: Json): string[] {
  return (listed.tasks as { task_id: string }[]).map((t) => t.task_id).sort();
}

posixTest(
  "two agents on one HTTP server: each gets only its own answers and progress, both see every task",
  () =>
    withServer(async (server) => {
      const alice = await connectLegacy(server, "alice");
      const bob = await connectLegacy(server, "bob");
      try {
        assert.notEqual(alice.sessionId, bob.sessionId);
        // Alice makes as many requests as Bob: their waits carry the same request id (and
        // progress token), each on its own session.
        assert.deepEqual(ids(await alice.call("list_tasks", {})), []);
        const a1 = String(
          (await alice.call("start_task", { command: "sleep 1; echo a1" })).task_id,
        );
        const b1 = String((await bob.call("start_task", { command: "sleep 1; echo b1" })).task_id);
        const b2 = String(
          (await bob.call("start_task", { command: "sleep 1.5; echo b2" })).task_id,
        );
        const aliceProgress: { progress: number; total?: number }[] = [];
        const bobProgress: { progress: number; total?: number }[] = [];
        // Both wait at once, with progress; the same request ids on both sessions.
        const [aliceWait, bobWait] = await Promise.all([
          alice.call("wait_for_task", { task_ids: [a1], timeout_seconds: 20 }, {
            onprogress: (p) => aliceProgress.push(p),
          }),
          bob.call("wait_for_task", { task_ids: [b1, b2], mode: "all", timeout_seconds: 20 }, {
            onprogress: (p) => bobProgress.push(p),
          }),
        ]);
        assert.deepEqual(ids(aliceWait), [a1]);
        assert.deepEqual(ids(bobWait), [b1, b2].sort());
        const waitId = (received: Json[]) =>
          received.find((m) => JSON.stringify(m.result ?? {}).includes('"reason":"ended"'))?.id;
        assert.equal(waitId(alice.received), waitId(bob.received));
        assert.ok(aliceProgress.length >= 1 && bobProgress.length >= 1);
        assert.ok(aliceProgress.every((p) => p.total === 1), JSON.stringify(aliceProgress));
        assert.ok(bobProgress.every((p) => p.total === 2), JSON.stringify(bobProgress));
        // Nothing of the other's requests reached either session. (notifications/tasks/status
        // is not a request's: it tells every session of a change to the tasks all of them share.)
        const ownOnly = (received: Json[]) =>
          JSON.stringify(received.filter((m) => m.method !== "notifications/tasks/status"));
        const aliceSaw = ownOnly(alice.received);
        const bobSaw = ownOnly(bob.received);
        assert.ok(!aliceSaw.includes(b1) && !aliceSaw.includes(b2), "alice saw bob's tasks");
        assert.ok(!bobSaw.includes(a1), "bob saw alice's task");
        assert.ok(
          alice.received.filter((m) => m.method === "notifications/progress")
            .every((m) => (m.params as Json).total === 1),
        );

        // The tasks are the state directory's: both list all three.
        assert.deepEqual(ids(await alice.call("list_tasks", {})), [a1, b1, b2].sort());
        assert.deepEqual(ids(await bob.call("list_tasks", {})), [a1, b1, b2].sort());
        assert.equal((await bob.call("task_result", { task_id: a1 })).output, "a1\n");
      } finally {
        await alice.close();
        await bob.close();
      }
    }),
);

posixTest(
  "the command line and the HTTP server on one state directory see each other's tasks",
  () =>
    withServer(async (server, home) => {
      const agent = await connectLegacy(server);
      try {
        const started = await agent.call("start_task", {
          command: "echo started over http",
          label: "from-http",
        });
        const httpId = String(started.task_id);
        await agent.call("wait_for_task", { task_ids: [httpId], timeout_seconds: 20 });
        const listed = await cli(home, ["ls"]);
        assert.equal(listed.code, 0, listed.stderr);
        assert.match(listed.stdout, new RegExp(`^${httpId}\\b.*completed`, "m"));
        const shown = await cli(home, ["show", httpId, "--json"]);
        assert.equal(shown.code, 0, shown.stderr);
        const view = JSON.parse(shown.stdout);
        assert.equal(view.status, "completed");
        assert.equal(view.label, "from-http");

        const ran = await cli(home, ["run", "--", "sleep 0.3; echo started by the cli"]);
        assert.equal(ran.code, 0, ran.stderr);
        const cliId = ran.stdout.trim();
        assert.match(cliId, /^[a-z0-9]{12}$/);
        const waited = await agent.call("wait_for_task", {
          task_ids: [cliId],
          timeout_seconds: 20,
        });
        assert.equal((waited.tasks as Json[])[0].status, "completed");
        assert.equal(
          (await agent.call("task_result", { task_id: cliId })).output,
          "started by the cli\n",
        );
        assert.deepEqual(ids(await agent.call("list_tasks", {})), [httpId, cliId].sort());
      } finally {
        await agent.close();
      }
    }),
);

posixTest(
  "a stdio server and the HTTP server on one state directory see each other's tasks",
  () =>
    withServer(async (server, home) => {
      const agent = await connectLegacy(server);
      const stdio = await startServer(home);
      try {
        const overHttp = String(
          (await agent.call("start_task", { command: "sleep 0.3; echo over http" })).task_id,
        );
        const viaStdio = String(
          (await stdio.call("start_task", { command: "sleep 0.3; echo over stdio" })).task_id,
        );
        const seenByStdio = await waitFor(async () => {
          const status = await stdio.call("task_status", { task_id: overHttp });
          return status.status === "working" ? null : status;
        }, { what: "stdio to see the HTTP task end" });
        assert.equal(seenByStdio.status, "completed");
        assert.equal(
          (await stdio.call("task_result", { task_id: overHttp })).output,
          "over http\n",
        );
        const waited = await agent.call("wait_for_task", {
          task_ids: [viaStdio],
          timeout_seconds: 20,
        });
        assert.equal((waited.tasks as Json[])[0].status, "completed");
        assert.equal(
          (await agent.call("task_result", { task_id: viaStdio })).output,
          "over stdio\n",
        );
        const both = [overHttp, viaStdio].sort();
        assert.deepEqual(ids(await agent.call("list_tasks", {})), both);
        assert.deepEqual(ids(await stdio.call("list_tasks", {})), both);
      } finally {
        await stdio.close();
        await agent.close();
      }
    }),
);
