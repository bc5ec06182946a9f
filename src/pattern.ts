/**
 * Matching an agent's regular expression against lines of output without ever letting it stall the
 * server. JavaScript's own engine backtracks: `(a+)+$` on 30 characters, `a*a*a*a*b` or even
 * `x.*y` on one long line, `(a*)*\1` run for minutes, and nothing can interrupt a running match
 * (a Worker cannot be terminated mid-match in Deno 2.9, and V8's linear engine needs flags at
 * process start, which `deno run jsr:…` cannot pass). So each pattern is judged before it runs:
 *
 * - bounded (no `*`, `+` or `{n,}`, and few ways to match): the cost of a match attempt is bounded
 *   whatever the text, so V8 runs it at full speed (the common `^ERROR`, `FAIL|Error`, `\bwarn\b`);
 * - otherwise RE2 (re2js: linear time in the text, never backtracks), which covers everything but
 *   backreferences and lookaheads;
 * - unbounded with a backreference or a lookahead: refused with a RangeError saying what to change.
 */

import { RE2JS } from "re2js";

/** A pattern ready to test lines. */
export interface LinePattern {
  /** The pattern as the agent wrote it. */
  readonly source: string;
  /**
   * The same pattern as a V8 RegExp (flags as given, without g and y) when a match attempt is
   * bounded whatever the text, so running it natively is safe; null when it must go through RE2.
   */
  readonly native: RegExp | null;
  /** Whether `line` (one line, without its newline) contains a match. */
  test(line: string): boolean;
}

/**
 * Most steps of one match attempt (ways to match times the longest match) for which V8's
 * backtracking engine is trusted: a megabyte of text then costs at most a few hundred million
 * steps in the worst case, and a plain pattern costs what it costs today.
 */
const NATIVE_COST_LIMIT = 256;

/** What the shape of a pattern says about the cost of matching it. */
interface Shape {
  /** Ways a backtracking engine may try to match it from one position; Infinity if unbounded. */
  ways: number;
  /** Most characters a match can span; Infinity if unbounded. */
  length: number;
}

/** Features found while reading a pattern that RE2 cannot run. */
interface Features {
  backreference: string | null;
  lookahead: string | null;
  lookbehind: boolean;
}

/**
 * Compiles an agent's pattern for line tests, or throws a RangeError whose message says what is
 * wrong and what to do. `flags` are JavaScript's; g and y are ignored.
 */
export function compileLinePattern(source: string, flags = ""): LinePattern {
  const lineFlags = flags.replace(/[gy]/g, "");
  let native: RegExp;
  try {
    native = new RegExp(source, lineFlags);
  } catch (error) {
    throw new RangeError(
      `The pattern "${quoted(source)}" is not a valid regular expression (${
        (error as Error).message
      }): fix it`,
    );
  }
  const features: Features = { backreference: null, lookahead: null, lookbehind: false };
  const shape = new Reader(source, lineFlags, features).read();
  if (shape.ways * (shape.length + 1) <= NATIVE_COST_LIMIT) {
    return { source, native, test: (line) => native.test(line) };
  }
  const construct = features.backreference ?? features.lookahead;
  if (construct !== null) {
    const rewrite = features.backreference !== null
      ? "the backreference (e.g. match the repeated text literally)"
      : 'the lookahead (e.g. "(?=.*b)a" as "a.*b|b.*a")';
    throw new RangeError(
      `The pattern "${
        quoted(source)
      }" combines ${construct} with unbounded repetition (*, + or {n,}), which can take exponential time: output is matched in linear time, which allows this only in bounded patterns; rewrite it without ${rewrite} or bound each repetition (e.g. {0,20})`,
    );
  }
  let re2: RE2JS;
  try {
    re2 = RE2JS.compile(
      RE2JS.translateRegExp(native),
      features.lookbehind ? RE2JS.LOOKBEHINDS : 0,
    );
  } catch (error) {
    throw new RangeError(
      `The pattern "${quoted(source)}" cannot be matched in linear time (${
        (error as Error).message
      }): output is matched with RE2's syntax for patterns with unbounded repetition; simplify it`,
    );
  }
  return { source, native: null, test: (line) => re2.test(line) };
}

function quoted(source: string): string {
  return source.length > 80 ? `${source.slice(0, 80)}…` : source;
}

/**
 * Reads a JavaScript pattern's source (already known to be valid) into its {@linkcode Shape},
 * noting backreferences and lookarounds on the way.
 */
class Reader {
  #at = 0;
  readonly #source: string;
  readonly #unicode: boolean;
  readonly #sets: boolean;
  readonly #groups: number;
  readonly #named: boolean;
  readonly #features: Features;
  /** Longest match of each capturing group read so far, by number and by name. */
  readonly #groupLengths: number[] = [];
  readonly #namedLengths = new Map<string, number>();

  constructor(source: string, flags: string, features: Features) {
    this.#source = source;
    this.#unicode = flags.includes("u") || flags.includes("v");
    this.#sets = flags.includes("v");
    this.#features = features;
    const groups = countGroups(source);
    this.#groups = groups.count;
    this.#named = groups.named;
  }

  read(): Shape {
    return this.#alternation();
  }

  #alternation(): Shape {
    let shape = this.#sequence();
    while (this.#source[this.#at] === "|") {
      this.#at++;
      const next = this.#sequence();
      shape = { ways: shape.ways + next.ways, length: Math.max(shape.length, next.length) };
    }
    return shape;
  }

  #sequence(): Shape {
    let ways = 1;
    let length = 0;
    while (this.#at < this.#source.length) {
      const char = this.#source[this.#at];
      if (char === "|" || char === ")") break;
      const atom = this.#quantified(this.#atom());
      ways *= atom.ways;
      length += atom.length;
    }
    return { ways, length };
  }

  #atom(): Shape {
    const source = this.#source;
    const char = source[this.#at];
    if (char === "(") return this.#group();
    if (char === "[") {
      this.#skipClass();
      return { ways: 1, length: 1 };
    }
    if (char === "\\") return this.#escape();
    this.#at += source.codePointAt(this.#at)! > 0xffff ? 2 : 1;
    return char === "^" || char === "$" ? { ways: 1, length: 0 } : { ways: 1, length: 1 };
  }

  #group(): Shape {
    const source = this.#source;
    const rest = source.slice(this.#at, this.#at + 4);
    let lookaround = false;
    let capture: { index: number; name: string | null } | null = null;
    if (rest.startsWith("(?=") || rest.startsWith("(?!")) {
      this.#features.lookahead ??= `a lookahead "${rest.slice(0, 3)}…"`;
      lookaround = true;
      this.#at += 3;
    } else if (rest.startsWith("(?<=") || rest.startsWith("(?<!")) {
      this.#features.lookbehind = true;
      lookaround = true;
      this.#at += 4;
    } else if (rest.startsWith("(?<")) {
      const end = source.indexOf(">", this.#at);
      capture = { index: this.#groupLengths.length, name: source.slice(this.#at + 3, end) };
      this.#groupLengths.push(0);
      this.#at = end + 1;
    } else if (rest.startsWith("(?")) {
      // (?:…) or modifiers such as (?i:…).
      this.#at = source.indexOf(":", this.#at) + 1;
    } else {
      capture = { index: this.#groupLengths.length, name: null };
      this.#groupLengths.push(0);
      this.#at++;
    }
    const inner = this.#alternation();
    this.#at++;
    if (capture !== null) {
      this.#groupLengths[capture.index] = inner.length;
      if (capture.name !== null) this.#namedLengths.set(capture.name, inner.length);
    }
    // A lookaround spends its inner steps but consumes nothing.
    return lookaround ? { ways: inner.ways * (inner.length + 1), length: 0 } : inner;
  }

  #skipClass(): void {
    const source = this.#source;
    let depth = 0;
    while (this.#at < source.length) {
      const char = source[this.#at];
      if (char === "\\") {
        this.#at += 2;
        continue;
      }
      this.#at++;
      if (char === "[" && (depth === 0 || this.#sets)) depth++;
      else if (char === "]" && --depth === 0) return;
    }
  }

  #escape(): Shape {
    const source = this.#source;
    const next = source[this.#at + 1];
    const digits = /^[1-9]\d*/.exec(source.slice(this.#at + 1));
    if (digits !== null && (this.#unicode || Number(digits[0]) <= this.#groups)) {
      this.#features.backreference ??= `a backreference (\\${digits[0]})`;
      this.#at += 1 + digits[0].length;
      // A reference to a group not yet closed (or later in the pattern) matches the empty string.
      return { ways: 1, length: this.#groupLengths[Number(digits[0]) - 1] ?? 0 };
    }
    if (next === "k" && (this.#unicode || this.#named) && source[this.#at + 2] === "<") {
      const end = source.indexOf(">", this.#at);
      this.#features.backreference ??= `a backreference (${source.slice(this.#at, end + 1)})`;
      const name = source.slice(this.#at + 3, end);
      this.#at = end + 1;
      return { ways: 1, length: this.#namedLengths.get(name) ?? 0 };
    }
    if (next === "b" || next === "B") {
      this.#at += 2;
      return { ways: 1, length: 0 };
    }
    if ((next === "p" || next === "P" || next === "u") && source[this.#at + 2] === "{") {
      this.#at = source.indexOf("}", this.#at) + 1;
      return { ways: 1, length: 1 };
    }
    // Any other escape is one character (or one of a class of characters) long.
    this.#at += 2;
    return { ways: 1, length: 1 };
  }

  #quantified(atom: Shape): Shape {
    const source = this.#source;
    const char = source[this.#at];
    let min: number;
    let max: number;
    if (char === "*" || char === "+" || char === "?") {
      min = char === "+" ? 1 : 0;
      max = char === "?" ? 1 : Infinity;
      this.#at++;
    } else if (char === "{") {
      const braces = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(this.#at));
      if (braces === null) return atom;
      min = Number(braces[1]);
      max = braces[2] === undefined ? min : braces[3] === "" ? Infinity : Number(braces[3]);
      this.#at += braces[0].length;
    } else {
      return atom;
    }
    if (source[this.#at] === "?") this.#at++;
    if (max === Infinity) return { ways: Infinity, length: Infinity };
    let ways = atom.ways === 1 ? max - min + 1 : 0;
    for (let count = min; atom.ways > 1 && count <= max && ways < NATIVE_COST_LIMIT; count++) {
      ways += atom.ways ** count;
    }
    return { ways, length: atom.length * max };
  }
}

/** How many capturing groups a pattern has, and whether any is named. */
function countGroups(source: string): { count: number; named: boolean } {
  let count = 0;
  let named = false;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const char = source[i];
    if (char === "\\") {
      i++;
    } else if (inClass) {
      if (char === "]") inClass = false;
    } else if (char === "[") {
      inClass = true;
    } else if (char === "(") {
      if (source[i + 1] !== "?") count++;
      else if (source[i + 2] === "<" && source[i + 3] !== "=" && source[i + 3] !== "!") {
        count++;
        named = true;
      }
    }
  }
  return { count, named };
}
