/**
 * The v2 TypeScript SDK client (`@modelcontextprotocol/client` 2.4.0) and its tasks companion
 * (`@modelcontextprotocol/ext-tasks` 0.2.2) against a real backburner subprocess over stdio.
 *
 * What works, and is tested here:
 * - The v2 client's default connect (versionNegotiation mode "legacy") sends `initialize` with
 *   2025-11-25, which our v1-SDK server accepts; tools/list and a plain tools/call of run_command
 *   return the command's structuredContent.
 * - ext-tasks picks its "v1" generation (the 2025-11-25 tasks) from our `tasks` capability on a
 *   legacy-era connection, and drives the whole flow: a task-augmented tools/call
 *   (`params.task`), tasks/get (and notifications/tasks/status), tasks/result, tasks/list and
 *   tasks/cancel.
 * - versionNegotiation "auto" probes `server/discover` on a throwaway sibling process, which
 *   answers, and takes 2026-07-28 (the modern era and its Tasks extension: modern_test.ts).
 * - One stream serves the era its client opens with (src/mcp/eras.ts): after `server/discover`,
 *   an `initialize` (a client falling back) moves the connection to 2025-11-25, where a tools/call
 *   framed the way ext-tasks frames a v2 one (the tasks extension in
 *   `_meta["io.modelcontextprotocol/clientCapabilities"]`, no `params.task`) is an ordinary call:
 *   it blocks until the command ends and returns a plain CallToolResult, never a task.
 *
 * What to know:
 * - One ext-tasks choice, not a server limit: in its v1 driver a task that ends "failed" (our
 *   mapping of a non-zero exit, the tool result being isError) settles as a TaskFailedError
 *   carrying the statusMessage, without calling tasks/result; the result (exit code, output) is
 *   still there for a direct tasks/result request, which the tests make.
 */
// The v2 packages are used by this test alone, pinned inline rather than in deno.json's imports.
// deno-lint-ignore-file no-import-prefix
import assert from "node:assert/strict";
import { Client } from "npm:@modelcontextprotocol/client@2.4.0";
import { StdioClientTransport } from "npm:@modelcontextprotocol/client@2.4.0/stdio";
import {
  createTaskSessionEndpointId,
  createTaskSessionFromClient,
  resultFromTaskOutcome,
  TaskFailedError,
  type TaskOutcome,
} from "npm:@modelcontextprotocol/ext-tasks@0.2.2/client";
import { CallToolResultV1Schema } from "npm:@modelcontextprotocol/ext-tasks@0.2.2/core/v1";
import {
  isCreateTaskResultV2,
  withTaskCapabilityV2,
} from "npm:@modelcontextprotocol/ext-tasks@0.2.2/core/v2";
import {
  cleanup,
  isAlive,
  MAIN,
  posixTest,
  serverPermissions,
  taskPids,
  tempDir,
  waitFor,
} from "../helpers.ts";

type Json = Record<string, unknown>;

/** One JSON-RPC message as it crossed the pipe, in either direction. */
interface WireEntry {
  readonly dir: "out" | "in";
  readonly message: Json;
}

/** A v2 stdio transport to main.ts (as startServer spawns it), recording the wire. */
function v2Transport(
  home: string,
  env: Record<string, string> = {},
): { transport: StdioClientTransport; wire: WireEntry[]; stderr: () => string } {
  // `deno task test` sets INIT_CWD, which the server would take as the default cwd of tasks.
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
  // Tapped on the instance, not by subclassing: "auto" negotiation only probes on a disposable
  // sibling for the SDK's own class. Protocol.connect chains a preset onmessage.
  const send = transport.send.bind(transport);
  transport.send = (message) => {
    wire.push({ dir: "out", message: structuredClone(message) as Json });
    return send(message);
  };
  transport.onmessage = (message) => {
    wire.push({ dir: "in", message: structuredClone(message) as Json });
  };
  return { transport, wire, stderr: () => stderr };
}

/** Live server processes (main.ts, not task processes) started with this state directory. */
function serverPids(home: string): number[] {
  const pids: number[] = [];
  // Only Linux shows another process's command line and environment as files; elsewhere this
  // check of stray servers is left to the Linux runs.
  if (Deno.build.os !== "linux") return pids;
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid) || pid === Deno.pid || !isAlive(pid)) continue;
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
      const environ = Deno.readTextFileSync(`/proc/${pid}/environ`).split("\0");
      if (cmdline.includes(MAIN) && environ.includes(`BACKBURNER_HOME=${home}`)) pids.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Closes the client (which ends the transport's child) and waits for the server to exit. */
async function closeClient(client: Client, pid: number | null): Promise<void> {
  await client.close();
  if (pid !== null) await waitFor(() => !isAlive(pid), { what: `server ${pid} to exit` });
}

function record(value: unknown, what: string): Json {
  assert.ok(
    typeof value === "object" && value !== null && !Array.isArray(value),
    `${what} is not an object: ${JSON.stringify(value)}`,
  );
  return value as Json;
}

/** The structuredContent of a tool result, as an object. */
function structured(result: unknown): Json {
  return record(record(result, "tool result").structuredContent, "structuredContent");
}

function requests(wire: WireEntry[], method: string): Json[] {
  return wire.filter((e) => e.dir === "out" && e.message.method === method).map((e) => e.message);
}

/** The response that answered the request with this id. */
function responseTo(wire: WireEntry[], id: unknown): Json {
  const entry = wire.find((e) => e.dir === "in" && e.message.id === id && !("method" in e.message));
  assert.ok(entry, `no response to request ${JSON.stringify(id)}`);
  return entry.message;
}

function completedResult<T>(outcome: TaskOutcome<T>): T {
  assert.equal(outcome.status, "completed", JSON.stringify(outcome));
  return resultFromTaskOutcome(outcome);
}

posixTest(
  "v2 client: initialize negotiates 2025-11-25, tools/list, plain run_command returns its result",
  async () => {
    const home = await tempDir();
    const { transport, wire, stderr } = v2Transport(home);
    const client = new Client({ name: "backburner-v2-tests", version: "1.0.0" });
    try {
      await client.connect(transport);
      // The default negotiation mode is "legacy": a 2025 initialize, no server/discover probe.
      assert.equal(wire[0].message.method, "initialize");
      assert.equal(record(wire[0].message.params, "params").protocolVersion, "2025-11-25");
      assert.equal(requests(wire, "server/discover").length, 0);
      assert.equal(client.getNegotiatedProtocolVersion(), "2025-11-25");
      assert.equal(client.getProtocolEra(), "legacy");
      assert.equal(client.getServerVersion()?.name, "backburner");
      assert.deepEqual(client.getServerCapabilities()?.tasks, {
        list: {},
        cancel: {},
        requests: { tools: { call: {} } },
      });

      const { tools } = await client.listTools();
      const runCommand = tools.find((t) => t.name === "run_command");
      assert.ok(runCommand, `run_command missing from ${tools.map((t) => t.name)}`);
      assert.equal(runCommand.execution?.taskSupport, "optional");
      assert.ok(runCommand.outputSchema, "run_command declares an outputSchema");
      assert.ok(tools.some((t) => t.name === "start_task"));

      // A plain call (no `task` param): it waits for the command and validates against the
      // outputSchema the client cached from tools/list.
      const ok = await client.callTool({
        name: "run_command",
        arguments: { command: "printf 'a\\nb\\n'" },
      });
      assert.notEqual(ok.isError, true);
      const content = structured(ok);
      assert.equal(content.status, "completed");
      assert.equal(content.exit_code, 0);
      assert.equal(content.output, "a\nb\n");
      assert.equal(typeof content.task_id, "string");
      const call = requests(wire, "tools/call")[0];
      assert.equal(record(call.params, "params").task, undefined);

      const failing = await client.callTool({
        name: "run_command",
        arguments: { command: "echo nope >&2; exit 9" },
      });
      assert.equal(failing.isError, true);
      assert.equal(structured(failing).exit_code, 9);
      assert.equal(structured(failing).output, "nope\n");
    } catch (error) {
      console.error(stderr());
      throw error;
    } finally {
      await closeClient(client, transport.pid);
      await cleanup(home);
    }
  },
);

posixTest(
  "ext-tasks over the v2 client drives the 2025-11-25 tasks flow: task-augmented call, tasks/get, tasks/result, tasks/list",
  async () => {
    const home = await tempDir();
    const { transport, wire, stderr } = v2Transport(home);
    const client = new Client({ name: "backburner-v2-tests", version: "1.0.0" });
    try {
      await client.connect(transport);
      const session = createTaskSessionFromClient(client, {
        endpointId: await createTaskSessionEndpointId("backburner-tests", { home }),
      });
      try {
        assert.deepEqual(session.capabilities, {
          inventory: "server-list",
          execution: true,
          cancellation: true,
          inputResponses: false,
          requestedRetention: true,
        });

        const execution = await session.callTool(
          "run_command",
          { command: "sleep 0.6; echo via a task" },
          { task: { preference: "require", retentionMs: 60_000 } },
        );
        assert.equal(execution.kind, "task");
        assert.ok(execution.kind === "task");
        const id = execution.handle.taskId;
        const seen: string[] = [];
        const { outcome } = await execution.settle({
          onEvent: (event) => {
            seen.push(
              event.type === "task" ? event.task.status : `outcome:${event.outcome.status}`,
            );
          },
        });
        assert.equal(seen[0], "working");
        assert.equal(seen.at(-1), "outcome:completed");
        const content = structured(completedResult(outcome));
        assert.equal(content.task_id, id);
        assert.equal(content.status, "completed");
        assert.equal(content.exit_code, 0);
        assert.equal(content.output, "via a task\n");
        assert.equal(outcome.task?.status, "completed");
        assert.equal(outcome.task?.ttl, 60_000);
        assert.equal(outcome.task?.pollInterval, 500);

        // On the wire: the 2025-11-25 shapes, answered by our server.
        const call = requests(wire, "tools/call").find((m) =>
          record(m.params, "params").name === "run_command"
        );
        assert.ok(call);
        assert.deepEqual(record(call.params, "params").task, { ttl: 60_000 });
        const created = record(responseTo(wire, call.id).result, "CreateTaskResult");
        assert.equal(record(created.task, "task").taskId, id);
        assert.equal(record(created.task, "task").status, "working");
        assert.ok(requests(wire, "tasks/get").some((m) => record(m.params, "p").taskId === id));
        const resultRequest = requests(wire, "tasks/result").find((m) =>
          record(m.params, "p").taskId === id
        );
        assert.ok(resultRequest, "ext-tasks fetched the result with tasks/result");
        assert.deepEqual(
          record(responseTo(wire, resultRequest.id).result, "result")._meta,
          { "io.modelcontextprotocol/related-task": { taskId: id } },
        );

        // tasks/get through a detached controller, and tasks/list.
        const snapshot = await session.task(id).snapshot();
        assert.equal(snapshot.status, "completed");
        assert.equal(snapshot.statusMessage, "The command exited with code 0");
        const page = await session.listTasks();
        assert.equal(page.tasks[0].taskId, id);

        // A failing command: ext-tasks settles a "failed" v1 task as TaskFailedError (it does not
        // call tasks/result); the result itself is still served by tasks/result.
        const failing = await session.callTool(
          "run_command",
          { command: "echo bad; exit 3" },
          { task: { preference: "require" } },
        );
        assert.ok(failing.kind === "task");
        const failed = (await failing.settle()).outcome;
        assert.equal(failed.status, "failed");
        assert.ok(failed.status === "failed" && failed.error instanceof TaskFailedError);
        assert.match(failed.error.message, /^failed: The command failed with exit code 3$/);
        const fetched = await client.request(
          { method: "tasks/result", params: { taskId: failing.handle.taskId } },
          CallToolResultV1Schema,
        );
        assert.equal(fetched.isError, true);
        assert.equal(structured(fetched).exit_code, 3);
        assert.equal(structured(fetched).output, "bad\n");

        // A detached execution's result is collected later through a controller.
        const later = await session.callTool(
          "run_command",
          { command: "echo later" },
          { task: { preference: "require" } },
        );
        assert.ok(later.kind === "task");
        await later.detach();
        const collected = await session.task(later.handle.taskId).result();
        assert.equal(structured(completedResult(collected)).output, "later\n");
      } finally {
        await session.close();
      }
    } catch (error) {
      console.error(stderr());
      throw error;
    } finally {
      await closeClient(client, transport.pid);
      await cleanup(home);
    }
  },
);

posixTest("ext-tasks cancels a running task with tasks/cancel: the whole tree stops", async () => {
  const home = await tempDir();
  const { transport, wire, stderr } = v2Transport(home, { BACKBURNER_GRACE_SECONDS: "1" });
  const client = new Client({ name: "backburner-v2-tests", version: "1.0.0" });
  try {
    await client.connect(transport);
    const session = createTaskSessionFromClient(client, {
      endpointId: await createTaskSessionEndpointId("backburner-tests", { home }),
    });
    try {
      const execution = await session.callTool(
        "run_command",
        { command: "sleep 600 & sleep 600" },
        { task: { preference: "prefer" } },
      );
      assert.ok(execution.kind === "task");
      const id = execution.handle.taskId;
      const settling = execution.settle();
      await waitFor(() => taskPids(id).length >= 2, { what: `task ${id} to start` });
      await execution.cancel();
      const { outcome, lastTask } = await settling;
      assert.equal(outcome.status, "cancelled");
      assert.equal(lastTask?.status, "cancelled");
      assert.deepEqual(taskPids(id), []);
      const cancel = requests(wire, "tasks/cancel").find((m) =>
        record(m.params, "p").taskId === id
      );
      assert.ok(cancel);
      assert.equal(record(responseTo(wire, cancel.id).result, "Task").status, "cancelled");
      const snapshot = await session.task(id).snapshot();
      assert.equal(snapshot.status, "cancelled");
    } finally {
      await session.close();
    }
  } catch (error) {
    console.error(stderr());
    throw error;
  } finally {
    await closeClient(client, transport.pid);
    await cleanup(home);
  }
});

posixTest(
  "one stream, two eras: server/discover answers, a later initialize moves to 2025-11-25, a v2-framed call then gets no task; auto picks 2026-07-28",
  async () => {
    const home = await tempDir();
    const raw = v2Transport(home);
    let auto: { client: Client; transport: StdioClientTransport } | undefined;
    try {
      // The raw exchange, message by message, as ext-tasks/the v2 client would frame it.
      const meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": { name: "backburner-v2-tests", version: "1.0.0" },
        "io.modelcontextprotocol/clientCapabilities": {},
      };
      await raw.transport.start();
      const exchange = async (id: string, method: string, params: Json) => {
        await raw.transport.send({ jsonrpc: "2.0", id, method, params });
        return await waitFor(
          () => raw.wire.find((e) => e.dir === "in" && e.message.id === id)?.message,
          { what: `the answer to ${method}` },
        );
      };
      const discover = await exchange("discover", "server/discover", { _meta: meta });
      assert.deepEqual(record(discover.result, "DiscoverResult").supportedVersions, ["2026-07-28"]);
      // A client that falls back (after an error it does not understand) sends initialize next.

      const init = await exchange("init", "initialize", {
        protocolVersion: "2026-07-28",
        capabilities: {},
        clientInfo: { name: "backburner-v2-tests", version: "1.0.0" },
      });
      const initResult = record(init.result, "InitializeResult");
      assert.equal(initResult.protocolVersion, "2025-11-25");
      const capabilities = record(initResult.capabilities, "capabilities");
      assert.equal(capabilities.extensions, undefined);
      assert.ok(capabilities.tasks, "the 2025-11-25 tasks capability instead");
      await raw.transport.send({ jsonrpc: "2.0", method: "notifications/initialized" });

      // A tools/call opted into the tasks extension the way ext-tasks' v2 generation does it.
      const framed = withTaskCapabilityV2({
        name: "run_command",
        arguments: { command: "sleep 0.3; echo ran plainly" },
        _meta: meta,
      });
      const started = Date.now();
      const call = await exchange("call", "tools/call", framed);
      const callResult = record(call.result, "tools/call result");
      assert.equal(isCreateTaskResultV2(callResult), false);
      assert.equal(callResult.resultType, undefined);
      assert.equal(callResult.task, undefined);
      assert.equal(structured(callResult).output, "ran plainly\n");
      assert.ok(Date.now() - started >= 300, "the call blocked until the command ended");

      // The v2 client itself: "auto" probes server/discover on a sibling and takes 2026-07-28.
      const autoTransport = v2Transport(home);
      const autoClient = new Client(
        { name: "backburner-v2-tests", version: "1.0.0" },
        { versionNegotiation: { mode: "auto" } },
      );
      auto = { client: autoClient, transport: autoTransport.transport };
      await autoClient.connect(autoTransport.transport);
      assert.equal(autoClient.getProtocolEra(), "modern");
      assert.equal(autoClient.getNegotiatedProtocolVersion(), "2026-07-28");
      // The probe ran on the sibling; the session process saw no handshake at all.
      assert.equal(requests(autoTransport.wire, "initialize").length, 0);
      const result = await autoClient.callTool({
        name: "run_command",
        arguments: { command: "echo after auto" },
      });
      assert.equal(structured(result).output, "after auto\n");
      // The siblings were reaped: only the raw and the auto session servers are left.
      assert.deepEqual(
        serverPids(home).sort(),
        [raw.transport.pid, autoTransport.transport.pid].sort(),
      );
    } finally {
      if (auto) await closeClient(auto.client, auto.transport.pid);
      const pid = raw.transport.pid;
      await raw.transport.close();
      if (pid !== null) await waitFor(() => !isAlive(pid), { what: `server ${pid} to exit` });
      await waitFor(() => serverPids(home).length === 0, { what: "every server to exit" });
      await cleanup(home);
    }
  },
);
