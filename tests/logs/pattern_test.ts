import assert from "node:assert/strict";
import { compileLinePattern } from "../../src/logs/pattern.ts";

Deno.test("compileLinePattern runs bounded patterns natively and unbounded ones in RE2", () => {
  const native = [
    "^ERROR",
    "FAIL|Error",
    "\\berror\\b",
    "listening on",
    "[Ee]rr(or)?",
    "foo(?!bar)",
  ];
  for (const source of [...native, "\\d{1,3}\\.\\d{1,3}", "(a|b)\\1", "(?<n>ab)\\k<n>"]) {
    assert.ok(compileLinePattern(source).native instanceof RegExp, source);
  }
  for (
    const source of ["(a+)+$", "(a|a)*c", "c(a*a*a*a*a)b", "x.*y", "x\\d+ passed$", "(?<=a+)b"]
  ) {
    assert.equal(compileLinePattern(source).native, null, source);
  }
  // Runs at the edges do not decide whether a line matches (edge_runs.ts): without them these are
  // bounded, and run natively.
  for (const source of ["a*a*a*a*a*b", "\\d+ passed", "status=\\d+", ".*error.*", "\\s*$"]) {
    assert.ok(compileLinePattern(source).native instanceof RegExp, source);
  }
  // Anchored at the line start with one run of one character: linear in V8 too.
  for (const source of ["^\\s*$", "^\\d+ passed", "^.*error", "^(?:x|a+)b", "^a*(b|c){3}d"]) {
    assert.ok(compileLinePattern(source).native instanceof RegExp, source);
  }
  for (const source of ["^(a*){2}b", "^(a*b)+c", "^a*a*b", "^(a|a)*b", "^x|a*b", "x\\s*y$"]) {
    assert.equal(compileLinePattern(source).native, null, source);
  }
});

Deno.test("compileLinePattern matches what JavaScript matches, line by line", () => {
  const lines = [
    "",
    "ERROR disk full",
    "  at main (file.ts:10:5)",
    "12 tests passed, 0 failed",
    "server listening on 8080",
    "aaaaaaaaab",
    "naïve café 😀 ok",
    "FAIL: x.y",
  ];
  const patterns = [
    "^ERROR",
    "\\d+ tests? passed",
    "^\\s*at \\S+ \\(",
    "listening on \\d+$",
    "(a+)+b",
    "a*a*a*b$",
    "caf.+ok",
    "\\p{Emoji_Presentation}",
    "(?<=FAIL: )x\\.y",
    "^$",
    "[^a-z]+",
  ];
  for (const source of patterns) {
    const flags = source.includes("\\p") ? "u" : "";
    const pattern = compileLinePattern(source, flags);
    const expected = new RegExp(source, flags);
    for (const line of lines) {
      assert.equal(pattern.test(line), expected.test(line), `${source} on "${line}"`);
    }
  }
  assert.equal(compileLinePattern("FAIL.*Y$", "i").test("fail: x.y"), true);
  // Where RE2's own meaning differs (ASCII \s, a dot that matches \r), JavaScript's is kept.
  const differences: [string, string][] = [
    ["a\\s+b", "a\u00a0b"],
    ["a\\s+b", "a\vb"],
    ["a\\s+b", "a\u2003b"],
    ["a\\S+b", "a\u00a0b"],
    ["y[\\s]+x", "y\u00a0x"],
    ["y[^\\s]+x", "y\u00a0x"],
    ["a.+b", "a\rb"],
    ["a.+b", "a\u2028b"],
    ["yx+[\\b]", "yx\b"],
  ];
  for (const [source, line] of differences) {
    assert.equal(compileLinePattern(source).native, null, source);
    assert.equal(compileLinePattern(source).test(line), new RegExp(source).test(line), source);
  }
  assert.equal(compileLinePattern("a.+b", "s").test("a\rb"), true);
});

Deno.test("compileLinePattern matches catastrophic patterns in linear time", () => {
  const cases: [string, string][] = [
    ["(a+)+$", "a".repeat(100_000) + "!"],
    ["(a|a)*c", "a".repeat(100_000)],
    ["(a|aa)+$", "a".repeat(100_000) + "!"],
    ["a*a*a*a*a*b", "a".repeat(100_000)],
    ["x.*y.*z", "xy".repeat(50_000)],
    ["\\d+ passed", "1".repeat(100_000)],
    ["(?<=a+)b", "a".repeat(100_000)],
    ["^a*a*a*a*b", "a".repeat(100_000)],
    ["^(a*){3}b", "a".repeat(100_000)],
    ["^\\s*$", " ".repeat(1_000_000) + "x"],
    ["^.*b", "a".repeat(1_000_000)],
  ];
  for (const [source, line] of cases) {
    const started = performance.now();
    assert.equal(compileLinePattern(source).test(line), false, source);
    const ms = performance.now() - started;
    assert.ok(ms < 1000, `${source} took ${ms} ms`);
  }
});

Deno.test("compileLinePattern refuses what only backtracking can match, saying what to change", () => {
  assert.throws(
    () => compileLinePattern("(a*)*\\1"),
    {
      name: "BackburnerError",
      code: "refused_pattern",
      message:
        'The pattern "(a*)*\\1" combines a backreference (\\1) with unbounded repetition (*, + or {n,}), which can take exponential time: output is matched in linear time, which allows this only in bounded patterns; rewrite it without the backreference (e.g. match the repeated text literally) or bound each repetition (e.g. {0,20})',
    },
  );
  assert.throws(() => compileLinePattern("(?=(a+)+$)x"), /a lookahead "\(\?=…" with unbounded/);
  assert.throws(() => compileLinePattern("^(?!.*ok).*$"), /a lookahead "\(\?!…" with unbounded/);
  assert.throws(() => compileLinePattern("(?<w>a+)\\k<w>"), /a backreference \(\\k<w>\)/);
  assert.throws(() => compileLinePattern("(a+"), /is not a valid regular expression .*: fix it/);
});

Deno.test("compileLinePattern names the texts every match contains, and only those", () => {
  const cases: [string, string, string[]][] = [
    ["served in \\d+ ms by worker-9", "", [" ms by worker-9", "served in "]],
    ["ERROR.*items/3$", "", ["items/3", "ERROR"]],
    ["a?bc+d", "", ["bc", "d"]],
    ["ab*?cd", "", ["cd", "a"]],
    ["foo\\.bar\\x41z", "", ["foo.bar", "z"]],
    ["x|y.*z", "", []],
    ["(a+)+$", "", []],
    ["error.*timeout", "i", []],
  ];
  for (const [source, flags, required] of cases) {
    assert.deepEqual(compileLinePattern(source, flags).required, required, source);
  }
});
