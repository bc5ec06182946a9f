import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cleanup,
  isAlive,
  posixTest,
  startServer,
  taskPids,
  tempDir,
  waitFor,
} from "../../helpers.ts";
import { ok, output, refused, type Reply } from "./helpers.ts";
import type { ServerHandle } from "../../helpers.ts";

/** Waits until the task's output (all of it) matches. */
async function outputMatches(server: ServerHandle, id: unknown, pattern: RegExp): Promise<string> {
  return await waitFor(async () => {
    const text = await output(server, id);
    return pattern.test(text) ? text : null;
  }, { what: `task ${id} to print ${pattern}` });
}

async function ended(server: ServerHandle, id: unknown): Promise<Reply> {
  return await waitFor(async () => {
    const status = await ok(server, "task_status", { task_id: id });
    return status.status !== "working" ? status : null;
  }, { what: `task ${id} to end` });
}

const TWO_QUESTIONS = [
  `printf 'Enter your name: '`,
  "read -r name",
  `printf 'Proceed with %s? [y/N] ' "$name"`,
  "read -r answer",
  `echo "name=$name answer=$answer"`,
].join("\n");

posixTest(
  "send_input answers a script's two questions, and task_status says when it waits",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      const started = await ok(server, "start_task", { command: TWO_QUESTIONS, interactive: true });
      const id = started.task_id;
      const asking = await waitFor(async () => {
        const status = await ok(server, "task_status", { task_id: id });
        return status.waiting_for_input ? status : null;
      }, { what: "the first prompt" });
      assert.equal(asking.interactive, true);
      assert.equal(asking.input_open, true);

      const sent = await ok(server, "send_input", { task_id: id, text: "Ann\n" });
      assert.equal(sent.bytes_written, 4);
      assert.equal(sent.input_closed, false);
      // As the README's agent does: wait for the [y/N] prompt, then answer it.
      const waited = await ok(server, "wait_for_task", {
        task_ids: [id],
        until_pattern: "\\[y/N\\]",
        timeout_seconds: 10,
      });
      assert.equal(waited.reason, "pattern");
      assert.deepEqual(waited.match, {
        task_id: id,
        line: "Enter your name: Proceed with Ann? [y/N] ",
      });
      await ok(server, "send_input", { task_id: id, text: "y\n" });
      const done = await ended(server, id);
      assert.equal(done.status, "completed");
      assert.equal(done.input_open, false);
      assert.match(await output(server, id), /name=Ann answer=y\n$/);

      assert.match(
        await refused(server, "send_input", { task_id: id, text: "more\n" }),
        /^Cannot send input: task \w+ has ended \(completed\): start it again to answer it$/,
      );
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest("cat ends only once send_input closes its input", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const { task_id: id } = await ok(server, "start_task", { command: "cat", interactive: true });
    await ok(server, "send_input", { task_id: id, text: "one\n" });
    await ok(server, "send_input", { task_id: id, text: "two" });
    await outputMatches(server, id, /^one\ntwo$/);
    // Without a close, cat keeps waiting: nothing read end-of-file.
    const waited = await ok(server, "wait_for_task", { task_ids: [id], timeout_seconds: 0.5 });
    assert.equal(waited.reason, "timeout");
    assert.equal((await ok(server, "task_status", { task_id: id })).input_open, true);

    const closed = await ok(server, "send_input", { task_id: id, text: "\n", close: true });
    assert.equal(closed.input_closed, true);
    const done = await ended(server, id);
    assert.equal(done.status, "completed");
    assert.equal(await output(server, id), "one\ntwo\n");
    assert.match(
      await refused(server, "send_input", { task_id: id, text: "x" }),
      /has ended|was closed/,
    );
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest(
  "send_input refuses a task that never asked, a closed input, and bad arguments",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      const plain = await ok(server, "start_task", { command: "sleep 30" });
      assert.equal(
        (await ok(server, "task_status", { task_id: plain.task_id })).interactive,
        false,
      );
      assert.match(
        await refused(server, "send_input", { task_id: plain.task_id, text: "y\n" }),
        /^Cannot send input: task \w+ was not started with interactive: true, so its stdin is fixed: /,
      );
      assert.match(
        await refused(server, "send_input", { task_id: "k3x9m2p7q4wz", text: "y\n" }),
        /k3x9m2p7q4wz/,
      );
      assert.match(
        await refused(server, "start_task", { command: "cat", interactive: true, stdin: "x" }),
        /either stdin .* or interactive: true/,
      );

      // A command that keeps running after its input is closed.
      const open = await ok(server, "start_task", {
        command: "cat >/dev/null; echo eof; sleep 30",
        interactive: true,
      });
      assert.match(
        await refused(server, "send_input", { task_id: open.task_id }),
        /^Cannot send input: text is empty: /,
      );
      assert.match(
        await refused(server, "send_input", { task_id: open.task_id, text: "x".repeat(70_000) }),
        /^Cannot send input: text is 70000 bytes, more than 65536: send it in several parts$/,
      );
      await ok(server, "send_input", { task_id: open.task_id, close: true });
      await outputMatches(server, open.task_id, /^eof\n$/);
      const status = await ok(server, "task_status", { task_id: open.task_id });
      assert.equal(status.status, "working");
      assert.equal(status.input_open, false);
      assert.match(
        await refused(server, "send_input", { task_id: open.task_id, text: "y\n" }),
        /^Cannot send input: the input of task \w+ was closed: nothing more can be sent to it$/,
      );
      await ok(server, "cancel_task", { task_id: open.task_id });
      await ok(server, "cancel_task", { task_id: plain.task_id });
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest(
  "cancel of an interactive task leaves no process, its input holder included",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      const { task_id: id } = await ok(server, "start_task", {
        command: "while read -r line; do echo got $line; done",
        interactive: true,
      });
      await ok(server, "send_input", { task_id: id, text: "a\n" });
      await outputMatches(server, id, /^got a\n$/);
      const pids = taskPids(String(id));
      // The wrapper, its holder, and the command at least.
      assert.ok(pids.length >= 3, `processes: ${pids}`);
      const cancelled = await ok(server, "cancel_task", { task_id: id });
      assert.equal(cancelled.status, "cancelled");
      await waitFor(() => pids.every((pid) => !isAlive(pid)), { what: "every process to be gone" });
      assert.deepEqual(taskPids(String(id)), []);
      assert.match(
        await refused(server, "send_input", { task_id: id, text: "b\n" }),
        /has ended \(cancelled\)/,
      );
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

/** A REPL that reads lines from a pipe: python3's where it runs, else Node's (every CI has Node). */
const REPL = (() => {
  try {
    const probe = new Deno.Command("python3", { args: ["-c", ""], stdout: "null", stderr: "null" })
      .outputSync();
    if (probe.success) {
      return {
        command: "python3 -u -i -q",
        inputs: ["x = 6\n", "y = x * 7\n", "print('answer', y)\n"],
      };
    }
  } catch {
    // no python3
  }
  return { command: "node -i", inputs: ["x = 6\n", "y = x * 7\n", "console.log('answer', y)\n"] };
})();

/** Waits for the REPL's prompt to show as waiting_for_input with its input open. */
async function prompted(server: ServerHandle, id: unknown): Promise<Reply> {
  return await waitFor(async () => {
    const status = await ok(server, "task_status", { task_id: id });
    return status.waiting_for_input && status.input_open ? status : null;
  }, { what: `task ${id} to show its prompt` });
}

posixTest("send_input drives a REPL through three inputs, then closes it", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const { task_id: id } = await ok(server, "start_task", {
      command: REPL.command,
      interactive: true,
    });
    for (const input of REPL.inputs) {
      await prompted(server, id);
      await ok(server, "send_input", { task_id: id, text: input });
    }
    await outputMatches(server, id, /answer 42\n/);
    await ok(server, "send_input", { task_id: id, close: true });
    const done = await ended(server, id);
    assert.equal(done.status, "completed", String(done.status_message));
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest(
  "a REPL keeps its input across a server killed -9: the next server answers it",
  async () => {
    const home = await tempDir();
    let first: ServerHandle | undefined = await startServer(home);
    let second: ServerHandle | undefined;
    try {
      const { task_id: id } = await ok(first, "start_task", {
        command: REPL.command,
        interactive: true,
      });
      await prompted(first, id);
      await ok(first, "send_input", { task_id: id, text: REPL.inputs[0] });
      Deno.kill(first.pid, "SIGKILL");
      await waitFor(() => !isAlive(first!.pid), { what: "the first server to die" });
      await first.client.close().catch(() => {});
      first = undefined;

      second = await startServer(home);
      // Its stdin did not end with the server: it still waits, and the new server can answer it.
      const status = await prompted(second, id);
      assert.equal(status.status, "working");
      await ok(second, "send_input", { task_id: id, text: REPL.inputs[1] });
      await prompted(second, id);
      await ok(second, "send_input", { task_id: id, text: REPL.inputs[2], close: true });
      await outputMatches(second, id, /answer 42\n/);
      const done = await ended(second, id);
      assert.equal(done.status, "completed", String(done.status_message));
    } finally {
      await second?.close();
      if (first && isAlive(first.pid)) await first.close();
      await cleanup(home);
    }
  },
);

posixTest(
  "interactive is refused under an allow list, on Slurm, and kept by a restart and each retry",
  async () => {
    const home = await tempDir();
    const guarded = await startServer(home, { env: { BACKBURNER_ALLOW: "^cat$" } });
    try {
      assert.equal(
        await refused(guarded, "start_task", { command: "cat", interactive: true }),
        "Cannot start task: interactive is refused while an allow list (BACKBURNER_ALLOW) is in force, because text sent to a task is not checked by the command policy: pass the input as stdin, or unset BACKBURNER_ALLOW",
      );
    } finally {
      await guarded.close();
    }
    const server = await startServer(home);
    try {
      assert.match(
        await refused(server, "start_task", {
          command: "cat",
          interactive: true,
          executor: "slurm",
        }),
        /^Cannot start task: interactive is not supported with executor "slurm"/,
      );
      // Each attempt reads a fresh stdin: the first answer fails it, the retry asks again.
      const { task_id: id } = await ok(server, "start_task", {
        command: 'read -r x; echo "read $x"; [ "$x" = good ]',
        interactive: true,
        retries: 1,
        retry_delay_seconds: 0,
      });
      await ok(server, "send_input", { task_id: id, text: "bad\n", close: true });
      await waitFor(async () => {
        const status = await ok(server, "task_status", { task_id: id });
        return status.attempt === 2 && status.input_open;
      }, { what: "the second attempt to take input" });
      await ok(server, "send_input", { task_id: id, text: "good\n" });
      assert.equal((await ended(server, id)).status, "completed");
      assert.match(await output(server, id), /read bad\n[^]*read good\n$/);

      const again = await ok(server, "restart_task", { task_id: id });
      const status = await waitFor(async () => {
        const status = await ok(server, "task_status", { task_id: again.task_id });
        return status.input_open ? status : null;
      }, { what: "the restarted task to take input" });
      assert.equal(status.interactive, true);
      await ok(server, "send_input", { task_id: again.task_id, text: "good\n" });
      assert.equal((await ended(server, again.task_id)).status, "completed");
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest(
  "two servers sending at once never interleave their texts; a task that does not read makes send_input give up",
  async () => {
    const home = await tempDir();
    const first = await startServer(home);
    const second = await startServer(home);
    try {
      // A slow reader (bash reads a byte at a time) and lines longer than the pipe takes at once:
      // each write goes in parts, and only the lock keeps another server's out of the middle.
      const { task_id: id } = await ok(first, "start_task", {
        command: "while IFS= read -r l; do printf '%s\\n' \"$l\"; done",
        interactive: true,
      });
      const line = (who: string, n: number) => `${who}${n} ${who.repeat(60_000)}\n`;
      const sends = (server: ServerHandle, who: string) =>
        (async () => {
          for (let n = 0; n < 3; n++) {
            await ok(server, "send_input", { task_id: id, text: line(who, n) });
          }
        })();
      await Promise.all([sends(first, "a"), sends(second, "b")]);
      await ok(first, "send_input", { task_id: id, close: true });
      await ended(first, id);
      // Read whole from the log: a reply would cut 360 kB of output to fit an agent's context.
      const lines = Deno.readTextFileSync(join(home, "tasks", String(id), "output.log"));
      const got = lines.split("\n").filter((l) => l !== "");
      assert.equal(got.length, 6);
      for (const text of got) {
        const [head, body] = text.split(" ");
        assert.ok(
          body === head[0].repeat(60_000),
          `a line was cut or mixed: ${text.slice(0, 40)}…`,
        );
      }

      // sleep never reads: the pipe fills, and the send gives up in seconds instead of hanging.
      const { task_id: deaf } = await ok(first, "start_task", {
        command: "sleep 60",
        interactive: true,
      });
      await ok(first, "send_input", { task_id: deaf, text: "x".repeat(60_000) });
      const began = Date.now();
      assert.match(
        await refused(first, "send_input", { task_id: deaf, text: "y".repeat(60_000) }),
        /^Cannot send input: task \w+ did not read its input for 5 s \(\d+ of 60000 bytes written\): /,
      );
      assert.ok(Date.now() - began < 8000);
      // The server still answers at once.
      assert.equal((await ok(second, "task_status", { task_id: deaf })).status, "working");
      await ok(first, "cancel_task", { task_id: deaf });
    } finally {
      await first.close();
      await second.close();
      await cleanup(home);
    }
  },
);

posixTest(
  "a task that swaps its FIFO for a symlink cannot make send_input write elsewhere",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      const target = join(home, "victim.txt");
      Deno.writeTextFileSync(target, "untouched\n");
      const { task_id: id } = await ok(server, "start_task", {
        command: `f="$TASKS/$BACKBURNER_TASK_ID"; rm -f "$f/input-1" "$f/input-1.sent"; ` +
          `ln -s "$VICTIM" "$f/input-1"; ln -s "$VICTIM" "$f/input-1.sent"; echo swapped; sleep 30`,
        env: { TASKS: join(home, "tasks"), VICTIM: target },
        interactive: true,
      });
      await outputMatches(server, id, /^swapped\n$/);
      const text = await refused(server, "send_input", { task_id: id, text: "evil\n" });
      assert.match(text, /^Cannot send input: /);
      assert.equal(Deno.readTextFileSync(target), "untouched\n");
      await ok(server, "cancel_task", { task_id: id });
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest(
  "a careless client: queued tasks refuse, NUL bytes and a whole 64 KiB of multibyte text arrive intact",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      const { task_id: first } = await ok(server, "start_task", {
        command: "sleep 30",
        interactive: true,
      });
      const { task_id: waiting } = await ok(server, "start_task", {
        command: "cat",
        interactive: true,
        after: [first],
      });
      assert.equal((await ok(server, "task_status", { task_id: waiting })).status, "queued");
      for (const args of [{ text: "x\n" }, { close: true }]) {
        assert.match(
          await refused(server, "send_input", { task_id: waiting, ...args }),
          /^Cannot send input: task \w+ is queued and has no stdin yet: wait until it is working$/,
        );
      }
      await ok(server, "cancel_task", { task_id: first });

      // Every byte read lands in a file: NUL included, and no 3-byte character cut by a write.
      const file = join(home, "read.bin");
      const { task_id: id } = await ok(server, "start_task", {
        command: 'cat > "$OUT"',
        env: { OUT: file },
        interactive: true,
      });
      await ok(server, "send_input", { task_id: id, text: "a\u0000b\n" });
      // 21845 three-byte characters and a newline: exactly 65536 bytes, over 16 PIPE_BUF writes.
      const big = "€".repeat(21_845) + "\n";
      assert.equal(new TextEncoder().encode(big).length, 65_536);
      const sent = await ok(server, "send_input", { task_id: id, text: big, close: true });
      assert.equal(sent.bytes_written, 65_536);
      assert.equal((await ended(server, id)).status, "completed");
      assert.equal(Deno.readTextFileSync(file), "a\u0000b\n" + big);
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);
