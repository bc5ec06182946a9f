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

Deno.test("an exit the wrapper's own stopper caused is the stop's, even with nothing left to signal", () => {
  // The wrapper's watchdog or log cap stopped the command before any server looked: the
  // server's stop finds no process and sends no signal, yet the task did not end by itself.
  assert.equal(
    naturalExitCode({
      record: { code: 141, at: 100, reason: "log_limit" },
      wrapperCode: 141,
      firstSignalAt: null,
    }),
    null,
  );
  assert.equal(
    naturalExitCode({
      record: { code: 0, at: 100, reason: "timeout" },
      wrapperCode: null,
      firstSignalAt: null,
    }),
    null,
  );
});
