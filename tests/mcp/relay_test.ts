import assert from "node:assert/strict";
import { relayCloseAndError } from "../../src/mcp/relay.ts";
import type { Transport } from "../../src/mcp/sdk.ts";

function inner(heard: string[]): Transport {
  return {
    onclose: () => heard.push("inner close"),
    onerror: (error) => heard.push(`inner error ${error.message}`),
    start: () => Promise.resolve(),
    send: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}

Deno.test("relayCloseAndError runs the inner transport's own handlers first, then the wrapper's", () => {
  const heard: string[] = [];
  const wrapped = inner(heard);
  const outer: Pick<Transport, "onclose" | "onerror"> = {};
  relayCloseAndError(wrapped, outer);
  // Set after the relay: the wrapper's handlers are read when the event comes.
  outer.onclose = () => heard.push("outer close");
  outer.onerror = (error) => heard.push(`outer error ${error.message}`);
  wrapped.onerror?.(new Error("boom"));
  wrapped.onclose?.();
  assert.deepEqual(heard, [
    "inner error boom",
    "outer error boom",
    "inner close",
    "outer close",
  ]);
});

Deno.test("relayCloseAndError passes events on when neither side had handlers", () => {
  const wrapped: Transport = {
    start: () => Promise.resolve(),
    send: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  const outer: Pick<Transport, "onclose" | "onerror"> = {};
  relayCloseAndError(wrapped, outer);
  wrapped.onclose?.();
  const heard: string[] = [];
  outer.onclose = () => heard.push("close");
  wrapped.onclose?.();
  assert.deepEqual(heard, ["close"]);
});
