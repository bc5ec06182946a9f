/**
 * The dashboard's routes over real HTTP, without a browser: the login (one-time link, token
 * form), the guard (no cookie, a foreign Origin, no CSRF token: refused, nothing done), and the
 * JSON API and event streams the page uses, against `serve --http` and `backburner dashboard`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { cleanup, MAIN, posixTest, taskPids, tempDir, waitFor } from "../helpers.ts";
import {
  authHeaders,
  connectLegacy,
  type HttpServer,
  rawHttp,
  startHttpServer,
} from "../http/harness.ts";
import { getJson, login, loginLink, originOf, post } from "./helpers.ts";

async function withServer(
  options: {
    command?: "serve" | "dashboard";
    env?: Record<string, string>;
    args?: readonly string[];
  },
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

/** `backburner run` over the server's state directory; the new task's id. */
async function cliRun(home: string, ...args: string[]): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "run", ...args],
    env: { BACKBURNER_HOME: home, NO_COLOR: "1" },
    cwd: home,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stdout).trim();
}

posixTest(
  "the one-time link gives an HttpOnly SameSite=Strict cookie, once",
  () =>
    withServer({}, async (server) => {
      const link = await loginLink(server);
      const first = await fetch(link, { redirect: "manual" });
      await first.body?.cancel();
      assert.equal(first.status, 303);
      assert.equal(first.headers.get("location"), "/");
      const cookie = first.headers.get("set-cookie") ?? "";
      assert.match(cookie, /^backburner_\d+=[\w-]{43}; /);
      assert.match(cookie, /HttpOnly/);
      assert.match(cookie, /SameSite=Strict/);
      // Spent: the same link again is refused and sets nothing.
      const again = await fetch(link, { redirect: "manual" });
      assert.equal(again.status, 401);
      assert.equal(again.headers.get("set-cookie"), null);
      assert.match(await again.text(), /used already/);
      const forged = await fetch(new URL("/login?code=" + "A".repeat(43), server.url), {
        redirect: "manual",
      });
      await forged.body?.cancel();
      assert.equal(forged.status, 401);
      // The session works; a made-up cookie does not.
      const name = cookie.split("=")[0];
      const page = await fetch(new URL("/api/tasks", server.url), {
        headers: { cookie: cookie.split(";")[0] },
      });
      assert.equal(page.status, 200);
      await page.body?.cancel();
      const fake = await fetch(new URL("/api/tasks", server.url), {
        headers: { cookie: `${name}=${"B".repeat(43)}` },
      });
      await fake.body?.cancel();
      assert.equal(fake.status, 401);
    }),
);

posixTest(
  "the login form takes the token from the dashboard's own origin only",
  () =>
    withServer({}, async (server) => {
      const origin = originOf(server);
      const form = (token: string, from: string | null) =>
        fetch(new URL("/login", server.url), {
          method: "POST",
          redirect: "manual",
          headers: {
            "content-type": "application/x-www-form-urlencoded",
            ...(from === null ? {} : { origin: from }),
          },
          body: new URLSearchParams({ token }).toString(),
        });
      const right = await form(server.token!, origin);
      await right.body?.cancel();
      assert.equal(right.status, 303);
      assert.match(right.headers.get("set-cookie") ?? "", /HttpOnly; SameSite=Strict/);
      const wrong = await form("not-the-token-at-all", origin);
      assert.equal(wrong.status, 401);
      assert.equal(wrong.headers.get("set-cookie"), null);
      await wrong.body?.cancel();
      for (const from of ["https://evil.example", null]) {
        const foreign = await form(server.token!, from);
        await foreign.body?.cancel();
        assert.equal(foreign.status, 403, `origin ${from}`);
        assert.equal(foreign.headers.get("set-cookie"), null);
      }
    }),
);

posixTest(
  "without the cookie, from a foreign Origin, or without the CSRF token: refused, and the task keeps running",
  () =>
    withServer({}, async (server, home) => {
      const session = await login(server);
      const id = await cliRun(home, "--label", "victim", "--", "sleep", "60");
      const cancel = `/api/tasks/${id}/cancel`;
      // No cookie: 401 for the API, a redirect to the login page for a page.
      const noCookie = await post(session, cancel, { cookie: null });
      assert.equal(noCookie.status, 401);
      for (
        const path of ["/api/tasks", `/api/tasks/${id}`, `/api/tasks/${id}/log`, "/api/events"]
      ) {
        const answer = await fetch(new URL(path, server.url));
        await answer.body?.cancel();
        assert.equal(answer.status, 401, path);
      }
      const page = await fetch(new URL(`/tasks/${id}`, server.url), { redirect: "manual" });
      await page.body?.cancel();
      assert.equal(page.status, 303);
      assert.equal(page.headers.get("location"), "/login");
      // The bearer token is not a dashboard login: the cookie is.
      const bearer = await fetch(new URL("/api/tasks", server.url), {
        headers: authHeaders(server),
      });
      await bearer.body?.cancel();
      assert.equal(bearer.status, 401);
      // A foreign Origin, even with the cookie and the CSRF token; also for reads.
      for (const origin of ["https://evil.example", "http://localhost:1", "null"]) {
        const foreign = await post(session, cancel, { origin });
        assert.equal(foreign.status, 403, origin);
        const read = await fetch(new URL("/api/tasks", server.url), {
          headers: { cookie: session.cookie, origin },
        });
        await read.body?.cancel();
        assert.equal(read.status, 403, origin);
      }
      // No Origin at all on a state change.
      assert.equal((await post(session, cancel, { origin: null })).status, 403);
      // No CSRF token, or another session's.
      assert.equal((await post(session, cancel, { "x-csrf-token": null })).status, 403);
      const other = await login(server, { withToken: true });
      assert.equal((await post(session, cancel, { "x-csrf-token": other.csrf })).status, 403);
      // A rebinding Host is refused before anything else.
      const { port } = new URL(server.url);
      const rebound = await rawHttp(new URL(cancel, server.url).href, {
        headers: { host: `evil.example:${port}`, cookie: session.cookie },
        body: "",
      });
      assert.equal(rebound.status, 403);
      // Nothing was done.
      const detail = await getJson(session, `/api/tasks/${id}`);
      assert.equal((detail.body.task as { status: string }).status, "working");
      assert.ok(taskPids(id).length > 0);
      // The page's own request does it.
      const done = await post(session, cancel);
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.equal(done.body.status, "cancelled");
      await waitFor(() => taskPids(id).length === 0, { what: "the task's processes to be gone" });
    }),
);

posixTest(
  "the list: newest first, filters, keyset pages, env keys without values",
  () =>
    withServer({}, async (server, home) => {
      const session = await login(server);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push(
          await cliRun(home, "--label", i % 2 ? "odd" : "even", "--", "echo", `number-${i}`),
        );
      }
      const queued = await cliRun(
        home,
        "--queue",
        "slow",
        "--env",
        "SECRET_TOKEN=hunter2-do-not-show",
        "--after",
        ids[0],
        "--",
        "sh",
        "-c",
        "exit 0",
      );
      const list = await getJson(session, "/api/tasks");
      assert.equal(list.status, 200);
      const rows = list.body.rows as { id: string; status: string; label: string | null }[];
      assert.deepEqual(rows.map((row) => row.id), [queued, ...ids.toReversed()]);
      assert.equal(rows[0].id, queued);
      assert.equal(list.body.total, 6);
      const odd = await getJson(session, "/api/tasks?label=odd");
      assert.deepEqual((odd.body.rows as { id: string }[]).map((r) => r.id), [ids[3], ids[1]]);
      const slow = await getJson(session, "/api/tasks?queue=slow");
      assert.deepEqual((slow.body.rows as { id: string }[]).map((r) => r.id), [queued]);
      const text = await getJson(session, "/api/tasks?q=NUMBER-2");
      assert.deepEqual((text.body.rows as { id: string }[]).map((r) => r.id), [ids[2]]);
      const wildcard = await getJson(session, "/api/tasks?q=%25");
      assert.equal((wildcard.body.rows as unknown[]).length, 0, "% is a character, not a wildcard");
      // Pages of two, each older than the last, none twice.
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await getJson(
          session,
          `/api/tasks?limit=2${cursor ? `&before=${encodeURIComponent(cursor)}` : ""}`,
        );
        seen.push(...(page.body.rows as { id: string }[]).map((r) => r.id));
        cursor = page.body.next as string | null;
      } while (cursor !== null);
      assert.deepEqual(seen, rows.map((r) => r.id));
      for (
        const bad of ["status=done", "limit=0", "limit=5000", "before=x", "q=" + "x".repeat(300)]
      ) {
        const answer = await getJson(session, `/api/tasks?${bad}`);
        assert.equal(answer.status, 400, bad);
        assert.equal(typeof answer.body.error, "string");
      }
      const detail = await fetch(new URL(`/api/tasks/${queued}`, server.url), {
        headers: { cookie: session.cookie },
      });
      const json = await detail.text();
      assert.equal(detail.status, 200);
      assert.deepEqual(JSON.parse(json).env_keys, ["SECRET_TOKEN"]);
      assert.ok(!json.includes("hunter2"), "an env value must never be shown");
      const unknown = await getJson(session, "/api/tasks/zzzzzzzzzzzz");
      assert.equal(unknown.status, 404);
    }),
);

posixTest(
  "output: tail, ranges, grep with context, the raw log streamed whole",
  () =>
    withServer({}, async (server, home) => {
      const session = await login(server);
      const id = await cliRun(
        home,
        "--",
        "sh",
        "-c",
        "for i in $(seq 1 3000); do printf 'line %d \\033[31mred\\033[0m\\n' $i; done; printf 'a\\rb\\n'",
      );
      await waitFor(async () =>
        ((await getJson(session, `/api/tasks/${id}`)).body.task as { status: string }).status ===
          "completed", { what: "the task to complete" });
      const raw = Deno.readFileSync(join(home, "tasks", id, "output.log"));
      const tail = await getJson(session, `/api/tasks/${id}/output`);
      assert.equal(tail.body.total, raw.byteLength);
      assert.equal(tail.body.next, raw.byteLength);
      const text = tail.body.text as string;
      assert.ok(text.endsWith("line 3000 red\nb\n"), text.slice(-60));
      assert.ok(!text.includes("\x1b"), "escape sequences are cleaned");
      assert.ok((tail.body.skipped as number) > 0, "a tail of 2,000 lines skips the first");
      const range = await getJson(session, `/api/tasks/${id}/output?offset=0`);
      assert.ok((range.body.text as string).startsWith("line 1 red\nline 2 red\n"));
      assert.equal(range.body.start, 0);
      for (const bad of ["-1", "1.5", "x"]) {
        assert.equal((await getJson(session, `/api/tasks/${id}/output?offset=${bad}`)).status, 400);
      }
      const grep = await getJson(session, `/api/tasks/${id}/grep?pattern=line%201500%20&context=1`);
      assert.equal(grep.status, 200);
      assert.equal(grep.body.total_matches, 1);
      const [match] = grep.body.matches as { line: number; before: string[]; after: string[] }[];
      assert.equal(match.line, 1500);
      assert.deepEqual(match.before, ["line 1499 red"]);
      assert.deepEqual(match.after, ["line 1501 red"]);
      const badPattern = await getJson(session, `/api/tasks/${id}/grep?pattern=(a`);
      assert.equal(badPattern.status, 400);
      const download = await fetch(new URL(`/api/tasks/${id}/log`, server.url), {
        headers: { cookie: session.cookie },
      });
      assert.equal(download.status, 200);
      assert.match(download.headers.get("content-disposition") ?? "", /attachment/);
      assert.deepEqual(new Uint8Array(await download.arrayBuffer()), raw);
    }),
);

posixTest(
  "the event streams: a task an MCP client starts reaches an open list, and its output follows",
  () =>
    withServer({}, async (server) => {
      const session = await login(server);
      const events: { event: string; data: Record<string, unknown> }[] = [];
      const reader = async (path: string, abort: AbortSignal) => {
        const answer = await fetch(new URL(path, server.url), {
          headers: { cookie: session.cookie },
          signal: abort,
        });
        assert.equal(answer.status, 200);
        assert.match(answer.headers.get("content-type") ?? "", /text\/event-stream/);
        const decoder = new TextDecoder();
        let buffer = "";
        try {
          for await (const chunk of answer.body!) {
            buffer += decoder.decode(chunk, { stream: true });
            let end;
            while ((end = buffer.indexOf("\n\n")) >= 0) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const event = /^event: (.*)$/m.exec(block)?.[1];
              const data = /^data: (.*)$/m.exec(block)?.[1];
              if (event && data) events.push({ event, data: JSON.parse(data) });
            }
          }
        } catch {
          // aborted
        }
      };
      const stop = new AbortController();
      const list = reader("/api/events", stop.signal);
      const client = await connectLegacy(server);
      try {
        await waitFor(() => events.some((e) => e.event === "tasks"), { what: "the first list" });
        const started = await client.call("start_task", {
          command: "for i in 1 2 3 4 5 6 7 8; do echo tick-$i; sleep 0.3; done",
          label: "streamed",
        });
        const id = started.task_id as string;
        await waitFor(() =>
          events.some((e) =>
            e.event === "tasks" &&
            (e.data.rows as { id: string }[]).some((row) => row.id === id)
          ), { what: "the new task on the stream" });
        const follow = reader(`/api/tasks/${id}/events?offset=0`, stop.signal);
        await waitFor(() =>
          events.filter((e) => e.event === "output").map((e) => e.data.text).join("").includes(
            "tick-8\n",
          ), { what: "the output to follow to its end" });
        const output = events.filter((e) =>
          e.event === "output"
        ).map((e) => e.data.text).join("");
        assert.equal(output, [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `tick-${i}\n`).join(""));
        await waitFor(() =>
          events.some((e) =>
            e.event === "task" && (e.data.task as { status: string }).status === "completed"
          ), { what: "the task page to see it complete" });
        stop.abort();
        await Promise.all([list, follow]);
      } finally {
        stop.abort();
        await client.close();
      }
    }),
);

posixTest(
  "backburner dashboard serves the dashboard alone, over the tasks the CLI starts",
  () =>
    withServer({ command: "dashboard" }, async (server, home) => {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      assert.match(server.stderr(), /serving the dashboard at/);
      const mcp = await fetch(new URL("/mcp", server.url), {
        method: "POST",
        headers: { ...authHeaders(server), "content-type": "application/json" },
        body: "{}",
      });
      await mcp.body?.cancel();
      assert.equal(mcp.status, 404);
      const elsewhere = await fetch(new URL("/other", server.url));
      await elsewhere.body?.cancel();
      assert.equal(elsewhere.status, 404);
      const session = await login(server);
      const id = await cliRun(home, "--label", "from-cli", "--", "echo", "hello");
      const list = await getJson(session, "/api/tasks");
      assert.deepEqual((list.body.rows as { id: string }[]).map((r) => r.id), [id]);
      // Assets ship inside the program, with a policy that forbids loading anything from elsewhere.
      for (const path of ["/assets/app.js", "/assets/style.css", "/assets/icon.svg"]) {
        const asset = await fetch(new URL(path, server.url));
        assert.equal(asset.status, 200, path);
        assert.ok((await asset.text()).length > 100);
        assert.match(asset.headers.get("content-security-policy") ?? "", /default-src 'none'/);
      }
      const html = await (await fetch(new URL("/", server.url), {
        headers: { cookie: session.cookie },
      })).text();
      assert.ok(!/https?:\/\/(?!www\.w3\.org)/.test(html), "no external URL in the page");
    }),
);

posixTest(
  "a page far behind a big log skips ahead and says so; a range read does not",
  () =>
    withServer({}, async (server, home) => {
      const session = await login(server);
      // About 6.9 MB of numbered lines, written at once.
      const id = await cliRun(home, "--", "seq", "1", "1000000");
      await waitFor(async () =>
        ((await getJson(session, `/api/tasks/${id}`)).body.task as { status: string }).status ===
          "completed", { what: "the task to complete" });
      const size = Deno.statSync(join(home, "tasks", id, "output.log")).size;
      assert.ok(size > 6_000_000);
      const range = await getJson(session, `/api/tasks/${id}/output?offset=0`);
      assert.equal(range.body.start, 0);
      assert.equal(range.body.skipped, 0);
      assert.ok((range.body.text as string).startsWith("1\n2\n3\n"));
      assert.ok((range.body.next as number) <= 256 * 1024, "a bounded range");
      const tail = await getJson(session, `/api/tasks/${id}/output`);
      assert.ok((tail.body.text as string).endsWith("999999\n1000000\n"));
      assert.ok((tail.body.text as string).length < 400_000, "a bounded tail");
      // The event stream from offset 0: the first output jumps near the end.
      const stop = new AbortController();
      const answer = await fetch(new URL(`/api/tasks/${id}/events?offset=0`, server.url), {
        headers: { cookie: session.cookie },
        signal: stop.signal,
      });
      let text = "";
      const decoder = new TextDecoder();
      try {
        for await (const chunk of answer.body!) {
          text += decoder.decode(chunk, { stream: true });
          if (/event: output\ndata: .*\n\n/.test(text)) {
            break;
          }
        }
      } finally {
        stop.abort();
      }
      const output = JSON.parse(/event: output\ndata: (.*)\n/.exec(text)![1]);
      assert.ok(output.skipped > size - 300 * 1024, `skipped ${output.skipped}`);
      assert.equal(output.next, size);
      assert.ok(output.text.endsWith("1000000\n"));
    }),
);

posixTest(
  "restart starts the command again as a new task; cancel of an ended task changes nothing",
  () =>
    withServer({}, async (server, home) => {
      const session = await login(server);
      const id = await cliRun(home, "--label", "again", "--", "echo", "once more");
      await waitFor(async () =>
        ((await getJson(session, `/api/tasks/${id}`)).body.task as { status: string }).status ===
          "completed", { what: "the task to complete" });
      const restarted = await post(session, `/api/tasks/${id}/restart`);
      assert.equal(restarted.status, 200, JSON.stringify(restarted.body));
      assert.equal(restarted.body.restart_of, id);
      const newId = restarted.body.id as string;
      assert.notEqual(newId, id);
      const detail = await getJson(session, `/api/tasks/${newId}`);
      const task = detail.body.task as { restart_of: string; command: string; label: string };
      assert.equal(task.restart_of, id);
      assert.equal(task.label, "again");
      const cancelled = await post(session, `/api/tasks/${id}/cancel`);
      assert.equal(cancelled.status, 200);
      assert.equal(cancelled.body.status, "completed");
      assert.equal(cancelled.body.already_ended, true);
      const unknown = await post(session, "/api/tasks/zzzzzzzzzzzz/restart");
      assert.equal(unknown.status, 404);
      assert.match(unknown.body.error as string, /zzzzzzzzzzzz/);
      const nowhere = await post(session, `/api/tasks/${id}/explode`);
      assert.equal(nowhere.status, 404);
    }),
);

posixTest(
  "--no-token: the one-time link still guards the dashboard; the login form is off",
  () =>
    withServer({ args: ["--no-token"] }, async (server) => {
      const loginPage = await fetch(new URL("/login", server.url));
      const html = await loginPage.text();
      assert.ok(!html.includes("<form"), "no token form without a token");
      const form = await fetch(new URL("/login", server.url), {
        method: "POST",
        redirect: "manual",
        headers: {
          origin: originOf(server),
          "content-type": "application/x-www-form-urlencoded",
        },
        body: "token=anything-at-all-here",
      });
      await form.body?.cancel();
      assert.equal(form.status, 400);
      assert.equal(form.headers.get("set-cookie"), null);
      const api = await fetch(new URL("/api/tasks", server.url));
      await api.body?.cancel();
      assert.equal(api.status, 401);
      const session = await login(server);
      assert.equal((await getJson(session, "/api/tasks")).status, 200);
    }),
);
