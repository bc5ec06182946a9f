import assert from "node:assert/strict";
import { checkCommand, parsePolicy, simpleCommands, splitRules } from "../src/policy.ts";

Deno.test("splitRules splits on commas that are not part of a regex", () => {
  assert.deepEqual(splitRules("^pytest,^make"), ["^pytest", "^make"]);
  assert.deepEqual(splitRules(" ^pytest , ,^make ,"), ["^pytest", "^make"]);
  assert.deepEqual(splitRules(""), []);
  assert.deepEqual(splitRules("a{1,3},b{2,}"), ["a{1,3}", "b{2,}"]);
  assert.deepEqual(splitRules("[,;]x,y"), ["[,;]x", "y"]);
  assert.deepEqual(splitRules("[\\],]x,y"), ["[\\],]x", "y"]);
  assert.deepEqual(splitRules("^(a,b|c),d"), ["^(a,b|c)", "d"]);
  assert.deepEqual(splitRules("a\\,b,c"), ["a\\,b", "c"]);
  // A brace that is not a quantifier is a literal, so it must not swallow commas.
  assert.deepEqual(splitRules("x{,y"), ["x{", "y"]);
});

Deno.test("parsePolicy compiles rules and names the variable each came from", () => {
  const policy = parsePolicy("^pytest,^make", " ^rm ");
  assert.equal(policy.error, undefined);
  assert.deepEqual(
    policy.allow.map((rule) => [rule.variable, rule.source, rule.regex.source]),
    [["BACKBURNER_ALLOW", "^pytest", "^pytest"], ["BACKBURNER_ALLOW", "^make", "^make"]],
  );
  assert.deepEqual(policy.deny.map((rule) => [rule.variable, rule.source]), [
    ["BACKBURNER_DENY", "^rm"],
  ]);
  assert.equal(policy.deny[0].regex.flags, "");
  assert.deepEqual(parsePolicy(undefined, undefined), { allow: [], deny: [] });
  assert.deepEqual(parsePolicy("", " , "), { allow: [], deny: [] });
});

Deno.test("parsePolicy reports an invalid rule instead of throwing", () => {
  assert.equal(
    parsePolicy(undefined, "^rm,(").error,
    'BACKBURNER_DENY rule "(" is not a valid regular expression (Invalid regular expression: /(/: Unterminated group): fix the rule and restart backburner',
  );
  const allowError = parsePolicy("^echo,[a", undefined).error ?? "";
  assert.match(allowError, /^BACKBURNER_ALLOW rule "\[a" is not a valid regular expression/);
});

Deno.test("checkCommand refuses every command while the policy has an error", () => {
  const policy = parsePolicy("^echo", "(");
  for (const command of ["echo hi", "", "echo 'unterminated"]) {
    assert.deepEqual(checkCommand(policy, command), { allowed: false, reason: policy.error });
  }
});

Deno.test("checkCommand allows everything when no rules are set", () => {
  const policy = parsePolicy(undefined, "");
  for (const command of ["rm -rf ~", "", "echo 'unterminated", "if then"]) {
    assert.deepEqual(checkCommand(policy, command), { allowed: true });
  }
});

Deno.test("checkCommand refusals name the rule and the offending simple command", () => {
  assert.deepEqual(checkCommand(parsePolicy("^pytest,^make", undefined), "pytest; rm -rf ~"), {
    allowed: false,
    reason:
      'Command refused by policy: "rm -rf ~" matches no BACKBURNER_ALLOW rule (^pytest, ^make)',
  });
  assert.deepEqual(checkCommand(parsePolicy(undefined, "^rm"), "echo hi && rm -rf ~"), {
    allowed: false,
    reason: 'Command refused by policy: "rm -rf ~" matches BACKBURNER_DENY rule "^rm"',
  });
  assert.deepEqual(checkCommand(parsePolicy("^echo", undefined), "echo 'unterminated"), {
    allowed: false,
    reason:
      "Command refused by policy: it cannot be parsed (1:6: reached EOF without closing quote '), and unparseable commands are refused while a policy is set",
  });
  assert.deepEqual(checkCommand(parsePolicy("^echo", undefined), "  # just a comment\n"), {
    allowed: false,
    reason: "Command refused by policy: command is empty, so there is nothing to run",
  });
});

Deno.test("checkCommand lets deny win over allow", () => {
  const policy = parsePolicy("^echo", "^rm");
  // `ls` fails the allow list first, but the deny match is the reason given.
  const decision = checkCommand(policy, "ls; rm x");
  assert.equal(decision.allowed, false);
  assert.match(
    decision.allowed ? "" : decision.reason,
    /"rm x" matches BACKBURNER_DENY rule "\^rm"$/,
  );
  assert.equal(checkCommand(parsePolicy("^make", "install"), "make install").allowed, false);
});

Deno.test("simpleCommands renders each simple command after quote removal", () => {
  assert.deepEqual(simpleCommands("LD_PRELOAD=x pytest -q > out.txt 2>&1"), [
    "LD_PRELOAD=x pytest -q >out.txt 2>&1",
  ]);
  assert.deepEqual(simpleCommands("'r''m' -rf /; \"r\"m; r\\m; $'\\x72m'"), [
    "rm -rf /",
    "rm",
    "rm",
    "rm",
  ]);
  assert.deepEqual(simpleCommands("r\\\nm x"), ["rm x"]);
  assert.deepEqual(simpleCommands(`echo "a\\$b\\"c\\\\d\\q"`), ['echo a$b"c\\d\\q']);
  assert.deepEqual(simpleCommands("echo $'\\u00e9\\xc3\\xa9\\101\\q\\'' $'a\\0b'c"), [
    "echo ééA\\q' ac",
  ]);
  assert.deepEqual(simpleCommands('echo $X ${Y:-z} "$X" a* {r,}m $((1+2)) é'), [
    "echo $X ${Y:-z} $X a* {r,}m $((1+2)) é",
  ]);
  assert.deepEqual(simpleCommands("echo $(rm a) `rm b`"), [
    "echo $(rm a) `rm b`",
    "rm a",
    "rm b",
  ]);
  assert.deepEqual(simpleCommands("X=1; export A=$(b) c; local -a q=(1 2); let x=1 y++"), [
    "X=1",
    "export A=$(b) c",
    "b",
    "local -a q=(1 2)",
    "let x=1 y++",
  ]);
  assert.deepEqual(simpleCommands("z[1+2]+=v"), ["z[1+2]+=v"]);
  assert.deepEqual(simpleCommands("cat <<'EOF' >>log\n$(rm a)\nEOF"), ["cat <<EOF >>log"]);
  // Redirects on a compound command apply to every command inside it.
  assert.deepEqual(simpleCommands("{ echo a; ( echo b ) 2>e; } >o; [[ -f x ]] >y; >z"), [
    "echo a >o",
    "echo b 2>e >o",
    ">y",
    ">z",
  ]);
  assert.deepEqual(simpleCommands(""), []);
  assert.deepEqual(simpleCommands("# only a comment"), []);
});

Deno.test("simpleCommands throws SyntaxError with the parser's message", () => {
  assert.throws(() => simpleCommands("echo 'unterminated"), {
    name: "SyntaxError",
    message: "1:6: reached EOF without closing quote '",
  });
  assert.throws(() => simpleCommands("if then"), SyntaxError);
  // The parser stays usable after an error.
  assert.deepEqual(simpleCommands("echo ok"), ["echo ok"]);
});

type Case = readonly [
  allow: string | undefined,
  deny: string | undefined,
  command: string,
  allowed: boolean,
  reason?: string,
];

const NO_ALLOW = "matches no BACKBURNER_ALLOW rule (^echo)";
const DENY_RM = 'matches BACKBURNER_DENY rule "^rm"';

const CASES: readonly Case[] = [
  // Every place a command can hide, with an allow list that only permits echo.
  ["^echo", undefined, "echo ok; rm -rf ~", false, `"rm -rf ~" ${NO_ALLOW}`],
  ["^echo", undefined, "echo a && rm b", false, `"rm b" ${NO_ALLOW}`],
  ["^echo", undefined, "echo a || rm b", false, `"rm b"`],
  ["^echo", undefined, "echo a | rm b", false, `"rm b"`],
  ["^echo", undefined, "echo a |& rm b", false, `"rm b"`],
  ["^echo", undefined, "echo a & rm b", false, `"rm b"`],
  ["^echo", undefined, "echo a\nrm b", false, `"rm b"`],
  ["^echo", undefined, "(rm b)", false, `"rm b"`],
  ["^echo", undefined, "{ rm b; }", false, `"rm b"`],
  ["^echo", undefined, "echo $(rm b)", false, `"rm b"`],
  ["^echo", undefined, "echo `rm b`", false, `"rm b"`],
  ["^echo", undefined, "echo `echo \\`rm b\\``", false, `"rm b"`],
  ["^echo", undefined, "echo $(echo $(rm b))", false, `"rm b"`],
  ["^echo", undefined, "echo <(rm b)", false, `"rm b"`],
  ["^echo", undefined, "echo > >(rm b)", false, `"rm b"`],
  ["^echo", undefined, "echo $((1 + $(rm b)))", false, `"rm b"`],
  ["^echo", undefined, "echo ${x:-$(rm b)}", false, `"rm b"`],
  ["^echo", undefined, 'echo "${x:-$(rm b)}"', false, `"rm b"`],
  ["^echo", undefined, 'echo "$(rm b)"', false, `"rm b"`],
  ["^echo", undefined, "echo <<EOF\n$(rm b)\nEOF", false, `"rm b"`],
  ["^echo", undefined, "echo <<'EOF'\n$(rm b)\nEOF", true],
  ["^echo", undefined, "if rm b; then echo; fi", false, `"rm b"`],
  ["^echo", undefined, "if echo; then echo; else rm b; fi", false, `"rm b"`],
  ["^echo", undefined, "while rm b; do echo; done", false, `"rm b"`],
  ["^echo", undefined, "until echo; do rm b; done", false, `"rm b"`],
  ["^echo", undefined, "for f in $(rm b); do echo; done", false, `"rm b"`],
  ["^echo", undefined, "for f in a; do rm b; done", false, `"rm b"`],
  ["^echo", undefined, "case $(rm b) in *) echo;; esac", false, `"rm b"`],
  ["^echo", undefined, "case x in x) rm b;; esac", false, `"rm b"`],
  ["^echo", undefined, "f() { rm b; }", false, `"rm b"`],
  ["^echo", undefined, "function f { rm b; }", false, `"rm b"`],
  ["^echo", undefined, "time rm b", false, `"rm b"`],
  ["^echo", undefined, "coproc rm b", false, `"rm b"`],
  ["^echo", undefined, "coproc NAME { rm b; }", false, `"rm b"`],
  ["^echo", undefined, "! rm b", false, `"rm b"`],
  ["^echo", undefined, "[[ -n $(rm b) ]]", false, `"rm b"`],
  ["^echo", undefined, "(( $(rm b) ))", false, `"rm b"`],
  ["^echo", undefined, "echo > $(rm b)", false, `"rm b"`],
  ["^echo", undefined, "$X -rf /", false, `"$X -rf /" ${NO_ALLOW}`],
  ["^echo", undefined, "echo $X; { echo a; } > out", true],
  // The same hiding places against a deny list.
  [undefined, "^rm", "echo $(rm b)", false, `"rm b" ${DENY_RM}`],
  [undefined, "^rm", "cat <<EOF\n`rm b`\nEOF", false, `"rm b" ${DENY_RM}`],
  [undefined, "^rm", "echo ${x:-$(rm b)}", false, DENY_RM],
  [undefined, "^rm", "echo > $(rm b)", false, DENY_RM],
  [undefined, "^rm", "[[ x == $(rm b) ]]", false, DENY_RM],
  ["^echo", "^rm", "echo $(rm b)", false, DENY_RM],
  // Quote removal cannot be used to disguise a command.
  [undefined, "^rm", "'r''m' -rf /", false, `"rm -rf /" ${DENY_RM}`],
  [undefined, "^rm", '"r"m -rf /', false, `"rm -rf /"`],
  [undefined, "^rm", "r\\m -rf /", false, `"rm -rf /"`],
  [undefined, "^rm", "r\\\nm -rf /", false, `"rm -rf /"`],
  [undefined, "^rm", "$'\\x72m' -rf /", false, `"rm -rf /"`],
  [undefined, "^rm", "$'\\162m' -rf /", false, `"rm -rf /"`],
  [undefined, "^rm", "$'\\u0072m' -rf /", false, `"rm -rf /"`],
  [undefined, "^rm", '"r\\m" x', true],
  [undefined, "^rm", "echo rm", true],
  // Matching is case-sensitive.
  [undefined, "^rm", "RM x", true],
  [undefined, "^rm", "\\RM x", true],
  // Assignments are part of the command text.
  ["^pytest", undefined, "LD_PRELOAD=x pytest -q", false, `"LD_PRELOAD=x pytest -q"`],
  ["^pytest", undefined, "X=1", false, `"X=1" matches no BACKBURNER_ALLOW rule (^pytest)`],
  ["^(\\w+=\\S* )*pytest", undefined, "CI=1 pytest -q", true],
  [undefined, "LD_PRELOAD=", "LD_PRELOAD=/tmp/x.so make", false, `rule "LD_PRELOAD="`],
  [undefined, "^export PATH=", "export PATH=/tmp:$PATH", false, `"export PATH=/tmp:$PATH"`],
  [undefined, "^declare ", "declare -x A=1", false, `"declare -x A=1"`],
  [undefined, "^readonly ", "readonly A", false, `"readonly A"`],
  [undefined, "^let ", "let x=1", false, `"let x=1"`],
  // Redirects are part of the command text, including those on compound commands.
  [undefined, ">/etc/", "echo x > /etc/passwd", false, `"echo x >/etc/passwd"`],
  [undefined, ">/etc/", "{ echo x; } > /etc/passwd", false, `"echo x >/etc/passwd"`],
  [undefined, ">/etc/", "[[ -f x ]] > /etc/passwd", false, `">/etc/passwd"`],
  [undefined, ">/etc/", "echo x > /tmp/y", true],
  // Commas inside a regex do not split the rule list.
  ["^echo a{1,3}$", undefined, "echo aaa", true],
  ["^echo a{1,3}$", undefined, "echo aaaa", false, "(^echo a{1,3}$)"],
  [undefined, "[,;]x", "echo ,x", false, `rule "[,;]x"`],
  [undefined, "[,;]x", "echo ax", true],
  [undefined, "^echo a\\,b", "echo a,b", false, `rule "^echo a\\,b"`],
  ["^(echo|printf),^true", undefined, "printf x && true", true],
  // An invalid rule refuses everything and says how to fix it.
  ["(", undefined, "echo hi", false, 'BACKBURNER_ALLOW rule "(" is not a valid regular expression'],
  [undefined, "[a", "echo hi", false, 'BACKBURNER_DENY rule "[a" is not a valid'],
  // Nothing to run.
  ["^echo", undefined, "", false, "command is empty"],
  [undefined, "^rm", "# only a comment", false, "command is empty"],
  [undefined, undefined, "", true],
  // The policy fails closed on commands it cannot analyse.
  ["^echo", undefined, "echo 'unterminated", false, "it cannot be parsed"],
  [undefined, "^rm", "if then", false, "it cannot be parsed"],
  [undefined, "^rm", "! ! echo", false, "it cannot be parsed"],
  [undefined, undefined, "echo 'unterminated", true],
  [undefined, undefined, "if then", true],
  // Ordinary commands still run.
  ["^pytest,^echo", undefined, "pytest -q tests/ && echo done", true],
  ["^git (status|diff)", undefined, "git status; git diff --stat", true],
  ["^git (status|diff)", undefined, "git diff | cat", false, `"cat"`],
  ["^make( |$)", "^make .*install", "make -j4 && make install", false, `"make install"`],
  ["^deno (test|fmt)", "--allow-all|-A\\b", "deno test -q tests/ 2>&1", true],
];

Deno.test("checkCommand decides the policy table", async (t) => {
  assert.ok(CASES.length >= 40);
  for (const [allow, deny, command, allowed, reason] of CASES) {
    const name = `allow ${JSON.stringify(allow)} deny ${JSON.stringify(deny)}: ${
      JSON.stringify(command)
    }`;
    await t.step(name, () => {
      const decision = checkCommand(parsePolicy(allow, deny), command);
      assert.equal(
        decision.allowed,
        allowed,
        decision.allowed ? "expected a refusal" : `unexpected refusal: ${decision.reason}`,
      );
      if (!decision.allowed) {
        assert.ok(
          decision.reason.startsWith("Command refused by policy: ") ||
            decision.reason.includes("restart backburner"),
        );
        assert.ok(!decision.reason.endsWith("."), "a refusal has no final period");
        if (reason !== undefined) assert.ok(decision.reason.includes(reason), decision.reason);
      }
    });
  }
});
