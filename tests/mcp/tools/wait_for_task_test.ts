import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cleanup,
  errorText,
  posixTest,
  runToEnd,
  startServer,
  tempDir,
  waitFor,
} from "../../helpers.ts";

type Tasks = { task_id: string; status: string; exit_code: number | null }[];

posixTest("wait_for_task in mode any returns when the first task ends", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const quick = await server.call("start_task", { command: "sleep 0.3; exit 5" });
    const slow = await server.call("start_task", { command: "sleep 600" });
    const t0 = Date.now();
    const waited = await server.call("wait_for_task", {
      task_ids: [slow.task_id, quick.task_id],
      mode: "any",
      timeout_seconds: 20,
    });
    assert.ok(Date.now() - t0 < 10_000);
    assert.equal(waited.reason, "ended");
    const tasks = waited.tasks as Tasks;
    assert.deepEqual(tasks.map((t) => t.task_id), [slow.task_id, quick.task_id]);
    assert.equal(tasks[0].status, "working");
    assert.equal(tasks[1].status, "failed");
    assert.equal(tasks[1].exit_code, 5);
    await server.call("cancel_task", { task_id: slow.task_id });
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("wait_for_task in mode all waits for every task and sends progress", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const ids = [];
    for (const delay of ["0.2", "0.6", "1.0"]) {
      ids.push((await server.call("start_task", { command: `sleep ${delay}` })).task_id);
    }
    const progress: { progress: number; total?: number }[] = [];
    const result = await server.client.callTool(
      { name: "wait_for_task", arguments: { task_ids: ids, mode: "all", timeout_seconds: 20 } },
      undefined,
      { onprogress: (p) => progress.push(p) },
    );
    const waited = result.structuredContent as Record<string, unknown>;
    assert.equal(waited.reason, "ended");
    assert.deepEqual((waited.tasks as Tasks).map((t) => t.status), [
      "completed",
      "completed",
      "completed",
    ]);
    // The SDK client hands notifications to their handler a microtask later than responses, so
    // the last one (3 of 3) may arrive after the result and be dropped: assert the ones before.
    assert.ok(progress.length >= 2, `expected progress notifications, got ${progress.length}`);
    assert.ok(progress.every((p) => p.total === 3));
    const counts = progress.map((p) => p.progress);
    assert.deepEqual(counts, [...counts].sort(), "progress only grows");
    assert.ok(counts.includes(1) && counts.includes(2), `counts seen: ${counts}`);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("wait_for_task returns as soon as until_pattern appears in the output", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const task = await server.call("start_task", {
      command: "echo booting; sleep 0.5; printf '\\033[32mserver listening on 8080\\033[0m\\n'; " +
        "sleep 600",
    });
    const waited = await server.call("wait_for_task", {
      task_ids: [task.task_id],
      until_pattern: "listening on \\d+",
      timeout_seconds: 20,
    });
    assert.equal(waited.reason, "pattern");
    assert.deepEqual(waited.match, {
      task_id: task.task_id,
      line: "server listening on 8080",
    });
    assert.equal((waited.tasks as Tasks)[0].status, "working");
    // Output already there counts too: a second wait returns at once.
    const again = await server.call("wait_for_task", {
      task_ids: [task.task_id],
      until_pattern: "booting",
    });
    assert.equal(again.reason, "pattern");
    await server.call("cancel_task", { task_id: task.task_id });
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest(
  "wait_for_task times out with each status, caps the timeout, and returns at once for ended tasks",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      const running = await server.call("start_task", { command: "sleep 600" });
      const t0 = Date.now();
      const timedOut = await server.call("wait_for_task", {
        task_ids: [running.task_id],
        timeout_seconds: 0.5,
      });
      assert.equal(timedOut.reason, "timeout");
      assert.ok(Date.now() - t0 >= 400);
      assert.equal((timedOut.tasks as Tasks)[0].status, "working");
      assert.equal(timedOut.note, null);

      const done = await runToEnd(server, { command: "true" });
      const t1 = Date.now();
      const immediate = await server.call("wait_for_task", {
        task_ids: [done.task_id],
        timeout_seconds: 500,
      });
      assert.equal(immediate.reason, "ended");
      assert.ok(Date.now() - t1 < 2000);
      assert.match(String(immediate.note), /capped at 50/);

      const unknown = await server.raw("wait_for_task", { task_ids: ["zzzzzzzzzzzz"] });
      assert.equal(
        errorText(unknown),
        'Unknown task_id "zzzzzzzzzzzz": call list_tasks to see the task ids',
      );
      assert.match(errorText(await server.raw("wait_for_task", { task_ids: [] })), /1 to 50/);
      assert.match(
        errorText(
          await server.raw("wait_for_task", { task_ids: [done.task_id], until_pattern: "(" }),
        ),
        /not a valid regular expression/,
      );
      await server.call("cancel_task", { task_id: running.task_id });
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest("wait_for_task sees a task end that another server recorded", async () => {
  const home = await tempDir();
  const a = await startServer(home);
  const b = await startServer(home);
  try {
    const task = await a.call("start_task", {
      command: `while [ ! -f ${join(home, "go")} ]; do sleep 0.05; done`,
    });
    const waiting = b.call("wait_for_task", { task_ids: [task.task_id], timeout_seconds: 20 });
    Deno.writeTextFileSync(join(home, "go"), "");
    const waited = await waiting;
    assert.equal(waited.reason, "ended");
    assert.equal((waited.tasks as Tasks)[0].status, "completed");
  } finally {
    await a.close();
    await b.close();
    await cleanup(home);
  }
});

posixTest(
  "wait_for_task with a catastrophic until_pattern leaves the server answering other calls",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      // V8 backtracks 2^n times on each of these lines for (a+)+$: 27 a's took 10 s before.
      const task = await server.call("start_task", {
        command: "for i in 1 2 3; do printf 'aaaaaaaaaaaaaaaaaaaaaaaaaaa!\\n'; done; sleep 600",
      });
      await waitFor(async () => {
        const status = await server.call("task_status", { task_id: task.task_id });
        return Number(status.output_bytes) >= 84 ? status : null;
      }, { what: "the a's to be written" });
      const t0 = Date.now();
      const waiting = server.call("wait_for_task", {
        task_ids: [task.task_id],
        until_pattern: "(a+)+$",
        timeout_seconds: 3,
      });
      const answers: number[] = [];
      for (const tool of ["task_status", "list_tasks", "task_status"]) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        const asked = Date.now();
        await server.call(tool, tool === "list_tasks" ? {} : { task_id: task.task_id });
        answers.push(Date.now() - asked);
      }
      assert.ok(answers.every((ms) => ms < 1500), `other calls took ${answers} ms`);
      const waited = await waiting;
      assert.equal(waited.reason, "timeout");
      assert.ok(Date.now() - t0 < 8000, `the wait took ${Date.now() - t0} ms`);
      // Polynomial and overlapping patterns on a long line stay linear too.
      for (const pattern of ["a*a*a*a*a*b", "(a|a)*b", "x.*y.*z"]) {
        const t1 = Date.now();
        const other = await server.call("wait_for_task", {
          task_ids: [task.task_id],
          until_pattern: pattern,
          timeout_seconds: 0.5,
        });
        assert.equal(other.reason, "timeout");
        assert.ok(Date.now() - t1 < 3000, `${pattern} took ${Date.now() - t1} ms`);
      }
      const refused = await server.raw("wait_for_task", {
        task_ids: [task.task_id],
        until_pattern: "(a*)*\\1$",
      });
      assert.match(
        errorText(refused),
        /^The pattern "\(a\*\)\*\\1\$" combines a backreference \(\\1\) with unbounded repetition .*: .*rewrite it without the backreference/,
      );
      await server.call("cancel_task", { task_id: task.task_id });
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest(
  "wait_for_task finds until_pattern in a last line printed without a newline",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      const task = await server.call("start_task", {
        command: "echo starting; sleep 0.3; printf 'Password: '; sleep 600",
      });
      const waited = await server.call("wait_for_task", {
        task_ids: [task.task_id],
        until_pattern: "^Password: $",
        timeout_seconds: 20,
      });
      assert.equal(waited.reason, "pattern");
      assert.deepEqual(waited.match, { task_id: task.task_id, line: "Password: " });
      await server.call("cancel_task", { task_id: task.task_id });
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

/** The resident memory of a process in bytes, from /proc (Linux only). */
function residentBytes(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = /VmRSS:\s+(\d+) kB/.exec(status);
  return kib === null ? 0 : Number(kib[1]) * 1024;
}

posixTest(
  "wait_for_task reads a huge line without a newline in bounded memory and matches its end",
  async () => {
    if (Deno.build.os !== "linux") return;
    const home = await tempDir();
    const server = await startServer(home);
    try {
      const before = residentBytes(server.pid);
      const task = await server.call("start_task", {
        command: "head -c 67108864 /dev/zero | tr '\\0' x; printf ' READY'; sleep 600",
      });
      let peak = 0;
      const sampler = setInterval(() => {
        peak = Math.max(peak, residentBytes(server.pid));
      }, 50);
      try {
        const waited = await server.call("wait_for_task", {
          task_ids: [task.task_id],
          until_pattern: "x READY$",
          timeout_seconds: 40,
        });
        assert.equal(waited.reason, "pattern");
        assert.match(
          String((waited.match as { line: string }).line),
          /^x+… \[\d+ more characters\]$/,
        );
      } finally {
        clearInterval(sampler);
      }
      // Scanning holds one look's 8 MiB (16 MiB as text) and a 64 KiB line at most.
      const grown = peak - before;
      assert.ok(grown < 120 * 1024 * 1024, `the server grew by ${grown} bytes`);
      await server.call("cancel_task", { task_id: task.task_id });
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest(
  "wait_for_task finds until_pattern at the end of a big output written just before exit",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      // 40 MB, more than one look reads: the line after it must still be found once the task ends.
      const task = await server.call("start_task", {
        command: `yes '${"y".repeat(99)}' | head -c 40000000; echo DONE-MARK`,
      });
      const waited = await server.call("wait_for_task", {
        task_ids: [task.task_id],
        until_pattern: "^DONE-MARK$",
        timeout_seconds: 30,
      });
      assert.equal(waited.reason, "pattern");
      assert.deepEqual(waited.match, { task_id: task.task_id, line: "DONE-MARK" });
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);
