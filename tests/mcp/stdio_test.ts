/**
 * The stdio face as a careless or hostile client sees it: raw lines written to main.ts's stdin,
 * answers read from its stdout, no SDK client in between.
 */
import assert from "node:assert/strict";
import {
  cleanup,
  isAlive,
  MAIN,
  posixTest,
  type ServerHandle,
  serverPermissions,
  startServer,
  taskPids,
  tempDir,
  waitFor,
} from "../helpers.ts";
import { idFromHead, LineSplitter } from "../../src/mcp/stdio.ts";

type Message = Record<string, unknown> & {
  id?: unknown;
  error?: { code: number; message: string };
};

/** main.ts on raw pipes: lines in, parsed lines out, stderr kept. */
class RawServer {
  readonly child: Deno.ChildProcess;
  readonly messages: Message[] = [];
  readonly exited: Promise<Deno.CommandStatus>;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #stdout: ReadableStreamDefaultReader<Uint8Array>;
  #stderr = "";
  #paused: Promise<void> | undefined;
  #resume: (() => void) | undefined;
  #reading: Promise<void>;

  constructor(home: string, env: Record<string, string> = {}) {
    const { INIT_CWD: _, ...inherited } = Deno.env.toObject();
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...serverPermissions(home), MAIN],
      env: { ...inherited, BACKBURNER_HOME: home, NO_COLOR: "1", ...env },
      cwd: home,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.exited = this.child.status;
    this.#writer = this.child.stdin.getWriter();
    this.#stdout = this.child.stdout.getReader();
    this.#reading = this.#read();
    const stderr = this.child.stderr.pipeThrough(new TextDecoderStream());
    void (async () => {
      for await (const chunk of stderr) this.#stderr += chunk;
    })();
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    let pending = "";
    try {
      for (;;) {
        await this.#paused;
        const { value, done } = await this.#stdout.read();
        if (done) return;
        pending += decoder.decode(value, { stream: true });
        let newline;
        while ((newline = pending.indexOf("\n")) !== -1) {
          this.messages.push(JSON.parse(pending.slice(0, newline)));
          pending = pending.slice(newline + 1);
        }
      }
    } catch {
      // cancelled by closeStdout
    }
  }

  get stderr(): string {
    return this.#stderr;
  }

  async write(data: string | Uint8Array): Promise<void> {
    await this.#writer.write(typeof data === "string" ? new TextEncoder().encode(data) : data);
  }

  /** Sends a request and returns the answer with its id. */
  async request(id: string | number, method: string, params?: unknown): Promise<Message> {
    await this.write(`${JSON.stringify({ jsonrpc: "2.0", id, method, params })}\n`);
    return await this.answer(id);
  }

  async answer(id: unknown, timeoutMs = 15_000): Promise<Message> {
    return await waitFor(() => this.messages.find((message) => message.id === id), {
      timeoutMs,
      what: `the answer to ${JSON.stringify(id)}`,
    });
  }

  async initialize(): Promise<void> {
    const answer = await this.request("init", "initialize", {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "raw", version: "1" },
    });
    assert.ok(answer.result, JSON.stringify(answer));
    await this.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
  }

  /** Stops reading stdout while keeping the pipe open: the client that stopped listening. */
  pauseReading(): void {
    this.#paused ??= new Promise((resolve) => this.#resume = resolve);
  }

  /** Closes the read end of the server's stdout. */
  async closeStdout(): Promise<void> {
    this.#resume?.();
    await this.#stdout.cancel();
    await this.#reading;
  }

  async close(): Promise<void> {
    this.#resume?.();
    await this.#writer.close().catch(() => {});
    const deadline = setTimeout(() => this.child.kill("SIGKILL"), 15_000);
    await this.exited;
    clearTimeout(deadline);
    await this.#stdout.cancel().catch(() => {});
  }
}

async function withRawServer(
  env: Record<string, string>,
  run: (server: RawServer, home: string) => Promise<void>,
): Promise<void> {
  const home = await tempDir();
  const server = new RawServer(home, env);
  try {
    await server.initialize();
    await run(server, home);
  } finally {
    await server.close();
    await cleanup(home);
  }
}

function assertOneSentence(message: string): void {
  assert.doesNotMatch(message, /\n|MCP error|"code":|^\s*[[{]/, `not one sentence: ${message}`);
  assert.ok(message.length < 300, `too long: ${message}`);
}

posixTest("every malformed message is answered, with its id when it has one", async () => {
  await withRawServer({}, async (server) => {
    const cases: [line: string, id: unknown, code: number, message: RegExp][] = [
      ['{"jsonrpc":"2.0","id":1,"method":"tools/list","params":null}', 1, -32602, /"params"/],
      ['{"jsonrpc":"2.0","id":2,"method":"tools/list","params":[1]}', 2, -32602, /"params"/],
      ['{"jsonrpc":"2.0","id":3,"method":"ping","params":"x"}', 3, -32602, /"params"/],
      ['{"jsonrpc":"1.0","id":4,"method":"tools/list"}', 4, -32600, /"jsonrpc" must be "2.0"/],
      ['{"id":"five","method":"tools/list"}', "five", -32600, /"jsonrpc"/],
      ['{"jsonrpc":2,"id":6,"method":"ping"}', 6, -32600, /"jsonrpc"/],
      ['{"jsonrpc":"2.0","id":7,"method":5}', 7, -32600, /"method" must be a string/],
      ['{"jsonrpc":"2.0","id":8,"method":null}', 8, -32600, /"method"/],
      ['{"jsonrpc":"2.0","id":9,"method":"ping","extra":true}', 9, -32600, /"extra"/],
      ['{"jsonrpc":"2.0","id":10,"method":"ping","params":{"_meta":5}}', 10, -32602, /_meta/],
      ['{"jsonrpc":"2.0","id":1.5,"method":"ping"}', 1.5, -32600, /"id"/],
      ['{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', null, -32600, /"id"/],
      ['{"jsonrpc":"2.0","id":null,"method":"ping"}', null, -32600, /"id"/],
      ['{"jsonrpc":"2.0","method":7}', null, -32600, /"method"/],
      ['{"jsonrpc":"2.0","id":11,"result":5}', null, -32600, /result/],
      ['{"jsonrpc":"2.0"}', null, -32600, /no "method"/],
      ["not json", null, -32700, /not valid JSON/],
      ['{"jsonrpc":"2.0","id":12,"method":"ping"', null, -32700, /not valid JSON/],
      ["[]", null, -32600, /Batches/],
      ['[{"jsonrpc":"2.0","id":13,"method":"ping"}]', null, -32600, /Batches/],
      ["42", null, -32600, /JSON object/],
      ["null", null, -32600, /JSON object/],
      ['"ping"', null, -32600, /JSON object/],
    ];
    for (const [line, id, code, message] of cases) {
      const before = server.messages.length;
      await server.write(`${line}\n`);
      // Answers come in order for lines refused by the transport: wait for this one's.
      const answer = await waitFor(() => server.messages[before], { what: `an answer to ${line}` });
      assert.deepEqual(answer.id, id, line);
      assert.equal(answer.error?.code, code, `${line}: ${JSON.stringify(answer)}`);
      assert.match(answer.error!.message, message, line);
      assertOneSentence(answer.error!.message);
    }
    // Bytes that are not UTF-8, and a blank line (ignored), then the server still answers.
    const before = server.messages.length;
    await server.write(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d, 0x0a, 0x0a, 0x0d, 0x0a]));
    const answer = await waitFor(() => server.messages[before], { what: "the non-UTF-8 answer" });
    assert.deepEqual(answer.error?.code, -32700);
    assert.equal(answer.id, null);
    assert.deepEqual((await server.request(99, "ping")).result, {});
    assert.equal(server.messages.length, before + 2, "a blank line got an answer");
  });
});

posixTest("bad params are -32602 in one sentence, unknown resources -32002", async () => {
  await withRawServer({}, async (server) => {
    const cases: [method: string, params: unknown, code: number, message: RegExp][] = [
      ["tasks/get", { taskId: 5 }, -32602, /taskId: expected string, received number/],
      ["tasks/result", { taskId: 5 }, -32602, /taskId/],
      ["tasks/cancel", { taskId: ["x"] }, -32602, /taskId/],
      ["tasks/get", {}, -32602, /taskId/],
      ["tasks/list", { cursor: 5 }, -32602, /cursor/],
      ["tasks/list", { cursor: "zz" }, -32602, /Invalid cursor/],
      ["tasks/get", { taskId: "aaaaaaaaaaaa" }, -32602, /not found/],
      ["tools/call", { name: 5 }, -32602, /name/],
      ["tools/call", { name: "start_task", arguments: null }, -32602, /arguments/],
      ["tools/call", { name: "run_command", arguments: {}, task: { ttl: "x" } }, -32602, /ttl/],
      ["resources/read", { uri: 5 }, -32602, /uri/],
      ["resources/read", {}, -32602, /uri/],
      ["resources/read", { uri: "backburner://tasks/aaaaaaaaaaaa" }, -32002, /aaaaaaaaaaaa/],
      ["resources/read", { uri: "backburner://tasks/aaaaaaaaaaaa/output" }, -32002, /Unknown/],
      ["resources/read", { uri: "backburner://tasks/NOT-AN-ID" }, -32002, /NOT-AN-ID/],
      ["resources/read", { uri: "file:///etc/passwd" }, -32002, /not found/],
      ["resources/read", { uri: "not a url" }, -32002, /not found/],
      ["resources/subscribe", { uri: "backburner://tasks/aaaaaaaaaaaa" }, -32002, /Unknown/],
      ["resources/subscribe", { uri: 5 }, -32602, /uri/],
      ["initialize", {}, -32602, /protocolVersion/],
      ["logging/setLevel", { level: "x" }, -32601, /Method not found/],
    ];
    let id = 100;
    for (const [method, params, code, message] of cases) {
      const answer = await server.request(++id, method, params);
      const what = `${method} ${JSON.stringify(params)}: ${JSON.stringify(answer)}`;
      assert.equal(answer.error?.code, code, what);
      assert.match(answer.error!.message, message, what);
      assertOneSentence(answer.error!.message);
    }
  });
});

posixTest(
  "a message past the cap is refused with an error and the server keeps serving",
  async () => {
    const cap = 1024 * 1024;
    await withRawServer({ BACKBURNER_MAX_MESSAGE_BYTES: String(cap) }, async (server) => {
      const pad = "x".repeat(cap);
      // The id comes first, as clients write it: the refusal names it.
      await server.write(`{"jsonrpc":"2.0","id":"big","method":"ping","params":{"_meta":{"pad":"`);
      for (let i = 0; i < 4; i++) await server.write(pad);
      await server.write(`"}}}\n`);
      const refused = await server.answer("big");
      assert.equal(refused.error?.code, -32600);
      assert.match(refused.error!.message, /longer than 1048576 bytes/);
      assertOneSentence(refused.error!.message);

      // With the id after the long part, it cannot be told cheaply: null. A message that follows
      // in the same write is read as usual.
      const before = server.messages.length;
      await server.write(
        `{"jsonrpc":"2.0","method":"ping","params":{"_meta":{"pad":"${pad}"}},"id":"late"}\n` +
          `{"jsonrpc":"2.0","id":"after","method":"ping"}\n`,
      );
      assert.deepEqual((await server.answer("after")).result, {});
      const unnamed = server.messages.slice(before).find((message) => message.id === null);
      assert.equal(unnamed?.error?.code, -32600);
      assert.equal(server.messages.find((message) => message.id === "late"), undefined);

      // Exactly at the cap is still read.
      const head = `{"jsonrpc":"2.0","id":"fits","method":"ping","params":{"_meta":{"p":"`;
      const body = `${head}${"p".repeat(cap - head.length - 4)}"}}}`;
      assert.equal(new TextEncoder().encode(body).length, cap);
      await server.write(`${body}\n`);
      assert.deepEqual((await server.answer("fits")).result, {});
      assert.match(server.stderr, /longer than 1048576 bytes/);
    });
  },
);

posixTest("a 20 MB message is read and answered", async () => {
  await withRawServer({}, async (server) => {
    const line = new TextEncoder().encode(
      `${
        JSON.stringify({
          jsonrpc: "2.0",
          id: "large",
          method: "ping",
          params: { _meta: { pad: "y".repeat(20_000_000) } },
        })
      }\n`,
    );
    // In pipe-sized writes, as a client's would arrive; the old reader took ~10 s here.
    for (let offset = 0; offset < line.length; offset += 65536) {
      await server.write(line.subarray(offset, offset + 65536));
    }
    assert.deepEqual((await server.answer("large", 60_000)).result, {});
  });
});

/** Starts a task through raw tools/call and returns its id. */
async function startSleep(server: RawServer): Promise<string> {
  const answer = await server.request("start", "tools/call", {
    name: "start_task",
    arguments: { command: "sleep 1000" },
  });
  const result = answer.result as { structuredContent: { task_id: string } };
  const id = result.structuredContent.task_id;
  await waitFor(() => taskPids(id).length > 0, { what: `task ${id} to run` });
  return id;
}

async function statusAfter(home: string, id: string): Promise<Record<string, unknown>> {
  let second: ServerHandle | undefined;
  try {
    second = await startServer(home);
    return await second.call("task_status", { task_id: id });
  } finally {
    await second?.close();
  }
}

posixTest(
  "a client that closes the server's stdout gets its tasks cancelled and a clean exit",
  async () => {
    await withRawServer(
      { BACKBURNER_ON_EXIT: "cancel", BACKBURNER_GRACE_SECONDS: "1" },
      async (server, home) => {
        const id = await startSleep(server);
        await server.closeStdout();
        // The server learns that stdout is gone when it next writes: the answer to this ping.
        await server.write('{"jsonrpc":"2.0","id":"p","method":"ping"}\n');
        const status = await server.exited;
        assert.equal(status.code, 0, server.stderr);
        assert.match(server.stderr, /shutting down \(the client stopped reading: stdout is closed/);
        assert.doesNotMatch(server.stderr, /EPIPE|Uncaught/);
        assert.deepEqual(taskPids(id), []);
        const end = await statusAfter(home, id);
        assert.equal(end.status, "cancelled");
      },
    );
  },
);

posixTest(
  "a client that stops reading but keeps the pipe open is let go once its replies pile up",
  async () => {
    await withRawServer({
      BACKBURNER_ON_EXIT: "cancel",
      BACKBURNER_GRACE_SECONDS: "1",
      BACKBURNER_MAX_MESSAGE_BYTES: String(1024 * 1024),
    }, async (server, home) => {
      const id = await startSleep(server);
      server.pauseReading();
      const pings = '{"jsonrpc":"2.0","id":1,"method":"ping"}\n'.repeat(2000);
      let exited = false;
      void server.exited.then(() => exited = true);
      // 64 KiB fill the pipe, then 1 MiB of answers wait in the server: about 30000 pings.
      for (let sent = 0; !exited && sent < 200_000; sent += 2000) {
        await server.write(pings).catch(() => exited = true);
      }
      await waitFor(() => exited, { what: "the server to let the client go" });
      const status = await server.exited;
      assert.equal(status.code, 0, server.stderr);
      assert.match(server.stderr, /shutting down \(the client stopped reading: \d+ bytes/);
      assert.ok(!isAlive(server.child.pid));
      assert.deepEqual(taskPids(id), []);
      const end = await statusAfter(home, id);
      assert.equal(end.status, "cancelled");
    });
  },
);

Deno.test("lines split the same wherever the chunks break, and a long one is cut out", () => {
  const text = 'one\n\n{"two":2}\r\nthree-is-too-long\nfour\nfive-is-way-too-long-too\nsix\n';
  const expected = [
    "one",
    "",
    '{"two":2}\r',
    "<long:three-is-too-long>",
    "four",
    "<long:five-is-way-too-long-too>",
    "six",
  ];
  const bytes = new TextEncoder().encode(text);
  for (let size = 1; size <= bytes.length; size++) {
    const splitter = new LineSplitter(12);
    const seen: string[] = [];
    for (let offset = 0; offset < bytes.length; offset += size) {
      splitter.push(
        bytes.subarray(offset, offset + size),
        (line) => seen.push(new TextDecoder().decode(line)),
        (head) => seen.push(`<long:${new TextDecoder().decode(head)}>`),
      );
    }
    // A refused line's head is what had arrived when it passed the cap: its first 10 bytes agree.
    assert.deepEqual(
      seen.map((line) => line.replace(/^<long:(.{0,10}).*>$/, "<long:$1>")),
      expected.map((line) => line.replace(/^<long:(.{0,10}).*>$/, "<long:$1>")),
      `chunks of ${size}`,
    );
  }
});

Deno.test("the id of a refused line is read from its start only when it is a request's", () => {
  const cases: [head: string, id: string | number | null][] = [
    ['{"jsonrpc":"2.0","id":"big","method":"ping","params":{"pad":"xxx', "big"],
    ['{"method":"a","params":{"id":3,"s":"}{]["},"id":4,"jsonrpc":"2.0"', 4],
    [' { "id" : -7 , "method" : "x", "params": {', -7],
    ['{"id":"a\\"b","method":"x"', 'a"b'],
    ['{"id":5,"result":{"pad":"xxx', null],
    ['{"params":{"id":1,"method":"x"},"result":1', null],
    ['{"method":"x","params":{"pad":"xxxx', null],
    ['{"id":1e400,"method":"x"', null],
    ['[{"id":1,"method":"x"}', null],
    ['{"id":{"a":1},"method":"x"', null],
  ];
  for (const [head, id] of cases) assert.deepEqual(idFromHead(head), id, head);
});
