/**
 * The HTTP face's figures (issue 12): the `start_task` round trip over Streamable HTTP beside the
 * same call over stdio in the same run, `task_status` requests per second with several
 * concurrent clients in both protocol eras, and the server's memory (after the run, and per
 * 2025-11-25 session).
 *
 * backburner runs as main.ts `serve --http 127.0.0.1:0` in a subprocess with its generated token
 * (tests/http/harness.ts), driven by the v1 SDK's Streamable HTTP client (one session per client)
 * for 2025-11-25 and by plain fetch with the headers and envelope for 2026-07-28; stdio by the
 * SDK client over stdio (tests/helpers.ts), as bench.ts does everywhere else.
 */

import type { HttpServer } from "../tests/http/harness.ts";
import type { ServerHandle } from "../tests/helpers.ts";
import { type CallToolResult, Client, StreamableHTTPClientTransport } from "../tests/sdk.ts";
import { rssMiB, sleep, type Stats, stats } from "./common.ts";
import type { Lab } from "./lab.ts";
import { formatValue, type Row } from "./report.ts";

export interface HttpBenchOptions {
  /** Counted start_task calls per face (after `warmup` uncounted ones). */
  readonly calls: number;
  readonly warmup: number;
  /** Concurrent clients of the throughput runs. */
  readonly clients: number;
  /** Length of each throughput run, in s (one sample per whole second). */
  readonly seconds: number;
  /** 2025-11-25 sessions opened at the end to weigh one. */
  readonly sessions: number;
}

export interface Throughput {
  /** Calls completed per one-second window, all clients together. */
  readonly perSecond: Stats;
  /** Each call's round trip under that load. */
  readonly latency: Stats;
  readonly total: number;
  readonly seconds: number;
}

export interface HttpBenchResult {
  readonly options: HttpBenchOptions;
  readonly startHttp: Stats;
  readonly startStdio: Stats;
  readonly legacy: Throughput;
  readonly modern: Throughput;
  /** One stdio client with `clients` calls in flight: the same load on one pipe. */
  readonly stdio: Throughput;
  /** RSS samples of the HTTP server: once listening (2 s later), and after the runs. */
  readonly rssIdle: Stats;
  readonly rssAfter: Stats;
  /** RSS growth per open 2025-11-25 session (each with its GET stream), in KiB. */
  readonly sessionKiB: number;
  /** RSS of a new server with `sessions` sessions open. */
  readonly rssSessions: number;
}

type Json = Record<string, unknown>;

/** A v1 SDK client with its own session on `server`. */
export async function httpClient(server: HttpServer, name = "backburner-bench"): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(server.url), {
    requestInit: {
      headers: server.token === null ? {} : { authorization: `Bearer ${server.token}` },
    },
  });
  const client = new Client({ name, version: "1.0.0" });
  await client.connect(transport);
  return client;
}

async function call(client: Client, name: string, args: Json): Promise<Json> {
  const result = await client.callTool({ name, arguments: args }) as CallToolResult;
  if (result.isError) {
    throw new Error(`${name}: ${result.content.map((c) => c.type === "text" ? c.text : "")}`);
  }
  return result.structuredContent as Json;
}

/** A 2026-07-28 tools/call by plain fetch: the headers, the envelope, one JSON answer. */
export function modernCaller(server: HttpServer, clientName: string) {
  let id = 0;
  return async (name: string, args: Json): Promise<Json> => {
    const response = await fetch(server.url, {
      method: "POST",
      headers: {
        ...(server.token === null ? {} : { authorization: `Bearer ${server.token}` }),
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": name,
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: ++id,
        method: "tools/call",
        params: {
          name,
          arguments: args,
          _meta: {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": { name: clientName, version: "1.0.0" },
          },
        },
      }),
    });
    const text = await response.text();
    if (!response.ok || !(response.headers.get("content-type") ?? "").includes("json")) {
      throw new Error(`${name} over 2026-07-28: HTTP ${response.status}: ${text.slice(0, 200)}`);
    }
    const answer = JSON.parse(text) as { result?: Json & { isError?: boolean }; error?: Json };
    if (!answer.result || answer.result.isError) {
      throw new Error(`${name} over 2026-07-28: ${text.slice(0, 200)}`);
    }
    return answer.result.structuredContent as Json;
  };
}

/**
 * `workers` loops, each calling `once` back to back for `seconds` after one uncounted second;
 * completions are counted per whole second of the measured window.
 */
async function throughput(
  workers: number,
  seconds: number,
  once: (worker: number) => Promise<void>,
): Promise<Throughput> {
  const warmEnd = performance.now() + 1000;
  const start = warmEnd;
  const end = start + seconds * 1000;
  const windows = new Array<number>(seconds).fill(0);
  const latencies: number[] = [];
  await Promise.all(Array.from({ length: workers }, async (_, worker) => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= end) return;
      await once(worker);
      const t1 = performance.now();
      if (t0 >= start && t1 < end) {
        windows[Math.floor((t1 - start) / 1000)]++;
        latencies.push(t1 - t0);
      }
    }
  }));
  return {
    perSecond: stats(windows),
    latency: stats(latencies),
    total: windows.reduce((a, b) => a + b, 0),
    seconds,
  };
}

async function sampleRss(pid: number, count = 5): Promise<Stats> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const rss = rssMiB(pid);
    if (rss === null) throw new Error(`the HTTP server ${pid} is gone`);
    samples.push(rss);
    await sleep(200);
  }
  return stats(samples);
}

/** Runs every HTTP measurement; each server it starts it stops (the Lab on failure). */
export async function httpBench(lab: Lab, options: HttpBenchOptions): Promise<HttpBenchResult> {
  const httpHome = await lab.dir("backburner-bench-http-");
  const stdioHome = await lab.dir();
  let stdioServer: ServerHandle | undefined;
  let server: HttpServer | undefined;
  const clients: Client[] = [];
  try {
    server = await lab.bootHttp(httpHome);
    stdioServer = await lab.boot(stdioHome);
    await sleep(2000);
    const rssIdle = await sampleRss(server.pid);
    const main = await httpClient(server);
    clients.push(main);

    // start_task round trips, alternating faces call by call (and which goes first), so that
    // both see the same machine.
    const viaHttp = () => call(main, "start_task", { command: "true" });
    const viaStdio = () => stdioServer!.call("start_task", { command: "true" });
    for (let i = 0; i < options.warmup; i++) {
      await viaHttp();
      await viaStdio();
    }
    const http: number[] = [];
    const stdio: number[] = [];
    const time = async (run: () => Promise<unknown>, into: number[]) => {
      const t0 = performance.now();
      await run();
      into.push(performance.now() - t0);
    };
    for (let i = 0; i < options.calls; i++) {
      if (i % 2 === 0) {
        await time(viaHttp, http);
        await time(viaStdio, stdio);
      } else {
        await time(viaStdio, stdio);
        await time(viaHttp, http);
      }
    }

    // task_status of one ended task, from `clients` sessions at once.
    const started = await call(main, "start_task", { command: "true" });
    const taskId = started.task_id as string;
    await call(main, "wait_for_task", { task_ids: [taskId], timeout_seconds: 30 });
    for (let i = 1; i < options.clients; i++) {
      clients.push(await httpClient(server, `backburner-bench-${i}`));
    }
    const legacy = await throughput(options.clients, options.seconds, async (worker) => {
      await call(clients[worker], "task_status", { task_id: taskId });
    });
    const callers = Array.from(
      { length: options.clients },
      (_, i) => modernCaller(server!, `backburner-bench-${i}`),
    );
    const modern = await throughput(options.clients, options.seconds, async (worker) => {
      const status = await callers[worker]("task_status", { task_id: taskId });
      if (status.task_id !== taskId) throw new Error("task_status answered another task");
    });
    const stdioStarted = await stdioServer.call("start_task", { command: "true" });
    const stdioTask = stdioStarted.task_id as string;
    const stdioLoad = await throughput(options.clients, options.seconds, async () => {
      await stdioServer!.call("task_status", { task_id: stdioTask });
    });
    const rssAfter = await sampleRss(server.pid);

    // What a session weighs, on a new server (whose heap holds no garbage of the runs yet):
    // `sessions` clients connected, each with its GET stream.
    await Promise.all(clients.splice(0).map((client) => client.close().catch(() => {})));
    await lab.stopHttp(server);
    server = await lab.bootHttp(httpHome);
    await sleep(2000);
    const before = (await sampleRss(server.pid)).median;
    for (let i = 0; i < options.sessions; i++) {
      clients.push(await httpClient(server, `backburner-bench-idle-${i}`));
    }
    await sleep(2000);
    const rssSessions = (await sampleRss(server.pid)).median;
    return {
      options,
      startHttp: stats(http),
      startStdio: stats(stdio),
      legacy,
      modern,
      stdio: stdioLoad,
      rssIdle,
      rssAfter,
      sessionKiB: ((rssSessions - before) * 1024) / options.sessions,
      rssSessions,
    };
  } finally {
    await Promise.all(clients.map((client) => client.close().catch(() => {})));
    if (server) await lab.stopHttp(server);
    if (stdioServer) await lab.stop(stdioServer);
    await lab.remove(httpHome);
    await lab.remove(stdioHome);
  }
}

/** The report's rows: latency against stdio (charted), throughput and memory (not charted). */
export function httpRows(result: HttpBenchResult): Row[] {
  const n = result.options.clients;
  return [
    {
      name: "`start_task` round trip (`true`) over Streamable HTTP (2025-11-25 session)",
      short: "start_task round trip, HTTP",
      unit: "ms",
      ours: result.startHttp,
      reference: "the same call over stdio, same run",
      refShort: "stdio",
      ref: result.startStdio,
    },
    {
      name: `\`task_status\` per second, ${n} HTTP clients (2025-11-25, ${n} sessions)`,
      short: `task_status/s, ${n} HTTP sessions`,
      unit: "req/s",
      ours: result.legacy.perSecond,
      reference: `one stdio client, ${n} calls in flight`,
      ref: result.stdio.perSecond,
      chart: false,
    },
    {
      name: `\`task_status\` per second, ${n} HTTP clients (2026-07-28, plain fetch)`,
      short: `task_status/s, ${n} HTTP clients, 2026-07-28`,
      unit: "req/s",
      ours: result.modern.perSecond,
      reference: `one stdio client, ${n} calls in flight`,
      ref: result.stdio.perSecond,
      chart: false,
    },
    {
      name: "HTTP server memory (RSS) after these runs",
      short: "RSS of the HTTP server after the runs",
      unit: "MiB",
      ours: result.rssAfter,
      reference: "the same server idle, once listening",
      ref: result.rssIdle,
      chart: false,
    },
  ];
}

/** How the rows above were measured, for the report's notes. */
export function httpNotes(result: HttpBenchResult): string[] {
  const { options: o, legacy, modern, stdio } = result;
  const ms = (value: number) => formatValue(value, "ms");
  return [
    `**HTTP**: main.ts \`serve --http 127.0.0.1:0\` with its generated token, beside a stdio ` +
    `server on another state directory. start_task (\`true\`): ${o.calls} calls per face after ` +
    `${o.warmup} uncounted, alternating faces call by call, through the v1 SDK's Streamable HTTP ` +
    `client (one session, JSON-RPC answered as an SSE stream per POST) and the SDK's stdio ` +
    `client: p50 ${ms(result.startHttp.median)} over HTTP vs ${ms(result.startStdio.median)} ` +
    `over stdio, p99 ${ms(result.startHttp.p99)} vs ${
      ms(result.startStdio.p99)
    }. task_status of one ended task: ${o.clients} clients calling back to back for ` +
    `${o.seconds} s after 1 uncounted second, counted per whole second — 2025-11-25: ${o.clients} ` +
    `v1 SDK clients, ${o.clients} sessions (${legacy.total} calls; each call ` +
    `${ms(legacy.latency.median)}, p95 ${ms(legacy.latency.p95)}, under that load); 2026-07-28: ` +
    `${o.clients} plain-fetch loops with the MCP-Protocol-Version, Mcp-Method and Mcp-Name ` +
    `headers and the _meta envelope, a clientInfo name each (${modern.total} calls; ` +
    `${ms(modern.latency.median)}, p95 ${ms(modern.latency.p95)}); the stdio reference is one ` +
    `client with ${o.clients} calls in flight on its pipe (${stdio.total} calls; ` +
    `${ms(stdio.latency.median)}, p95 ${ms(stdio.latency.p95)}). For requests per second a ` +
    `ratio below 1× means fewer than the reference. RSS of the HTTP server: 5 samples 200 ms ` +
    `apart 2 s after it listened, and after the runs; then, on a new server, ${o.sessions} ` +
    `sessions (v1 SDK clients, each with its GET event stream) took it to ${
      formatValue(result.rssSessions, "MiB")
    }: ${result.sessionKiB.toFixed(0)} KiB per session.`,
  ];
}

/** Why HTTP is behind stdio where it is, keyed by the rows' short names. */
export function httpExplanations(result: HttpBenchResult): Record<string, string> {
  const n = result.options.clients;
  const ms = (value: number) => formatValue(value, "ms");
  const explanation =
    `Each HTTP call is a POST on a kept-alive connection through the face's guards (Host, ` +
    `Origin, the token's SHA-256 compare), the body read whole, and an answer the v1 SDK ` +
    `transport sends as an SSE stream per request (2025-11-25) or the v2 handler builds with a ` +
    `fresh low-level server per request (2026-07-28); stdio writes one line on a pipe. The ` +
    `engine's work is the same.`;
  return {
    "start_task round trip, HTTP": `${explanation} Difference at the median: ${
      ms(result.startHttp.median - result.startStdio.median)
    }.`,
    [`task_status/s, ${n} HTTP sessions`]: explanation,
    [`task_status/s, ${n} HTTP clients, 2026-07-28`]: explanation,
    "RSS of the HTTP server after the runs":
      `The runs leave ${n} sessions open (an McpServer each, with its GET stream) and what ` +
      `their calls left on the heap (V8 grows its heap under load); a session weighs ~${
        result.sessionKiB.toFixed(0)
      } KiB.`,
  };
}

/** The figures as plain lines, for a run of the HTTP part alone. */
export function httpSummary(result: HttpBenchResult): string {
  const { options: o } = result;
  const line = (label: string, s: Stats, unit: Row["unit"]) =>
    `${label}: median ${formatValue(s.median, unit)}, p95 ${formatValue(s.p95, unit)}, ` +
    `p99 ${formatValue(s.p99, unit)} (n ${s.n})`;
  return [
    line("start_task over HTTP", result.startHttp, "ms"),
    line("start_task over stdio", result.startStdio, "ms"),
    line(
      `task_status/s, ${o.clients} HTTP sessions (2025-11-25)`,
      result.legacy.perSecond,
      "req/s",
    ),
    line(`task_status/s, ${o.clients} HTTP clients (2026-07-28)`, result.modern.perSecond, "req/s"),
    line(`task_status/s, stdio, ${o.clients} in flight`, result.stdio.perSecond, "req/s"),
    line("HTTP server RSS idle", result.rssIdle, "MiB"),
    line("HTTP server RSS after the runs", result.rssAfter, "MiB"),
    `RSS of a new server with ${o.sessions} sessions: ${formatValue(result.rssSessions, "MiB")} ` +
    `(${result.sessionKiB.toFixed(0)} KiB per session)`,
  ].join("\n");
}
