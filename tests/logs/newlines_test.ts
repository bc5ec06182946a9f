import assert from "node:assert/strict";
import { countNewlines } from "../../src/logs/newlines.ts";

Deno.test("countNewlines counts every newline at any length and alignment", () => {
  let seed = 3;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const bytes = new Uint8Array(200_000).map(() =>
    random() < 0.2 ? 10 : 65 + Math.floor(random() * 26)
  );
  const slow = (part: Uint8Array) => part.reduce((sum, byte) => sum + (byte === 10 ? 1 : 0), 0);
  for (const length of [0, 1, 15, 16, 17, 255, 256, 257, 4096, 65535, 65536, 65537, 131_089]) {
    for (const start of [0, 1, 7, 16]) {
      const part = bytes.subarray(start, start + length);
      assert.equal(countNewlines(part), slow(part), `length ${length} from ${start}`);
    }
  }
});
