import assert from "node:assert/strict";
import { join } from "node:path";
import { LogCursor } from "../../src/logs/cursor.ts";
import { encoder, withDir } from "./log_files.ts";

async function append(path: string, data: string | Uint8Array): Promise<void> {
  await Deno.writeFile(path, typeof data === "string" ? encoder.encode(data) : data, {
    append: true,
  });
}

Deno.test("LogCursor hands out each finished line once and holds the unfinished one", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "output.log");
    const cursor = new LogCursor(path, { maxPendingChars: 100 });
    assert.equal(await cursor.read(), null, "no log yet");
    await append(path, "one\ntw");
    const first = (await cursor.read())!;
    assert.deepEqual(first.lines, ["one"]);
    assert.equal(first.pendingGrew, true);
    assert.equal(cursor.pending, "tw");
    // A character split across two reads arrives whole.
    const e = encoder.encode("é");
    await append(path, new Uint8Array([...encoder.encode("o"), e[0]]));
    assert.deepEqual((await cursor.read())!.lines, []);
    await append(path, new Uint8Array([e[1], 10]));
    const second = (await cursor.read())!;
    assert.deepEqual(second.lines, ["twoé"]);
    assert.equal(second.pendingGrew, false);
    assert.equal(cursor.pending, "");
    const none = (await cursor.read())!;
    assert.deepEqual([none.lines, none.bytes.length, none.pendingGrew], [[], 0, false]);
    await append(path, "last");
    await cursor.read();
    assert.equal(cursor.takePending(), "last");
    assert.equal(cursor.pending, "");
  });
});

Deno.test("LogCursor starts over when the log is truncated or replaced", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "output.log");
    const cursor = new LogCursor(path, { maxPendingChars: 100 });
    await append(path, "a long first line\nhalf");
    await cursor.read();
    await Deno.writeTextFile(path, "new\n");
    const truncated = (await cursor.read())!;
    assert.equal(truncated.restarted, true);
    assert.deepEqual(truncated.lines, ["new"]);
    // Replaced by another file of the same size: read from its start too.
    await Deno.writeTextFile(join(dir, "other.log"), "old\nnext\n");
    await Deno.rename(join(dir, "other.log"), path);
    const replaced = (await cursor.read())!;
    assert.equal(replaced.restarted, true);
    assert.deepEqual(replaced.lines, ["old", "next"]);
  });
});

Deno.test("LogCursor bounds long lines: their end kept, or flushed", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "output.log");
    const keep = new LogCursor(path, { maxPendingChars: 10, maxLineChars: 10 });
    const flush = new LogCursor(path, { maxPendingChars: 10, longLine: "flush" });
    await append(path, "0123456789abcdef");
    await keep.read();
    assert.equal(keep.pending, "6789abcdef");
    const flushed = (await flush.read())!;
    assert.equal(flushed.flushed, "0123456789abcdef");
    assert.equal(flush.pending, "");
    await append(path, "ghij\n");
    assert.deepEqual((await keep.read())!.lines, ["abcdefghij"]);
    assert.deepEqual((await flush.read())!.lines, ["ghij"]);
  });
});

Deno.test("LogCursor reads at most maxBytes, or only the last bytes", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "output.log");
    await append(path, "line 1\nline 2\nline 3\n");
    const capped = new LogCursor(path, { maxPendingChars: 100 });
    assert.deepEqual((await capped.read({ maxBytes: 10 }))!.lines, ["line 1"]);
    assert.equal(capped.behind, true);
    assert.deepEqual((await capped.read({ maxBytes: 10 }))!.lines, ["line 2"]);
    assert.deepEqual((await capped.read({ maxBytes: 10 }))!.lines, ["line 3"]);
    assert.equal(capped.behind, false);

    // The last 10 bytes start inside "line 2": reading resumes after its end.
    const last = new LogCursor(path, { maxPendingChars: 100 });
    const gain = (await last.read({ lastBytes: 10 }))!;
    assert.equal(gain.skipped, true);
    assert.deepEqual(gain.lines, ["line 3"]);
    // A redraw starts afresh too, where asked.
    await append(path, `${"x".repeat(20)}\r45%`);
    const redraw = new LogCursor(path, { maxPendingChars: 100, resumeAfter: "line-or-redraw" });
    await redraw.read({ lastBytes: 10 });
    assert.equal(redraw.pending, "45%");
  });
});

Deno.test("LogCursor folds redraws of an unfinished line where asked", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "output.log");
    const cursor = new LogCursor(path, { maxPendingChars: 100, foldRedraws: true });
    await append(path, "\x1b[32m10%\x1b[0m\r20%\r30%\r\x1b[3");
    await cursor.read();
    assert.equal(cursor.pending, "30%\r\x1b[3");
  });
});
