/**
 * The 2026-07-28 era and its Tasks extension (io.modelcontextprotocol/tasks) through clients this
 * project did not write: the v2 SDK client (`@modelcontextprotocol/client` 2.4.0) pinned to
 * 2026-07-28, with `@modelcontextprotocol/ext-tasks` 0.2.2 driving the tasks. ext-tasks needs a
 * host-owned raw request path for the extension's wire shapes (its README): rawDispatch sends them
 * on the client's own transport with ids of their own.
 */
// The v2 packages are used by tests alone, pinned inline rather than in deno.json's imports.
// deno-lint-ignore-file no-import-prefix
import assert from "node:assert/strict";
import { Client } from "npm:@modelcontextprotocol/client@2.4.0";
import { StdioClientTransport } from "npm:@modelcontextprotocol/client@2.4.0/stdio";
import {
  createTaskSessionEndpointId,
  createTaskSessionFromClient,
  type CreateTaskSessionFromClientOptions,
  type JsonRpcResponse,
  resultFromTaskOutcome,
  type TaskEnabledSession,
  type TaskOutcome,
} from "npm:@modelcontextprotocol/ext-tasks@0.2.2/client";
import {
  cleanup,
  isAlive,
  MAIN,
  posixTest,
  serverPermissions,
  startServer,
  taskPids,
  tempDir,
  waitFor,
} from "../helpers.ts";

type Json = Record<string, unknown>;

const VERSION = "2026-07-28";
const TASKS = "io.modelcontextprotocol/tasks";
const CLIENT_INFO = { name: "backburner-modern-tests", version: "1.0.0" };

interface WireEntry {
  readonly dir: "out" | "in";
  readonly message: Json;
}

interface Modern {
  readonly client: Client;
  readonly transport: StdioClientTransport;
  readonly pid: number;
  readonly wire: WireEntry[];
  readonly session: TaskEnabledSession;
  /** Sends one request as-is (no envelope added) and returns the JSON-RPC answer. */
  rawRequest(method: string, params: Json): Promise<Json>;
  stderr(): string;
  close(): Promise<void>;
}

/** The envelope every request of the era carries; `tasks` declares the extension. */
function meta(tasks: boolean): Json {
  return {
    "io.modelcontextprotocol/protocolVersion": VERSION,
    "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
    "io.modelcontextprotocol/clientCapabilities": tasks ? { extensions: { [TASKS]: {} } } : {},
  };
}

/** main.ts as a subprocess, a v2 client pinned to 2026-07-28, and an ext-tasks session on it. */
async function connectModern(
  home: string,
  env: Record<string, string> = {},
  options: Pick<CreateTaskSessionFromClientOptions, "onInputRequest"> = {},
): Promise<Modern> {
  const { INIT_CWD: _, ...inherited } = Deno.env.toObject();
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: ["run", ...serverPermissions(home), MAIN],
    env: { ...inherited, BACKBURNER_HOME: home, NO_COLOR: "1", ...env },
    cwd: home,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Uint8Array) => {
    stderr += new TextDecoder().decode(chunk);
  });
  const wire: WireEntry[] = [];
  const pending = new Map<string, (message: Json) => void>();
  const send = transport.send.bind(transport);
  transport.send = (message) => {
    wire.push({ dir: "out", message: structuredClone(message) as Json });
    return send(message);
  };
  // Protocol.connect chains a preset onmessage: this sees every message first.
  transport.onmessage = (message) => {
    const entry = structuredClone(message) as Json;
    wire.push({ dir: "in", message: entry });
    if (typeof entry.id === "string") pending.get(entry.id)?.(entry);
  };
  const client = new Client(CLIENT_INFO, {
    versionNegotiation: { mode: { pin: VERSION } },
  });
  // The raw ids never reach the client's own table; it reports them and goes on.
  client.onerror = () => {};
  await client.connect(transport);
  const pid = transport.pid;
  assert.ok(pid !== null);
  let next = 0;
  const rawRequest = async (method: string, params: Json): Promise<Json> => {
    const id = `raw-${next++}`;
    const answered = new Promise<Json>((resolve) => pending.set(id, resolve));
    await transport.send({ jsonrpc: "2.0", id, method, params });
    const answer = await answered;
    pending.delete(id);
    return answer;
  };
  const session = createTaskSessionFromClient(client, {
    ...options,
    endpointId: await createTaskSessionEndpointId("backburner-modern-tests", { home }),
    rawDispatch: async (request) => {
      const { method, params } = request as { method: string; params: Json };
      const answer = await rawRequest(method, params);
      return ("error" in answer
        ? { kind: "error", error: answer.error }
        : { kind: "result", result: answer.result }) as JsonRpcResponse;
    },
    v2RequestFraming: {
      protocolVersion: VERSION,
      clientInfo: CLIENT_INFO,
      clientCapabilities: {},
    },
  });
  return {
    client,
    transport,
    pid,
    wire,
    session,
    rawRequest,
    stderr: () => stderr,
    async close() {
      await session.close().catch(() => {});
      await client.close().catch(() => {});
      await waitFor(() => !isAlive(pid), { what: `server ${pid} to exit` });
    },
  };
}

function record(value: unknown, what: string): Json {
  assert.ok(
    typeof value === "object" && value !== null && !Array.isArray(value),
    `${what} is not an object: ${JSON.stringify(value)}`,
  );
  return value as Json;
}

function structured(result: unknown): Json {
  return record(record(result, "tool result").structuredContent, "structuredContent");
}

function sent(wire: WireEntry[], method: string): Json[] {
  return wire.filter((e) => e.dir === "out" && e.message.method === method).map((e) => e.message);
}

function answerTo(wire: WireEntry[], id: unknown): Json {
  const entry = wire.find((e) => e.dir === "in" && e.message.id === id && !("method" in e.message));
  assert.ok(entry, `no answer to request ${JSON.stringify(id)}`);
  return entry.message;
}

function completed<T>(outcome: TaskOutcome<T>): T {
  assert.equal(outcome.status, "completed", JSON.stringify(outcome));
  return resultFromTaskOutcome(outcome);
}

function texts(result: Json): string[] {
  return (result.content as { type: string; text: string }[]).map((c) => c.text);
}

/** tasks/get, raw, until the task is no longer working. */
async function ended(modern: Modern, taskId: string, timeoutMs = 20_000): Promise<Json> {
  return await waitFor(async () => {
    const answer = await modern.rawRequest("tasks/get", { taskId, _meta: meta(true) });
    const result = record(answer.result, `tasks/get ${JSON.stringify(answer)}`);
    return result.status === "working" ? null : result;
  }, { timeoutMs, what: `task ${taskId} to end` });
}

async function withModern(
  env: Record<string, string>,
  body: (modern: Modern, home: string) => Promise<void>,
): Promise<void> {
  const home = await tempDir();
  const modern = await connectModern(home, env);
  try {
    await body(modern, home);
  } catch (error) {
    console.error(modern.stderr());
    throw error;
  } finally {
    await modern.close();
    await cleanup(home);
  }
}

posixTest(
  "2026-07-28: server/discover offers the era and the tasks extension; the tools answer plainly without it",
  () =>
    withModern({}, async (modern) => {
      const { client, wire } = modern;
      assert.equal(client.getProtocolEra(), "modern");
      assert.equal(client.getNegotiatedProtocolVersion(), VERSION);
      // The pin probed server/discover beforehand; the session's requests carry the envelope.
      assert.equal(sent(wire, "initialize").length, 0);
      const discovered = record(
        (await modern.rawRequest("server/discover", { _meta: meta(false) })).result,
        "discover",
      );
      assert.equal(discovered.resultType, "complete");
      assert.deepEqual(discovered.supportedVersions, [VERSION]);
      assert.deepEqual(discovered.capabilities, { tools: {}, extensions: { [TASKS]: {} } });
      assert.equal(discovered.cacheScope, "public");
      assert.equal(typeof discovered.ttlMs, "number");
      assert.deepEqual(record(discovered._meta, "_meta")["io.modelcontextprotocol/serverInfo"], {
        name: "backburner",
        version: JSON.parse(Deno.readTextFileSync(new URL("../../deno.json", import.meta.url)))
          .version,
      });
      assert.equal(record(discovered.capabilities, "capabilities").tasks, undefined);

      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name).sort(), [
        "cancel_task",
        "list_tasks",
        "restart_task",
        "run_command",
        "send_input",
        "start_task",
        "task_result",
        "task_status",
        "wait_for_task",
      ]);
      const runCommand = tools.find((t) => t.name === "run_command");
      assert.ok(runCommand?.outputSchema, "run_command declares its outputSchema");
      assert.equal((runCommand as Json).execution, undefined, "no taskSupport in this era");

      // No extension declared: run_command runs to its end and answers the result.
      const plain = await client.callTool({
        name: "run_command",
        arguments: { command: "sleep 0.3; echo plain" },
      });
      assert.notEqual(plain.isError, true);
      assert.equal(structured(plain).output, "plain\n");
      // start_task stays a plain tool, extension or not.
      const started = await modern.rawRequest("tools/call", {
        name: "start_task",
        arguments: { command: "echo started" },
        _meta: meta(true),
      });
      const startedResult = record(started.result, "start_task result");
      assert.equal(startedResult.resultType, "complete");
      assert.equal(structured(startedResult).status, "working");
      // A bad argument is one sentence, as a tool error: the same sentence as in 2025-11-25.
      const bad = await modern.rawRequest("tools/call", {
        name: "run_command",
        arguments: {},
        _meta: meta(false),
      });
      const badResult = record(bad.result, "bad call");
      assert.equal(badResult.isError, true);
      assert.match(texts(badResult)[0], /^run_command needs command: pass /);
      assert.doesNotMatch(texts(badResult)[0], /\n|Invalid arguments|Input validation error/);
    }),
);

posixTest(
  "2026-07-28 tasks: an opted-in run_command is a task; tasks/get polls it and returns the result inline; a failed command completes with isError",
  () =>
    withModern({}, async (modern) => {
      const { session, wire } = modern;
      const execution = await session.callTool(
        "run_command",
        { command: "sleep 0.8; echo via a task" },
        { task: { preference: "require" } },
      );
      assert.ok(execution.kind === "task", `not a task: ${execution.kind}`);
      const id = execution.handle.taskId;
      const seen: string[] = [];
      const { outcome } = await execution.settle({
        onEvent: (event) => {
          seen.push(event.type === "task" ? event.task.status : `outcome:${event.outcome.status}`);
        },
      });
      assert.equal(seen.at(-1), "outcome:completed");
      const content = structured(completed(outcome));
      assert.equal(content.task_id, id);
      assert.equal(content.status, "completed");
      assert.equal(content.output, "via a task\n");

      // On the wire: a flat task result, then tasks/get with the result inline.
      const call = sent(wire, "tools/call").find((m) =>
        record(m.params, "params").name === "run_command"
      );
      assert.ok(call);
      const callMeta = record(record(call.params, "params")._meta, "_meta");
      assert.deepEqual(
        record(callMeta["io.modelcontextprotocol/clientCapabilities"], "caps").extensions,
        { [TASKS]: {} },
      );
      const created = record(answerTo(wire, call.id).result, "task result");
      assert.equal(created.resultType, "task");
      assert.equal(created.taskId, id);
      assert.equal(created.status, "working");
      assert.equal(created.pollIntervalMs, 500);
      assert.equal(typeof created.ttlMs, "number");
      assert.equal(typeof created.createdAt, "string");
      const gets = sent(wire, "tasks/get").filter((m) => record(m.params, "p").taskId === id);
      assert.ok(gets.length >= 1, "ext-tasks polled with tasks/get");
      const last = record(answerTo(wire, gets.at(-1)!.id).result, "tasks/get");
      assert.equal(last.resultType, "complete");
      assert.equal(last.status, "completed");
      assert.equal(structured(last.result).output, "via a task\n");
      assert.equal(sent(wire, "tasks/result").length, 0);

      // A command that fails is a tool result with isError: the task ends completed.
      const failing = await session.callTool(
        "run_command",
        { command: "echo bad; exit 3" },
        { task: { preference: "require" } },
      );
      assert.ok(failing.kind === "task");
      const failed = completed((await failing.settle()).outcome) as Json;
      assert.equal(failed.isError, true);
      assert.equal(texts(failed)[0], "failed: The command failed with exit code 3");
      assert.equal(structured(failed).exit_code, 3);
      assert.equal(structured(failed).output, "bad\n");

      // One that runs past its timeout: completed, isError, and the text says so.
      const late = await session.callTool(
        "run_command",
        { command: "sleep 600", timeout_seconds: 0.5 },
        { task: { preference: "require" } },
      );
      assert.ok(late.kind === "task");
      const timedOut = completed((await late.settle()).outcome) as Json;
      assert.equal(timedOut.isError, true);
      assert.match(texts(timedOut)[0], /^timed_out: /);
      assert.equal(structured(timedOut).status, "timed_out");

      // tasks/update is acknowledged.
      const update = await modern.rawRequest("tasks/update", {
        taskId: id,
        inputResponses: {},
        _meta: meta(true),
      });
      assert.deepEqual(update.result, { resultType: "complete" });
    }),
);

posixTest(
  "2026-07-28 tasks: tasks/cancel stops the whole tree; a second cancel is acknowledged",
  () =>
    withModern({ BACKBURNER_GRACE_SECONDS: "1" }, async (modern) => {
      const execution = await modern.session.callTool(
        "run_command",
        { command: "sleep 600 & sleep 600" },
        { task: { preference: "require" } },
      );
      assert.ok(execution.kind === "task");
      const id = execution.handle.taskId;
      const settling = execution.settle();
      await waitFor(() => taskPids(id).length >= 2, { what: `task ${id} to start` });
      await execution.cancel();
      const { outcome } = await settling;
      assert.equal(outcome.status, "cancelled");
      assert.deepEqual(taskPids(id), []);
      const cancel = sent(modern.wire, "tasks/cancel").find((m) =>
        record(m.params, "p").taskId === id
      );
      assert.ok(cancel, "ext-tasks sent tasks/cancel");
      assert.deepEqual(answerTo(modern.wire, cancel.id).result, { resultType: "complete" });
      const again = await modern.rawRequest("tasks/cancel", { taskId: id, _meta: meta(true) });
      assert.deepEqual(again.result, { resultType: "complete" });
      const view = await ended(modern, id);
      assert.equal(view.status, "cancelled");
      assert.equal(view.result, undefined);
    }),
);

posixTest(
  "2026-07-28 errors: -32602 unknown task or missing envelope, -32021 without the extension, -32601 tasks/result and tasks/list, -32022 another version",
  () =>
    withModern({}, async (modern) => {
      const error = async (method: string, params: Json) => {
        const answer = await modern.rawRequest(method, params);
        return record(answer.error, `error of ${method}: ${JSON.stringify(answer)}`);
      };
      const unknown = await error("tasks/get", { taskId: "zzzzzzzzzzzz", _meta: meta(true) });
      assert.equal(unknown.code, -32602);
      assert.match(String(unknown.message), /^Unknown task "zzzzzzzzzzzz": /);
      assert.equal(
        (await error("tasks/cancel", { taskId: "nope", _meta: meta(true) })).code,
        -32602,
      );
      assert.equal(
        (await error("tasks/update", { taskId: "nope", _meta: meta(true) })).code,
        -32602,
      );

      for (const method of ["tasks/get", "tasks/update", "tasks/cancel"]) {
        const missing = await error(method, { taskId: "zzzzzzzzzzzz", _meta: meta(false) });
        assert.equal(missing.code, -32021, method);
        assert.deepEqual(missing.data, { requiredCapabilities: { extensions: { [TASKS]: {} } } });
      }
      for (const method of ["tasks/result", "tasks/list"]) {
        const gone = await error(method, { taskId: "x", _meta: meta(true) });
        assert.equal(gone.code, -32601);
        assert.match(String(gone.message), /call tasks\/get with the taskId/);
      }
      const bare = await error("tools/list", {});
      assert.equal(bare.code, -32602);
      const other = await error("tools/list", {
        _meta: { ...meta(false), "io.modelcontextprotocol/protocolVersion": "2099-01-01" },
      });
      assert.equal(other.code, -32022);
      assert.deepEqual(other.data, { supported: [VERSION], requested: "2099-01-01" });
      const noCapabilities = await error("tools/list", {
        _meta: { "io.modelcontextprotocol/protocolVersion": VERSION },
      });
      assert.equal(noCapabilities.code, -32602);
    }),
);

posixTest(
  "2026-07-28 tasks survive a kill -9 of the server: the next server answers tasks/get, interrupted is failed",
  async () => {
    const home = await tempDir();
    let first: Modern | undefined;
    let second: Modern | undefined;
    try {
      first = await connectModern(home);
      const start = async (command: string) => {
        const execution = await first!.session.callTool("run_command", { command }, {
          task: { preference: "require" },
        });
        assert.ok(execution.kind === "task");
        await execution.detach();
        return execution.handle.taskId;
      };
      const surviving = await start("sleep 1; echo survived");
      const vanishing = await start("sleep 600");
      await waitFor(() => taskPids(String(vanishing)).length > 0, { what: "the task to start" });
      Deno.kill(first.pid, "SIGKILL");
      await waitFor(() => !isAlive(first!.pid), { what: "the server to die" });
      await first.client.close().catch(() => {});
      // Kill the task's whole tree from outside, again while a child forked meanwhile shows up.
      await waitFor(() => {
        for (const pid of taskPids(String(vanishing))) Deno.kill(pid, "SIGKILL");
        return taskPids(String(vanishing)).length === 0;
      }, { what: "the task's processes to die" });

      second = await connectModern(home);
      const survived = await ended(second, String(surviving));
      assert.equal(survived.status, "completed");
      assert.equal(structured(survived.result).output, "survived\n");
      // ext-tasks reads the same task through a controller of the new session.
      const collected = await second.session.task(surviving).result();
      assert.equal(structured(completed(collected)).output, "survived\n");

      const interrupted = await ended(second, String(vanishing));
      assert.equal(interrupted.status, "failed");
      assert.equal(interrupted.result, undefined);
      assert.equal(record(interrupted.error, "error").code, -32603);
      assert.match(String(record(interrupted.error, "error").message), /^interrupted: /);
    } finally {
      await second?.close();
      await cleanup(home);
    }
  },
);

posixTest(
  "both eras on one state directory: a legacy and a modern server see the same tasks",
  async () => {
    const home = await tempDir();
    const legacy = await startServer(home);
    let modern: Modern | undefined;
    try {
      modern = await connectModern(home);
      // Started by the legacy era's start_task, read by the modern era's tasks/get.
      const fromLegacy = await legacy.call("start_task", { command: "echo from legacy" });
      const legacyView = await ended(modern, String(fromLegacy.task_id));
      assert.equal(legacyView.status, "completed");
      assert.equal(structured(legacyView.result).output, "from legacy\n");

      // Started as a modern task, read by the legacy era's tool and its 2025-11-25 tasks/get.
      const execution = await modern.session.callTool("run_command", {
        command: "echo from modern",
      }, { task: { preference: "require" } });
      assert.ok(execution.kind === "task");
      const id = execution.handle.taskId;
      await execution.settle();
      const status = await waitFor(async () => {
        const view = await legacy.call("task_status", { task_id: id });
        return view.status === "working" ? null : view;
      });
      assert.equal(status.status, "completed");
      const task = await legacy.client.experimental.tasks.getTask(id);
      assert.equal(task.status, "completed");
    } finally {
      await modern?.close();
      await legacy.close();
      await cleanup(home);
    }
  },
);

posixTest(
  "2026-07-28: a plain run_command whose request the client cancels cancels its task",
  () =>
    withModern({ BACKBURNER_GRACE_SECONDS: "1" }, async (modern) => {
      const call = modern.rawRequest("tools/call", {
        name: "run_command",
        arguments: { command: "sleep 600" },
        _meta: meta(false),
      });
      const callId = await waitFor(() => {
        const out = sent(modern.wire, "tools/call").at(-1);
        return out?.id;
      }, { what: "the call to go out" });
      const list = async () =>
        structured(
          record(
            (await modern.rawRequest("tools/call", {
              name: "list_tasks",
              arguments: {},
              _meta: meta(false),
            })).result,
            "list_tasks",
          ),
        ).tasks as Json[];
      const [task] = await waitFor(async () => {
        const tasks = await list();
        return tasks.length > 0 && taskPids(String(tasks[0].task_id)).length > 0 ? tasks : null;
      }, { what: "the task to start" });
      await modern.transport.send({
        jsonrpc: "2.0",
        method: "notifications/cancelled",
        params: { requestId: callId, reason: "the user stopped it" },
      });
      const answer = record((await call).result, "run_command result");
      assert.equal(answer.isError, true);
      assert.equal(structured(answer).status, "cancelled");
      assert.deepEqual(taskPids(String(task.task_id)), []);
    }),
);

posixTest(
  "2026-07-28: tasks/get shows a queued task as working, with a statusMessage saying why it waits",
  () =>
    withModern({ BACKBURNER_QUEUES: "default=1" }, async (modern) => {
      const start = async (command: string) => {
        const answer = await modern.rawRequest("tools/call", {
          name: "start_task",
          arguments: { command },
          _meta: meta(false),
        });
        return structured(answer.result);
      };
      const blocker = await start("sleep 600");
      const queued = await start("echo later");
      assert.equal(queued.status, "queued");
      const answer = await modern.rawRequest("tasks/get", {
        taskId: queued.task_id,
        _meta: meta(true),
      });
      const got = record(answer.result, "tasks/get");
      assert.equal(got.status, "working");
      assert.equal(
        got.statusMessage,
        'queued: waits for a slot in queue "default"; position 1 in line',
      );
      await modern.rawRequest("tasks/cancel", { taskId: blocker.task_id, _meta: meta(true) });
      const done = await ended(modern, String(queued.task_id));
      assert.equal(done.status, "completed");
    }),
);

posixTest(
  "2026-07-28 tasks: an interactive run_command is input_required at its prompt, and tasks/update's answers take it to completed",
  async () => {
    const home = await tempDir();
    const asked: Json[] = [];
    const answers = ["Ann", "y"];
    const modern = await connectModern(home, {}, {
      onInputRequest: (request, context) => {
        asked.push({ ...request, inputId: context.inputId, delivery: context.delivery });
        return Promise.resolve({
          action: "accept",
          content: { answer: answers.shift()! },
        }) as never;
      },
    });
    try {
      const execution = await modern.session.callTool(
        "run_command",
        {
          command: [
            "printf 'Enter your name: '",
            "read -r name",
            "printf 'Proceed? [y/N] '",
            "read -r answer",
            'echo "name=$name answer=$answer"',
          ].join("; "),
          interactive: true,
        },
        { task: { preference: "require" } },
      );
      assert.ok(execution.kind === "task");
      const seen: string[] = [];
      const { outcome } = await execution.settle({
        onEvent: (event) => {
          if (event.type === "task") seen.push(event.task.status);
        },
      });
      const result = completed(outcome) as Json;
      assert.equal(
        structured(result).output,
        "Enter your name: Proceed? [y/N] name=Ann answer=y\n",
      );
      assert.ok(seen.includes("input_required"), `statuses seen: ${seen}`);

      // Each prompt was one elicitation quoting it, under a key of its own, answered by tasks/update.
      assert.equal(asked.length, 2, JSON.stringify(asked));
      const [first, second] = asked.map((a) => record(a.params, "params"));
      assert.equal(first.message, "The task asks: Enter your name:");
      assert.equal(second.message, "The task asks: Proceed? [y/N]");
      assert.equal(asked[0].delivery, "task-update");
      assert.notEqual(asked[0].inputId, asked[1].inputId);
      const updates = sent(modern.wire, "tasks/update");
      assert.equal(updates.length, 2);
      const update = record(updates[0].params, "params");
      assert.deepEqual(update.inputResponses, {
        [String(asked[0].inputId)]: { action: "accept", content: { answer: "Ann" } },
      });
      // The get that asked shows input_required with the request; after the answer, working again.
      const gets = sent(modern.wire, "tasks/get").map((m) =>
        record(answerTo(modern.wire, m.id).result, "get")
      );
      const asking = gets.find((g) => g.status === "input_required")!;
      assert.match(
        String(asking.statusMessage),
        /^Waiting for input at the prompt "Enter your name:"/,
      );
      assert.deepEqual(Object.keys(record(asking.inputRequests, "inputRequests")), [
        asked[0].inputId,
      ]);

      // An answer to a prompt no longer pending is acknowledged and writes nothing.
      const stale = await modern.rawRequest("tasks/update", {
        taskId: String(structured(result).task_id),
        inputResponses: {
          [String(asked[0].inputId)]: { action: "accept", content: { answer: "x" } },
        },
        _meta: meta(true),
      });
      assert.deepEqual(stale.result, { resultType: "complete" });
    } catch (error) {
      console.error(modern.stderr());
      throw error;
    } finally {
      await modern.close();
      await cleanup(home);
    }
  },
);

posixTest(
  "2026-07-28 tasks: the same answer sent twice at once by tasks/update is written once",
  () =>
    withModern({}, async (modern) => {
      const call = async (name: string, args: Json) =>
        structured(
          (await modern.rawRequest("tools/call", { name, arguments: args, _meta: meta(false) }))
            .result,
        );
      const started = await call("start_task", {
        command: `printf 'Proceed? [y/N] '; read -r a; echo "a=$a"; read -r b; echo "b=$b"`,
        interactive: true,
      });
      const taskId = String(started.task_id);
      const asking = await waitFor(async () => {
        const got = record(
          (await modern.rawRequest("tasks/get", { taskId, _meta: meta(true) })).result,
          "tasks/get",
        );
        return got.status === "input_required" ? got : null;
      }, { what: "the prompt" });
      const [key] = Object.keys(record(asking.inputRequests, "inputRequests"));
      const update = () =>
        modern.rawRequest("tasks/update", {
          taskId,
          inputResponses: { [key]: { action: "accept", content: { answer: "y" } } },
          _meta: meta(true),
        });
      const acks = await Promise.all([update(), update()]);
      for (const ack of acks) assert.deepEqual(ack.result, { resultType: "complete" });
      await waitFor(async () =>
        /a=y\n$/.test(String((await call("task_result", { task_id: taskId })).output))
      );
      const after = record(
        (await modern.rawRequest("tasks/get", { taskId, _meta: meta(true) })).result,
        "tasks/get",
      );
      assert.equal(after.status, "working");
      await call("send_input", { task_id: taskId, close: true });
      const done = await ended(modern, taskId);
      assert.equal(done.status, "completed");
      assert.equal(structured(done.result).output, "Proceed? [y/N] a=y\nb=\n");
    }),
);
