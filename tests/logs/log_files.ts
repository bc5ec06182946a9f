/** Shared by the tests of src/logs/: temporary logs and the markers slices put in them. */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Slice } from "../../src/logs/slice.ts";
import { cleanText, toText } from "../../src/logs/text.ts";

export const encoder = new TextEncoder();

export function bytesOf(content: string | Uint8Array): Uint8Array {
  return typeof content === "string" ? encoder.encode(content) : content;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.length;
  }
  return joined;
}

export async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "backburner-logs-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

export async function withLog(
  content: string | Uint8Array,
  body: (path: string, bytes: Uint8Array) => Promise<void>,
): Promise<void> {
  await withDir(async (dir) => {
    const path = join(dir, "output.log");
    const bytes = bytesOf(content);
    await Deno.writeFile(path, bytes);
    await body(path, bytes);
  });
}

export function bytesWord(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

export function tailMarker(omitted: number): string {
  return `[backburner: ${
    bytesWord(omitted, "earlier byte")
  } left out; pass offset=0 to read from the start]\n`;
}

export function moreMarker(omitted: number, next: number): string {
  return `[backburner: ${bytesWord(omitted, "more byte")}; pass offset=${next} to continue]`;
}

/** The text a forward read returns for `content` followed by `omitted` more bytes. */
export function withMore(content: string, omitted: number, next: number): string {
  if (omitted === 0) return content;
  return `${content}${content === "" || content.endsWith("\n") ? "" : "\n"}${
    moreMarker(omitted, next)
  }`;
}

/**
 * What every slice promises, whatever was read: within the budget, valid text, and exactly the
 * bytes between its offsets (rendered), with a marker and a note when something was left out.
 */
export function assertSlice(slice: Slice, bytes: Uint8Array, maxChars: number, raw: boolean): void {
  assert.ok(slice.text.length <= maxChars, `${slice.text.length} chars, over ${maxChars}`);
  assert.ok(slice.text.isWellFormed(), "the text is not well-formed");
  assert.ok(!slice.text.includes("\0"), "the text holds a NUL");
  assert.equal(slice.totalBytes, bytes.length);
  assert.ok(slice.startOffset <= slice.nextOffset && slice.nextOffset <= bytes.length);
  assert.equal(slice.omittedBefore, slice.startOffset);
  assert.equal(slice.omittedAfter, bytes.length - slice.nextOffset);
  const piece = toText(bytes.subarray(slice.startOffset, slice.nextOffset));
  const body = raw ? piece : cleanText(piece);
  const tail = slice.text.startsWith("[backburner:") && slice.text.includes("earlier byte");
  if (tail) {
    assert.equal(slice.nextOffset, bytes.length);
    assert.equal(slice.text, tailMarker(slice.startOffset) + body);
    assert.match(
      slice.note!,
      new RegExp(`^The first ${slice.startOffset} bytes? of ${bytes.length}`),
    );
  } else {
    assert.equal(slice.text, withMore(body, slice.omittedAfter, slice.nextOffset));
    assert.equal(slice.note === null, slice.omittedAfter === 0);
    if (slice.note !== null) {
      assert.match(slice.note, new RegExp(`pass offset=${slice.nextOffset} to continue\\.$`));
    }
  }
}

/** The text of a forward read without its marker (and the newline put before it). */
export function bodyOf(slice: Slice, bytes: Uint8Array): string {
  if (slice.omittedAfter === 0) return slice.text;
  const body = slice.text.slice(0, slice.text.lastIndexOf("[backburner:"));
  const separated = body.endsWith("\n") && bytes[slice.nextOffset - 1] !== 10;
  return separated ? body.slice(0, -1) : body;
}
