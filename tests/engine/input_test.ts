/**
 * Attacks on an interactive task's input (src/engine/input.ts) by the task itself, through a real
 * server on stdio: a task can write its own folder, so every file the server reads or opens there
 * may have been swapped for a FIFO, a symlink or a device. None of it may hang the server, make it
 * read without bound, or make it create or write a file elsewhere.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cleanup,
  posixTest,
  type ServerHandle,
  startServer,
  tempDir,
  waitFor,
} from "../helpers.ts";
import { ok, output, refused, type Reply } from "../mcp/tools/helpers.ts";

/** The call's answer, or a failure naming it when the server takes longer than `ms`. */
async function within<T>(ms: number, what: string, call: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([call, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Starts an interactive task that runs `script` in its own folder ($f), then says "ready". */
async function tamperingTask(server: ServerHandle, home: string, script: string): Promise<string> {
  const { task_id: id } = await ok(server, "start_task", {
    command: `f="$TASKS/$BACKBURNER_TASK_ID"; ${script}; echo ready; sleep 60`,
    env: { TASKS: join(home, "tasks") },
    interactive: true,
  });
  await waitFor(async () => /ready\n$/.test(await output(server, id)), {
    what: `task ${id} to tamper with its folder`,
  });
  return String(id);
}

posixTest(
  "a task that makes its input mark a FIFO or /dev/zero does not hang task_status or the server",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      // A FIFO nobody writes: a plain read of it blocks until a writer comes, forever.
      const fifo = await tamperingTask(server, home, 'mkfifo "$f/input-1.sent"');
      const status: Reply = await within(
        5000,
        "task_status of a task whose input mark is a FIFO",
        ok(server, "task_status", { task_id: fifo }),
      );
      assert.equal(status.status, "working");
      assert.equal(status.input_open, true);
      // An endless file: a plain read of it takes all the memory there is.
      const zero = await tamperingTask(server, home, 'ln -s /dev/zero "$f/input-1.sent"');
      const other = await within(
        5000,
        "task_status of a task whose input mark is /dev/zero",
        ok(server, "task_status", { task_id: zero }),
      );
      assert.equal(other.status, "working");
      // And they can still be answered (the mark is replaced, not followed).
      await within(8000, "send_input", ok(server, "send_input", { task_id: fifo, text: "x\n" }));
      assert.equal(Deno.lstatSync(join(home, "tasks", fifo, "input-1.sent")).isFile, true);
      await within(5000, "list_tasks", ok(server, "list_tasks", {}));
      await ok(server, "cancel_task", { task_id: fifo });
      await ok(server, "cancel_task", { task_id: zero });
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest(
  "a task that makes its input mark a directory is still answered once, and told so",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      const { task_id: id } = await ok(server, "start_task", {
        command: 'f="$TASKS/$BACKBURNER_TASK_ID"; mkdir -p "$f/input-1.sent/x"; echo ready; ' +
          'read -r line; echo "got $line"; sleep 60',
        env: { TASKS: join(home, "tasks") },
        interactive: true,
      });
      await waitFor(async () => /ready\n$/.test(await output(server, id)), {
        what: "the task to tamper with its folder",
      });
      // The text goes in: the call must say so, or the agent sends it again.
      const sent = await within(
        8000,
        "send_input",
        ok(server, "send_input", { task_id: id, text: "once\n" }),
      );
      assert.equal(sent.bytes_written, 5);
      await waitFor(async () => /got once\n/.test(await output(server, id)), {
        what: "the task to read the line",
      });
      await ok(server, "cancel_task", { task_id: id });
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest(
  "a task that swaps its input FIFO for a regular file gets nothing written into it",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      const id = await tamperingTask(
        server,
        home,
        'rm -f "$f/input-1"; echo untouched > "$f/input-1"',
      );
      const text = await refused(server, "send_input", { task_id: id, text: "evil\n" });
      assert.match(text, /^Cannot send input: task \w+ no longer reads its input/);
      assert.equal(Deno.readTextFileSync(join(home, "tasks", id, "input-1")), "untouched\n");
      await ok(server, "cancel_task", { task_id: id });
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest(
  "a task that makes its input lock a symlink cannot make send_input create or lock a file elsewhere",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      const victim = join(home, "created-by-the-server");
      const id = await tamperingTask(server, home, `ln -s "${victim}" "$f/input.lock"`);
      const text = await within(
        8000,
        "send_input through a symlinked lock",
        refused(server, "send_input", { task_id: id, text: "x\n" }),
      );
      assert.match(text, /^Cannot send input: /);
      assert.throws(() => Deno.lstatSync(victim), Deno.errors.NotFound);
      await ok(server, "cancel_task", { task_id: id });
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest(
  "a task that holds its own input lock makes send_input give up in seconds, not hang",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      const id = await tamperingTask(
        server,
        home,
        'touch "$f/input.lock"; (flock "$f/input.lock" sleep 60 &); sleep 0.5',
      );
      const began = Date.now();
      const text = await within(
        20_000,
        "send_input while the task holds the lock",
        refused(server, "send_input", { task_id: id, text: "x\n" }),
      );
      assert.match(text, /^Cannot send input: /);
      assert.ok(Date.now() - began < 18_000);
      // The server answers other calls meanwhile and after.
      assert.equal((await ok(server, "task_status", { task_id: id })).status, "working");
      await ok(server, "cancel_task", { task_id: id });
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

Deno.test({
  name: "under an allow list, send_input refuses even a task that made itself interactive",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const home = await tempDir();
    // The task's own program (allowed by the rules) marks its folder interactive and reads a FIFO
    // it made as if it were its input: an agent's text would reach a reader no rule judged.
    const script = join(home, "self-interactive.sh");
    Deno.writeTextFileSync(
      script,
      [
        `f="${join(home, "tasks")}/$BACKBURNER_TASK_ID"`,
        `: > "$f/interactive"`,
        `mkfifo "$f/input-1"`,
        "echo ready",
        `while IFS= read -r line < "$f/input-1"; do echo "ran: $line"; done`,
      ].join("\n"),
    );
    const server = await startServer(home, { env: { BACKBURNER_ALLOW: "^bash \\S+$" } });
    try {
      const { task_id: id } = await ok(server, "start_task", { command: `bash ${script}` });
      await waitFor(async () => /ready\n$/.test(await output(server, id)), {
        what: "the task to make itself interactive",
      });
      const text = await refused(server, "send_input", { task_id: id, text: "id\n" });
      assert.match(text, /allow list \(BACKBURNER_ALLOW\)/);
      assert.doesNotMatch(await output(server, id), /ran:/);
      await ok(server, "cancel_task", { task_id: id });
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
});
