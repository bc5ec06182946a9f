import assert from "node:assert/strict";
import { eraOf, EraRouter, type ModernHandler } from "../../src/mcp/eras.ts";
import type { JSONRPCMessage, Transport } from "../../src/mcp/sdk.ts";

/** A transport that records what is sent and lets a test deliver messages. */
class FakeTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: Transport["onmessage"];
  readonly sent: JSONRPCMessage[] = [];

  start(): Promise<void> {
    return Promise.resolve();
  }
  send(message: JSONRPCMessage): Promise<void> {
    this.sent.push(message);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  deliver(message: JSONRPCMessage): void {
    this.onmessage?.(message);
  }
}

const modernMeta = { _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28" } };

function setup() {
  const inner = new FakeTransport();
  const legacy: JSONRPCMessage[] = [];
  const modern: JSONRPCMessage[] = [];
  let loads = 0;
  const router = new EraRouter(inner, () => {
    loads++;
    const handler: ModernHandler = {
      handle(message) {
        modern.push(message);
        const id = "id" in message ? message.id : undefined;
        return Promise.resolve(id === undefined ? null : { jsonrpc: "2.0", id, result: {} });
      },
    };
    return Promise.resolve(handler);
  });
  router.onmessage = (message) => legacy.push(message);
  return { inner, router, legacy, modern, loads: () => loads };
}

Deno.test("eraOf tells initialize, server/discover and the 2026 envelope apart", () => {
  assert.equal(eraOf({ jsonrpc: "2.0", id: 1, method: "initialize" }), "legacy");
  assert.equal(eraOf({ jsonrpc: "2.0", id: 1, method: "server/discover" }), "modern");
  assert.equal(
    eraOf({ jsonrpc: "2.0", id: 1, method: "tools/list", params: modernMeta }),
    "modern",
  );
  assert.equal(eraOf({ jsonrpc: "2.0", id: 1, method: "tools/list" }), null);
  assert.equal(eraOf({ jsonrpc: "2.0", id: 1, result: {} }), null);
});

Deno.test("a legacy session never loads the modern era", async () => {
  const { inner, router, legacy, loads } = setup();
  inner.deliver({ jsonrpc: "2.0", id: 1, method: "initialize", params: {} });
  inner.deliver({ jsonrpc: "2.0", id: 2, method: "tools/list", params: modernMeta });
  await Promise.resolve();
  assert.equal(router.era, "legacy");
  assert.equal(legacy.length, 2, "a 2026 envelope after initialize stays legacy");
  assert.equal(loads(), 0);
  await router.send({ jsonrpc: "2.0", method: "notifications/tasks/status", params: {} });
  assert.equal(inner.sent.length, 1, "the legacy server's notifications go out");
});

Deno.test("a modern session loads the modern era once; initialize moves it to legacy", async () => {
  const { inner, router, legacy, modern, loads } = setup();
  inner.deliver({ jsonrpc: "2.0", id: 1, method: "server/discover" });
  inner.deliver({ jsonrpc: "2.0", id: 2, method: "tools/list", params: modernMeta });
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(router.era, "modern");
  assert.equal(loads(), 1);
  assert.deepEqual(modern.map((m) => "id" in m && m.id), [1, 2]);
  assert.deepEqual(inner.sent.map((m) => "id" in m && m.id), [1, 2]);
  // The legacy server's notifications are not this era's.
  await router.send({ jsonrpc: "2.0", method: "notifications/tasks/status", params: {} });
  assert.equal(inner.sent.length, 2);
  assert.equal(legacy.length, 0);

  inner.deliver({ jsonrpc: "2.0", id: 3, method: "initialize", params: {} });
  assert.equal(router.era, "legacy");
  assert.equal(legacy.length, 1);
});

Deno.test("the router keeps the close and error handlers set on the transport before it", () => {
  const inner = new FakeTransport();
  const seen: string[] = [];
  inner.onclose = () => seen.push("inner close");
  inner.onerror = (error) => seen.push(`inner ${error.message}`);
  const router = new EraRouter(inner, () => Promise.reject(new Error("not loaded")));
  router.onclose = () => seen.push("router close");
  router.onerror = (error) => seen.push(`router ${error.message}`);
  inner.onerror?.(new Error("boom"));
  inner.onclose?.();
  assert.deepEqual(seen, ["inner boom", "router boom", "inner close", "router close"]);
});
