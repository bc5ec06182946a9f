/**
 * Runs at the edges of a pattern that cannot change whether a line matches. A line search only
 * asks whether a line contains a match, so a repeated single character at either end of the
 * pattern needs to match only as often as its least: `status=\d+` finds the same lines as
 * `status=\d`, `\d+ passed` as `\d passed`, `.*error.*` as `error`. The shorter pattern is often
 * bounded, which lets V8 run it natively instead of RE2 (pattern.ts), at many times the speed.
 *
 * Only a single-character atom (a literal, `.`, `\d`-style class escapes, an escaped symbol, or a
 * bracket class) with a greedy or lazy `*`, `+` or `{n,}` counts, only at the very start or end of
 * a pattern with no top-level alternation, and never next to an anchor or a lookaround: there the
 * run could matter (`^\s*x`, `x\d+$`).
 *
 * @module
 */

/** One top-level piece of a pattern: an atom and the quantifier that follows it, if any. */
interface Piece {
  readonly start: number;
  /** Where the atom ends and its quantifier (possibly empty) starts. */
  readonly atomEnd: number;
  readonly end: number;
  /** Whether the atom matches exactly one character (so its run can shrink). */
  readonly single: boolean;
  /** The quantifier's least count when it is unbounded (`*` 0, `+` 1, `{n,}` n); else null. */
  readonly unboundedMin: number | null;
}

/**
 * The pattern with its edge runs cut to their least count, or `source` itself when nothing can
 * be cut or the source is not one this reader follows. Test-equivalent: a line contains a match
 * of the result if and only if it contains one of `source`.
 */
export function trimEdgeRuns(source: string, flags: string): string {
  const pieces = readPieces(source, flags.includes("v"));
  if (pieces === null || pieces.length === 0) return source;
  let first = 0;
  let last = pieces.length - 1;
  let head = "";
  let tail = "";
  // A run of least count n is n copies of its atom; 0 copies drop it, and the next may go too.
  while (first <= last && pieces[first].single && pieces[first].unboundedMin === 0) first++;
  if (first <= last && pieces[first].single && pieces[first].unboundedMin !== null) {
    head = leastRun(source, pieces[first]);
    first++;
  }
  while (last >= first && pieces[last].single && pieces[last].unboundedMin === 0) last--;
  if (last >= first && pieces[last].single && pieces[last].unboundedMin !== null) {
    tail = leastRun(source, pieces[last]);
    last--;
  }
  const middle = first <= last ? source.slice(pieces[first].start, pieces[last].end) : "";
  const trimmed = head + middle + tail;
  if (trimmed === source) return source;
  try {
    new RegExp(trimmed, flags);
  } catch {
    return source;
  }
  return trimmed;
}

/** A piece's atom repeated its least count: `x{3,}` as `x{3}`, `x+` as `x`. */
function leastRun(source: string, piece: Piece): string {
  const atom = source.slice(piece.start, piece.atomEnd);
  return piece.unboundedMin === 1 ? atom : `${atom}{${piece.unboundedMin}}`;
}

/**
 * The top-level pieces of `source`, or null when it has a top-level alternation or something
 * this reader does not follow (then nothing is cut).
 */
function readPieces(source: string, nestedClasses: boolean): Piece[] | null {
  const pieces: Piece[] = [];
  let i = 0;
  while (i < source.length) {
    const start = i;
    const char = source[i];
    let single = false;
    if (char === "|") return null;
    if (char === "(") {
      const end = groupEnd(source, i, nestedClasses);
      if (end === null) return null;
      i = end;
    } else if (char === "[") {
      const end = classEnd(source, i, nestedClasses);
      if (end === null) return null;
      i = end;
      single = true;
    } else if (char === "\\") {
      const next = source[i + 1];
      if (next === undefined) return null;
      // Class escapes and escaped symbols are one character; anything else (backreferences,
      // \b, \p{…}, \u…, \k<…>) is left alone.
      single = /[dDwWsS]/.test(next) || /[^A-Za-z0-9]/.test(next);
      if (!single) return null;
      i += 2;
    } else if (char === "^" || char === "$") {
      i++;
    } else if ("*+?{}".includes(char)) {
      return null; // a quantifier with nothing before it (only in a pattern we don't follow)
    } else {
      // A literal or `.`: one UTF-16 unit; a surrogate pair is left alone.
      if (char.charCodeAt(0) >= 0xd800 && char.charCodeAt(0) <= 0xdfff) return null;
      single = true;
      i++;
    }
    const atomEnd = i;
    const quantifier = readQuantifier(source, i);
    if (quantifier === null) return null;
    i = quantifier.end;
    if (char === "^" || char === "$") {
      if (quantifier.end !== atomEnd) return null;
      single = false;
    }
    pieces.push({ start, atomEnd, end: i, single, unboundedMin: quantifier.unboundedMin });
  }
  return pieces;
}

/** The quantifier at `i` (maybe none), with its end; null for a `{` this reader does not follow. */
function readQuantifier(
  source: string,
  i: number,
): { end: number; unboundedMin: number | null } | null {
  const char = source[i];
  let end = i;
  let unboundedMin: number | null = null;
  if (char === "*" || char === "+" || char === "?") {
    end = i + 1;
    unboundedMin = char === "*" ? 0 : char === "+" ? 1 : null;
  } else if (char === "{") {
    const match = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i));
    if (match === null) return { end, unboundedMin }; // a literal brace (outside u mode)
    end = i + match[0].length;
    unboundedMin = match[2] !== undefined && match[3] === "" ? Number(match[1]) : null;
    if (unboundedMin !== null && unboundedMin > 1000) unboundedMin = null;
  } else {
    return { end, unboundedMin };
  }
  if (source[end] === "?") end++; // lazy: the same lines match
  return { end, unboundedMin };
}

/** The end (exclusive) of the bracket class at `i`, or null when it cannot be followed. */
function classEnd(source: string, i: number, nestedClasses: boolean): number | null {
  let j = i + 1;
  if (source[j] === "^") j++;
  for (; j < source.length; j++) {
    const char = source[j];
    if (char === "\\") {
      j++;
      continue;
    }
    if (char === "[" && nestedClasses) return null;
    if (char === "]") return j + 1;
  }
  return null;
}

/** The end (exclusive) of the group at `i`, skipping escapes and classes inside; null if open. */
function groupEnd(source: string, i: number, nestedClasses: boolean): number | null {
  let depth = 0;
  for (let j = i; j < source.length; j++) {
    const char = source[j];
    if (char === "\\") {
      j++;
    } else if (char === "[") {
      const end = classEnd(source, j, nestedClasses);
      if (end === null) return null;
      j = end - 1;
    } else if (char === "(") {
      depth++;
    } else if (char === ")") {
      depth--;
      if (depth === 0) return j + 1;
    }
  }
  return null;
}
