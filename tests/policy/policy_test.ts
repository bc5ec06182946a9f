import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  checkCommand,
  checkEnv,
  parsePolicy,
  type Policy,
  simpleCommands,
  splitRules,
  unsafeInheritedEnv,
} from "../../src/policy/policy.ts";
import { posixTest, tempDir } from "../helpers.ts";

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
  // mvdan-sh's own walk skips ${x:offset:length}; bash runs $(…) there all the same.
  assert.deepEqual(simpleCommands("echo ${x:$(rm a):$(rm b)}"), [
    "echo ${x:$(rm a):$(rm b)}",
    "rm a",
    "rm b",
  ]);
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
const ECHO = "^echo( |$)";
// An allow rule that every command text matches, so the refusal comes from the evaluation checks.
const ANY = ".";
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
  // Under an allow rule, nothing evaluates text that is not written in the command (issue 9).
  // The issue's two examples: single quotes hide $(…), prompt expansion and arithmetic run it.
  [ECHO, undefined, "echo ${x:='$(touch /tmp/p)'} ${x@P}", false, "runs prompt expansion"],
  [ECHO, undefined, "echo ${a:='z[$(touch /tmp/p)]'} $((a))", false, "evaluates a as arithmetic"],
  // Prompt expansion is the only transformation that evaluates; the others only quote or case.
  [ECHO, undefined, "echo ${x@Q} ${x@E} ${x@A} ${x@K} ${x@a} ${x@U} ${x@u} ${x@L}", true],
  [ECHO, undefined, 'echo "${a[@]@P}"', false, "runs prompt expansion"],
  // Arithmetic: only numbers, operators and numeric special parameters.
  [ECHO, undefined, "echo $((1+2)) $(( 3 * (4+5) )) $[7%4] $((0x1f + 8#17 - -1))", true],
  [ECHO, undefined, "echo $(( $? + $# )) $(( ${#x} * 2 ))", true],
  [ECHO, undefined, "echo $[a]", false, "evaluates a as arithmetic"],
  [ECHO, undefined, "echo $((1 + $x))", false, "evaluates $x as arithmetic"],
  [ECHO, undefined, 'echo $(( "$x" ))', false, "as arithmetic"],
  [ECHO, undefined, "echo $(( $(echo 'z[$(touch /tmp/p)]') ))", false, "as arithmetic"],
  [ECHO, undefined, "echo $((10#$x))", false, "as arithmetic"],
  [ECHO, undefined, "echo $(( x = 1 ))", false, "as arithmetic"],
  [ECHO, undefined, "echo; ((a))", false, "evaluates a as arithmetic"],
  [ECHO, undefined, "echo; ((1 < 2))", true],
  [ECHO, undefined, "echo; for ((i=0; i<3; i++)); do echo; done", false, "as arithmetic"],
  [ANY, undefined, "let a=b", false, "as arithmetic"],
  [ANY, undefined, 'let "a=1"', false, "as arithmetic"],
  [ANY, undefined, "let 1+2", true],
  [ANY, undefined, "builtin let x", false, "as arithmetic"],
  // Subscripts, offsets and lengths are arithmetic too.
  [ECHO, undefined, "echo ${z[x]}", false, "evaluates x as arithmetic"],
  [ECHO, undefined, 'echo "${z[$i]}"', false, "as arithmetic"],
  [ECHO, undefined, "echo ${z[1]} ${z[-1]} ${z[@]} ${z[*]} ${#z[@]}", true],
  [ECHO, undefined, "echo ${x:a:b}", false, "evaluates a as arithmetic"],
  [ECHO, undefined, "echo ${x:1:$n}", false, "as arithmetic"],
  [ECHO, undefined, "echo ${x:1:2} ${x: -3} ${@:2}", true],
  [ANY, undefined, "z[$x]=1", false, "as arithmetic"],
  [ANY, undefined, "z[i]+=1", false, "evaluates i as arithmetic"],
  [ANY, undefined, "z=([$k]=v)", false, "as arithmetic"],
  [ANY, undefined, "z[1]=$x; z=([0]=a b)", true],
  // [[ ]] evaluates the operands of -eq & co. as arithmetic, and the name after -v.
  [ECHO, undefined, "echo; [[ x -eq y ]]", false, "compares with -eq"],
  [ECHO, undefined, "echo; [[ $x -gt 1 ]]", false, "compares with -gt"],
  [ECHO, undefined, "echo; [[ 1 -le $n || 2 -ne 3 ]]", false, "compares with -le"],
  [ECHO, undefined, "echo; [[ 1 -eq 1 && $? -ne 0 && $# -ge 1 ]]", true],
  [ECHO, undefined, "echo; [[ -v $name ]]", false, "takes a variable name"],
  [ECHO, undefined, "echo; [[ -v z[$i] ]]", false, "takes a variable name"],
  [ECHO, undefined, "echo; [[ -v HOME && -v z[1] && $x == y* && $x =~ ^a ]]", true],
  // Indirection reads a name from data and evaluates its subscript.
  [ECHO, undefined, "echo ${!name}", false, "indirection"],
  [ECHO, undefined, "echo ${!prefix*} ${!prefix@}", false, "indirection"],
  [ECHO, undefined, 'echo "${!z[@]}"', false, "indirection"],
  // Builtins that take a variable name evaluate a subscript in it.
  [ANY, undefined, "printf -v 'z[$(touch /tmp/p)]' x", false, "printf -v takes a variable name"],
  [ANY, undefined, 'printf -v "$name" x', false, "printf -v takes a variable name"],
  [ANY, undefined, "printf -vz[i] x", false, "may expand to an option"],
  [ANY, undefined, "printf -v 'z[$i]' x", false, "printf -v takes a variable name"],
  [ANY, undefined, 'printf "$opt" "$name" x', false, "may expand to an option"],
  [ANY, undefined, 'printf -v out \'%s\' "$x"; printf \'x%s\' "$x"; printf "<$fmt>" 1', true],
  [ANY, undefined, "read 'z[$(touch /tmp/p)]'", false, "read takes a variable name"],
  [ANY, undefined, 'read -r "$name"', false, "may expand to an option"],
  [ANY, undefined, 'read -r -- "$name"', false, "read takes a variable name"],
  [ANY, undefined, 'read -a "$name"', false, "read -a takes a variable name"],
  [ANY, undefined, 'read -rp "$prompt" -t 5 line rest; read -ra words', true],
  [ANY, undefined, 'mapfile "$name"', false, "may expand to an option"],
  [ANY, undefined, 'mapfile -- "$name"', false, "mapfile takes a variable name"],
  [ANY, undefined, "mapfile -C 'touch /tmp/p #' -c 1 lines", false, "runs a command for each"],
  [ANY, undefined, "readarray -t lines", true],
  [ANY, undefined, 'unset "$name"', false, "may expand to an option"],
  [ANY, undefined, 'unset -v -- "$name"', false, "unset takes a variable name"],
  [ANY, undefined, "unset 'z[$(touch /tmp/p)]'", false, "unset takes a variable name"],
  [ANY, undefined, "unset x 'z[1]'; unset -f f", true],
  [ANY, undefined, 'getopts ab "$name"', false, "getopts takes a variable name"],
  [ANY, undefined, "getopts ab opt", true],
  [ANY, undefined, 'wait -p "$name" -n', false, "wait -p takes a variable name"],
  [ANY, undefined, "wait -n; wait -p pid", true],
  [ANY, undefined, 'test -v "$name"', false, "test -v evaluates the subscript"],
  [ANY, undefined, "test -v 'z[$(touch /tmp/p)]'", false, "test -v takes a variable name"],
  [ANY, undefined, '[ -v "$name" ]', false, "test -v evaluates the subscript"],
  [ANY, undefined, '[ "$op" "$name" ]', false, "first argument may be an operator"],
  [ANY, undefined, '[ ! "$op" "$name" ]', false, "middle argument may be an operator"],
  [ANY, undefined, "[ -n $x ]", false, "may split into several arguments"],
  [ANY, undefined, '[ -n "$a" -a -n "$b" ]', false, "more than three arguments"],
  [ANY, undefined, '[ -n "$x" ]; [ "$x" = "$y" ]; [ "$x" ]; test "$x" -eq 1; [ -v HOME ]', true],
  [ANY, undefined, "[ 1 -eq 1 -a -f x ]", true],
  // declare & co. evaluate subscripts in names, -n and -i evaluate data, and a value from data
  // that looks like "([…]=…)" is re-parsed as an array assignment.
  [ANY, undefined, 'declare "$x"', false, "must be written literally"],
  [ANY, undefined, "declare 'z[$(touch /tmp/p)]=1'", false, "declare takes a variable name"],
  [ANY, undefined, "declare -n ref=x", false, "-n (a reference"],
  [ANY, undefined, "local -i n", false, "-i (arithmetic"],
  [ANY, undefined, "typeset -ni ref=x", false, "-n (a reference"],
  [ANY, undefined, "declare -a z=$y", false, "re-parses a value that comes from data"],
  [ANY, undefined, 'export PATH="$PATH:/x"', false, "name=value; export name"],
  [ANY, undefined, 'readonly "z[$i]"', false, "must be written literally"],
  [ANY, undefined, "command declare 'z[$(touch /tmp/p)]'", false, "declare takes a variable"],
  [ANY, undefined, "declare -a z=(1 $x); declare -x A=1; export B; local -r c=2", true],
  // Builtins that run strings or files as code.
  [ANY, undefined, 'eval "$x"', false, "eval runs its arguments as a command"],
  [ANY, undefined, "eval echo", false, "eval runs its arguments"],
  [ANY, undefined, "source ./x.sh", false, "source runs a file's commands"],
  [ANY, undefined, ". ./x.sh", false, ". runs a file's commands"],
  [ANY, undefined, "trap 'touch /tmp/p' EXIT", false, "trap stores a command"],
  [ANY, undefined, "enable -f ./x.so x", false, "enable loads builtins"],
  [ANY, undefined, "alias ls='touch /tmp/p'", false, "alias defines text"],
  [ANY, undefined, "complete -C 'touch /tmp/p' x", false, "complete stores commands"],
  [ANY, undefined, "compgen -W '$(touch /tmp/p)'", false, "compgen evaluates its word list"],
  [ANY, undefined, "fc -e 'touch /tmp/p'", false, "fc runs commands"],
  [ANY, undefined, "bind -x '\"x\":touch /tmp/p'", false, "bind binds commands"],
  [ANY, undefined, "hash -p /tmp/evil ls", false, "hash -p makes a command name"],
  [ANY, undefined, "hash -r", true],
  // Wrappers do not hide the command they run; a name from data could be any of the above.
  [ANY, undefined, 'builtin eval "$x"', false, "eval runs"],
  [ANY, undefined, 'command eval "$x"', false, "eval runs"],
  [ANY, undefined, 'exec -a x eval "$x"', false, "eval runs"],
  [ANY, undefined, "command -p builtin . ./x", false, ". runs"],
  [ANY, undefined, '$cmd "$x"', false, "is not written literally"],
  [ANY, undefined, 'command "$cmd"', false, "may expand to an option"],
  [ANY, undefined, 'command -- "$cmd"', false, "is not written literally"],
  [ANY, undefined, 'e"va"l x', false, "eval runs"],
  [ANY, undefined, "ev?l x", false, "is not written literally"],
  [ANY, undefined, "command -v eval; exec 3>/dev/null; exec true", true],
  [ANY, undefined, 'command -v "$tool"; command -pV "$tool" x', true],
  [ANY, undefined, '"$HOME/bin/tool" x; ./run.sh; /bin/echo; ec\\ho x', true],
  // Options that change how bash reads the following commands.
  [ANY, undefined, "shopt -s expand_aliases", false, "shopt expand_aliases can change"],
  [ANY, undefined, "shopt -s extglob", false, "shopt extglob"],
  [ANY, undefined, "shopt -s nullglob globstar; shopt -q extglob", true],
  [ANY, undefined, "set -o posix", false, "set -o posix is refused"],
  [ANY, undefined, "set -k", false, "set -k changes how bash"],
  [ANY, undefined, "set -H", false, "set -H changes"],
  [ANY, undefined, 'set "$x"', false, "options must be written literally"],
  [ANY, undefined, 'set -euo pipefail; set -x; set +e; set -- "$x" a', true],
  // Variables bash runs as code, evaluates as arithmetic, or uses to find programs.
  [ANY, undefined, "PS4='$(touch /tmp/p)'", false, "sets PS4"],
  [ANY, undefined, "BASH_ENV=./x.sh make", false, "sets BASH_ENV"],
  [ANY, undefined, "export PROMPT_COMMAND=x", false, "sets PROMPT_COMMAND"],
  [ANY, undefined, "BASH_COMPAT=41", false, "sets BASH_COMPAT"],
  [ANY, undefined, "OPTIND=$x", false, "sets OPTIND, which bash evaluates as arithmetic"],
  [ANY, undefined, "RANDOM='z[$(touch /tmp/p)]'", false, "sets RANDOM"],
  [ANY, undefined, "OPTIND=1; RANDOM=42; PATH=./bin:$PATH make", true],
  [ANY, undefined, "for PATH in /tmp/evil; do make; done", false, "sets PATH through a for"],
  [ANY, undefined, "read -r LD_PRELOAD", false, "sets LD_PRELOAD through read"],
  [ANY, undefined, "printf -v IFS x", false, "sets IFS through printf -v"],
  [ANY, undefined, "echo ${PATH:=/tmp/evil}", false, "sets PATH through ${name:=value}"],
  [ANY, undefined, "coproc PS4 { cat; }", false, "sets PS4"],
  [ANY, undefined, "exec {PS4}>/dev/null", false, "sets PS4"],
  [ANY, undefined, "for f in *; do echo; done; read -r line; echo ${x:=1}; exec {fd}>&-", true],
  // Spellings bash runs as a command while the parser sees text: refused under any rule.
  [ECHO, undefined, `echo "\${x:-'$(touch /tmp/p)'}"`, false, "holds single quotes inside"],
  [undefined, "^touch", `echo "\${x:-'$(touch /tmp/p)'}"`, false, "holds single quotes"],
  [ECHO, undefined, `echo "\${x:-a}" \${x:-'b'} "\${x:-"c"}" "\${x:-'d'}"`, true],
  // In arithmetic, single quotes are not quotes either.
  [undefined, "^touch", "echo $(( '$(touch /tmp/p)' ))", false, "single quotes in arithmetic"],
  [undefined, "^touch", "echo $[ '$(touch /tmp/p)' ]", false, "single quotes in arithmetic"],
  [undefined, "^touch", "echo ${a['$(touch /tmp/p)']}", false, "single quotes in arithmetic"],
  [undefined, "^touch", "echo ${x:'$(touch /tmp/p)'}", false, "single quotes in arithmetic"],
  [undefined, "^touch", "a['$(touch /tmp/p)']=1", false, "single quotes in arithmetic"],
  [undefined, "^touch", "a=(['$(touch /tmp/p)']=1)", false, "single quotes in arithmetic"],
  [undefined, "^touch", "echo; (( '$(touch /tmp/p)' ))", false, "single quotes in arithmetic"],
  [undefined, "^touch", "m['key']=1; echo ${m['key']}", true],
  [ECHO, undefined, "echo >&'$(touch /tmp/p)'", false, "is expanded a second time"],
  [undefined, "^touch", 'echo 1>&"$x"', false, "is expanded a second time"],
  [ECHO, undefined, "echo >&2 2>&1 >&- 3>&1- >&/dev/null", true],
  [ECHO, undefined, "echo; [[ x == @(a|$(touch /tmp/p)) ]]", false, "holds an expansion"],
  [ECHO, undefined, "echo; [[ x == @(a|b*) ]]", true],
  [ECHO, undefined, 'echo $"hello"', false, "translation"],
  [undefined, "^touch", 'echo $"hello"', false, "translation"],
  [ECHO, undefined, "echo ${PATH:1:$(touch /tmp/p)}", false, `"touch /tmp/p" matches no`],
  // Without an allow rule, only those blind spots are refused: deny rules stay a tripwire.
  [undefined, "^rm", "echo ${x@P} $((a)) ${!y}; eval x", true],
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

// Each attack, run by bash with hostile data in X (a subscript holding $(…)) and in the
// variables it names, creates the marker; the policy must refuse all of them under an allow rule.
// Each harmless command handles the same data without running it, and must stay allowed.
const ATTACKS: readonly string[] = [
  "echo ${p:='$(touch MARKER)'} ${p@P}",
  "echo ${a:='z[$(touch MARKER)]'} $((a))",
  "echo $((X)) ",
  "echo $[X]",
  "echo $((1 + $X))",
  "(( X ))",
  "let y=X",
  "for ((i=0; i<X; i++)); do :; done",
  "echo ${z[X]}",
  "z[$X]=1",
  "echo ${PATH:X}",
  "echo ${PATH:0:X}",
  "[[ X -eq 1 ]]",
  "[[ 1 -lt $X ]]",
  "[[ -v $X ]]",
  "echo ${!X}",
  'test -v "$X"',
  '[ -v "$X" ]',
  'printf -v "$X" 1',
  'read "$X" <<< 1',
  'z=(1); unset "$X"',
  'declare "$X=1"',
  'declare -n r="$X"; r=1',
  "declare -i n; n=$X",
  "y='([$(touch MARKER)]=1)'; declare -a a=$y",
  'sleep 0 & wait -p "$X" -n',
  "OPTIND=$X",
  "RANDOM=$X",
  "PS4='$(touch MARKER)'; set -x; echo",
  'eval "$X"',
  'trap "$X" EXIT',
  "mapfile -C 'touch MARKER #' -c 1 a <<< x",
  "compgen -W '$(touch MARKER)'",
  'builtin eval "$X"',
  'O=-v; printf "$O" "$X" 1',
  "echo \"${u:-'$(touch MARKER)'}\"",
  "echo >&'$(touch MARKER)'",
  "echo; [[ x == @(a|$(touch MARKER)) ]]",
  "echo $(( '$(touch MARKER)' ))",
  "echo ${z['$(touch MARKER)']}",
  "z['$(touch MARKER)']=1",
];
const HARMLESS: readonly string[] = [
  'echo "$X" $X ${X} "${X@Q}" "${X@E}" "${X@A}" "${X@U}" ${#X} "${X:-a}" "${X/z/q}" "${X:1:2}"',
  "echo $((1+2)) $(( 3 * (4+5) )) $[1] $(( $? + $# )) $(( ${#X} * 2 ))",
  "[[ $X == z* ]]; [[ -n $X ]]; [[ 1 -eq 1 ]]; [[ -v X ]]; [[ $X =~ z ]]",
  '[ -n "$X" ]; [ "$X" = y ]; [ "$X" ]; test "$X" -eq 1',
  'printf \'%s\\n\' "$X"; printf -v y \'%s\' "$X"; read -r y <<< "$X"; echo "$y"',
  "y=$X; z=(1); z[0]=$X; echo ${z[0]} ${z[@]} ${#z[@]}",
  'set -- "$X"; echo "$1"; unset y; export E=1; declare -a w=($X)',
];

posixTest("bash runs every attack in the table, and none of the harmless commands", async () => {
  const dir = await tempDir();
  const marker = join(dir, "M");
  const policy = parsePolicy(".", undefined);
  const bash = async (template: string) => {
    // z is an indexed array, so a subscript of z in the data is evaluated as arithmetic.
    const command = `z=(1); ${template.replaceAll("MARKER", marker)}`;
    const refusal = checkCommand(policy, command);
    await Deno.remove(marker).catch(() => {});
    await new Deno.Command("bash", {
      args: ["-c", command],
      cwd: dir,
      env: { X: `z[$(touch ${marker})]` },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return { refusal, ran: existsSync(marker) };
  };
  try {
    for (const attack of ATTACKS) {
      const { refusal, ran } = await bash(attack);
      assert.ok(ran, `bash did not run the attack ${attack}`);
      assert.equal(refusal.allowed, false, `the policy allowed ${attack}`);
    }
    for (const command of HARMLESS) {
      const { refusal, ran } = await bash(command);
      assert.ok(!ran, `bash ran hidden code in ${command}`);
      assert.ok(refusal.allowed, `the policy refused ${command}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkEnv refuses variables that make bash run code, and under allow, program lookup", () => {
  const deny = parsePolicy(undefined, "^rm");
  const allow = parsePolicy("^echo,^[A-Z_]+=", undefined);
  const refusal = (policy: Policy, env: Record<string, string>) => {
    const decision = checkEnv(policy, env);
    return decision.allowed ? "" : decision.reason;
  };
  for (const name of ["BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND"]) {
    for (const policy of [deny, allow]) {
      assert.equal(
        refusal(policy, { CI: "1", [name]: "x" }),
        `Command refused by policy: env sets ${name}, whose value bash runs as code or reads as shell settings the policy never sees: leave it out (from the env parameter)`,
      );
    }
  }
  assert.match(refusal(allow, { BASH_FUNC_f: "x" }), /env sets BASH_FUNC_f, whose value/);
  assert.match(refusal(allow, { POSIXLY_CORRECT: "" }), /env sets POSIXLY_CORRECT/);
  assert.match(
    refusal(allow, { PATH: "/tmp/evil" }),
    /env sets PATH, which changes which program a command name runs, .*: set it in the command \(PATH=… cmd\), where the rules see it/,
  );
  assert.match(refusal(allow, { LD_PRELOAD: "/tmp/x.so" }), /dynamic loader/);
  assert.match(refusal(allow, { DYLD_INSERT_LIBRARIES: "x" }), /dynamic loader/);
  assert.match(refusal(allow, { LC_ALL: "zh_TW.big5" }), /a locale whose encoding/);
  assert.match(refusal(allow, { HOME: "/" }), /env sets HOME/);
  assert.match(refusal(allow, { IFS: "x" }), /env sets IFS/);
  assert.match(refusal(allow, { BASH_XTRACEFD: "1" }), /env sets BASH_XTRACEFD/);
  assert.equal(refusal(allow, { CI: "1", LANG: "C.UTF-8", LC_ALL: "en_US.UTF-8", X: "$(id)" }), "");
  // A deny-only policy leaves lookup variables to the deny rules, as in the command itself.
  assert.equal(refusal(deny, { PATH: "/tmp", LD_PRELOAD: "x" }), "");
  // Entries pass the rules as the assignments they are; a deny match is named first.
  assert.match(refusal(parsePolicy("^echo", undefined), { FOO: "1" }), /"FOO=1" matches no/);
  assert.match(
    refusal(parsePolicy("^echo,^[A-Z_]+=", "^LD_"), { LD_PRELOAD: "x" }),
    /"LD_PRELOAD=x" matches BACKBURNER_DENY rule "\^LD_" \(from the env parameter\)$/,
  );
  assert.equal(refusal(parsePolicy(undefined, undefined), { BASH_ENV: "x", PATH: "y" }), "");
});

Deno.test("unsafeInheritedEnv blanks the server's own shell-code variables under an allow rule", () => {
  const inherited = {
    HOME: "/home/u",
    PATH: "/usr/bin",
    BASH_ENV: "/tmp/x.sh",
    ENV: "/tmp/y.sh",
    SHELLOPTS: "xtrace",
    BASHOPTS: "expand_aliases",
    PS4: "$(id)",
    "BASH_FUNC_echo%%": "() { id; }",
    POSIXLY_CORRECT: "1",
  };
  assert.deepEqual(unsafeInheritedEnv(parsePolicy("^echo", undefined), inherited), {
    BASH_ENV: "",
    ENV: "",
    SHELLOPTS: "",
    BASHOPTS: "",
    PS4: "",
    "BASH_FUNC_echo%%": "",
  });
  assert.deepEqual(unsafeInheritedEnv(parsePolicy(undefined, "^rm"), inherited), {});
  assert.deepEqual(unsafeInheritedEnv(parsePolicy(undefined, undefined), inherited), {});
});

// Places where a command substitution may sit, quoted every way (X stands for it). Whenever bash
// runs it, the policy must see it: a deny rule naming the command refuses it.
const CONTEXTS: readonly string[] = [
  "echo X",
  'echo "X"',
  "echo 'X'",
  "echo ${v:-X}",
  'echo "${v:-X}"',
  "echo ${v:-'X'}",
  `echo "\${v:-'X'}"`,
  'echo ${v:-"X"}',
  'echo "${v:-"X"}"',
  "echo ${v#X}",
  `echo "\${v#'X'}"`,
  "echo ${v/a/X}",
  `echo "\${v/a/'X'}"`,
  `echo "\${v/'X'/b}"`,
  "echo $((X))",
  "echo $(('X'))",
  'echo $(("X"))',
  `echo "$(('X'))"`,
  "echo ${a[X]}",
  "echo ${a['X']}",
  'echo ${a["X"]}',
  "echo ${v:X}",
  "echo ${v:'X'}",
  `echo "\${v:'X'}"`,
  "a[X]=1",
  "a['X']=1",
  "a=([X]=1)",
  "a=(['X']=1)",
  "[[ X ]]",
  "[[ 'X' ]]",
  "[[ a == X ]]",
  "[[ a == 'X' ]]",
  "[[ X -eq 1 ]]",
  "[[ 'X' -eq 1 ]]",
  '[[ "X" -eq 1 ]]',
  "[[ a =~ X ]]",
  "[[ a =~ 'X' ]]",
  "case X in *) ;; esac",
  "case a in 'X') ;; esac",
  "case a in X) ;; esac",
  "cat <<EOF\nX\nEOF",
  "cat <<'EOF'\nX\nEOF",
  'cat <<"EOF"\nX\nEOF',
  "cat <<E\\OF\nX\nEOF",
  "cat <<< X",
  "cat <<< 'X'",
  "echo >X",
  "echo >'X'",
  "echo >&X",
  "echo >&'X'",
  'echo >&"X"',
  "echo $'X'",
  'echo $"X"',
  "for i in X; do :; done",
  "for i in 'X'; do :; done",
  "echo {X,}",
  "echo \\`X\\`",
  "declare a='X'",
  "declare 'a=X'",
  "export 'a=X'",
  ": ${v:='X'}",
  `: "\${v:='X'}"`,
  "[[ a == @(X) ]]",
  "[[ a == @('X') ]]",
  "echo ${v:+X}",
  `echo "\${v:+'X'}"`,
  `echo "\${v:?'X'}"`,
  "echo ${v=X}",
  `echo "\${v-'X'}"`,
  "echo ${v,,X}",
  `echo "\${v^^'X'}"`,
  "echo ${v%%X}",
  `echo "\${v%'X'}"`,
  `echo "\${v//'X'}"`,
  "(( X ))",
  "(( 'X' ))",
  "let 'X'",
  'let "X"',
  "for (( i='X'; i<0; )); do :; done",
  "echo $[ 'X' ]",
  "echo ${#a['X']}",
  "echo ${a[@]:'X'}",
  "echo \"${a['X']}\"",
  "test 'X'",
  "echo ${v@Q} 'X'",
  "echo \"a'X'b\"",
  "echo \"`echo 'X'`\"",
  "echo $(echo 'X')",
  "echo \"$(echo 'X')\"",
  "echo 'a'\"X\"'b'",
  "echo ${v:-${w:-'X'}}",
  `echo "\${v:-\${w:-'X'}}"`,
  `echo "\${v:-"\${w:-'X'}"}"`,
  "echo <(echo 'X')",
  "echo ${v:-$'X'}",
  `echo "\${v:-$'X'}"`,
  `echo "\${v:-$"X"}"`,
  "a=(1); a+=(['X']=2)",
  "declare -a a=(['X']=1)",
  "declare -A m=(['X']=1)",
  "echo ${v:-\\'X\\'}",
  `echo "\${v:-\\'X\\'}"`,
  "exec {fd}>X",
  "echo ${!v:-'X'}",
];

posixTest(
  "a deny rule sees every command substitution bash runs, however it is quoted",
  async () => {
    const dir = await tempDir();
    const marker = join(dir, "M");
    const deny = parsePolicy(undefined, "touch");
    const missed: string[] = [];
    try {
      for (const context of CONTEXTS) {
        for (const v of [undefined, "abc"]) {
          const command = `a=(1); ${context.replaceAll("X", `$(touch ${marker})`)}`;
          await Deno.remove(marker).catch(() => {});
          await new Deno.Command("bash", {
            args: ["-c", command],
            cwd: dir,
            env: v === undefined ? {} : { v },
            stdin: "null",
            stdout: "null",
            stderr: "null",
          }).output();
          if (existsSync(marker) && checkCommand(deny, command).allowed) missed.push(command);
        }
      }
      assert.deepEqual(missed, []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
