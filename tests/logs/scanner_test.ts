import assert from "node:assert/strict";
import { Scanner } from "../../src/logs/scanner.ts";
import { encoder } from "./log_files.ts";

/** Lines of `text` holding `literal` (or starting with it), as a string search counts them. */
function reference(text: string, literal: string, anchored: boolean): number {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.filter((line) => anchored ? line.startsWith(literal) : line.includes(literal))
    .length;
}

Deno.test("the scanner's SIMD scans agree with string searches on random text", () => {
  const scanner = new Scanner(4096);
  const put = (text: string) => {
    const bytes = encoder.encode(text);
    scanner.buffer.set(bytes, 100);
    return scanner.buffer.subarray(100, 100 + bytes.length);
  };
  const alphabet = ["E", "R", "O", "\n", "x", "ERROR", "ERR", "\r", "\x1b", "é"];
  const literals = [["ERROR", true], ["ERROR", false], ["E", true], ["RO", false], ["xE", false]];
  let seed = 11;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let run = 0; run < 3000; run++) {
    let text = "";
    // Long enough for whole 16-byte blocks and the bytes after them.
    for (let n = Math.floor(next() * 90); n > 0; n--) {
      text += alphabet[Math.floor(next() * alphabet.length)];
    }
    const bytes = put(text);
    const special = text.includes("\x1b") || text.includes("\r");
    for (const [literal, anchored] of literals as [string, boolean][]) {
      const expected = reference(text, literal, anchored);
      const what = `${JSON.stringify(text)} ${literal} anchored=${anchored}`;
      assert.equal(scanner.lines(bytes, encoder.encode(literal), anchored, false), expected, what);
      assert.equal(
        scanner.lines(bytes, encoder.encode(literal), anchored, true),
        special ? null : expected,
        `${what} clean`,
      );
    }
    assert.equal(scanner.newlines(bytes), text.split("\n").length - 1, JSON.stringify(text));
    assert.equal(scanner.indexOf(bytes, 0x52), bytes.indexOf(0x52), JSON.stringify(text));
  }
  assert.throws(() => scanner.newlines(new Uint8Array(4)), /its own buffer/);
});
