import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cleanup,
  MAIN,
  posixTest,
  ROOT,
  runToEnd,
  serverPermissions,
  startServer,
  tempDir,
} from "./helpers.ts";

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
    // The 2026-07-28 era, imported on demand, is in the one file as well.
    const modern = new Deno.Command(Deno.execPath(), {
      args: ["run", ...serverPermissions(home), bundle],
      env: { BACKBURNER_HOME: home, NO_COLOR: "1" },
      cwd: home,
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const writer = modern.stdin.getWriter();
    await writer.write(new TextEncoder().encode(
      `${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "server/discover", params: {} })}\n`,
    ));
    const lines = modern.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) break;
      text += value;
    }
    await writer.close();
    await lines.cancel();
    await modern.status;
    const answer = JSON.parse(text.split("\n")[0]);
    assert.deepEqual(answer.result.supportedVersions, ["2026-07-28"]);
  } finally {
    await cleanup(dir);
  }
});
