/**
 * Attacks on the HTTP face, each against a real server (main.ts serve --http as a subprocess): a
 * careless or hostile client trying to get around the guard, or to take what other clients need.
 */

import assert from "node:assert/strict";
import { cleanup, posixTest, tempDir } from "../helpers.ts";
import {
  authHeaders,
  connectLegacy,
  type HttpServer,
  type HttpServerOptions,
  startHttpServer,
} from "./harness.ts";

const INIT = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: {
    protocolVersion: "2025-11-25",
    capabilities: {},
    clientInfo: { name: "attacker", version: "1.0.0" },
  },
};

async function withServer(
  body: (server: HttpServer) => Promise<void>,
  options: HttpServerOptions = {},
): Promise<void> {
  const home = await tempDir();
  const server = await startHttpServer(home, options);
  try {
    await body(server);
  } finally {
    await server.stop();
    await cleanup(home);
  }
}

function post(
  server: HttpServer,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(server.url, {
    method: "POST",
    headers: {
      ...authHeaders(server),
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...headers,
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
}

/** Opens a 2025-11-25 session as `name` (initialize, then initialized); its id. */
async function openSession(server: HttpServer, name: string): Promise<string> {
  const init = structuredClone(INIT);
  init.params.clientInfo.name = name;
  const response = await post(server, init);
  const text = await response.text();
  assert.equal(response.status, 200, text);
  const id = response.headers.get("mcp-session-id");
  assert.ok(id, "initialize answered without a session id");
  const initialized = await post(
    server,
    { jsonrpc: "2.0", method: "notifications/initialized" },
    { "mcp-session-id": id, "mcp-protocol-version": "2025-11-25" },
  );
  await initialized.body?.cancel();
  assert.equal(initialized.status, 202);
  return id;
}

/** The session's GET event stream, left open (as an SDK client keeps it); aborts to close. */
async function openStream(server: HttpServer, session: string): Promise<AbortController> {
  const abort = new AbortController();
  const response = await fetch(server.url, {
    headers: {
      ...authHeaders(server),
      accept: "text/event-stream",
      "mcp-session-id": session,
      "mcp-protocol-version": "2025-11-25",
    },
    signal: abort.signal,
  });
  if (response.status !== 200) {
    abort.abort();
    throw new Error(`GET stream: ${response.status} ${await response.text()}`);
  }
  return abort;
}

Deno.test("a JSON-RPC batch is refused (400) in both eras, never served as many requests in one slot", async () => {
  await withServer(async (server) => {
    // An initialize in a batch would otherwise open a session.
    let response = await post(server, [INIT]);
    let answer = await response.json();
    assert.equal(response.status, 400, JSON.stringify(answer));
    assert.equal(answer.error.code, -32600);
    assert.match(answer.error.message, /batch/);
    assert.equal(response.headers.get("mcp-session-id"), null);

    // In a session: 20 calls in one POST would pass the bound of 16 requests per client.
    const session = await openSession(server, "batcher");
    const calls = Array.from({ length: 20 }, (_, i) => ({
      jsonrpc: "2.0",
      id: 10 + i,
      method: "tools/call",
      params: { name: "list_tasks", arguments: {} },
    }));
    response = await post(server, ` \n${JSON.stringify(calls)}`, {
      "mcp-session-id": session,
      "mcp-protocol-version": "2025-11-25",
    });
    answer = await response.json();
    assert.equal(response.status, 400, JSON.stringify(answer));
    assert.equal(answer.error.code, -32600);

    // One message per request is still served.
    response = await post(server, { ...calls[0], id: 99 }, {
      "mcp-session-id": session,
      "mcp-protocol-version": "2025-11-25",
    });
    assert.equal(response.status, 200);
    assert.match(await response.text(), /"id":99/);
  });
});

Deno.test("a client that opens sessions and never closes them starves no other client", async () => {
  await withServer(async (server) => {
    const victim = await openSession(server, "victim");
    const victimStream = await openStream(server, victim);
    // More sessions, each holding its event stream, than the server holds streams in all.
    const streams: AbortController[] = [];
    try {
      const first = await openSession(server, "careless");
      streams.push(await openStream(server, first));
      for (let i = 1; i < 260; i++) {
        const session = await openSession(server, "careless");
        try {
          streams.push(await openStream(server, session));
        } catch {
          // Its session closed already: the careless client's own sessions pay, as they should.
        }
      }
      // The victim's session is still served, and a new client can still come in.
      const response = await post(
        server,
        {
          jsonrpc: "2.0",
          id: 5,
          method: "tools/call",
          params: { name: "list_tasks", arguments: {} },
        },
        { "mcp-session-id": victim, "mcp-protocol-version": "2025-11-25" },
      );
      const text = await response.text();
      assert.equal(response.status, 200, text);
      assert.match(text, /"id":5/);
      await openSession(server, "newcomer");
      // The careless client's oldest session is the one that was closed.
      const stale = await post(
        server,
        { jsonrpc: "2.0", id: 6, method: "tools/list" },
        { "mcp-session-id": first, "mcp-protocol-version": "2025-11-25" },
      );
      await stale.body?.cancel();
      assert.equal(stale.status, 404);
      assert.match(server.stderr(), /closing session \S+ of .*careless/);
    } finally {
      for (const stream of streams) stream.abort();
      victimStream.abort();
    }
  });
});

/** Sends `text` on a new connection to the server; the status line of the answer, or "closed". */
async function rawStatus(server: HttpServer, text: string): Promise<string> {
  const url = new URL(server.url);
  const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  try {
    const bytes = new TextEncoder().encode(text);
    for (let sent = 0; sent < bytes.length;) sent += await conn.write(bytes.subarray(sent));
    const buffer = new Uint8Array(4096);
    let answer = "";
    const deadline = setTimeout(() => conn.close(), 10_000);
    try {
      while (!answer.includes("\r\n")) {
        const n = await conn.read(buffer);
        if (n === null) break;
        answer += new TextDecoder().decode(buffer.subarray(0, n));
      }
    } catch {
      // closed by the deadline
    } finally {
      clearTimeout(deadline);
    }
    return answer.split("\r\n")[0] || "closed";
  } finally {
    try {
      conn.close();
    } catch {
      // closed already
    }
  }
}

Deno.test("a body with broken chunked framing is the client's doing, not logged as the server's error", async () => {
  await withServer(async (server) => {
    const host = new URL(server.url).host;
    // A valid first chunk of 1 MiB, then a size line that is not hex.
    const status = await rawStatus(
      server,
      `POST /mcp HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${server.token}\r\n` +
        `Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n` +
        `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n100000\r\n${
          " ".repeat(0x100000)
        }\r\nzz\r\n{}\r\n0\r\n\r\n`,
    );
    // The connection is broken: a 400, or closed before an answer — never a 500.
    assert.match(status, /^(HTTP\/1\.1 400|closed)/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.doesNotMatch(server.stderr(), /unexpected error/);
    const response = await post(server, INIT);
    await response.body?.cancel();
    assert.equal(response.status, 200);
  });
});

/** A connection to the server that has sent `text` (nothing when empty). */
async function connect(server: HttpServer, text = ""): Promise<Deno.TcpConn> {
  const url = new URL(server.url);
  const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  if (text) await conn.write(new TextEncoder().encode(text));
  return conn;
}

/** Resolves with the ms until the server closes `conn` (reading what it sends), or null. */
async function closedWithin(conn: Deno.Conn, ms: number): Promise<number | null> {
  const t0 = Date.now();
  const timer = setTimeout(() => conn.close(), ms);
  const buffer = new Uint8Array(4096);
  try {
    while ((await conn.read(buffer)) !== null) {
      // an answer (408, 401…): read on until the connection ends
    }
    clearTimeout(timer);
    conn.close();
    return Date.now() - t0;
  } catch {
    return null; // closed by our timer: the server kept it
  }
}

posixTest("connections that send nothing, or headers a byte at a time, are closed", async () => {
  await withServer(async (server) => {
    const host = new URL(server.url).host;
    const silent = await connect(server);
    const trickle = await connect(server, `POST /mcp HTTP/1.1\r\nHost: ${host}\r\n`);
    const ticker = setInterval(
      () => void trickle.write(new TextEncoder().encode("X-A: b\r\n")).catch(() => {}),
      500,
    );
    try {
      const [a, b] = await Promise.all([
        closedWithin(silent, 25_000),
        closedWithin(trickle, 25_000),
      ]);
      assert.ok(a !== null, "a connection that sent nothing was kept 25 s");
      assert.ok(b !== null, "a connection trickling headers was kept 25 s");
    } finally {
      clearInterval(ticker);
    }
  });
});

posixTest("a flood of idle connections takes neither the listener nor the port", async () => {
  // With 256 descriptors, the server would run out of them within 256 connections.
  await withServer(async (server) => {
    const flood: Deno.Conn[] = [];
    try {
      for (let i = 0; i < 400; i++) flood.push(await connect(server));
      // A client still gets in (a stalled connection makes room), and is served.
      const response = await post(server, INIT);
      const text = await response.text();
      assert.equal(response.status, 200, text);
    } finally {
      for (const conn of flood) {
        try {
          conn.close();
        } catch {
          // closed by the server
        }
      }
    }
    const response = await post(server, INIT);
    await response.body?.cancel();
    assert.equal(response.status, 200);
    assert.doesNotMatch(server.stderr(), /unexpected error|Too many open files/);
  }, { fileLimit: 256 });
});

posixTest(
  "the token of BACKBURNER_TOKEN is not in the environment of the tasks the server runs",
  async () => {
    const token = "a-token-no-task-may-see-0123456789";
    await withServer(async (server) => {
      const client = await connectLegacy(server);
      try {
        const result = await client.call("run_command", {
          command: 'printf "<%s>" "${BACKBURNER_TOKEN-unset}"',
        });
        assert.equal(result.status, "completed");
        assert.equal(result.output, "<unset>");
      } finally {
        await client.close();
      }
    }, { env: { BACKBURNER_TOKEN: token } });
  },
);
