import assert from "node:assert/strict";
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
import { ended, type RunningCli, runTask, spawnCli } from "../helpers.ts";

posixTest(
  "a task started with backburner run is the agent's to see and cancel, and outlives the command line",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    let waiter: RunningCli | undefined;
    try {
      const greeting = await runTask(home, [
        "--label",
        "from-cli",
        "--env",
        "GREETING=hi",
        "--",
        "echo $GREETING from the terminal; sleep 600",
      ]);
      const status = await server.call("task_status", { task_id: greeting });
      assert.equal(status.status, "working");
      assert.equal(status.label, "from-cli");
      assert.equal(status.cwd, home);
      await waitFor(async () =>
        (await server.call("task_result", { task_id: greeting })).output ===
          "hi from the terminal\n"
      );
      // The command line has exited; its task runs on, and the live server takes it over.
      await waitFor(() => server.stderr().includes(`adopted task ${greeting}`), {
        what: "the server to adopt the task",
      });
      assert.ok(taskPids(greeting).length > 0);
      const cancelled = await server.call("cancel_task", { task_id: greeting });
      assert.equal(cancelled.status, "cancelled");
      assert.deepEqual(taskPids(greeting), []);

      const gated = await runTask(home, [
        "--cwd",
        home,
        "--",
        "while [ ! -f go ]; do sleep 0.05; done; echo done; exit 7",
      ]);
      await waitFor(() => server.stderr().includes(`adopted task ${gated}`));
      assert.ok(taskPids(gated).length > 0);
      waiter = spawnCli(home, ["wait", gated]);
      Deno.writeTextFileSync(join(home, "go"), "");
      const end = await ended(server, gated);
      assert.equal(end.status, "failed");
      assert.equal(end.exit_code, 7);
      assert.equal(await waiter.done, 1);
      assert.match(
        waiter.stdout(),
        new RegExp(`^${gated} failed \\(exit 7\\) after \\d+\\.\\d s\\n$`),
      );
      assert.doesNotMatch(server.stderr(), /interrupted/);
    } finally {
      await waiter?.kill();
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest(
  "a task run while no server is up is adopted by the next server, which records its exit code",
  async () => {
    const home = await tempDir();
    let server: ServerHandle | undefined;
    try {
      const id = await runTask(home, ["--", "while [ ! -f go ]; do sleep 0.05; done; exit 5"]);
      await waitFor(() => taskPids(id).length > 0);
      server = await startServer(home);
      await waitFor(() => server!.stderr().includes(`adopted task ${id}`));
      Deno.writeTextFileSync(join(home, "go"), "");
      const end = await ended(server, id);
      assert.equal(end.status, "failed");
      assert.equal(end.exit_code, 5);
    } finally {
      await server?.close();
      await cleanup(home);
    }
  },
);
