/**
 * A diagnostic entry for the soak test's --heap-probe: serves exactly as main.ts does, and every
 * 10 s forces a full garbage collection and logs the live heap to stderr, as
 *
 *   backburner-heap: used=19.4 total=47.6 external=5.1 rss=150.5 (MiB)
 *
 * RSS alone cannot tell a leak from garbage V8 has not collected yet (it grows its heap lazily
 * and gives little back); the heap used right after a full collection can. Needs
 * DENO_V8_FLAGS=--expose-gc in the environment (the soak sets it); without it, it logs the heap
 * as it is.
 */

import denoConfig from "../deno.json" with { type: "json" };
import { loadConfig } from "../src/config.ts";
import { serve } from "../src/serve.ts";

const PROBE_INTERVAL_MS = 10_000;
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

const probe = setInterval(() => {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const m = Deno.memoryUsage();
  console.error(
    `backburner-heap: used=${mib(m.heapUsed)} total=${mib(m.heapTotal)} ` +
      `external=${mib(m.external)} rss=${mib(m.rss)} gc=${gc ? "forced" : "none"}`,
  );
}, PROBE_INTERVAL_MS);
Deno.unrefTimer(probe);

await serve(loadConfig(Deno.env.toObject(), Deno.env.get("HOME")), {}, {
  version: denoConfig.version,
  log: (message) => console.error(`backburner: ${message}`),
});
