/**
 * Attacks on the dashboard's promises over real HTTP (no browser): pages that come and go without
 * closing their streams, a raw socket that drops, the session reaching /mcp or the token reaching
 * the dashboard, path tricks in task ids, a backtracking grep, a spent or guessed login code.
 */

import assert from "node:assert/strict";
import { cleanup, MAIN, POSIX, posixTest, tempDir, waitFor } from "../helpers.ts";
import { connectLegacy, type HttpServer, rawHttp, startHttpServer } from "../http/harness.ts";
import { getJson, login, loginLink, originOf } from "./helpers.ts";

async function withServer(
  options: { command?: "serve" | "dashboard" },
  body: (server: HttpServer, home: string) => Promise<void>,
): Promise<void> {
  const home = await tempDir();
  const server = await startHttpServer(home, options);
  try {
    await body(server, home);
  } finally {
    await server.stop();
    await cleanup(home);
  }
}

/** Opens an event stream on a raw socket, reads its first bytes, then drops the connection. */
async function openAndDrop(server: HttpServer, path: string, cookie: string): Promise<string> {
  const { hostname, port } = new URL(server.url);
  const connection = await Deno.connect({ hostname, port: Number(port) });
  try {
    const head = `GET ${path} HTTP/1.1\r\nhost: ${hostname}:${port}\r\ncookie: ${cookie}\r\n\r\n`;
    await connection.write(new TextEncoder().encode(head));
    const buffer = new Uint8Array(4096);
    const count = await connection.read(buffer);
    return new TextDecoder().decode(buffer.subarray(0, count ?? 0)).split("\r\n")[0];
  } finally {
    connection.close();
  }
}

posixTest(
  "pages that drop their event streams give their slots back: reloading a tab 60 times still works",
  () =>
    withServer({}, async (server) => {
      const session = await login(server);
      // More than the 24 streams one session may hold, each dropped as a closed tab drops it.
      for (let n = 0; n < 60; n++) {
        const path = n % 2 === 0 ? "/api/events" : "/api/events?status=working";
        const status = await openAndDrop(server, path, session.cookie);
        assert.equal(status, "HTTP/1.1 200 OK", `stream ${n}: ${status}`);
      }
      // And a stream still opens for an ordinary client.
      await waitFor(async () => {
        const answer = await fetch(new URL("/api/events", server.url), {
          headers: { cookie: session.cookie },
        });
        await answer.body?.cancel();
        return answer.status === 200;
      }, { what: "a stream to open after 60 dropped ones" });
    }),
);

posixTest(
  "the session cookie is no key to /mcp, nor the token to the dashboard's API; backburner dashboard has no /mcp and checks Host",
  async () => {
    await withServer({}, async (server) => {
      const session = await login(server);
      const mcp = await fetch(server.url, {
        method: "POST",
        headers: {
          cookie: session.cookie,
          origin: session.origin,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: {
            protocolVersion: "2025-11-25",
            capabilities: {},
            clientInfo: { name: "page", version: "1" },
          },
        }),
      });
      await mcp.body?.cancel();
      assert.equal(mcp.status, 401);
    });
    await withServer({ command: "dashboard" }, async (server) => {
      const link = await loginLink(server);
      const { port } = new URL(link);
      const rebound = await rawHttp(link, {
        method: "GET",
        headers: { host: `attacker.example:${port}` },
      });
      assert.equal(rebound.status, 403);
      // The link was not spent by the refused request.
      const session = await login(server);
      const mcp = await fetch(new URL("/mcp", originOf(server)), {
        method: "POST",
        headers: { cookie: session.cookie, origin: session.origin },
        body: "{}",
      });
      await mcp.body?.cancel();
      assert.equal(mcp.status, 404);
    });
  },
);

posixTest(
  "task ids with path tricks, a backtracking grep, and a spent or guessed code get short refusals",
  () =>
    withServer({}, async (server) => {
      const link = await loginLink(server);
      const session = await login(server);
      // Spent: the helper used it. Guessed: another code of the same shape.
      const again = await fetch(link, { redirect: "manual" });
      await again.body?.cancel();
      assert.equal(again.status, 401);
      assert.equal(again.headers.get("set-cookie"), null);
      const guessed = new URL(link);
      guessed.searchParams.set("code", "A".repeat(43));
      const guess = await fetch(guessed, { redirect: "manual" });
      await guess.body?.cancel();
      assert.equal(guess.status, 401);

      for (
        const path of [
          "/api/tasks/..%2F..%2Fstate.db/log",
          "/api/tasks/%2e%2e/log",
          "/api/tasks/../../state.db",
          "/api/tasks/ABC/log",
          "/api/tasks/x/log/extra",
          "/tasks/..%2Fstate.db",
        ]
      ) {
        const answer = await fetch(new URL(path, server.url), {
          headers: { cookie: session.cookie },
        });
        const text = await answer.text();
        assert.ok(answer.status === 404 || answer.status === 200, `${path}: ${answer.status}`);
        assert.doesNotMatch(text, /SQLite format/, path);
      }

      // A task whose one line makes (a+)+$ backtrack for ever in V8: answered in time.
      const run = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, "run", "--", "printf", `${"a".repeat(40)}b\\n`],
        env: { BACKBURNER_HOME: server.home, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const id = new TextDecoder().decode(run.stdout).trim();
      await waitFor(async () => {
        const detail = await getJson(session, `/api/tasks/${id}`);
        return (detail.body.task as { status: string }).status === "completed";
      }, { what: "the task to end" });
      const began = Date.now();
      const grep = await getJson(
        session,
        `/api/tasks/${id}/grep?pattern=${encodeURIComponent("(a+)+$")}`,
      );
      assert.ok(Date.now() - began < 5000, `grep took ${Date.now() - began} ms`);
      assert.ok(grep.status === 200 || grep.status === 400, JSON.stringify(grep.body));
    }),
);

posixTest(
  "a server on every interface prints a login link that works: a name it allows, not 0.0.0.0",
  async () => {
    for (const command of ["dashboard", "serve"] as const) {
      const home = await tempDir();
      const server = await startHttpServer(home, {
        command,
        listen: "0.0.0.0:0",
        args: ["--allow-host", "localhost"],
      });
      try {
        const link = await loginLink(server);
        assert.equal(new URL(link).hostname, "localhost", link);
        assert.equal(new URL(server.url).hostname, "localhost", server.url);
        const answer = await fetch(link, { redirect: "manual" });
        await answer.body?.cancel();
        assert.equal(answer.status, 303, `${command}: the printed link answered ${answer.status}`);
      } finally {
        await server.stop();
        await cleanup(home);
      }
    }
  },
);

Deno.test({
  name:
    "a task that replaces its log with a FIFO or a symlink leaves every page and download answering",
  ignore: !POSIX,
  fn: () =>
    withServer({}, async (server, home) => {
      const session = await login(server);
      for (const swap of ['mkfifo "$f/output.log"', 'ln -s /dev/zero "$f/output.log"']) {
        const run = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            MAIN,
            "run",
            "--",
            "bash",
            "-c",
            `f="$TASKS/$BACKBURNER_TASK_ID"; echo hi; sleep 0.3; rm "$f/output.log"; ${swap}; ` +
            "sleep 60",
          ],
          env: { BACKBURNER_HOME: home, NO_COLOR: "1", TASKS: `${home}/tasks` },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const id = new TextDecoder().decode(run.stdout).trim();
        await waitFor(() => {
          try {
            return !Deno.lstatSync(`${home}/tasks/${id}/output.log`).isFile;
          } catch {
            return false;
          }
        }, { what: "the task to replace its log" });
        for (
          const path of [
            `/api/tasks/${id}`,
            `/api/tasks/${id}/output`,
            `/api/tasks/${id}/output?offset=0`,
            `/api/tasks/${id}/log`,
            `/api/tasks/${id}/grep?pattern=x`,
          ]
        ) {
          const abort = AbortSignal.timeout(5000);
          const answer = await fetch(new URL(path, server.url), {
            headers: { cookie: session.cookie },
            signal: abort,
          }).catch((error) => {
            throw new Error(`${swap}: ${path} did not answer within 5 s (${error})`);
          });
          const body = await answer.text();
          assert.ok(body.length < 100_000, `${path}: ${body.length} bytes`);
        }
        const cancel = await fetch(new URL(`/api/tasks/${id}/cancel`, server.url), {
          method: "POST",
          headers: { cookie: session.cookie, origin: session.origin, "x-csrf-token": session.csrf },
        });
        await cancel.body?.cancel();
        assert.equal(cancel.status, 200);
      }
    }),
});

posixTest(
  "Restart on the dashboard is judged by the policy of the server that serves it",
  async () => {
    const home = await tempDir();
    const server = await startHttpServer(home, { env: { BACKBURNER_DENY: "\\bsleep\\b" } });
    try {
      const session = await login(server);
      // Started by the command line, which runs without the rule.
      const run = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, "run", "--", "sleep", "60"],
        env: { BACKBURNER_HOME: home, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const id = new TextDecoder().decode(run.stdout).trim();
      const restart = await fetch(new URL(`/api/tasks/${id}/restart`, server.url), {
        method: "POST",
        headers: { cookie: session.cookie, origin: session.origin, "x-csrf-token": session.csrf },
      });
      const body = await restart.json();
      assert.equal(restart.status, 400, JSON.stringify(body));
      assert.match(String(body.error), /sleep/);
      const list = await getJson(session, "/api/tasks");
      assert.equal((list.body.rows as unknown[]).length, 1);
      const cancel = await fetch(new URL(`/api/tasks/${id}/cancel`, server.url), {
        method: "POST",
        headers: { cookie: session.cookie, origin: session.origin, "x-csrf-token": session.csrf },
      });
      await cancel.body?.cancel();
      assert.equal(cancel.status, 200);
    } finally {
      await server.stop();
      await cleanup(home);
    }
  },
);

posixTest(
  "a cookie tossed in by a page on another port of the same host does not log the dashboard out",
  () =>
    withServer({}, async (server) => {
      const session = await login(server);
      const [name] = session.cookie.split("=");
      // Cookies do not keep ports apart: a page on 127.0.0.1:<any port> can set one of this name
      // for a longer path, which the browser then sends first.
      const tossed = `${name}=tossed; ${session.cookie}`;
      const answer = await fetch(new URL("/api/tasks", server.url), {
        headers: { cookie: tossed },
      });
      await answer.body?.cancel();
      assert.equal(answer.status, 200);
      const page = await fetch(new URL("/", server.url), {
        headers: { cookie: tossed },
        redirect: "manual",
      });
      await page.body?.cancel();
      assert.equal(page.status, 200);
    }),
);

posixTest(
  "an API read a browser makes for another origin's page (no Origin header: an img, a script) is refused",
  () =>
    withServer({}, async (server) => {
      const session = await login(server);
      // What Chromium sends for <img src=…/api/tasks> on a page at 127.0.0.1:<another port>:
      // the cookie (same site: SameSite lets it through), no Origin, Sec-Fetch-Site same-site.
      for (const site of ["same-site", "cross-site"]) {
        for (const path of ["/api/tasks", "/api/events"]) {
          const answer = await fetch(new URL(path, server.url), {
            headers: {
              cookie: session.cookie,
              "sec-fetch-site": site,
              "sec-fetch-mode": "no-cors",
            },
          });
          await answer.body?.cancel();
          assert.equal(answer.status, 403, `${site} ${path}`);
        }
      }
      // The page's own reads, and a link followed from elsewhere to a page, still work.
      const own = await fetch(new URL("/api/tasks", server.url), {
        headers: { cookie: session.cookie, "sec-fetch-site": "same-origin" },
      });
      await own.body?.cancel();
      assert.equal(own.status, 200);
      const followed = await fetch(new URL("/", server.url), {
        headers: {
          cookie: session.cookie,
          "sec-fetch-site": "same-site",
          "sec-fetch-mode": "navigate",
        },
      });
      await followed.body?.cancel();
      assert.equal(followed.status, 200);
    }),
);

posixTest(
  "event streams whose client stopped reading are dropped: their memory and slots come back",
  () =>
    withServer({}, async (server) => {
      const agent = await connectLegacy(server);
      try {
        // Output faster than any socket buffer takes it from a client that never reads.
        const started = await agent.call("start_task", {
          command:
            "i=0; while [ $i -lt 900 ]; do head -c 200000 /dev/urandom | base64; i=$((i+1)); sleep 0.05; done",
        });
        const id = String(started.task_id);
        const session = await login(server);
        const { hostname, port } = new URL(server.url);
        const stalled: Deno.Conn[] = [];
        try {
          // Every slot of the session, each a page that never reads what it is sent.
          for (let n = 0; n < 24; n++) {
            const connection = await Deno.connect({ hostname, port: Number(port) });
            stalled.push(connection);
            const head =
              `GET /api/tasks/${id}/events?offset=0 HTTP/1.1\r\nhost: ${hostname}:${port}\r\ncookie: ${session.cookie}\r\n\r\n`;
            await connection.write(new TextEncoder().encode(head));
            // The answer's first bytes (the stream is open), then never a read again.
            const first = new Uint8Array(64);
            const count = await connection.read(first);
            assert.match(new TextDecoder().decode(first.subarray(0, count ?? 0)), /^HTTP\/1.1 200/);
          }
          const another = async () => {
            const answer = await fetch(new URL("/api/events", server.url), {
              headers: { cookie: session.cookie },
            });
            await answer.body?.cancel();
            return answer.status;
          };
          assert.equal(await another(), 429, "the session's 24 slots are taken");
          // Dropped once behind for 10 s (after the socket buffers filled): the slots come back.
          await waitFor(async () => await another() === 200, {
            timeoutMs: 60_000,
            intervalMs: 1000,
            what: "the stalled streams to be dropped and a stream to open",
          });
        } finally {
          for (const connection of stalled) connection.close();
        }
      } finally {
        await agent.close();
      }
    }),
);
