import assert from "node:assert/strict";
import { cleanup, MAIN, posixTest, serverPermissions, startServer, tempDir } from "./helpers.ts";

/** Whether util-linux `script`, which gives a program a terminal, is here. */
function hasScript(): boolean {
  try {
    return new Deno.Command("script", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

posixTest(
  "the server started in a terminal says it waits for an MCP client, and how to use the CLI",
  async () => {
    if (!hasScript()) return;
    const home = await tempDir();
    try {
      const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;
      const command = [Deno.execPath(), "run", ...serverPermissions(home), MAIN].map(quote)
        .join(" ");
      // script gives the server a terminal as stdin, then closes it when its own stdin ends.
      const output = await new Deno.Command("script", {
        args: ["-qec", command, "/dev/null"],
        env: { BACKBURNER_HOME: home, NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(output.stdout).replaceAll("\r", "");
      assert.match(text, /^backburner: serving on stdio/m);
      assert.match(
        text,
        /^backburner: this is an MCP server: it speaks MCP \(JSON-RPC\) on stdin and stdout and is waiting for a client.*deno task cli --help/m,
      );
    } finally {
      await cleanup(home);
    }
  },
);

posixTest("a server an MCP client starts (stdin a pipe) says nothing of terminals", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    await server.call("list_tasks");
    assert.doesNotMatch(server.stderr(), /this is an MCP server/);
  } finally {
    await server.close();
    await cleanup(home);
  }
});
