import assert from "node:assert/strict";
import { trimEdgeRuns } from "../../src/logs/edge_runs.ts";

Deno.test("trimEdgeRuns cuts runs at a pattern's edges to their least count", () => {
  const cases: [string, string][] = [
    ["status=\\d+", "status=\\d"],
    ["\\d+ passed", "\\d passed"],
    [".*error.*", "error"],
    ["a*a*a*b", "b"],
    ["x{3,}y", "x{3}y"],
    ["[a-z]+:\\s*", "[a-z]:"],
    ["\\.+?done", "\\.done"],
    ["a*", ""],
    // Kept: anchors, lookarounds, groups and alternations at the edges, escapes it does not know.
    ["^\\s*x", "^\\s*x"],
    ["x\\d+$", "x\\d+$"],
    ["(a+)+b", "(a+)+b"],
    ["a|b\\d+", "a|b\\d+"],
    ["\\bword\\d+\\b", "\\bword\\d+\\b"],
    ["x(?=\\d+)", "x(?=\\d+)"],
    ["(a)\\1+", "(a)\\1+"],
    ["\\p{L}+x", "\\p{L}+x"],
    ["x\\d{2,5}", "x\\d{2,5}"],
  ];
  for (const [source, expected] of cases) {
    assert.equal(trimEdgeRuns(source, source.includes("\\p") ? "u" : ""), expected, source);
  }
});

Deno.test("trimEdgeRuns never changes which lines match (random patterns and lines)", () => {
  const atoms = ["a", "b", ".", "\\d", "\\s", "\\w", "[ab]", "[^a]", "\\.", "(a|b)", "(?:ab)", "x"];
  const quantifiers = ["", "", "*", "+", "?", "{2,}", "{1,2}", "*?", "+?"];
  const edges = ["", "", "^", "$", "\\b"];
  let seed = 42;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const alphabet = ["a", "b", "x", "1", "2", " ", ".", "-"];
  const lines: string[] = [""];
  for (let i = 0; i < 200; i++) {
    let line = "";
    for (let j = random(12); j > 0; j--) line += alphabet[random(alphabet.length)];
    lines.push(line);
  }
  let trimmed = 0;
  for (let i = 0; i < 3000; i++) {
    let source = random(3) === 0 ? edges[random(edges.length)] : "";
    for (let j = 1 + random(4); j > 0; j--) {
      source += atoms[random(atoms.length)] + quantifiers[random(quantifiers.length)];
    }
    if (random(3) === 0) source += edges[random(edges.length)];
    for (const flags of ["", "i", "u"]) {
      let original: RegExp;
      try {
        original = new RegExp(source, flags);
      } catch {
        continue;
      }
      const cut = trimEdgeRuns(source, flags);
      if (cut !== source) trimmed++;
      const shorter = new RegExp(cut, flags);
      for (const line of lines) {
        assert.equal(shorter.test(line), original.test(line), `${source} -> ${cut} on "${line}"`);
      }
    }
  }
  assert.ok(trimmed > 1000, `only ${trimmed} patterns were cut`);
});
