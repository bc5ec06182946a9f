import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cleanup,
  errorText,
  posixTest,
  type ServerHandle,
  startServer,
  tempDir,
  waitFor,
} from "../../helpers.ts";

type Reply = Record<string, unknown>;

const MARKER =
  /^\[backburner: (\d+) earlier bytes? left out; pass offset=0 to read from the start\]\n/;

function marker(omittedBytes: number): string {
  return `[backburner: ${omittedBytes} earlier ${
    omittedBytes === 1 ? "byte" : "bytes"
  } left out; pass offset=0 to read from the start]\n`;
}

function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** Splits a reply's output into the omitted byte count its marker names (if any) and the rest. */
function splitMarker(output: string): { named: number | null; rest: string } {
  const match = MARKER.exec(output);
  return match
    ? { named: Number(match[1]), rest: output.slice(match[0].length) }
    : { named: null, rest: output };
}

/**
 * Checks what every capped reply promises: within the cap, the marker names exactly the bytes
 * left out, and those plus the bytes returned make up the whole log.
 */
function assertCoherent(result: Reply, cap: number): string {
  const output = result.output as string;
  assert.ok(output.length <= cap, `output is ${output.length} chars, over the cap of ${cap}`);
  assert.ok(output.isWellFormed(), "output is not well-formed text");
  assert.ok(!output.includes("\0"), "output holds a NUL character");
  const { named, rest } = splitMarker(output);
  const omitted = result.omitted_before as number;
  assert.equal(result.output_truncated, omitted > 0);
  assert.equal(named, omitted > 0 ? omitted : null, "the marker must name the omitted bytes");
  return rest;
}

async function finish(server: ServerHandle, command: string, timeoutMs = 15_000) {
  const started = await server.call("start_task", { command });
  const id = started.task_id as string;
  const status = await waitFor(async () => {
    const status = await server.call("task_status", { task_id: id });
    return status.status !== "working" ? status : null;
  }, { timeoutMs, what: `"${command}" to end` });
  assert.equal(status.status, "completed", `"${command}" did not complete`);
  return { id, status };
}

/** "from\n...\nto\n" as seq prints it. */
function seqText(from: number, to: number): string {
  let text = "";
  for (let n = from; n <= to; n++) text += `${n}\n`;
  return text;
}

posixTest(
  "a reply never exceeds the output cap and its marker names the bytes left out",
  async () => {
    const home = await tempDir();
    const server = await startServer(home, { env: { BACKBURNER_MAX_OUTPUT_CHARS: "1000" } });
    try {
      const { id, status } = await finish(server, "seq 1 50000");
      const total = utf8Bytes(seqText(1, 50000));
      assert.equal(status.output_bytes, total);
      const result = await server.call("task_result", { task_id: id });
      const output = result.output as string;
      const rest = assertCoherent(result, 1000);
      assert.ok(output.length > 800, `only ${output.length} chars of a 1000 cap were used`);
      assert.equal(result.output_truncated, true);
      assert.equal(result.output_bytes, total);
      const omitted = result.omitted_before as number;
      assert.ok(omitted > 0);
      assert.ok(output.startsWith(marker(omitted)));
      assert.equal(omitted + utf8Bytes(rest), result.output_bytes);
      assert.ok(output.endsWith("\n49999\n50000\n"));
      // The text after the marker starts on a line boundary: whole lines up to the last.
      const first = Number(rest.slice(0, rest.indexOf("\n")));
      assert.equal(rest, seqText(first, 50000));
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest("by default a reply is capped at 20000 characters", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const { id } = await finish(server, "seq 1 100000");
    const result = await server.call("task_result", { task_id: id });
    const output = result.output as string;
    const rest = assertCoherent(result, 20_000);
    assert.ok(output.length > 19_000, `only ${output.length} chars of a 20000 cap were used`);
    assert.equal(result.output_bytes, 588895);
    assert.equal((result.omitted_before as number) + utf8Bytes(rest), 588895);
    const first = Number(rest.slice(0, rest.indexOf("\n")));
    assert.equal(rest, seqText(first, 100000));
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("tail_lines returns exactly the last N lines", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const { id } = await finish(server, "seq 1 1000");
    for (const n of [1, 5, 999]) {
      const result = await server.call("task_result", { task_id: id, tail_lines: n });
      const rest = assertCoherent(result, 20_000);
      assert.equal(rest, seqText(1001 - n, 1000), `tail_lines ${n}`);
      assert.equal(result.output_bytes, 3893);
      assert.equal(result.omitted_before, 3893 - utf8Bytes(rest), `tail_lines ${n}`);
      assert.equal(result.output_truncated, true);
    }
    // A last line without a newline is still a line.
    const unterminated = await finish(server, "printf 'a\\nb\\nc'");
    const result = await server.call("task_result", { task_id: unterminated.id, tail_lines: 2 });
    assert.equal(assertCoherent(result, 20_000), "b\nc");
    assert.equal(result.omitted_before, 2);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("tail_lines beyond the number of lines returns all of them", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const { id } = await finish(server, "printf 'a\\nb\\nc\\n'");
    for (const n of [3, 4, 10, 1_000_000]) {
      const result = await server.call("task_result", { task_id: id, tail_lines: n });
      assert.equal(result.output, "a\nb\nc\n", `tail_lines ${n}`);
      assert.equal(result.output_truncated, false);
      assert.equal(result.omitted_before, 0);
      assert.equal(result.output_bytes, 6);
    }
    const empty = await finish(server, "true");
    const result = await server.call("task_result", { task_id: empty.id, tail_lines: 5 });
    assert.equal(result.output, "");
    assert.equal(result.output_bytes, 0);
    assert.equal(result.output_truncated, false);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest(
  "invalid UTF-8 and NUL bytes come back as valid text with replacement characters",
  async () => {
    const home = await tempDir();
    const server = await startServer(home);
    try {
      const { id } = await finish(server, "printf 'ok\\377\\376\\000end\\n'");
      const result = await server.call("task_result", { task_id: id });
      const output = result.output as string;
      assert.equal(result.output_bytes, 9);
      assert.ok(output.includes("ok"));
      assert.ok(output.includes("end"));
      assert.ok(output.includes("\uFFFD"));
      assert.ok(!output.includes("\0"));
      assert.ok(output.isWellFormed());
      assert.ok(output.startsWith("ok") && output.endsWith("end\n"));
      // It survives the trip through JSON as the client saw it.
      const raw = await server.raw("task_result", { task_id: id });
      const text = raw.content[0].type === "text" ? raw.content[0].text : "";
      assert.equal(JSON.parse(text).output, output);
    } finally {
      await server.close();
      await cleanup(home);
    }
  },
);

posixTest("multibyte text cut at the cap stays valid", async () => {
  const home = await tempDir();
  const server = await startServer(home, { env: { BACKBURNER_MAX_OUTPUT_CHARS: "1000" } });
  try {
    // Many lines: the cut lands on a line start.
    const lines = await finish(server, "yes 'é😀é😀' | head -n 5000");
    const result = await server.call("task_result", { task_id: lines.id });
    const rest = assertCoherent(result, 1000);
    assert.equal(result.output_truncated, true);
    assert.ok(!rest.includes("\uFFFD"), "a character was cut in half");
    assert.equal(rest, "é😀é😀\n".repeat(rest.split("\n").length - 1));
    assert.equal((result.omitted_before as number) + utf8Bytes(rest), result.output_bytes);

    // One long line: the cut lands inside it, between characters.
    const long = await finish(server, "for i in $(seq 1 3000); do printf 'é😀'; done");
    const cut = await server.call("task_result", { task_id: long.id });
    const tail = assertCoherent(cut, 1000);
    assert.equal(cut.output_bytes, 3000 * 6);
    assert.ok(!tail.includes("\uFFFD"), "a character was cut in half");
    assert.match(tail, /^(😀)?(é😀)+$/u);
    assert.equal((cut.omitted_before as number) + utf8Bytes(tail), cut.output_bytes);

    const tailed = await server.call("task_result", { task_id: lines.id, tail_lines: 3 });
    assert.equal(assertCoherent(tailed, 1000), "é😀é😀\n".repeat(3));
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("tail_lines works on a 300 MB log", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    // 3,000,000 lines of 100 "x"; fold adds no newline after the last.
    const { id, status } = await finish(
      server,
      "head -c 300000000 /dev/zero | tr '\\0' 'x' | fold -w 100",
      120_000,
    );
    const total = 3_000_000 * 101 - 1;
    assert.equal(status.output_bytes, total);
    const result = await server.call("task_result", { task_id: id, tail_lines: 100 });
    const rest = assertCoherent(result, 20_000);
    const line = "x".repeat(100);
    assert.equal(rest, `${`${line}\n`.repeat(99)}${line}`);
    assert.equal(result.output_bytes, total);
    assert.equal(result.omitted_before, total - (100 * 101 - 1));
    const capped = await server.call("task_result", { task_id: id });
    const end = assertCoherent(capped, 20_000);
    assert.ok(end.endsWith(`\n${line}`));
    assert.equal((capped.omitted_before as number) + utf8Bytes(end), total);
  } finally {
    await server.close();
    await cleanup(home);
  }
});

posixTest("task_result of a task whose log is missing returns empty output", async () => {
  const home = await tempDir();
  const server = await startServer(home);
  try {
    const { id } = await finish(server, "echo gone");
    Deno.removeSync(join(home, "tasks", id, "output.log"));
    const result = await server.call("task_result", { task_id: id });
    assert.equal(result.output, "");
    assert.equal(result.output_bytes, 0);
    assert.equal(result.omitted_before, 0);
    const status = await server.call("task_status", { task_id: id });
    assert.equal(status.output_bytes, 0);
    // Still an answer, not an error, and the server goes on.
    const again = await server.raw("task_result", { task_id: id, tail_lines: 0 });
    assert.match(errorText(again), /tail_lines 0 is out of range/);
  } finally {
    await server.close();
    await cleanup(home);
  }
});
