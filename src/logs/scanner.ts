/**
 * Byte scans of a log with WebAssembly SIMD, over a buffer the log is read into directly (no copy,
 * no UTF-8 decoding): a search for an ASCII literal skips every line that cannot match without
 * turning it into a string, and counts matching lines in a loop that never leaves WebAssembly.
 * Reading 1 GiB from the page cache costs ~0.2 s; decoding it into strings cost as much again.
 *
 * The module is assembled below from named instructions (no toolchain needed). Its functions:
 *
 * - `find(at, end, byte)`: the index of the first `byte` in [at, end), or end.
 * - `newlines(at, end)`: how many newline bytes [at, end) holds.
 * - `lines(at, end, lit, len, anchored, clean)`: how many lines of [at, end) contain the `len`
 *   bytes at `lit` (anchored: at their start; the line starting at `at` itself counts too when
 *   it starts there). Each matching line counts once. With clean, -1 instead when [at, end) holds
 *   an ESC, a CR or a 0x9b byte: text that a clean search sees differently from its bytes.
 */

// Instructions (https://webassembly.github.io/spec/core/binary/instructions.html).
const BLOCK = 0x02, LOOP = 0x03, IF = 0x04, END = 0x0b, BR = 0x0c, BR_IF = 0x0d;
const RETURN = 0x0f, CALL = 0x10, SELECT = 0x1b, GET = 0x20, SET = 0x21, TEE = 0x22;
const LOAD8_U = 0x2d, CONST = 0x41, EQ = 0x46, NE = 0x47, GT_U = 0x4b, GE_U = 0x4f;
const LT_U = 0x49, CTZ = 0x68, POPCNT = 0x69, ADD = 0x6a, SUB = 0x6b, AND = 0x71, OR = 0x72;
const VOID = 0x40, I32 = 0x7f, V128 = 0x7b;
const SIMD = 0xfd;
const V128_LOAD = [SIMD, 0x00], SPLAT = [SIMD, 0x0f], EQ8 = [SIMD, 0x23], AND128 = [SIMD, 0x4e];
const OR128 = [SIMD, 0x50], ANY_TRUE = [SIMD, 0x53], BITMASK = [SIMD, 0x64];

function unsigned(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function signed(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(byte & 0x40)) || (n === -1 && (byte & 0x40))) return [...out, byte];
    out.push(byte | 0x80);
  }
}

const get = (local: number) => [GET, local];
const set = (local: number) => [SET, local];
const i32 = (n: number) => [CONST, ...signed(n)];
const load8 = [LOAD8_U, 0, 0];
const load128 = (offset: number) => [...V128_LOAD, 0, offset];
const vector = (items: number[]) => [...unsigned(items.length), ...items];
const body = (locals: [number, number][], code: number[]) => {
  const declared = locals.flatMap(([n, type]) => [...unsigned(n), type]);
  const bytes = [...unsigned(locals.length), ...declared, ...code, END];
  return [...unsigned(bytes.length), ...bytes];
};

// find(at 0, end 1, byte 2) -> i32; locals: mask 3, needle 4 (v128).
// deno-fmt-ignore
const FIND = body([[1, I32], [1, V128]], [
  ...get(2), ...SPLAT, ...set(4),
  BLOCK, VOID, LOOP, VOID, // 16 bytes a step while a whole block is left
  ...get(0), ...i32(16), ADD, ...get(1), GT_U, BR_IF, 1,
  ...get(0), ...load128(0), ...get(4), ...EQ8, ...BITMASK, TEE, 3,
  IF, VOID, ...get(0), ...get(3), CTZ, ADD, RETURN, END,
  ...get(0), ...i32(16), ADD, ...set(0), BR, 0, END, END,
  BLOCK, VOID, LOOP, VOID, // the last bytes one by one
  ...get(0), ...get(1), GE_U, BR_IF, 1,
  ...get(0), ...load8, ...get(2), EQ, IF, VOID, ...get(0), RETURN, END,
  ...get(0), ...i32(1), ADD, ...set(0), BR, 0, END, END,
  ...get(1),
]);

// newlines(at 0, end 1) -> i32; locals: total 2, needle 3 (v128).
// deno-fmt-ignore
const NEWLINES = body([[1, I32], [1, V128]], [
  ...i32(10), ...SPLAT, ...set(3),
  BLOCK, VOID, LOOP, VOID,
  ...get(0), ...i32(16), ADD, ...get(1), GT_U, BR_IF, 1,
  ...get(2), ...get(0), ...load128(0), ...get(3), ...EQ8, ...BITMASK, POPCNT, ADD, ...set(2),
  ...get(0), ...i32(16), ADD, ...set(0), BR, 0, END, END,
  BLOCK, VOID, LOOP, VOID,
  ...get(0), ...get(1), GE_U, BR_IF, 1,
  ...get(2), ...get(0), ...load8, ...i32(10), EQ, ADD, ...set(2),
  ...get(0), ...i32(1), ADD, ...set(0), BR, 0, END, END,
  ...get(2),
]);

const ESC = 0x1b, CR = 0x0d, CSI = 0x9b;
/** The bytes of the v128 in `block` that are ESC, CR or 0x9b (splats in esc, esc+1, esc+2). */
// deno-fmt-ignore
const specials = (block: number, esc: number) => [
  ...get(block), ...get(esc), ...EQ8, ...get(block), ...get(esc + 1), ...EQ8, ...OR128,
  ...get(block), ...get(esc + 2), ...EQ8, ...OR128,
];
/** Whether the v128 in `block` holds an ESC, CR or 0x9b byte. */
const special128 = (block: number, esc: number) => [...specials(block, esc), ...ANY_TRUE];
/** Whether the i32 in `byte` is an ESC, CR or 0x9b byte. */
// deno-fmt-ignore
const special8 = (byte: number) => [
  ...get(byte), ...i32(ESC), EQ, ...get(byte), ...i32(CR), EQ, OR, ...get(byte), ...i32(CSI), EQ, OR,
];
// deno-fmt-ignore
const splats = (first: number) => [
  ...i32(ESC), ...SPLAT, ...set(first), ...i32(CR), ...SPLAT, ...set(first + 1),
  ...i32(CSI), ...SPLAT, ...set(first + 2),
];
/**
 * For `lines`: nonzero bytes where the 16 bytes at `at` + `offset` start a candidate pair or
 * (when clean) hold a special byte.
 */
// deno-fmt-ignore
const busy = (offset: number) => [
  ...get(0), ...load128(offset), ...set(18),
  ...get(18), ...get(13), ...EQ8, ...get(0), ...load128(offset + 1), ...get(14), ...EQ8, ...AND128,
  ...specials(18, 15), ...get(19), ...AND128, ...OR128,
];

// skip(at 0, end 1, clean 2) -> i32: the first newline in [at, end), end when none, -1 when
// clean and a special byte comes first (or in the same block). Locals: byte 3, mask 4; newline 5,
// esc 6 to 8, block 9 (v128).
// deno-fmt-ignore
const SKIP = body([[2, I32], [5, V128]], [
  ...i32(10), ...SPLAT, ...set(5), ...splats(6),
  BLOCK, VOID, LOOP, VOID,
  ...get(0), ...i32(16), ADD, ...get(1), GT_U, BR_IF, 1,
  ...get(0), ...load128(0), ...set(9),
  ...special128(9, 6), ...get(2), AND, IF, VOID, ...i32(-1), RETURN, END,
  ...get(9), ...get(5), ...EQ8, ...BITMASK, TEE, 4,
  IF, VOID, ...get(0), ...get(4), CTZ, ADD, RETURN, END,
  ...get(0), ...i32(16), ADD, ...set(0), BR, 0, END, END,
  BLOCK, VOID, LOOP, VOID,
  ...get(0), ...get(1), GE_U, BR_IF, 1,
  ...get(0), ...load8, ...set(3),
  ...special8(3), ...get(2), AND, IF, VOID, ...i32(-1), RETURN, END,
  ...get(3), ...i32(10), EQ, IF, VOID, ...get(0), RETURN, END,
  ...get(0), ...i32(1), ADD, ...set(0), BR, 0, END, END,
  ...get(1),
]);

// lines(at 0, end 1, lit 2, len 3, anchored 4, clean 5) -> i32, or -1 when clean and [at, end)
// holds a special byte. Locals: first 6, second 7, count 8, start 9, k 10, mask 11, byte 12;
// s0 13, s1 14, esc 15 to 17, block 18, clean 19 (v128). A candidate is a pair of bytes: the
// literal's first two, or (anchored) a newline and the literal's first. Runs of 64 bytes with
// neither are skipped with one test; the 16 bytes where something is are then looked at alone.
// deno-fmt-ignore
const LINES = body([[7, I32], [7, V128]], [
  ...i32(10), ...get(2), ...load8, ...get(4), SELECT, ...set(6),
  ...get(2), ...load8, ...get(2), ...i32(1), ADD, ...load8, ...get(4), SELECT, ...set(7),
  ...get(6), ...SPLAT, ...set(13), ...get(7), ...SPLAT, ...set(14), ...splats(15),
  ...i32(0), ...get(5), SUB, ...SPLAT, ...set(19),
  LOOP, VOID, // $scan: each candidate
  BLOCK, VOID, // $found: leaves with the candidate's index in start
  BLOCK, VOID, LOOP, VOID, // whole blocks, with the byte after each block for the pair
  BLOCK, VOID, LOOP, VOID, // 64 bytes at a time while nothing is in them
  ...get(0), ...i32(65), ADD, ...get(1), GT_U, BR_IF, 1,
  ...busy(0), ...busy(16), ...OR128, ...busy(32), ...OR128, ...busy(48), ...OR128, ...ANY_TRUE,
  BR_IF, 1,
  ...get(0), ...i32(64), ADD, ...set(0), BR, 0, END, END,
  ...get(0), ...i32(17), ADD, ...get(1), GT_U, BR_IF, 1,
  ...get(0), ...load128(0), ...set(18),
  ...special128(18, 15), ...get(5), AND, IF, VOID, ...i32(-1), RETURN, END,
  ...get(18), ...get(13), ...EQ8, ...get(0), ...load128(1), ...get(14), ...EQ8,
  ...AND128, ...BITMASK, TEE, 11,
  IF, VOID, ...get(0), ...get(11), CTZ, ADD, ...set(9), BR, 3, END,
  ...get(0), ...i32(16), ADD, ...set(0), BR, 0, END, END,
  LOOP, VOID, // the last bytes one by one
  ...get(0), ...i32(1), ADD, ...get(1), GE_U, IF, VOID,
  ...get(0), ...get(1), LT_U, IF, VOID, // the very last byte
  ...get(0), ...load8, ...set(12), ...special8(12), ...get(5), AND, IF, VOID, ...i32(-1), RETURN, END,
  END,
  ...get(8), RETURN, END,
  ...get(0), ...load8, ...set(12),
  ...special8(12), ...get(5), AND, IF, VOID, ...i32(-1), RETURN, END,
  ...get(12), ...get(6), EQ, IF, VOID,
  ...get(0), ...i32(1), ADD, ...load8, ...get(7), EQ, IF, VOID, ...get(0), ...set(9), BR, 3, END,
  END,
  ...get(0), ...i32(1), ADD, ...set(0), BR, 0, END,
  END, // $found
  ...get(9), ...get(4), ADD, ...set(9), // where the literal would start
  BLOCK, VOID, // $no: leaves when the literal is not there
  ...get(9), ...get(3), ADD, ...get(1), GT_U, BR_IF, 0,
  ...i32(0), ...set(10),
  BLOCK, VOID, LOOP, VOID,
  ...get(10), ...get(3), GE_U, BR_IF, 1,
  ...get(9), ...get(10), ADD, ...load8, ...get(2), ...get(10), ADD, ...load8, NE, BR_IF, 2,
  ...get(10), ...i32(1), ADD, ...set(10), BR, 0, END, END,
  // A match: count its line and go on from the newline that ends it (a pair's first byte).
  ...get(8), ...i32(1), ADD, ...set(8),
  ...get(9), ...get(3), ADD, ...get(1), ...get(5), CALL, 3, TEE, 0,
  ...i32(-1), EQ, IF, VOID, ...i32(-1), RETURN, END,
  BR, 1,
  END, // $no
  ...get(9), ...get(4), SUB, ...i32(1), ADD, ...set(0),
  BR, 0,
  END, // $scan
  ...get(8),
]);

// deno-fmt-ignore
const MODULE = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
  // Types: 0 (i32 × 3) -> i32, 1 (i32 × 2) -> i32, 2 (i32 × 6) -> i32.
  ...section(1, [
    3,
    ...[0x60, 3, I32, I32, I32, 1, I32],
    ...[0x60, 2, I32, I32, 1, I32],
    ...[0x60, 6, I32, I32, I32, I32, I32, I32, 1, I32],
  ]),
  // Imports: the memory, sized by whoever instantiates it.
  ...section(2, [1, ...name("env"), ...name("memory"), 0x02, 0x00, 0x01]),
  // Functions 0 find, 1 newlines, 2 lines, 3 skip.
  ...section(3, [4, 0, 1, 2, 0]),
  ...section(7, [3, ...name("find"), 0x00, 0, ...name("newlines"), 0x00, 1, ...name("lines"), 0x00, 2]),
  ...section(10, [4, ...FIND, ...NEWLINES, ...LINES, ...SKIP]),
]);

function section(id: number, content: number[]): number[] {
  return [id, ...unsigned(content.length), ...content];
}

function name(text: string): number[] {
  return vector([...new TextEncoder().encode(text)]);
}

let compiled: WebAssembly.Module | undefined;

/** Bytes before the buffer: where a literal is put for `lines`. */
const LITERAL_BYTES = 4096;
const PAGE = 65536;

type Find = (at: number, end: number, byte: number) => number;
type Span = (at: number, end: number) => number;
type Lines = (
  at: number,
  end: number,
  lit: number,
  len: number,
  anchored: number,
  clean: number,
) => number;

/** One search's scanner: a buffer in WebAssembly memory and the scans over it. */
export class Scanner {
  /** Read into this: the scans see its bytes without a copy. */
  readonly buffer: Uint8Array;
  readonly #memory: Uint8Array;
  readonly #find: Find;
  readonly #newlines: Span;
  readonly #lines: Lines;
  #literal: Uint8Array | null = null;

  constructor(bufferBytes: number) {
    // Deno runs only where V8 has WebAssembly SIMD (x86-64, ARM64), so there is no fallback.
    compiled ??= new WebAssembly.Module(MODULE);
    const memory = new WebAssembly.Memory({
      initial: Math.ceil((LITERAL_BYTES + bufferBytes + 16) / PAGE),
    });
    const { exports } = new WebAssembly.Instance(compiled, { env: { memory } });
    this.#memory = new Uint8Array(memory.buffer);
    this.buffer = this.#memory.subarray(LITERAL_BYTES, LITERAL_BYTES + bufferBytes);
    this.#find = exports.find as Find;
    this.#newlines = exports.newlines as Span;
    this.#lines = exports.lines as Lines;
  }

  /** Where `bytes` sits in the memory: it must be a view of the buffer. */
  #at(bytes: Uint8Array): number {
    if (bytes.buffer === this.#memory.buffer) return bytes.byteOffset;
    throw new RangeError("the scanner scans only views of its own buffer");
  }

  /** Index in `bytes` of its first `byte` from `from`, or -1. */
  indexOf(bytes: Uint8Array, byte: number, from = 0): number {
    const at = this.#at(bytes);
    const found = this.#find(at + from, at + bytes.length, byte) - at;
    return found >= bytes.length ? -1 : found;
  }

  newlines(bytes: Uint8Array): number {
    const at = this.#at(bytes);
    return this.#newlines(at, at + bytes.length);
  }

  /**
   * How many lines of `bytes` (which starts at a line start) contain `literal` (ASCII, no
   * newline; at least 2 bytes unless anchored), or start with it when anchored; null when
   * `clean` and the bytes hold an escape or a carriage return (a clean search must see the text).
   */
  lines(bytes: Uint8Array, literal: Uint8Array, anchored: boolean, clean: boolean): number | null {
    if (this.#literal !== literal) {
      this.#memory.set(literal, 0);
      this.#literal = literal;
    }
    const at = this.#at(bytes);
    const end = at + bytes.length;
    const count = this.#lines(at, end, 0, literal.length, anchored ? 1 : 0, clean ? 1 : 0);
    if (count === -1) return null;
    return anchored && startsWith(bytes, literal) ? count + 1 : count;
  }
}

function startsWith(bytes: Uint8Array, literal: Uint8Array): boolean {
  if (bytes.length < literal.length) return false;
  for (let i = 0; i < literal.length; i++) if (bytes[i] !== literal[i]) return false;
  return true;
}
