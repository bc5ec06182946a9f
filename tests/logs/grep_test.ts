import assert from "node:assert/strict";
import { join } from "node:path";
import {
  grepLog,
  type GrepMatch,
  grepText,
  literalOf,
  mayCrossLines,
} from "../../src/logs/grep.ts";
import { readRange, readTail } from "../../src/logs/slice.ts";
import {
  collapseCarriageReturns,
  cutLongLines,
  MAX_LINE_CHARS,
  stripAnsi,
  toText,
} from "../../src/logs/text.ts";
import { encoder, tailMarker, withDir, withLog, withMore } from "./log_files.ts";

// Search.

/** Matching lines as testing each line on its own finds them. */
function referenceGrep(bytes: Uint8Array, pattern: RegExp, raw: boolean, context: number) {
  const lines = toText(bytes).split("\n");
  if (lines.at(-1) === "") lines.pop();
  const searched = lines.map((line) => raw ? line : collapseCarriageReturns(stripAnsi(line)));
  const offsets: number[] = [];
  let offset = 0;
  for (let i = 0; i < lines.length; i++) {
    offsets.push(offset);
    offset = bytes.indexOf(10, offset) + 1;
  }
  const test = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ""));
  const shown = (line: string) => cutLongLines(line, MAX_LINE_CHARS);
  const matches: GrepMatch[] = [];
  searched.forEach((line, i) => {
    if (!test.test(line)) return;
    matches.push({
      line: i + 1,
      offset: offsets[i],
      text: shown(line),
      before: searched.slice(Math.max(0, i - context), i).map(shown),
      after: searched.slice(i + 1, i + 1 + context).map(shown),
    });
  });
  return matches;
}

/**
 * The same pattern, forced to test line by line: a newline may cross lines, so the added branch
 * makes the search test each line alone, where it can never match.
 */
function lineByLine(pattern: RegExp): RegExp {
  return new RegExp(`${pattern.source}|\\n\\n`, pattern.flags);
}

Deno.test("grepLog finds the same lines as a line-by-line search, across chunk boundaries", async () => {
  const lines: string[] = [];
  for (let i = 0; i < 400; i++) {
    const kind = i % 13;
    lines.push(
      kind === 0
        ? `ERROR failed step ${i}`
        : kind === 5
        ? `warning: é😀 deprecated ${i}`
        : kind === 7
        ? `\x1b[31mError\x1b[0m colour ${i}`
        : kind === 9
        ? `progress 10%\r100% ${i}\r`
        : kind === 11
        ? ""
        : `ordinary line ${i} with some words`,
    );
  }
  const content = `${lines.join("\n")}\nlast ERROR without a newline`;
  const patterns = [
    /error/i,
    /^ERROR/,
    /\d+$/,
    /^$/,
    /é😀/u,
    /^progress 100%/,
    /words$/m,
    /(?<=failed )step/,
    /\bwith\b/g,
    /ERROR/y,
    /x*/,
    /[ -~]+ \d{3}$/,
    // Run by RE2 after a native search for the text each match contains.
    /ERROR.*step \d+$/,
    /line \d+ with some/,
    /colour \d+$/,
    /é😀 dep.+ \d+/u,
  ];
  await withLog(content, async (path, bytes) => {
    for (const raw of [false, true]) {
      for (const pattern of patterns) {
        const expected = referenceGrep(bytes, pattern, raw, 2);
        for (const chunkBytes of [1, 3, 7, 64, 1000, undefined]) {
          for (const candidate of [pattern, lineByLine(pattern)]) {
            const found = await grepLog(path, {
              maxChars: 1_000_000,
              pattern: candidate,
              context: 2,
              maxMatches: 1000,
              chunkBytes,
              raw,
            });
            const what = `${candidate} raw=${raw} chunkBytes=${chunkBytes}`;
            assert.equal(found.totalMatches, expected.length, what);
            assert.deepEqual(found.matches, expected, what);
            assert.equal(found.truncated, false);
            assert.equal(found.note, null);
            assert.equal(found.totalBytes, bytes.length);
          }
        }
      }
    }
  });
});

Deno.test("a literal searched in the bytes finds what a search of the text finds", async () => {
  // Lines where the bytes and the clean text differ, and where a literal sits in odd places.
  const pieces: (string | number[])[] = [
    "ERROR at the start",
    "a mid-line ERROR, not at the start",
    "xERROR",
    "ERROR",
    "ERRO",
    "ERROR\r",
    "windows line ERROR\r",
    "\rERROR after a carriage return",
    "ERROR\rhidden by a redraw",
    "\x1b[31mERROR\x1b[0m in colour",
    "ER\x1b[0mROR split by an escape",
    "\x1b]0;ERROR\x07 in a title",
    [0xef, 0xbb, 0xbf, 0x45, 0x52, 0x52, 0x4f, 0x52], // a byte-order mark, then ERROR
    [0xff, 0xfe, 0x45, 0x52, 0x52, 0x4f, 0x52], // invalid UTF-8, then ERROR
    [0x45, 0x52, 0x52, 0xc3, 0x4f, 0x52], // invalid UTF-8 inside
    [0xc2, 0x9b, 0x33, 0x31, 0x6d, 0x45, 0x52, 0x52, 0x4f, 0x52], // U+009B, a one-byte CSI
    [0x9b, 0x45, 0x52, 0x52, 0x4f, 0x52], // a lone continuation byte
    [0x00, 0x45, 0x52, 0x52, 0x4f, 0x52], // NUL
    "error in lower case",
    "Error, capitalised",
    "",
    "ordinary line",
    "ordinary line with x",
    "é😀 ERROR after wide characters",
  ];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 300; i++) {
    const piece = pieces[Math.floor(next() * pieces.length)];
    parts.push(typeof piece === "string" ? encoder.encode(piece) : new Uint8Array(piece));
    parts.push(encoder.encode(next() < 0.05 ? "\r\n" : "\n"));
  }
  parts.push(encoder.encode("ERROR without a newline at the end"));
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  parts.reduce((at, part) => (bytes.set(part, at), at + part.length), 0);
  const patterns = [/^ERROR/, /ERROR/, /^E/, /ER/, /^ERROR/i, /error/i, /^ERROR/m, /line with/];
  for (const pattern of patterns.slice(0, 4)) assert.notEqual(literalOf(pattern.source, ""), null);
  await withLog(bytes, async (path) => {
    for (const raw of [false, true]) {
      for (const pattern of patterns) {
        for (const chunkBytes of [1, 5, 64, 4096, undefined]) {
          for (const [context, maxMatches] of [[0, 1], [2, 3], [1, 1000]]) {
            const options = { maxChars: 1_000_000, context, maxMatches, chunkBytes, raw };
            const expected = await grepLog(path, { ...options, pattern: lineByLine(pattern) });
            const found = await grepLog(path, { ...options, pattern });
            const what = `${pattern} raw=${raw} chunkBytes=${chunkBytes} context=${context}`;
            assert.deepEqual(found, expected, what);
          }
        }
      }
    }
  });
});

Deno.test("a segment skipped as bytes still gives the lines before a match in the next", async () => {
  // The first read (14 bytes) ends its segment after "yy\n": nothing matches there, so only its
  // last lines are decoded, from a line that starts with a byte-order mark (kept, as mid-text).
  await withLog("ok\n\uFEFFzz\nyy\nERROR\n", async (path) => {
    const options = { maxChars: 1_000_000, context: 2, maxMatches: 5, chunkBytes: 14 };
    const found = await grepLog(path, { ...options, pattern: /^ERROR/ });
    assert.deepEqual(found.matches[0].before, ["\uFEFFzz", "yy"]);
    assert.deepEqual(found, await grepLog(path, { ...options, pattern: lineByLine(/^ERROR/) }));
  });
});

Deno.test("only a pattern that matches exactly its ASCII text is searched as bytes", () => {
  for (const [source, flags] of [["^ERROR", ""], ["ERROR", "u"], ["a=b: c", "s"], ["^E", ""]]) {
    assert.notEqual(literalOf(source, flags), null, source);
  }
  assert.deepEqual(literalOf("^ERROR", "")?.anchored, true);
  for (
    const [source, flags] of [
      ["ERROR", "i"], // "k" matches the Kelvin sign
      ["^ERROR", "m"], // ^ after U+2028
      ["E", ""], // one byte unanchored: no pair to look for
      ["ERR.R", ""],
      ["ERR\\.R", ""],
      ["é", ""],
      ["a|b", ""],
      ["(ab)", ""],
      ["ab$", ""],
      ["a b+", ""],
    ]
  ) assert.equal(literalOf(source, flags), null, `${source} /${flags}`);
});

Deno.test("grepLog offsets lead readRange to the matching line", async () => {
  const content = "é intro\n\x1b[32mok\x1b[0m\nneedle one\n😀😀\r\nneedle two\n";
  await withLog(content, async (path) => {
    const found = await grepLog(path, { maxChars: 10_000, pattern: /needle/ });
    assert.deepEqual(found.matches.map((m) => [m.line, m.offset]), [[3, 21], [5, 42]]);
    for (const match of found.matches) {
      const range = await readRange(path, { maxChars: 1000, offset: match.offset, maxBytes: 11 });
      assert.ok(range.text.startsWith(`${match.text}\n`));
    }
  });
});

Deno.test("grepLog counts every match but returns at most maxMatches, with context", async () => {
  const content = Array.from(
    { length: 100 },
    (_, i) => `line ${i + 1}${i % 10 === 0 ? " hit" : ""}\n`,
  )
    .join("");
  await withLog(content, async (path) => {
    const found = await grepLog(path, {
      maxChars: 10_000,
      pattern: /hit/,
      maxMatches: 3,
      context: 1,
    });
    assert.equal(found.totalMatches, 10);
    assert.equal(found.truncated, true);
    assert.deepEqual(found.matches, [
      { line: 1, offset: 0, text: "line 1 hit", before: [], after: ["line 2"] },
      { line: 11, offset: 75, text: "line 11 hit", before: ["line 10"], after: ["line 12"] },
      { line: 21, offset: 159, text: "line 21 hit", before: ["line 20"], after: ["line 22"] },
    ]);
    assert.equal(
      found.note,
      "Showing the first 3 of 10 matching lines (max_matches 3); pass a larger max_matches (at most 1000) or a narrower pattern to see others.",
    );
    const all = await grepLog(path, { maxChars: 10_000, pattern: /hit/ });
    assert.equal(all.matches.length, 10);
    assert.equal(all.note, null);
    // A match at the end has fewer lines after it.
    const last = await grepLog(path, { maxChars: 10_000, pattern: /line 100$/, context: 3 });
    assert.deepEqual(last.matches[0].after, []);
    assert.deepEqual(last.matches[0].before, ["line 97", "line 98", "line 99"]);
    // The caller's regex keeps its state.
    const global = /hit/g;
    global.lastIndex = 5;
    assert.equal((await grepLog(path, { maxChars: 10_000, pattern: global })).totalMatches, 10);
    assert.equal((await grepLog(path, { maxChars: 10_000, pattern: global })).totalMatches, 10);
    assert.equal(global.lastIndex, 5);
  });
});

Deno.test("grepLog keeps the JSON of its matches within maxChars", async () => {
  const content = Array.from({ length: 500 }, (_, i) => `match number ${i} ${"y".repeat(i % 50)}\n`)
    .join("");
  await withLog(content, async (path) => {
    for (const maxChars of [200, 1000, 5000]) {
      const found = await grepLog(path, {
        maxChars,
        pattern: /match/,
        context: 2,
        maxMatches: 1000,
      });
      const json = JSON.stringify(found.matches).length;
      assert.ok(json <= maxChars, `${json} > ${maxChars}`);
      assert.equal(found.totalMatches, 500);
      assert.equal(found.truncated, true);
      const all = await grepLog(path, {
        maxChars: 1_000_000,
        pattern: /match/,
        context: 2,
        maxMatches: 1000,
      });
      const withNext = JSON.stringify(all.matches.slice(0, found.matches.length + 1)).length;
      assert.ok(withNext > maxChars, "one more match would have fit");
      assert.deepEqual(found.matches, all.matches.slice(0, found.matches.length));
      assert.equal(
        found.note,
        `Showing the first ${found.matches.length} of 500 matching lines, as many as fit in ${maxChars} characters; a narrower pattern or less context shows others.`,
      );
    }
  });
});

Deno.test("grepLog searches a line longer than 1 MiB in its first MiB, and numbers lines on", async () => {
  const content = `needle early${"a".repeat(1.5 * 1024 * 1024)}needle late\nneedle next\n`;
  await withLog(content, async (path) => {
    for (const chunkBytes of [undefined, 100_000]) {
      const found = await grepLog(path, { maxChars: 10_000, pattern: /needle/, chunkBytes });
      assert.deepEqual(found.matches.map((m) => m.line), [1, 2]);
      assert.equal(found.matches[1].offset, content.length - 12);
      assert.ok(found.matches[0].text.startsWith("needle early"));
      assert.ok(found.matches[0].text.length < MAX_LINE_CHARS + 40);
      assert.equal(
        found.note,
        "1 line longer than 1048576 bytes was searched in its first 1048576 bytes only.",
      );
      const late = await grepLog(path, { maxChars: 10_000, pattern: /needle late/, chunkBytes });
      assert.equal(late.totalMatches, 0);
    }
  });
});

Deno.test("mayCrossLines tells patterns that stay on a line from those that may not", () => {
  const stays = [
    /error/,
    /a.b/,
    /\bword\b/,
    /\d+ms$/,
    /^[ -~]+$/,
    /[a-z\d_]/i,
    /\S+/,
    /\w\t/,
    // deno-lint-ignore no-control-regex
    /[\x0b-\x7f]/,
    /(?<name>x)\k<name>/,
    /[\r\t]/,
    /😀/u,
  ];
  const may = [
    /\s/,
    /[^a]/,
    /a.b/s,
    /\n/,
    /[\t-\r]/,
    // deno-lint-ignore no-control-regex
    /[\x00-z]/,
    // deno-lint-ignore no-control-regex
    /x\x0a/,
    // deno-lint-ignore no-control-regex
    /\u000A/,
    // deno-lint-ignore no-control-regex
    /\u{a}/u,
    /\cJ/,
    /\W/,
    /\D/,
    /\p{L}/u,
    /(a)\1/,
    /\0/,
    /[[^a]]/v,
    /[\s\S]/,
  ];
  for (const pattern of stays) assert.equal(mayCrossLines(pattern), false, String(pattern));
  for (const pattern of may) assert.equal(mayCrossLines(pattern), true, String(pattern));
});

// A 200 MB log.

Deno.test("tail, range and search of a 200 MB log", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "output.log");
    // 32-byte lines, so that line n starts at byte 32 * (n - 1).
    const line = (text: string) => `${text.padEnd(31, ".")}\n`;
    const block = encoder.encode(line("some ordinary log line").repeat(32768));
    const blocks = 200;
    const needles = new Map([[0, 0], [100, 12345], [199, 32767]]);
    const file = await Deno.open(path, { write: true, create: true });
    try {
      for (let b = 0; b < blocks; b++) {
        const needle = needles.get(b);
        if (needle === undefined) {
          await file.write(block);
        } else {
          const copy = block.slice();
          copy.set(encoder.encode(line(`ERROR needle in block ${b}`)), needle * 32);
          await file.write(copy);
        }
      }
    } finally {
      file.close();
    }
    const total = blocks * block.length;
    const lineAt = (block: number, index: number) => block * 32768 + index + 1;

    const tail = await readTail(path, { maxChars: 20_000, lines: 3 });
    assert.equal(tail.totalBytes, total);
    assert.equal(tail.startOffset, total - 96);
    assert.equal(
      tail.text,
      tailMarker(total - 96) + line("some ordinary log line").repeat(2) +
        line("ERROR needle in block 199"),
    );
    const capped = await readTail(path, { maxChars: 20_000 });
    assert.ok(capped.text.length <= 20_000 && capped.text.length > 19_900);
    assert.equal(capped.startOffset % 32, 0);

    const middle = 100 * 1024 * 1024 + 7;
    const range = await readRange(path, { maxChars: 20_000, offset: middle, maxBytes: 100 });
    assert.equal(range.startOffset, middle);
    assert.equal(range.nextOffset, 100 * 1024 * 1024 + 96);
    assert.equal(
      range.text,
      withMore(
        `${"some ordinary log line".slice(7).padEnd(24, ".")}\n${
          line("some ordinary log line").repeat(2)
        }`,
        total - range.nextOffset,
        range.nextOffset,
      ),
    );

    const found = await grepLog(path, { maxChars: 20_000, pattern: /needle/, context: 1 });
    assert.equal(found.totalBytes, total);
    assert.equal(found.totalMatches, 3);
    assert.deepEqual(
      found.matches.map((m) => [m.line, m.offset, m.text]),
      [...needles].map(([b, index]) => [
        lineAt(b, index),
        (lineAt(b, index) - 1) * 32,
        line(`ERROR needle in block ${b}`).slice(0, -1),
      ]),
    );
    assert.deepEqual(found.matches[0].before, []);
    assert.deepEqual(found.matches[2].after, []);
    const every = await grepLog(path, { maxChars: 20_000, pattern: /ordinary/ });
    assert.equal(every.totalMatches, blocks * 32768 - 3);
    assert.equal(every.matches.length, 50);
    assert.equal(every.matches[49].line, 51);
  });
});

Deno.test("grepLog with a catastrophic pattern stays linear and lets timers run", async () => {
  // Lines a backtracking engine takes 2^30 steps on, a megabyte line, and 40 MB of ordinary ones.
  const catastrophic = `${"a".repeat(30)}!\n`;
  const content = catastrophic.repeat(1000) + "a".repeat(1024 * 1024) + "\n" +
    "ordinary line with some words and numbers 12345\n".repeat(800_000);
  await withLog(content, async (path) => {
    for (
      const [pattern, total] of [[/(a+)+$/, 1], [/a*a*a*a*a*c/, 0], [/(a|a)*!/, 1000]] as const
    ) {
      let longest = 0;
      let last = performance.now();
      const ticker = setInterval(() => {
        longest = Math.max(longest, performance.now() - last);
        last = performance.now();
      }, 5);
      const started = performance.now();
      try {
        const found = await grepLog(path, { maxChars: 10_000, pattern });
        assert.equal(found.totalMatches, total, String(pattern));
      } finally {
        clearInterval(ticker);
      }
      const ms = performance.now() - started;
      assert.ok(ms < 20_000, `${pattern} took ${ms} ms`);
      assert.ok(longest < 250, `${pattern} kept timers waiting ${longest} ms`);
    }
  });
  await withLog("x", async (path) => {
    await assert.rejects(
      () => grepLog(path, { maxChars: 1000, pattern: /(a*)*\1/ }),
      /combines a backreference \(\\1\) with unbounded repetition/,
    );
  });
});

Deno.test("grepText merges overlapping and touching context as grep -C does", async () => {
  // Lines 2, 4 and 5 match; 9 is far enough away for its own group; 12 touches 9's.
  const lines = ["a", "hit 2", "b", "hit 4", "hit 5", "c", "d", "e", "hit 9", "f", "g", "hit 12"];
  await withLog(`${lines.join("\n")}\n`, async (path) => {
    const found = await grepLog(path, { maxChars: 10_000, pattern: /^hit/, context: 1 });
    assert.equal(
      grepText(found.matches),
      [
        "1-a",
        "2:hit 2",
        "3-b",
        "4:hit 4",
        "5:hit 5",
        "6-c",
        "--",
        "8-e",
        "9:hit 9",
        "10-f",
        "11-g",
        "12:hit 12",
      ].join("\n"),
    );
    // The matches themselves keep their own context, shared lines and all.
    assert.deepEqual(found.matches[2].before, ["hit 4"]);
    assert.equal(grepText([]), "");
    const alone = await grepLog(path, { maxChars: 10_000, pattern: /^hit [29]$/ });
    assert.equal(grepText(alone.matches), "2:hit 2\n--\n9:hit 9");
  });
});
