/** UTF-8 boundaries: where a byte range may start or end without splitting a character. */

export function isContinuation(byte: number): boolean {
  return (byte & 0xc0) === 0x80;
}

/** The first character boundary at or after `index` (a UTF-8 sequence is at most 4 bytes). */
export function boundaryAfter(bytes: Uint8Array, index: number, limit = bytes.length): number {
  let i = index;
  while (i < limit && i < index + 3 && isContinuation(bytes[i])) i++;
  return i;
}

/** The last character boundary at or before `index`. */
export function boundaryBefore(bytes: Uint8Array, index: number, floor = 0): number {
  let i = index;
  while (i > floor && i > index - 3 && i < bytes.length && isContinuation(bytes[i])) i--;
  return i;
}

/** `end`, or less so as not to end inside a UTF-8 sequence that the bytes after it would finish. */
export function completeEnd(bytes: Uint8Array, start: number, end: number): number {
  let lead = end - 1;
  while (lead > start && lead > end - 4 && isContinuation(bytes[lead])) lead--;
  if (lead < start) return end;
  const byte = bytes[lead];
  const length = byte >= 0xf0 && byte <= 0xf4 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc2 ? 2 : 1;
  if (byte >= 0xf5 || (byte >= 0x80 && byte < 0xc2)) return end;
  return end - lead < length ? lead : end;
}
