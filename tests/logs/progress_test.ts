import assert from "node:assert/strict";
import { join } from "node:path";
import {
  looksLikePrompt,
  parseProgress,
  type Progress,
  ProgressTracker,
} from "../../src/logs/progress.ts";

type Parsed = Omit<Progress, "updated_at"> | null;

const PARSE_CASES: readonly [string, Parsed][] = [
  // Percentages.
  ["45%", { percent: 45, message: "45%" }],
  ["45.5 %", { percent: 45.5, message: "45.5 %" }],
  ["Progress: 45%", { percent: 45, message: "Progress: 45%" }],
  ["0%", { percent: 0, message: "0%" }],
  ["100.0% done", { percent: 100, message: "100.0% done" }],
  ["tests/test_io.py ......      [ 45%]", {
    percent: 45,
    message: "tests/test_io.py ......      [ 45%]",
  }],
  // Step counts.
  ["3/10", { percent: 30, current: 3, total: 10, message: "3/10" }],
  ["[3/10] Linking", { percent: 30, current: 3, total: 10, message: "[3/10] Linking" }],
  ["Testing (3/10)", { percent: 30, current: 3, total: 10, message: "Testing (3/10)" }],
  ["3 of 10", { percent: 30, current: 3, total: 10, message: "3 of 10" }],
  ["Step 3 of 10", { percent: 30, current: 3, total: 10, message: "Step 3 of 10" }],
  ["    Building [=====>   ] 45/100: serde", {
    percent: 45,
    current: 45,
    total: 100,
    message: "Building [=====>   ] 45/100: serde",
  }],
  ["copied 1,234/5,678 files", {
    percent: 21.7,
    current: 1234,
    total: 5678,
    message: "copied 1,234/5,678 files",
  }],
  ["0/7 ready", { percent: 0, current: 0, total: 7, message: "0/7 ready" }],
  // tqdm bars: the percentage and the agreeing count.
  [" 45%|████▌     | 45/100 [00:01<00:02, 30.00it/s]", {
    percent: 45,
    current: 45,
    total: 100,
    message: "45%|████▌     | 45/100 [00:01<00:02, 30.00it/s]",
  }],
  ["train:  45%|####5     | 45/100", {
    percent: 45,
    current: 45,
    total: 100,
    message: "train:  45%|####5     | 45/100",
  }],
  ["Epoch 3/10:  45%|####5     | 45/100", {
    percent: 45,
    current: 45,
    total: 100,
    message: "Epoch 3/10:  45%|####5     | 45/100",
  }],
  // A count that disagrees with the percentage measures something else and is left out.
  ["45% building 123/456 modules", { percent: 45, message: "45% building 123/456 modules" }],
  ["Receiving objects:  45% (450/1000), 1.2 MiB | 2 MiB/s", {
    percent: 45,
    current: 450,
    total: 1000,
    message: "Receiving objects:  45% (450/1000), 1.2 MiB | 2 MiB/s",
  }],
  // Downloads.
  ["12.3/45.6 MB", { percent: 27, current: 12.3, total: 45.6, message: "12.3/45.6 MB" }],
  ["   ━━━━━━━━━━━━ 12.3/45.6 MB 5.0 MB/s eta 0:00:05", {
    percent: 27,
    current: 12.3,
    total: 45.6,
    message: "━━━━━━━━━━━━ 12.3/45.6 MB 5.0 MB/s eta 0:00:05",
  }],
  ["a1b2: Downloading [==>  ]  12.3MB/45.6MB", {
    percent: 27,
    current: 12.3,
    total: 45.6,
    message: "a1b2: Downloading [==>  ]  12.3MB/45.6MB",
  }],
  ["12.3 MB / 45.6 MB", { percent: 27, current: 12.3, total: 45.6, message: "12.3 MB / 45.6 MB" }],
  ["500kB/2.0MB", { percent: 25, current: 0.5, total: 2, message: "500kB/2.0MB" }],
  // Explicit markers.
  ["::progress:: 45%", { percent: 45 }],
  ["::progress:: 45.5%", { percent: 45.5 }],
  ["::progress:: 3/10", { percent: 30, current: 3, total: 10 }],
  ["::progress:: 3/10 compiling module foo", {
    percent: 30,
    current: 3,
    total: 10,
    message: "compiling module foo",
  }],
  ["  ::progress:: 1/3   fetching   ", {
    percent: 33.3,
    current: 1,
    total: 3,
    message: "fetching",
  }],
  ["web-1  | ::progress:: 2/4 halfway", { percent: 50, current: 2, total: 4, message: "halfway" }],
  // The last matching line wins; a marker beats heuristics in the same chunk.
  ["10%\n20%\nnothing here\n", { percent: 20, message: "20%" }],
  ["::progress:: 1/4 early\n[9/10] later\n", {
    percent: 25,
    current: 1,
    total: 4,
    message: "early",
  }],
  ["::progress:: 1/4 early\n::progress:: 2/4 later\n45%\n", {
    percent: 50,
    current: 2,
    total: 4,
    message: "later",
  }],
  // Not progress.
  ["", null],
  ["compiling foo", null],
  ["2024/10/12", null],
  ["released 12/10/2024", null],
  ["at 12:30", null],
  ["12:30:45", null],
  ["src/3/10.txt", null],
  ["GET /api/v1/users/3/10 200", null],
  ["route 10.0.0.1/24 added", null],
  ["192.168.1.10", null],
  ["upgrade 1.2/3.4", null],
  ["python3.11/site-packages", null],
  ["file_3/10", null],
  ["HTTP/1.1 200 OK", null],
  ["3 / 10", null],
  ["3/10.5", null],
  ["11/10", null],
  ["0/0", null],
  ["150%", null],
  ["changed -5%", null],
  ["+5% since last run", null],
  ["hello%20world 20%20", null],
  ["printf('%d%%', n)", null],
  ["5.0 MB/s", null],
  ["::progress:: 150%", null],
  ["::progress:: 4/3 too far", null],
  ["::progress:: halfway 45%", null],
  ["::progress::45%", null],
  ["+ echo '::progress:: 3/10'", null],
];

Deno.test("parseProgress reads percentages, counts, bars, downloads and markers", () => {
  assert.ok(PARSE_CASES.length >= 30);
  for (const [text, expected] of PARSE_CASES) {
    assert.deepEqual(parseProgress(text), expected, JSON.stringify(text));
  }
});

Deno.test("parseProgress keeps messages to 200 characters around the match", () => {
  const line = `${"a".repeat(500)} step 3 of 10 ${"b".repeat(500)}`;
  const parsed = parseProgress(line);
  assert.equal(parsed?.current, 3);
  assert.ok(parsed?.message !== undefined && parsed.message.length <= 200);
  assert.ok(parsed.message.includes("step 3 of 10"), parsed.message);

  const marker = parseProgress(`::progress:: 50% ${"m".repeat(300)}`);
  assert.equal(marker?.message, "m".repeat(200));
});

const PROMPT_CASES: readonly [string, boolean][] = [
  ["Do you want to continue? [Y/n] ", true],
  ["Is this ok [y/N]: ", true],
  ["Overwrite? (y/n) ", true],
  ["Proceed (yes/no)? ", true],
  ["Stage this hunk [y,n,q,a,d,e,?]? ", true],
  ["Password: ", true],
  ["Password:", true],
  ["[sudo] password for ann: ", true],
  ["ann@example.com's password: ", true],
  ["Password for 'https://ann@github.com': ", true],
  ["Username for 'https://github.com': ", true],
  ["Enter passphrase for key '/home/ann/.ssh/id_ed25519': ", true],
  ["Passphrase for /home/ann/.ssh/id_rsa: ", true],
  ["Enter passphrase (empty for no passphrase): ", true],
  ["  Enter a value: ", true],
  ["? Project name: (my-app) ", true],
  ["Continue? ", true],
  ["Proceed ([y]/n)? ", true],
  ["Are you sure you want to continue connecting (yes/no/[fingerprint])? ", true],
  ["Press any key to continue . . . ", true],
  ["Press Enter to continue", true],
  ["Press RETURN to close", true],
  ["> ", true],
  [">>> ", true],
  ["mysql> ", true],
  ["(Pdb) ", true],
  // A REPL reading from a pipe echoes nothing: its prompts follow one another.
  [">>> >>> ", true],
  ["> > ", true],
  [">>> print(1)", false],
  [">".repeat(400) + "x", false],
  // Ordinary output that merely stops without a newline.
  ["", false],
  ["   ", false],
  ["Compiling foo:", false],
  ["Installing dependencies:", false],
  ["error: something went wrong:", false],
  ["INFO Password policy:", false],
  ["Password changed successfully", false],
  ["Reading password from $PASSWORD_FILE", false],
  ["Entering directory '/src/app':", false],
  ["?? untracked.txt", false],
  ["?       untracked.txt", false],
  ["Press Ctrl+C to stop", false],
  ["Continue reading below", false],
  [">> building", false],
  ["  45%|████▌     | 45/100", false],
  ["Options (y/n) are documented below", false],
  ["Waiting for the database...", false],
];

Deno.test("looksLikePrompt knows prompts from log lines", () => {
  assert.ok(PROMPT_CASES.length >= 15);
  for (const [line, expected] of PROMPT_CASES) {
    assert.equal(looksLikePrompt(line), expected, JSON.stringify(line));
  }
});

const encoder = new TextEncoder();

async function withLog(test: (path: string, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "backburner-progress-" });
  try {
    await test(join(dir, "output.log"), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function append(path: string, data: string | Uint8Array): Promise<void> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  await Deno.writeFile(path, bytes, { append: true });
}

/** `count` lines of 100 bytes that hold no progress. */
function filler(count: number): string {
  return `${"x".repeat(99)}\n`.repeat(count);
}

function numbers(progress: Progress | null) {
  if (!progress) return null;
  const { updated_at: _, message: __, ...rest } = progress;
  return rest;
}

const T0 = Date.parse("2030-01-01T00:00:00Z");
const working = (now: number) => ({ working: true, now });

Deno.test("ProgressTracker reads only the bytes added since its last read", async () => {
  await withLog(async (path) => {
    // 1 MB whose only progress lies far outside the last 64 KiB.
    await Deno.writeTextFile(path, `::progress:: 1/10 early\n${filler(10_000)}`);
    const tracker = new ProgressTracker();
    const first = await tracker.read("t1", path, working(T0));
    assert.equal(first.progress, null, "only the last 64 KiB of a new log are parsed");
    assert.equal(first.waitingForInput, false);
    assert.equal(typeof first.secondsSinceOutput, "number");

    // Rewrite a line that was already passed, in place and within the last 64 KiB: a tracker
    // that re-read old bytes would find this marker, which beats the heuristic line after it.
    const stale = `::progress:: 9/10 stale`.padEnd(99, " ") + "\n";
    const file = await Deno.open(path, { write: true });
    try {
      await file.seek(24 + 9_900 * 100, Deno.SeekMode.Start);
      await file.write(encoder.encode(stale));
    } finally {
      file.close();
    }
    await append(path, "Step 3 of 10\n");
    const second = await tracker.read("t1", path, working(T0 + 1000));
    assert.deepEqual(second.progress, {
      percent: 30,
      current: 3,
      total: 10,
      message: "Step 3 of 10",
      updated_at: new Date(T0 + 1000).toISOString(),
    });

    // A megabyte appended at once: only its last 64 KiB are looked at.
    await append(path, `[4/10]\n${filler(10_000)}`);
    const third = await tracker.read("t1", path, working(T0 + 2000));
    assert.equal(third.progress?.current, 3, "progress before the window is not seen");
    await append(path, "[5/10]\n");
    const fourth = await tracker.read("t1", path, working(T0 + 3000));
    assert.equal(fourth.progress?.current, 5);
  });
});

Deno.test("ProgressTracker starts over when the log is truncated or replaced", async () => {
  await withLog(async (path, dir) => {
    const tracker = new ProgressTracker();
    await Deno.writeTextFile(path, `::progress:: 5/10 first run\n${filler(100)}`);
    assert.equal((await tracker.read("t", path, working(T0))).progress?.current, 5);

    // Truncated to less than the offset: read from the start, and the old marker no longer
    // silences heuristics.
    await Deno.writeTextFile(path, "step 2 of 4\n");
    const truncated = await tracker.read("t", path, working(T0 + 1000));
    assert.deepEqual(numbers(truncated.progress), { percent: 50, current: 2, total: 4 });

    // Replaced by a different, larger file: its start is before the old offset but is new.
    await Deno.writeTextFile(path, filler(10));
    await tracker.read("t", path, working(T0 + 2000));
    const replacement = join(dir, "new.log");
    await Deno.writeTextFile(replacement, `[7/8] replaced\n${filler(20)}`);
    await Deno.rename(replacement, path);
    const replaced = await tracker.read("t", path, working(T0 + 3000));
    assert.deepEqual(numbers(replaced.progress), { percent: 87.5, current: 7, total: 8 });
  });
});

Deno.test("ProgressTracker joins lines split across reads, bytes of a character too", async () => {
  await withLog(async (path) => {
    const tracker = new ProgressTracker();
    // Half a line flushed from a buffer is not trusted: "3/1" of "3/10" is no progress yet.
    await Deno.writeTextFile(path, "::progress:: 1/1");
    assert.equal((await tracker.read("t", path, working(T0))).progress, null);
    const e = encoder.encode("é");
    await append(path, new Uint8Array([...encoder.encode("0 compiling caf"), e[0]]));
    assert.equal((await tracker.read("t", path, working(T0 + 1))).progress, null);
    await append(path, new Uint8Array([e[1], ...encoder.encode(" module\n")]));
    const joined = await tracker.read("t", path, working(T0 + 2));
    assert.deepEqual(joined.progress, {
      percent: 10,
      current: 1,
      total: 10,
      message: "compiling café module",
      updated_at: new Date(T0 + 2).toISOString(),
    });
  });
});

Deno.test("ProgressTracker follows carriage-return redraws; the latest wins", async () => {
  await withLog(async (path) => {
    const tracker = new ProgressTracker();
    const bar = (n: number, rate: string) =>
      `\r${String(n).padStart(3)}%|${
        "#".repeat(n / 10).padEnd(10)
      }| ${n}/100 [00:01<00:02, ${rate}it/s]`;
    await Deno.writeTextFile(path, bar(0, "0.00"));
    const start = await tracker.read("t", path, working(T0));
    assert.deepEqual(numbers(start.progress), { percent: 0, current: 0, total: 100 });

    // Many redraws over several reads, with colours, never a newline.
    for (let n = 1; n <= 45; n++) await append(path, `\x1b[32m${bar(n, "30.00")}\x1b[0m`);
    const middle = await tracker.read("t", path, working(T0 + 1000));
    assert.deepEqual(numbers(middle.progress), { percent: 45, current: 45, total: 100 });
    assert.equal(middle.progress?.message, "45%|####      | 45/100 [00:01<00:02, 30.00it/s]");
    assert.equal(middle.waitingForInput, false);

    // The same numbers redrawn with a new rate: the progress was first seen earlier.
    await append(path, bar(45, "31.00"));
    const same = await tracker.read("t", path, working(T0 + 2000));
    assert.equal(same.progress?.updated_at, new Date(T0 + 1000).toISOString());
    assert.match(same.progress?.message ?? "", /31\.00it\/s/);

    await append(path, `${bar(100, "30.00")}\n`);
    const done = await tracker.read("t", path, working(T0 + 3000));
    assert.deepEqual(numbers(done.progress), { percent: 100, current: 100, total: 100 });
    assert.equal(done.progress?.updated_at, new Date(T0 + 3000).toISOString());
  });
});

Deno.test("ProgressTracker keeps progress and its time when nothing new is written", async () => {
  await withLog(async (path) => {
    const tracker = new ProgressTracker();
    await Deno.writeTextFile(path, "[2/5] building\n");
    // Written "later" than these reads: a first look stamps no later than the log's last write.
    const future = new Date(T0 + 3_600_000);
    await Deno.utime(path, future, future);
    const first = await tracker.read("t", path, working(T0));
    const again = await tracker.read("t", path, working(T0 + 60_000));
    assert.deepEqual(again.progress, first.progress);
    await append(path, "no progress on this line\n");
    await Deno.utime(path, future, future);
    const later = await tracker.read("t", path, working(T0 + 120_000));
    assert.deepEqual(later.progress, first.progress);
    assert.equal(later.progress?.updated_at, new Date(T0).toISOString());

    // forget drops the state: the next read starts over and sees the progress anew.
    tracker.forget("t");
    const anew = await tracker.read("t", path, working(T0 + 180_000));
    assert.equal(anew.progress?.updated_at, new Date(T0 + 180_000).toISOString());
  });
});

Deno.test("ProgressTracker: once a task prints markers, heuristics are ignored", async () => {
  await withLog(async (path) => {
    const tracker = new ProgressTracker();
    await Deno.writeTextFile(path, "::progress:: 1/3 downloading\n");
    await tracker.read("t", path, working(T0));
    await append(path, "  45%|####5     | 45/100\n");
    const later = await tracker.read("t", path, working(T0 + 1000));
    assert.deepEqual(numbers(later.progress), { percent: 33.3, current: 1, total: 3 });
    assert.equal(later.progress?.message, "downloading");
  });
});

Deno.test("ProgressTracker reads an unfinished last line once the task has ended", async () => {
  await withLog(async (path) => {
    const tracker = new ProgressTracker();
    await Deno.writeTextFile(path, "done\nStep 3 of 10");
    assert.equal((await tracker.read("t", path, working(T0))).progress, null);
    const ended = await tracker.read("t", path, { working: false, now: T0 + 1000 });
    assert.deepEqual(numbers(ended.progress), { percent: 30, current: 3, total: 10 });
  });
});

Deno.test("ProgressTracker says when a working task waits at a prompt", async () => {
  await withLog(async (path) => {
    const tracker = new ProgressTracker();
    await Deno.writeTextFile(path, "Installing\n\x1b[1mPassword:\x1b[0m ");
    assert.equal((await tracker.read("t", path, working(T0))).waitingForInput, true);
    const ended = await tracker.read("t", path, { working: false, now: T0 });
    assert.equal(ended.waitingForInput, false, "an ended task waits for nothing");

    await append(path, "\n");
    assert.equal((await tracker.read("t", path, working(T0))).waitingForInput, false);
    await append(path, "Compiling foo:");
    assert.equal((await tracker.read("t", path, working(T0))).waitingForInput, false);
    await append(path, "\nDo you want to continue? [Y/n] ");
    assert.equal((await tracker.read("t", path, working(T0))).waitingForInput, true);
  });
});

Deno.test("ProgressTracker times the silence from the log's mtime", async () => {
  await withLog(async (path, dir) => {
    const tracker = new ProgressTracker();
    const missing = await tracker.read("t", join(dir, "missing.log"), working(T0));
    assert.deepEqual(missing, { progress: null, secondsSinceOutput: null, waitingForInput: false });

    await Deno.writeTextFile(path, "hello\n");
    const now = Date.now();
    await Deno.utime(path, new Date(now - 30_000), new Date(now - 30_000));
    const quiet = await tracker.read("t", path, working(now));
    assert.ok(
      quiet.secondsSinceOutput !== null && Math.abs(quiet.secondsSinceOutput - 30) < 1,
      `secondsSinceOutput is ${quiet.secondsSinceOutput}`,
    );
  });
});

Deno.test("ProgressTracker serialises concurrent reads of one task", async () => {
  await withLog(async (path) => {
    const tracker = new ProgressTracker();
    await Deno.writeTextFile(path, "[1/4]\n");
    const future = new Date(T0 + 3_600_000);
    await Deno.utime(path, future, future);
    // Unserialised, each read would start from offset 0 and stamp the progress with its own time.
    const results = await Promise.all(
      [1, 2, 3].map((n) => tracker.read("t", path, working(T0 + n))),
    );
    for (const result of results) {
      assert.equal(result.progress?.current, 1);
      assert.equal(result.progress?.updated_at, new Date(T0 + 1).toISOString());
    }
    await append(path, "[2/4]\n");
    assert.equal((await tracker.read("t", path, working(T0 + 4))).progress?.current, 2);
  });
});

Deno.test("ProgressTracker stamps what it first sees no later than the log's last write or the task's end", async () => {
  await withLog(async (path) => {
    // A new server reading a log written long ago, by a task still running.
    await Deno.writeTextFile(path, "[3/10] old\n");
    const written = new Date(T0 - 600_000);
    await Deno.utime(path, written, written);
    const tracker = new ProgressTracker();
    const first = await tracker.read("t", path, working(T0));
    assert.equal(first.progress?.updated_at, written.toISOString());
    // Seen anew by this tracker: stamped when seen.
    await append(path, "[4/10]\n");
    const next = await tracker.read("t", path, working(T0 + 1000));
    assert.equal(next.progress?.updated_at, new Date(T0 + 1000).toISOString());
    // Printed just before the task ended, read after: stamped no later than its end.
    await append(path, "[5/10]\n");
    const ended = await tracker.read("t", path, {
      working: false,
      now: T0 + 9000,
      endedAt: T0 + 2000,
    });
    assert.equal(ended.progress?.updated_at, new Date(T0 + 2000).toISOString());
    // A new server reading an ended task: never later than its end, even when written after.
    const late = new Date(T0 + 5000);
    await Deno.utime(path, late, late);
    const anew = await new ProgressTracker().read("t", path, {
      working: false,
      now: T0 + 60_000,
      endedAt: T0 + 2000,
    });
    assert.equal(anew.progress?.updated_at, new Date(T0 + 2000).toISOString());
  });
});

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;

Deno.test("progress messages and prompts parsed from binary output carry no control characters", async () => {
  const parsed = parseProgress("::progress:: 40% half\x07way\x01\x02 \x1b]0;title\x07done\x9b2J");
  assert.equal(parsed?.percent, 40);
  assert.equal(parsed?.message, "halfway done");
  const heuristic = parseProgress("\x00\x01 step 3 of 10 \x08\x0e\x7f");
  assert.equal(heuristic?.current, 3);
  assert.doesNotMatch(heuristic?.message ?? "", CONTROL);

  await withLog(async (path) => {
    const binary = new Uint8Array(4096);
    for (let i = 0; i < binary.length; i++) binary[i] = (i * 37) % 256;
    await append(path, binary);
    await append(path, "\n::progress:: 3/4 \x02\x1b[2Jloading\x07 \x01\x1f\x7f\u0085\n");
    await append(path, "Password:\x07 ");
    const state = await new ProgressTracker().read("bin", path, working(T0));
    assert.equal(state.progress?.percent, 75);
    assert.equal(state.progress?.message, "loading");
    assert.equal(state.waitingForInput, true, "a bell after a prompt still reads as a prompt");
  });
});

Deno.test("parseProgress skips the lines backburner writes itself, such as a retry's marker", () => {
  const marker = "[backburner] attempt 1 of 3 failed (exit 2); retrying in 1 s";
  assert.equal(parseProgress(`${marker}\n`), null);
  assert.deepEqual(parseProgress(`step 2/4\n${marker}\n`)?.current, 2);
});
