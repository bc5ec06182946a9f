import assert from "node:assert/strict";
import { join } from "node:path";
import { grepLog } from "../../src/logs/grep.ts";
import { readHead, readRange, readTail, type Slice } from "../../src/logs/slice.ts";
import { cleanText, MAX_LINE_CHARS, toText } from "../../src/logs/text.ts";
import {
  assertSlice,
  bodyOf,
  bytesOf,
  concat,
  encoder,
  moreMarker,
  tailMarker,
  withDir,
  withLog,
  withMore,
} from "./log_files.ts";

// Tails.

Deno.test("readTail returns a small log whole, with no marker", async () => {
  await withLog("line1\nline2\nline3\n", async (path) => {
    assert.deepEqual(await readTail(path, { maxChars: 1000 }), {
      text: "line1\nline2\nline3\n",
      totalBytes: 18,
      startOffset: 0,
      nextOffset: 18,
      omittedBefore: 0,
      omittedAfter: 0,
      note: null,
    });
  });
});

Deno.test("readTail with lines returns the last lines after a marker naming their offset", async () => {
  await withLog("line1\nline2\nline3\n", async (path) => {
    assert.deepEqual(await readTail(path, { maxChars: 1000, lines: 2 }), {
      text: `${tailMarker(6)}line2\nline3\n`,
      totalBytes: 18,
      startOffset: 6,
      nextOffset: 18,
      omittedBefore: 6,
      omittedAfter: 0,
      note:
        "The first 6 bytes of 18 were left out (only the last 2 lines were asked for); pass offset=0 to read from the start.",
    });
    const one = await readTail(path, { maxChars: 1000, lines: 1 });
    assert.equal(one.text, `${tailMarker(12)}line3\n`);
    assert.equal(one.startOffset, 12);
    for (const lines of [3, 4, 100]) {
      const all = await readTail(path, { maxChars: 1000, lines });
      assert.equal(all.text, "line1\nline2\nline3\n");
      assert.equal(all.note, null);
    }
  });
  // A last line without a newline is still a line.
  await withLog("a\nb\nc", async (path) => {
    const tail = await readTail(path, { maxChars: 1000, lines: 2 });
    assert.equal(tail.text, `${tailMarker(2)}b\nc`);
    assert.equal(tail.startOffset, 2);
    assert.equal(tail.nextOffset, 5);
  });
  await withLog("only\n", async (path) => {
    const tail = await readTail(path, { maxChars: 1000, lines: 1 });
    assert.equal(tail.text, "only\n");
    assert.equal(tail.note, null);
  });
});

Deno.test("readTail cuts at the cap on a line start, as many lines as fit", async () => {
  const content = Array.from({ length: 1000 }, (_, i) => `${String(i + 1).padStart(4, "0")}\n`)
    .join("");
  await withLog(content, async (path, bytes) => {
    const tail = await readTail(path, { maxChars: 200 });
    assertSlice(tail, bytes, 200, false);
    assert.equal(tail.startOffset % 5, 0, "the cut should land on a line start");
    assert.equal(tail.text, tailMarker(tail.startOffset) + content.slice(tail.startOffset));
    // One more line would not have fit.
    const more = tailMarker(tail.startOffset - 5) + content.slice(tail.startOffset - 5);
    assert.ok(more.length > 200);
    assert.equal(
      tail.note,
      `The first ${tail.startOffset} bytes of 5000 were left out (to fit 200 characters); pass offset=0 to read from the start.`,
    );
    // Asking for more lines than fit says how many did.
    const lines = await readTail(path, { maxChars: 200, lines: 100 });
    assert.equal(lines.text, tail.text);
    const shown = (5000 - tail.startOffset) / 5;
    assert.equal(
      lines.note,
      `The first ${tail.startOffset} bytes of 5000 were left out (only the last ${shown} lines of the 100 asked for fit in 200 characters); pass offset=0 to read from the start.`,
    );
  });
});

Deno.test("readTail of many lines reads only a window from the end, grown for lines", async () => {
  // 3 MB of 100-byte lines: the window for 20000 characters is 81 KB, and 1000 lines need more.
  const line = `${"x".repeat(99)}\n`;
  await withLog(line.repeat(30_000), async (path, bytes) => {
    const tail = await readTail(path, { maxChars: 20_000, lines: 5 });
    assert.equal(tail.text, tailMarker(bytes.length - 500) + line.repeat(5));
    const capped = await readTail(path, { maxChars: 200_000, lines: 1000 });
    assert.equal(capped.startOffset, bytes.length - 100_000);
    assert.equal(capped.text, tailMarker(capped.startOffset) + line.repeat(1000));
  });
});

Deno.test("readTail cuts into a line when whole lines would fill less than half", async () => {
  // A long line, then a short last line: the end of the long one fills the budget.
  const long = "a".repeat(5000);
  await withLog(`${long}\nend\n`, async (path, bytes) => {
    const tail = await readTail(path, { maxChars: 300, raw: true });
    assertSlice(tail, bytes, 300, true);
    assert.ok(tail.text.endsWith("aaa\nend\n"));
    assert.equal(tail.text.length, 300, "the cut should fill the budget");
    assert.match(tail.note!, /\(to fit 300 characters\)/);
    const lines = await readTail(path, { maxChars: 300, lines: 2, raw: true });
    assert.equal(lines.text, tail.text);
    assert.match(lines.note!, /only the last 2 lines \(the first of them cut\) of the 2 asked for/);
  });
});

Deno.test("readTail skips a character split at the start of its window", async () => {
  // 4-byte characters after a 3-byte prefix: the window that a 200-character cap reads starts
  // inside a character.
  const content = `abc${"😀".repeat(1000)}\n`;
  await withLog(content, async (path, bytes) => {
    for (const raw of [false, true]) {
      const tail = await readTail(path, { maxChars: 200, raw });
      assertSlice(tail, bytes, 200, raw);
      assert.equal((tail.startOffset - 3) % 4, 0, `offset ${tail.startOffset} splits a character`);
      assert.match(tail.text.slice(tailMarker(tail.startOffset).length), /^(😀)+\n$/u);
    }
  });
  // The same with 2-byte characters, at every window alignment.
  for (let prefix = 0; prefix < 4; prefix++) {
    await withLog(`${"x".repeat(prefix)}${"é".repeat(3000)}`, async (path, bytes) => {
      const tail = await readTail(path, { maxChars: 200, raw: true });
      assertSlice(tail, bytes, 200, true);
      assert.ok(!tail.text.includes("\uFFFD"));
    });
  }
});

Deno.test("readTail of a missing or empty file is empty", async () => {
  const empty: Slice = {
    text: "",
    totalBytes: 0,
    startOffset: 0,
    nextOffset: 0,
    omittedBefore: 0,
    omittedAfter: 0,
    note: null,
  };
  await withLog("", async (path) => {
    assert.deepEqual(await readTail(path, { maxChars: 1000 }), empty);
    assert.deepEqual(await readTail(path, { maxChars: 1000, lines: 3 }), empty);
    assert.deepEqual(await readHead(path, { maxChars: 1000 }), empty);
    const missing = join(path, "..", "no-such.log");
    assert.deepEqual(await readTail(missing, { maxChars: 1000 }), empty);
    assert.deepEqual(await readTail(missing, { maxChars: 1000, lines: 3 }), empty);
    assert.deepEqual(await readHead(missing, { maxChars: 1000, lines: 3 }), empty);
    assert.deepEqual(await readRange(missing, { maxChars: 1000, offset: 0 }), empty);
    assert.deepEqual(await readRange(missing, { maxChars: 1000, offset: 7 }), {
      ...empty,
      startOffset: 7,
      nextOffset: 7,
    });
    assert.deepEqual(await grepLog(missing, { maxChars: 1000, pattern: /x/ }), {
      matches: [],
      totalMatches: 0,
      totalBytes: 0,
      truncated: false,
      note: null,
    });
  });
});

// Heads and ranges.

Deno.test("readHead returns the first lines with a marker naming the offset to continue at", async () => {
  await withLog("line1\nline2\nline3\n", async (path) => {
    assert.deepEqual(await readHead(path, { maxChars: 1000, lines: 2 }), {
      text: `line1\nline2\n${moreMarker(6, 12)}`,
      totalBytes: 18,
      startOffset: 0,
      nextOffset: 12,
      omittedBefore: 0,
      omittedAfter: 6,
      note:
        "The last 6 bytes, from offset 12 of 18, were left out (only the first 2 lines were asked for); pass offset=12 to continue.",
    });
    assert.equal(
      (await readHead(path, { maxChars: 1000, lines: 1 })).text,
      withMore("line1\n", 12, 6),
    );
    for (const lines of [undefined, 3, 4]) {
      const all = await readHead(path, { maxChars: 1000, lines });
      assert.equal(all.text, "line1\nline2\nline3\n");
      assert.equal(all.nextOffset, 18);
      assert.equal(all.note, null);
    }
  });
  const content = Array.from({ length: 1000 }, (_, i) => `${String(i + 1).padStart(4, "0")}\n`)
    .join("");
  await withLog(content, async (path, bytes) => {
    const head = await readHead(path, { maxChars: 200 });
    assertSlice(head, bytes, 200, false);
    assert.equal(head.nextOffset % 5, 0, "the cut should land on a line end");
    assert.ok(withMore(content.slice(0, head.nextOffset + 5), 1, 10000).length > 200);
    assert.equal(
      head.note,
      `The last ${
        5000 - head.nextOffset
      } bytes, from offset ${head.nextOffset} of 5000, were left out (to fit 200 characters); pass offset=${head.nextOffset} to continue.`,
    );
  });
});

Deno.test("readRange returns the bytes from an offset, ending on a whole line", async () => {
  await withLog("line1\nline2\nline3\n", async (path, bytes) => {
    assert.deepEqual(await readRange(path, { maxChars: 1000, offset: 6 }), {
      text: "line2\nline3\n",
      totalBytes: 18,
      startOffset: 6,
      nextOffset: 18,
      omittedBefore: 6,
      omittedAfter: 0,
      note: null,
    });
    // 8 bytes from 3 are "e1\nline2": the range ends after the last whole line in it.
    const range = await readRange(path, { maxChars: 1000, offset: 3, maxBytes: 8 });
    assert.deepEqual(range, {
      text: withMore("e1\n", 12, 6),
      totalBytes: 18,
      startOffset: 3,
      nextOffset: 6,
      omittedBefore: 3,
      omittedAfter: 12,
      note:
        "The last 12 bytes, from offset 6 of 18, were left out (to stay within 8 bytes); pass offset=6 to continue.",
    });
    // No whole line in range: the part of the line there is.
    const part = await readRange(path, { maxChars: 1000, offset: 6, maxBytes: 3 });
    assert.equal(part.text, withMore("lin", 9, 9));
    assert.equal(part.nextOffset, 9);
    for (const offset of [0, 1, 5, 6, 17]) {
      for (const maxBytes of [1, 2, 5, 6, 7, 100]) {
        assertSlice(await readRange(path, { maxChars: 200, offset, maxBytes }), bytes, 200, false);
      }
    }
  });
});

Deno.test("readRange past the end is empty text at that offset, not an error", async () => {
  await withLog("abc\n", async (path) => {
    for (const offset of [4, 5, 1_000_000]) {
      assert.deepEqual(await readRange(path, { maxChars: 1000, offset }), {
        text: "",
        totalBytes: 4,
        startOffset: offset,
        nextOffset: offset,
        omittedBefore: 4,
        omittedAfter: 0,
        note: null,
      });
    }
  });
});

Deno.test("bad arguments are RangeErrors that say what to pass", async () => {
  await withLog("abc\n", async (path) => {
    for (const offset of [-1, 1.5, NaN, Infinity]) {
      await assert.rejects(
        readRange(path, { maxChars: 1000, offset }),
        (error: Error) =>
          error instanceof RangeError &&
          error.message.startsWith(`offset ${offset} is not a byte offset: pass a whole number`),
      );
    }
    await assert.rejects(
      readRange(path, { maxChars: 1000, offset: 0, maxBytes: 0 }),
      /maxBytes 0 is out of range: pass a whole number from 1/,
    );
    await assert.rejects(readTail(path, { maxChars: 199 }), /maxChars 199 is out of range/);
    await assert.rejects(readHead(path, { maxChars: 1000, lines: 0 }), /lines 0 is out of range/);
    await assert.rejects(readTail(path, { maxChars: 1000, lines: 2.5 }), RangeError);
    await assert.rejects(
      grepLog(path, { maxChars: 1000, pattern: /a/, context: 21 }),
      /context 21 is out of range: pass a whole number of lines from 0 to 20/,
    );
    await assert.rejects(
      grepLog(path, { maxChars: 1000, pattern: /a/, maxMatches: 1001 }),
      /maxMatches 1001 is out of range: pass a whole number from 1 to 1000/,
    );
    await assert.rejects(
      grepLog(path, { maxChars: 1000, pattern: /a/, maxMatches: 0 }),
      RangeError,
    );
    await assert.rejects(
      grepLog(path, { maxChars: 1000, pattern: "a" as unknown as RegExp }),
      TypeError,
    );
  });
});

Deno.test("a forward read holds back an unfinished last line, unless the log is complete", async () => {
  await withLog("a\nb\nc", async (path) => {
    assert.deepEqual(await readHead(path, { maxChars: 1000 }), {
      text: withMore("a\nb\n", 1, 4),
      totalBytes: 5,
      startOffset: 0,
      nextOffset: 4,
      omittedBefore: 0,
      omittedAfter: 1,
      note:
        "The last 1 byte, from offset 4 of 5, was left out (an unfinished line, held back until it ends); pass offset=4 to continue.",
    });
    // The unfinished line alone is returned: nothing else would ever come.
    const rest = await readRange(path, { maxChars: 1000, offset: 4 });
    assert.equal(rest.text, "c");
    assert.equal(rest.nextOffset, 5);
    const complete = await readHead(path, { maxChars: 1000, complete: true });
    assert.equal(complete.text, "a\nb\nc");
    assert.equal(complete.note, null);
  });
  // Half a character at the end waits for the rest of it.
  await withLog(concat(bytesOf("ab"), bytesOf("😀").subarray(0, 2)), async (path) => {
    const head = await readHead(path, { maxChars: 1000 });
    assert.equal(head.text, withMore("ab", 2, 2));
    assert.equal(head.nextOffset, 2);
    assert.match(head.note!, /an unfinished character/);
    assert.equal((await readHead(path, { maxChars: 1000, complete: true })).text, "ab\uFFFD");
  });
});

Deno.test("readRange ends and starts on character boundaries", async () => {
  const content = "é😀".repeat(200); // 6 bytes a pair, no newline
  await withLog(content, async (path, bytes) => {
    for (let offset = 0; offset < 12; offset++) {
      for (const maxBytes of [1, 2, 3, 4, 5, 6, 7, 50, 51, 52, 53]) {
        const range = await readRange(path, { maxChars: 1000, offset, maxBytes, raw: true });
        assertSlice(range, bytes, 1000, true);
        assert.ok(!range.text.includes("\uFFFD"), `offset ${offset}, maxBytes ${maxBytes}`);
        assert.ok(range.nextOffset - offset <= maxBytes);
        // A start inside a character moves on to the next one.
        assert.ok(range.startOffset - offset < 4);
      }
    }
    // Cut by characters, not bytes.
    const capped = await readRange(path, { maxChars: 200, offset: 0, raw: true });
    assertSlice(capped, bytes, 200, true);
    assert.ok(capped.text.length >= 195, `only ${capped.text.length} characters`);
  });
});

Deno.test("a follower reading from its cursor while the log grows sees every byte once", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "output.log");
    await Deno.writeFile(path, new Uint8Array());
    const smile = bytesOf("😀");
    const appends: Uint8Array[] = [
      bytesOf("hello "),
      bytesOf("world\nsecond line\nthi"),
      bytesOf("rd line é\n"),
      concat(bytesOf("abc"), smile.subarray(0, 2)),
      concat(smile.subarray(2), bytesOf("\n")),
      bytesOf(`${"long line ".repeat(40)}\nshort\n`),
      bytesOf("é".repeat(70)),
      bytesOf("\nno newline at the end"),
    ];
    for (const maxBytes of [undefined, 7, 50]) {
      await Deno.writeFile(path, new Uint8Array());
      let written: Uint8Array = new Uint8Array();
      let cursor = 0;
      let seen = "";
      const drain = async (complete: boolean) => {
        for (;;) {
          const slice = await readRange(path, {
            maxChars: 200,
            offset: cursor,
            maxBytes,
            raw: true,
            complete,
          });
          assertSlice(slice, written, 200, true);
          assert.equal(slice.startOffset, cursor);
          // A range that holds a whole line that fits ends on a line end.
          const rangeEnd = Math.min(written.length, cursor + (maxBytes ?? Infinity));
          const firstEnd = written.indexOf(10, cursor) + 1;
          if (
            firstEnd > 0 && firstEnd <= rangeEnd && firstEnd - cursor <= 100 &&
            !(complete && slice.nextOffset === written.length)
          ) {
            assert.equal(written[slice.nextOffset - 1], 10, `cursor ${cursor} ended mid-line`);
          }
          seen += bodyOf(slice, written);
          if (slice.nextOffset === cursor) return;
          cursor = slice.nextOffset;
        }
      };
      for (const part of appends) {
        const file = await Deno.open(path, { append: true });
        await file.write(part);
        file.close();
        written = concat(written, part);
        await drain(false);
      }
      await drain(true);
      assert.equal(cursor, written.length);
      assert.equal(seen, toText(written));
      assert.ok(!seen.includes("\uFFFD"), "a character was split between reads");
    }
  });
});

Deno.test("a clean follower sees the clean text of the whole log", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "output.log");
    const lines = Array.from(
      { length: 300 },
      (_, i) => `\x1b[3${i % 8}mline ${i}\x1b[0m ${"0%\r50%\r100%".repeat(i % 3)}\n`,
    );
    let written = "";
    let cursor = 0;
    let seen = "";
    for (let batch = 0; batch < 300; batch += 37) {
      const part = lines.slice(batch, batch + 37).join("");
      await Deno.writeTextFile(path, part, { append: true });
      written += part;
      for (;;) {
        const slice = await readRange(path, { maxChars: 300, offset: cursor });
        assertSlice(slice, encoder.encode(written), 300, false);
        seen += bodyOf(slice, encoder.encode(written));
        if (slice.nextOffset === cursor) break;
        cursor = slice.nextOffset;
      }
    }
    assert.equal(seen, cleanText(written));
    assert.ok(!seen.includes("\x1b") && !seen.includes("\r"));
  });
});

// Text.

Deno.test("invalid UTF-8 and NUL become replacement characters", async () => {
  const bytes = new Uint8Array([0x6f, 0x6b, 0xff, 0xfe, 0x00, 0x65, 0x6e, 0x64, 0x0a]);
  await withLog(bytes, async (path) => {
    for (const raw of [false, true]) {
      assert.equal(
        (await readTail(path, { maxChars: 1000, raw })).text,
        "ok\uFFFD\uFFFD\uFFFDend\n",
      );
      assert.equal(
        (await readHead(path, { maxChars: 1000, raw })).text,
        "ok\uFFFD\uFFFD\uFFFDend\n",
      );
      assert.equal(
        (await readRange(path, { maxChars: 1000, offset: 2, raw })).text,
        "\uFFFD\uFFFD\uFFFDend\n",
      );
    }
    const found = await grepLog(path, { maxChars: 1000, pattern: /ok\uFFFD+end/ });
    assert.equal(found.totalMatches, 1);
    assert.equal(found.matches[0].text, "ok\uFFFD\uFFFD\uFFFDend");
  });
});

Deno.test("clean text drops colours and collapses redraws; raw keeps the bytes", async () => {
  const content = "\x1b[31mred\x1b[0m plain\n10%\r50%\r100%\ndone\r\n\x1b]0;title\x07after\n";
  await withLog(content, async (path) => {
    const clean = "red plain\n100%\ndone\nafter\n";
    assert.equal((await readTail(path, { maxChars: 1000 })).text, clean);
    assert.equal((await readHead(path, { maxChars: 1000 })).text, clean);
    assert.equal((await readTail(path, { maxChars: 1000, raw: true })).text, content);
    assert.equal((await readHead(path, { maxChars: 1000, raw: true })).text, content);
    const tail = await readTail(path, { maxChars: 1000, lines: 3 });
    assert.equal(tail.text, `${tailMarker(19)}100%\ndone\nafter\n`);
    // A search matches the clean line: the colour codes do not split the word.
    const colours = "\x1b[1mER\x1b[0mROR at step 3\n";
    await Deno.writeTextFile(path, colours, { append: true });
    const clean1 = await grepLog(path, { maxChars: 1000, pattern: /^ERROR at/ });
    assert.deepEqual(clean1.matches.map((m) => [m.line, m.text]), [[5, "ERROR at step 3"]]);
    const raw = await grepLog(path, { maxChars: 1000, pattern: /ERROR/, raw: true });
    assert.equal(raw.totalMatches, 0);
    const redraw = await grepLog(path, { maxChars: 1000, pattern: /^100%$/ });
    assert.deepEqual(redraw.matches.map((m) => m.line), [2]);
    const rawRedraw = await grepLog(path, { maxChars: 1000, pattern: /50%/, raw: true });
    assert.deepEqual(rawRedraw.matches.map((m) => m.text), ["10%\r50%\r100%"]);
  });
});

Deno.test("a 10,000-character line is cut in clean text, with a marker, and kept raw", async () => {
  const long = "x".repeat(10_000);
  await withLog(`before\n${long}\nafter\n`, async (path, bytes) => {
    const cut = `${"x".repeat(MAX_LINE_CHARS)}… [${10_000 - MAX_LINE_CHARS} more characters]`;
    const clean = await readTail(path, { maxChars: 20_000 });
    assert.equal(clean.text, `before\n${cut}\nafter\n`);
    assert.equal((await readHead(path, { maxChars: 20_000 })).text, `before\n${cut}\nafter\n`);
    const raw = await readTail(path, { maxChars: 20_000, raw: true });
    assert.equal(raw.text, `before\n${long}\nafter\n`);
    // Raw and too long for the budget: the line is cut where the budget ends.
    const head = await readHead(path, { maxChars: 5000, raw: true });
    assertSlice(head, bytes, 5000, true);
    assert.equal(head.nextOffset, 7, "the whole first line, not part of the second");
    const next = await readRange(path, { maxChars: 5000, offset: 7, raw: true });
    assertSlice(next, bytes, 5000, true);
    assert.ok(next.text.length > 4900);
    const found = await grepLog(path, { maxChars: 20_000, pattern: /^x+$/ });
    assert.deepEqual(found.matches.map((m) => [m.line, m.text]), [[2, cut]]);
  });
});

Deno.test("a clean tail of one huge line shows its end", async () => {
  const content = `${"0123456789".repeat(100_000)}END`;
  await withLog(content, async (path, bytes) => {
    const tail = await readTail(path, { maxChars: 20_000 });
    assertSlice(tail, bytes, 20_000, false);
    assert.equal(
      tail.text,
      tailMarker(bytes.length - MAX_LINE_CHARS) + content.slice(-MAX_LINE_CHARS),
    );
    const raw = await readTail(path, { maxChars: 20_000, raw: true });
    assertSlice(raw, bytes, 20_000, true);
    assert.ok(raw.text.endsWith("789END") && raw.text.length > 19_990);
  });
});

Deno.test("every slice stays within its budget and says what it left out", async () => {
  // A seeded mix of everything a terminal writes, read in every way at several budgets.
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const parts = ["word ", "é", "😀", "\n", "\r", "\x1b[32m", "\x1b[0m", "\t", "x".repeat(300)];
  for (let round = 0; round < 6; round++) {
    let content = "";
    while (content.length < 3000 + round * 1000) {
      content += parts[Math.floor(random() * parts.length)];
    }
    const bytes = concat(bytesOf(content), new Uint8Array([0xff, 0x00, 0x0a]));
    await withLog(bytes, async (path) => {
      for (const maxChars of [200, 333, 1000, 100_000]) {
        for (const raw of [false, true]) {
          const tail = await readTail(path, { maxChars, raw });
          assertSlice(tail, bytes, maxChars, raw);
          const lines = await readTail(path, {
            maxChars,
            raw,
            lines: 1 + Math.floor(random() * 30),
          });
          assertSlice(lines, bytes, maxChars, raw);
          const head = await readHead(path, {
            maxChars,
            raw,
            lines: 1 + Math.floor(random() * 30),
          });
          assertSlice(head, bytes, maxChars, raw);
          const offset = Math.floor(random() * bytes.length);
          const range = await readRange(path, {
            maxChars,
            raw,
            offset,
            maxBytes: 1 + Math.floor(random() * 2000),
          });
          assertSlice(range, bytes, maxChars, raw);
        }
      }
    });
  }
});
