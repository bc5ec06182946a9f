import assert from "node:assert/strict";
import { join } from "node:path";
import { cleanup, MAIN, posixTest, ROOT, runToEnd, startServer, tempDir } from "./helpers.ts";

posixTest("the single-file bundle runs the server", async () => {
  const dir = await tempDir();
  try {
    const bundle = join(dir, "backburner.js");
    const built = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--output", bundle, MAIN],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(built.success, new TextDecoder().decode(built.stderr));
    const home = join(dir, "home");
    Deno.mkdirSync(home);
    const server = await startServer(home, { entry: bundle });
    try {
      const task = await runToEnd(server, { command: "echo from the bundle; exit 2" });
      assert.equal(task.status, "failed");
      assert.equal(task.exit_code, 2);
      const result = await server.call("task_result", { task_id: task.task_id });
      assert.equal(result.output, "from the bundle\n");
      // The linear-time engine for agents' patterns is bundled too.
      const found = await server.call("task_result", {
        task_id: task.task_id,
        grep: "(\\w+)+ b.*e$",
      });
      assert.equal(found.total_matches, 1);
    } finally {
      await server.close();
    }
  } finally {
    await cleanup(dir);
  }
});
