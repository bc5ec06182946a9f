import assert from "node:assert/strict";
import { naturalExitCode } from "../src/task.ts";

Deno.test("a stop that signalled nothing leaves the command's own end", () => {
  assert.equal(
    naturalExitCode({ record: { code: 0, at: 100 }, wrapperCode: 0, firstSignalAt: null }),
    0,
  );
  assert.equal(naturalExitCode({ record: null, wrapperCode: 3, firstSignalAt: null }), 3);
  assert.equal(naturalExitCode({ record: null, wrapperCode: null, firstSignalAt: null }), null);
});

Deno.test("an exit recorded before the first signal is the command's own", () => {
  assert.equal(
    naturalExitCode({ record: { code: 0, at: 100 }, wrapperCode: 0, firstSignalAt: 150 }),
    0,
  );
  assert.equal(
    naturalExitCode({ record: { code: 2, at: 100 }, wrapperCode: null, firstSignalAt: 150 }),
    2,
  );
});

Deno.test("an exit recorded after the first signal, or with a stop signal's code, is the stop's", () => {
  assert.equal(
    naturalExitCode({ record: { code: 0, at: 200 }, wrapperCode: 0, firstSignalAt: 150 }),
    null,
  );
  // File times are coarse: 143 stamped a tick early is still SIGTERM's doing.
  assert.equal(
    naturalExitCode({ record: { code: 143, at: 140 }, wrapperCode: 143, firstSignalAt: 150 }),
    null,
  );
  assert.equal(
    naturalExitCode({ record: { code: 137, at: 140 }, wrapperCode: null, firstSignalAt: 150 }),
    null,
  );
  assert.equal(naturalExitCode({ record: null, wrapperCode: 143, firstSignalAt: 150 }), null);
});

Deno.test("a wrapper that exited by itself without a record gives its command's code", () => {
  assert.equal(naturalExitCode({ record: null, wrapperCode: 5, firstSignalAt: 150 }), 5);
  assert.equal(naturalExitCode({ record: null, wrapperCode: null, firstSignalAt: 150 }), null);
});

Deno.test("a log cap the wrapper hit is the stop's, even with nothing left to signal", () => {
  // The wrapper's log cap stopped the command before any server looked: the server's stop finds
  // no process and sends no signal, yet the output was cut at the cap.
  assert.equal(
    naturalExitCode({
      record: { code: 141, at: 100, reason: "log_limit" },
      wrapperCode: 141,
      firstSignalAt: null,
    }),
    null,
  );
});

Deno.test("a timeout the wrapper claimed is judged by its stopper's first signal, like any stop", () => {
  // Claimed just after the command ended by itself: its stopper signalled nothing of it.
  assert.equal(
    naturalExitCode({
      record: { code: 1, at: 100, reason: "timeout" },
      wrapperCode: null,
      firstSignalAt: null,
    }),
    1,
  );
  // Its stopper signalled first and the command then exited (a handler that exits 0): stopped.
  assert.equal(
    naturalExitCode({
      record: { code: 0, at: 200, reason: "timeout" },
      wrapperCode: null,
      firstSignalAt: 150,
    }),
    null,
  );
});

Deno.test("an end between the first mark and the mark after the signal is the command's own", () => {
  // Its stopper marked at 150, was descheduled, and signalled only at 300 (marked then): the
  // command had ended by itself at 200, long past the slack of the first mark.
  assert.equal(
    naturalExitCode({
      record: { code: 0, at: 200 },
      wrapperCode: 0,
      firstSignalAt: 150,
      signalSentAt: 300,
    }),
    0,
  );
  assert.equal(
    naturalExitCode({
      record: { code: 1, at: 299, reason: "timeout" },
      wrapperCode: null,
      firstSignalAt: 150,
      signalSentAt: 300,
    }),
    1,
  );
  // Still a stop signal's code: the stop's, wherever it falls.
  assert.equal(
    naturalExitCode({
      record: { code: 143, at: 200 },
      wrapperCode: 143,
      firstSignalAt: 150,
      signalSentAt: 300,
    }),
    null,
  );
});

Deno.test("an end after the mark after the signal is the stop's, whatever its code", () => {
  // A command that trapped SIGTERM and exited 0.
  assert.equal(
    naturalExitCode({
      record: { code: 0, at: 310 },
      wrapperCode: 0,
      firstSignalAt: 150,
      signalSentAt: 300,
    }),
    null,
  );
  // The same file-time tick as the mark does not say which came first: the stop's.
  assert.equal(
    naturalExitCode({
      record: { code: 0, at: 300 },
      wrapperCode: 0,
      firstSignalAt: 150,
      signalSentAt: 300,
    }),
    null,
  );
  // Within the slack of the first mark, it is the command's own as before.
  assert.equal(
    naturalExitCode({
      record: { code: 0, at: 165 },
      wrapperCode: 0,
      firstSignalAt: 150,
      signalSentAt: 160,
    }),
    0,
  );
});
