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
import { finish, ok, refuseAll } from "./helpers.ts";

type Match = { line: number; text: string; before: string[]; after: string[] };

posixTest("task_result: head_lines, and clean text by default with raw on request", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const task = await runToEnd(server, {
      command: "printf '\\033[31mred\\033[0m line\\n'; printf '10%%\\r50%%\\r100%%\\n'; " +
        "for i in 3 4 5 6; do echo line $i; done",
    });
    const clean = await server.call("task_result", { task_id: task.task_id });
    assert.equal(clean.output, "red line\n100%\nline 3\nline 4\nline 5\nline 6\n");
    const raw = await server.call("task_result", { task_id: task.task_id, raw: true });
    assert.ok(String(raw.output).startsWith("\x1b[31mred\x1b[0m line\n10%\r50%\r100%\n"));
    const head = await server.call("task_result", { task_id: task.task_id, head_lines: 2 });
    assert.match(String(head.output), /^red line\n100%\n/);
    assert.ok(Number(head.omitted_after) > 0);
    assert.match(String(head.note), /pass offset=\d+ to continue/);
    const long = await runToEnd(server, { command: "head -c 10000 /dev/zero | tr '\\0' x" });
    const cut = await server.call("task_result", { task_id: long.task_id });
    assert.match(String(cut.output), /^x{2000}… \[8000 more characters\]$/);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("task_result: a cursor follows a running task without gaps or repeats", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const task = await server.call("start_task", {
      command:
        "for i in $(seq 1 400); do echo \"line $i $(printf '%*s' $((i % 50)) | tr ' ' '.')\"; " +
        "[ $((i % 40)) -eq 0 ] && sleep 0.1; done",
    });
    let offset = 0;
    let collected = "";
    let calls = 0;
    for (;;) {
      const reply = await server.call("task_result", {
        task_id: task.task_id,
        offset,
        max_bytes: 3000,
      });
      calls++;
      assert.equal(reply.start_offset, offset);
      collected += reply.output;
      const done = reply.status !== "working" && reply.next_offset === reply.output_bytes;
      offset = Number(reply.next_offset);
      if (done) break;
    }
    const expected = Array.from(
      { length: 400 },
      (_, k) => `line ${k + 1} ${".".repeat((k + 1) % 50)}`,
    ).join("\n") + "\n";
    // Markers only appear when something was left out; strip any before comparing.
    assert.equal(collected.replace(/\[backburner: [^\]]*\]\n?/g, ""), expected);
    assert.ok(calls > 3, `expected several reads, got ${calls}`);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest(
  "task_result: grep returns numbered matches with context and the total count",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      const task = await runToEnd(server, {
        command: 'for i in $(seq 1 100); do if [ $((i % 10)) -eq 0 ]; then echo "FAIL test $i"; ' +
          'else echo "ok test $i"; fi; done',
      });
      const reply = await server.call("task_result", {
        task_id: task.task_id,
        grep: "^FAIL",
        context: 1,
        max_matches: 3,
      });
      assert.equal(reply.total_matches, 10);
      const matches = reply.matches as Match[];
      assert.deepEqual(matches.map((m) => m.line), [10, 20, 30]);
      assert.deepEqual(matches[0], {
        ...matches[0],
        text: "FAIL test 10",
        before: ["ok test 9"],
        after: ["ok test 11"],
      });
      assert.equal(reply.output_truncated, true);
      assert.match(String(reply.note), /max_matches/);
      assert.match(String(reply.output), /^9-ok test 9\n10:FAIL test 10\n11-ok test 11\n--\n/);
      // Context that overlaps or touches is shown once, as grep -C shows it.
      const near = await server.call("task_result", {
        task_id: task.task_id,
        grep: "^ok test (9|1[12])$",
        context: 1,
      });
      assert.equal(
        near.output,
        "8-ok test 8\n9:ok test 9\n10-FAIL test 10\n11:ok test 11\n12:ok test 12\n13-ok test 13",
      );
      const bad = await server.raw("task_result", { task_id: task.task_id, grep: "[" });
      assert.match(errorText(bad), /not a valid regular expression/);
      const both = await server.raw("task_result", {
        task_id: task.task_id,
        grep: "x",
        tail_lines: 3,
      });
      assert.match(errorText(both), /Pass only one of tail_lines, head_lines, offset and grep/);
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest("task_result: tail, range and grep on a 200 MB log", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const task = await runToEnd(server, {
      command: "yes 'an ordinary log line with some words 0123456789' | head -c 200000000; " +
        "echo; echo 'needle one'; echo 'the end'",
    }, 60_000);
    const size = Deno.statSync(join(home, "tasks", String(task.task_id), "output.log")).size;
    assert.equal(task.output_bytes, size);
    const tail = await server.call("task_result", { task_id: task.task_id, tail_lines: 3 });
    assert.match(String(tail.output), /\nneedle one\nthe end\n$/);
    assert.equal(tail.next_offset, size);
    const range = await server.call("task_result", {
      task_id: task.task_id,
      offset: 100_000_000,
      max_bytes: 1000,
    });
    assert.ok(Number(range.next_offset) <= 100_001_000);
    assert.match(String(range.output), /an ordinary log line/);
    const grep = await server.call("task_result", { task_id: task.task_id, grep: "needle" });
    assert.equal(grep.total_matches, 1);
    assert.equal((grep.matches as Match[])[0].text, "needle one");
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("task_result refuses bad reading arguments in the tool's own words", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const task = await runToEnd(server, { command: "echo hi" });
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ offset: -1 }, /offset/],
      [{ offset: 1.5 }, /offset/],
      [{ offset: 0, max_bytes: 0 }, /max_bytes/],
      [{ max_bytes: 10 }, /max_bytes goes with offset/],
      [{ grep: "x", context: 50 }, /context/],
      [{ grep: "x", max_matches: 0 }, /max_matches/],
      [{ context: 2 }, /go with grep/],
      [{ head_lines: 0 }, /head_lines 0 is out of range/],
    ];
    for (const [args, expected] of cases) {
      const text = errorText(await server.raw("task_result", { task_id: task.task_id, ...args }));
      assert.match(text, expected, JSON.stringify(args));
      assert.doesNotMatch(text, /maxBytes|maxMatches|maxChars/, "use the tool's parameter names");
    }
    await waitFor(async () => (await server.call("task_status", { task_id: task.task_id })).pid);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("task_result grep with a catastrophic pattern answers at once", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    // 30 a's: V8 alone backtracks 2^30 times for (a+)+$ (10.5 s at 28, doubling per character).
    const task = await runToEnd(server, {
      command: "printf 'start\\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\\n'; head -c 300000 /dev/zero | " +
        "tr '\\0' a; printf '\\nab\\n'",
    });
    const cases: [string, number][] = [
      ["(a+)+$", 1],
      ["(a|a)*b", 1],
      ["a*a*a*a*a*c", 0],
      ["^a.*!$", 1],
    ];
    for (const [grep, total] of cases) {
      const started = Date.now();
      const reply = await server.call("task_result", { task_id: task.task_id, grep });
      assert.equal(reply.total_matches, total, grep);
      assert.ok(Date.now() - started < 3000, `${grep} took ${Date.now() - started} ms`);
    }
    const refused = await server.raw("task_result", { task_id: task.task_id, grep: "(a*)*\\1$" });
    assert.match(
      errorText(refused),
      /^The pattern .* combines a backreference \(\\1\) with unbounded repetition .*: .*rewrite it/,
    );
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("task_result shows the output printed so far while the task still runs", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const started = await ok(server, "start_task", {
      command: "echo first; sleep 30; echo second",
    });
    const result = await waitFor(async () => {
      const result = await ok(server, "task_result", { task_id: started.task_id });
      return result.output === "first\n" ? result : null;
    }, { what: "the first line" });
    assert.equal(result.status, "working");
    assert.equal(result.exit_code, null);
    assert.equal(result.output_bytes, 6);
    assert.equal(result.output_truncated, false);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("task_result refuses bad tail_lines and list_tasks refuses bad limits", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const real = await finish(server, { command: "echo hi" });
    const id = real.task_id;
    await refuseAll(server, id, [
      ["task_result", { task_id: id, tail_lines: 0 }],
      ["task_result", { task_id: id, tail_lines: -5 }],
      ["task_result", { task_id: id, tail_lines: 1.5 }],
      ["task_result", { task_id: id, tail_lines: "5" }],
      ["task_result", { task_id: id, tail_lines: 1e12 }],
      ["task_result", { task_id: id, tail_lines: Number.NaN }],
      ["list_tasks", { limit: 0 }],
      ["list_tasks", { limit: -1 }],
      ["list_tasks", { limit: 5000 }],
      ["list_tasks", { limit: 2.5 }],
      ["list_tasks", { limit: "10" }],
      ["list_tasks", { limit: Number.NaN }],
    ]);
    const result = await ok(server, "task_result", { task_id: id, tail_lines: 1 });
    assert.equal(result.output, "hi\n");
  } finally {
    await server.close();
    await cleanup(home);
  }
});
