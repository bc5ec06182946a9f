/**
 * What guards the HTTP face before any MCP is spoken: the bearer token (401), the Host and Origin
 * headers (403), the path (404), and the start-up rules of --no-token and of binding every
 * interface.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cli } from "../cli/helpers.ts";
import { cleanup, MAIN, posixTest, serverPermissions, tempDir } from "../helpers.ts";
import { authHeaders, type HttpServer, rawHttp, startHttpServer } from "./harness.ts";
import { meta, VERSION } from "./modern_client.ts";

/** A 2026-07-28 tools/call as its headers and body, to send with or without a token. */
function toolCall(name: string, args: Record<string, unknown>) {
  return {
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": VERSION,
      "mcp-method": "tools/call",
      "mcp-name": name,
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name, arguments: args, _meta: meta(false) },
    }),
  };
}

async function listTasks(server: HttpServer): Promise<unknown[]> {
  const { headers, body } = toolCall("list_tasks", {});
  const answer = await fetch(server.url, {
    method: "POST",
    headers: { ...headers, ...authHeaders(server) },
    body,
  });
  assert.equal(answer.status, 200);
  const text = await answer.text();
  const json = JSON.parse(text.startsWith("{") ? text : /^data: (.*)$/m.exec(text)![1]);
  return json.result.structuredContent.tasks;
}

async function withServer(
  options: Parameters<typeof startHttpServer>[1],
  body: (server: HttpServer, home: string) => Promise<void>,
): Promise<void> {
  const home = await tempDir();
  const server = await startHttpServer(home, options);
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

posixTest(
  "HTTP without the token, or with a wrong one, is 401 with WWW-Authenticate, and the call never reaches a tool",
  () =>
    withServer({}, async (server, home) => {
      const start = toolCall("start_task", { command: "touch reached" });
      const tries: [string, Record<string, string>][] = [
        ["no token", {}],
        ["a wrong token", { authorization: `Bearer ${"x".repeat(43)}` }],
        ["the token with one character changed", {
          authorization: `Bearer ${server.token!.slice(0, -1)}${
            server.token!.endsWith("A") ? "B" : "A"
          }`,
        }],
        ["another scheme", { authorization: `Basic ${btoa(`user:${server.token}`)}` }],
      ];
      for (const [what, auth] of tries) {
        const answer = await fetch(server.url, {
          method: "POST",
          headers: { ...start.headers, ...auth },
          body: start.body,
        });
        await answer.body?.cancel();
        assert.equal(answer.status, 401, what);
        assert.match(answer.headers.get("www-authenticate") ?? "", /^Bearer /, what);
      }
      // A 2025-11-25 initialize is refused the same way.
      const init = await fetch(server.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          authorization: "Bearer wrong-token-wrong-token",
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: {
            protocolVersion: "2025-11-25",
            capabilities: {},
            clientInfo: { name: "x", version: "1" },
          },
        }),
      });
      await init.body?.cancel();
      assert.equal(init.status, 401);
      assert.equal(init.headers.get("mcp-session-id"), null);
      // Nothing ran: no task, no file.
      assert.deepEqual(await listTasks(server), []);
      assert.equal(await Deno.stat(join(home, "reached")).then(() => true, () => false), false);
    }),
);

posixTest(
  "the generated token is kept 0600 and backburner token prints it; BACKBURNER_TOKEN replaces it",
  async () => {
    await withServer({}, async (server, home) => {
      const stat = await Deno.stat(join(home, "token"));
      assert.equal(stat.mode! & 0o777, 0o600);
      assert.match(server.token!, /^[A-Za-z0-9_-]{43}$/);
      assert.match(server.stderr(), /token in .*token \(generated now\)/);
      const printed = await cli(home, ["token"]);
      assert.equal(printed.code, 0, printed.stderr);
      assert.equal(printed.stdout.trim(), server.token);
    });
    const chosen = "a-token-chosen-by-the-person-0123456789";
    await withServer({ env: { BACKBURNER_TOKEN: chosen } }, async (server, home) => {
      assert.equal(server.token, chosen);
      assert.match(server.stderr(), /token from BACKBURNER_TOKEN/);
      assert.deepEqual(await listTasks(server), []);
      // No file was generated, and the command line prints the one of the environment.
      assert.equal(await Deno.stat(join(home, "token")).then(() => true, () => false), false);
      const printed = await cli(home, ["token"], { env: { BACKBURNER_TOKEN: chosen } });
      assert.equal(printed.stdout.trim(), chosen);
    });
  },
);

posixTest(
  "403 for a foreign Origin and a rebinding Host even with the token; the server's own origin passes; 404 for another path",
  () =>
    withServer({}, async (server) => {
      const { port } = new URL(server.url);
      const list = toolCall("list_tasks", {});
      const withToken = { ...list.headers, ...authHeaders(server) };
      const foreign = await fetch(server.url, {
        method: "POST",
        headers: { ...withToken, origin: "https://evil.example" },
        body: list.body,
      });
      await foreign.body?.cancel();
      assert.equal(foreign.status, 403);

      const rebound = await rawHttp(server.url, {
        headers: { ...withToken, host: `evil.example:${port}` },
        body: list.body,
      });
      assert.equal(rebound.status, 403);
      assert.match(rebound.body, /DNS rebinding/);
      // The Host check comes before the token: no token, still 403.
      const reboundNoToken = await rawHttp(server.url, {
        headers: { ...list.headers, host: `evil.example:${port}` },
        body: list.body,
      });
      assert.equal(reboundNoToken.status, 403);

      // The names of the loopback address the server is bound to, and its own origin, pass.
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
        const answer = await rawHttp(server.url, {
          headers: { ...withToken, host, origin: `http://localhost:${port}` },
          body: list.body,
        });
        assert.equal(answer.status, 200, `${host}: ${answer.body}`);
        assert.match(answer.body, /"tasks":\[\]/);
      }

      const elsewhere = await fetch(new URL("/other", server.url), {
        method: "POST",
        headers: withToken,
        body: list.body,
      });
      await elsewhere.body?.cancel();
      assert.equal(elsewhere.status, 404);
    }),
);

/** main.ts serve with these arguments, to its exit (it must refuse to start). */
async function refusedStart(home: string, args: string[]) {
  const { INIT_CWD: _, ...inherited } = Deno.env.toObject();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...serverPermissions(home), "--allow-net", MAIN, "serve", ...args],
    env: { ...inherited, BACKBURNER_HOME: home, NO_COLOR: "1" },
    cwd: home,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

posixTest(
  "--no-token is refused off loopback and logs a WARNING on loopback; binding 0.0.0.0 needs --allow-host",
  async () => {
    const home = await tempDir();
    try {
      const offLoopback = await refusedStart(home, [
        "--http",
        "0.0.0.0:0",
        "--allow-host",
        "build-box.example",
        "--no-token",
      ]);
      assert.equal(offLoopback.code, 1);
      assert.equal(offLoopback.stdout, "");
      assert.match(
        offLoopback.stderr,
        /^backburner: cannot start: --no-token is allowed only on a loopback address, not 0\.0\.0\.0: /m,
      );
      const everywhere = await refusedStart(home, ["--http", "0.0.0.0:0"]);
      assert.equal(everywhere.code, 1);
      assert.match(
        everywhere.stderr,
        /^backburner: cannot start: --http 0\.0\.0\.0 listens on every interface, so no Host name is known to allow: add --allow-host NAME/m,
      );
      assert.doesNotMatch(offLoopback.stderr + everywhere.stderr, /serving MCP over HTTP|\n\s+at /);
    } finally {
      await cleanup(home);
    }
    await withServer({ args: ["--no-token"] }, async (server) => {
      assert.match(server.stderr(), /WARNING: --no-token: any program of any user on this machine/);
      assert.equal(server.token, null);
      assert.deepEqual(await listTasks(server), []);
    });
  },
);
