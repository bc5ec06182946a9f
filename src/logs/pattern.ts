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

import { BackburnerError } from "../errors.ts";
import { RE2JS } from "re2js";
import { trimEdgeRuns } from "./edge_runs.ts";

/** A pattern ready to test lines. */
export interface LinePattern {
  /** The pattern as the agent wrote it. */
  readonly source: string;
  /**
   * The same pattern as a V8 RegExp (flags as given, without g and y) when a match attempt is
   * bounded whatever the text, so running it natively is safe; null when it must go through RE2.
   */
  readonly native: RegExp | null;
  /**
   * Texts that every match contains, longest first (none when none is known): a line without
   * one of them cannot match, so a search may skip to the lines that have them all.
   */
  readonly required: readonly string[];
  /** Whether `line` (one line, without its newline) contains a match. */
  test(line: string): boolean;
}

/**
 * Most steps of one match attempt (ways to match times the longest match) for which V8's
 * backtracking engine is trusted: a megabyte of text then costs at most a few hundred million
 * steps in the worst case, and a plain pattern costs what it costs today.
 */
const NATIVE_COST_LIMIT = 256;

/** What `.` does not match in JavaScript without the s flag (RE2's `.` stops at \n only). */
const LINE_ENDS = "\\n\\r\\u2028\\u2029";
/** What `\s` matches in JavaScript (RE2's is ASCII only), written for inside a class. */
const JS_SPACES =
  "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff";

/** What the shape of a pattern says about the cost of matching it. */
interface Shape {
  /** Ways a backtracking engine may try to match it from one position; Infinity if unbounded. */
  ways: number;
  /** Most characters a match can span; Infinity if unbounded. */
  length: number;
  /** The character it matches, when it is one exact character (case-sensitively). */
  literal?: string;
  /** Texts that every match contains, when it is a sequence. */
  required?: string[];
}

/** Features found while reading a pattern that RE2 cannot run. */
interface Features {
  backreference: string | null;
  lookahead: string | null;
  lookbehind: boolean;
}

/**
 * Compiles an agent's pattern for line tests, or throws a BackburnerError ("refused_pattern")
 * whose message says what is
 * wrong and what to do. `flags` are JavaScript's; g and y are ignored.
 */
export function compileLinePattern(source: string, flags = ""): LinePattern {
  const lineFlags = flags.replace(/[gy]/g, "");
  let native: RegExp;
  try {
    native = new RegExp(source, lineFlags);
  } catch (error) {
    throw new BackburnerError(
      "refused_pattern",
      `The pattern "${quoted(source)}" is not a valid regular expression (${
        (error as Error).message
      }): fix it`,
    );
  }
  // Runs at the pattern's edges never decide whether a line matches: without them a pattern is
  // often bounded, and runs natively (edge_runs.ts).
  const effective = trimEdgeRuns(source, lineFlags);
  if (effective !== source) native = new RegExp(effective, lineFlags);
  const features: Features = { backreference: null, lookahead: null, lookbehind: false };
  const reader = new Reader(effective, lineFlags, features);
  const shape = reader.read();
  if (
    shape.ways * (shape.length + 1) <= NATIVE_COST_LIMIT ||
    anchoredWithOneRun(effective, lineFlags, features)
  ) {
    return { source, native, required: reader.required, test: (line) => native.test(line) };
  }
  const construct = features.backreference ?? features.lookahead;
  if (construct !== null) {
    const rewrite = features.backreference !== null
      ? "the backreference (e.g. match the repeated text literally)"
      : 'the lookahead (e.g. "(?=.*b)a" as "a.*b|b.*a")';
    throw new BackburnerError(
      "refused_pattern",
      `The pattern "${
        quoted(source)
      }" combines ${construct} with unbounded repetition (*, + or {n,}), which can take exponential time: output is matched in linear time, which allows this only in bounded patterns; rewrite it without ${rewrite} or bound each repetition (e.g. {0,20})`,
    );
  }
  let re2: RE2JS;
  try {
    re2 = RE2JS.compile(
      RE2JS.translateRegExp(new RegExp(reader.forRe2(), lineFlags)),
      features.lookbehind ? RE2JS.LOOKBEHINDS : 0,
    );
  } catch (error) {
    throw new BackburnerError(
      "refused_pattern",
      `The pattern "${
        quoted(source)
      }" is too large for the linear-time engine (RE2) or uses syntax it lacks (${
        (error as Error).message
      }): simplify it, e.g. with fewer or smaller {n,m} repetitions`,
    );
  }
  return { source, native: null, required: reader.required, test: (line) => re2.test(line) };
}

/**
 * Whether the pattern is anchored at the start of the line and otherwise bounded but for one
 * unbounded repetition of a single character (`^\s*$`, `^\d+ passed`, `^.*error`): V8 then tries
 * it at line starts only, each attempt backtracking through that one run at most once, so its
 * time grows linearly with the line.
 */
function anchoredWithOneRun(source: string, flags: string, features: Features): boolean {
  if (!source.startsWith("^") || flags.includes("m")) return false;
  if (features.backreference !== null || features.lookahead !== null || features.lookbehind) {
    return false;
  }
  const loose = new Reader(source, flags, { ...features }, { oneRun: true });
  const shape = loose.read();
  return loose.topBranches === 1 && loose.runs === 1 &&
    shape.ways * (shape.length + 1) <= NATIVE_COST_LIMIT;
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
  readonly #dotAll: boolean;
  /** Whether some part matches regardless of case, so no text is required exactly. */
  readonly #caseless: boolean;
  /** Spans of the source to write differently for RE2, so that it means what it means in JS. */
  readonly #rewrites: { start: number; end: number; text: string }[] = [];

  /** With oneRun: unbounded repetitions of one character seen, counted as one step each. */
  runs = 0;
  /** Alternatives at the top level of the pattern. */
  topBranches = 1;
  readonly #oneRun: boolean;
  /** The most repetitions the last quantifier read allows (1 without one). */
  #lastMax = 1;

  constructor(
    source: string,
    flags: string,
    features: Features,
    options: { oneRun?: boolean } = {},
  ) {
    this.#oneRun = options.oneRun ?? false;
    this.#source = source;
    this.#unicode = flags.includes("u") || flags.includes("v");
    this.#sets = flags.includes("v");
    this.#dotAll = flags.includes("s");
    this.#caseless = flags.includes("i") || /\(\?[a-z]*i/.test(source);
    this.#features = features;
    const groups = countGroups(source);
    this.#groups = groups.count;
    this.#named = groups.named;
  }

  read(): Shape {
    return this.#alternation();
  }

  /** Texts every match contains, longest first, as found by {@linkcode read}. */
  required: string[] = [];

  /** The source as RE2 must read it to match the same lines (after {@linkcode read}). */
  forRe2(): string {
    let text = "";
    let at = 0;
    for (const rewrite of this.#rewrites) {
      text += this.#source.slice(at, rewrite.start) + rewrite.text;
      at = rewrite.end;
    }
    return text + this.#source.slice(at);
  }

  #rewrite(start: number, end: number, text: string): void {
    this.#rewrites.push({ start, end, text });
  }

  #alternation(): Shape {
    const topLevel = this.#at === 0;
    let shape = this.#sequence();
    let branches = 1;
    while (this.#source[this.#at] === "|") {
      this.#at++;
      branches++;
      const next = this.#sequence();
      shape = { ways: shape.ways + next.ways, length: Math.max(shape.length, next.length) };
    }
    if (topLevel) this.topBranches = branches;
    if (topLevel && branches === 1 && !this.#caseless) {
      this.required = (shape.required ?? []).sort((a, b) => b.length - a.length);
    }
    return shape;
  }

  #sequence(): Shape {
    let ways = 1;
    let length = 0;
    let run = "";
    const required: string[] = [];
    const endRun = () => {
      if (run !== "") required.push(run);
      run = "";
    };
    while (this.#at < this.#source.length) {
      const char = this.#source[this.#at];
      if (char === "|" || char === ")") break;
      const runsBefore = this.runs;
      const atom = this.#atom();
      const runsInside = this.runs > runsBefore;
      const before = this.#at;
      const quantified = this.#quantified(atom);
      // A run inside something repeated runs many times over: no longer linear.
      if (runsInside && this.#lastMax > 1) this.runs = Infinity;
      const written = this.#source.slice(before, this.#at);
      // A lazy quantifier requires what its greedy form does.
      const quantifier = written.length > 1 && written.endsWith("?")
        ? written.slice(0, -1)
        : written;
      ways *= quantified.ways;
      length += quantified.length;
      if (atom.literal === undefined) {
        endRun();
      } else if (quantifier === "" || quantifier === "{1}" || quantifier === "{1,1}") {
        run += atom.literal;
      } else if (quantifier === "+" || /^\{[1-9]/.test(quantifier)) {
        // At least once: the character is there, but what follows may not come right after it.
        run += atom.literal;
        endRun();
      } else {
        endRun();
      }
    }
    endRun();
    return { ways, length, required };
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
    if (char === "." && !this.#dotAll) this.#rewrite(this.#at, this.#at + 1, `[^${LINE_ENDS}]`);
    const code = source.codePointAt(this.#at)!;
    this.#at += code > 0xffff ? 2 : 1;
    if (char === "^" || char === "$") return { ways: 1, length: 0 };
    if (char === ".") return { ways: 1, length: 1 };
    return { ways: 1, length: 1, literal: String.fromCodePoint(code) };
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
        const next = source[this.#at + 1];
        if (next === "s") this.#rewrite(this.#at, this.#at + 2, JS_SPACES);
        if (next === "b") this.#rewrite(this.#at, this.#at + 2, "\\x08");
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
    if (next === "s" || next === "S") {
      this.#rewrite(this.#at, this.#at + 2, `[${next === "S" ? "^" : ""}${JS_SPACES}]`);
    }
    const coded = /^\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|c[a-zA-Z])/.exec(source.slice(this.#at));
    if (coded !== null) {
      this.#at += coded[0].length;
      return { ways: 1, length: 1 };
    }
    this.#at += 2;
    // An escaped punctuation character stands for itself; a letter or digit is a class or code.
    if (next !== undefined && /[^0-9A-Za-z]/.test(next)) {
      return { ways: 1, length: 1, literal: next };
    }
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
      if (braces === null) {
        this.#lastMax = 1;
        return atom;
      }
      min = Number(braces[1]);
      max = braces[2] === undefined ? min : braces[3] === "" ? Infinity : Number(braces[3]);
      this.#at += braces[0].length;
    } else {
      this.#lastMax = 1;
      return atom;
    }
    this.#lastMax = max;
    if (source[this.#at] === "?") this.#at++;
    if (max === Infinity) {
      if (this.#oneRun && atom.ways === 1 && atom.length === 1) {
        this.runs++;
        return { ways: 1, length: 1 };
      }
      return { ways: Infinity, length: Infinity };
    }
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
