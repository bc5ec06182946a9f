/**
 * Finds the places where bash would run text that the policy cannot see as a command.
 *
 * A policy rule judges the simple commands written in a command. Bash, though, can treat *data* as
 * code: a prompt expansion (`${x@P}`) runs the `$(…)` inside a variable's value; every arithmetic
 * context evaluates a variable's value as an expression, and an array subscript inside that value
 * runs `$(…)` (`a='z[$(cmd)]'; echo $((a))`); `declare`, `printf -v`, `read`, `unset`, `test -v`
 * and friends evaluate the subscript of a variable *name* they are given; `eval`, `source` and
 * `trap` run strings. Single quotes hide such text from the parser, and the value can also come
 * from a file or the environment, so no rule can judge it. Under an allow rule these constructs
 * are refused, each by a whitelist of what is provably inert where one exists: arithmetic may hold
 * only numbers, operators and a few numeric special parameters; subscripts, offsets and lengths
 * the same; names handed to builtins must be written literally.
 *
 * Independently of that, a few spellings make bash run a command that the parser reports as plain
 * text (single quotes inside a double-quoted `${x:-…}`, a `>&` target, a `$"…"` translation, an
 * extended glob holding `$(…)`); these are refused under any rule, since deny rules miss them too.
 *
 * @module
 */

import {
  literalValue,
  parseBash,
  type ShArrayElem,
  type ShAssign,
  type ShBinary,
  type ShCallExpr,
  type ShCoprocClause,
  type ShCStyleLoop,
  type ShDblQuoted,
  type ShDeclClause,
  type ShellSource,
  type ShExtGlob,
  type ShLetClause,
  type ShLit,
  type ShNode,
  type ShParamExp,
  type ShRedirect,
  type ShSglQuoted,
  type ShUnary,
  type ShWord,
  type ShWordIter,
  syntax,
} from "./shell.ts";
import { isShellCodeVariable } from "./rules.ts";

/** Variables bash evaluates as arithmetic when assigned (so a subscript in the value runs). */
const ARITHMETIC_VARIABLES = new Set(["OPTIND", "RANDOM", "SRANDOM", "HISTCMD"]);

/**
 * Variables that decide which program or file a command reaches, or how the shell splits and
 * matches words. A plain assignment shows them to the rules (`PATH=… cmd`); bound by `for`,
 * `read`, `printf -v` or `${x:=…}` they change silently.
 */
const SHELL_SETTING_VARIABLES = new Set([
  "PATH",
  "HOME",
  "CDPATH",
  "IFS",
  "GLOBIGNORE",
  "EXECIGNORE",
  "FIGNORE",
  "TMPDIR",
  "LANG",
  "INPUTRC",
  "TEXTDOMAIN",
  "TEXTDOMAINDIR",
]);
const SHELL_SETTING_PREFIXES = ["BASH", "LD_", "DYLD_", "LC_"];

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NAME_WITH_SUBSCRIPT = /^([A-Za-z_][A-Za-z0-9_]*)(?:\[(.*)\])?$/s;
// Numbers (decimal, 0x hex, base#digits), operators, parentheses and blanks: nothing that names a
// variable or expands, so evaluating it reads no data.
const LITERAL_ARITHMETIC =
  /^(?:\s+|\d+#[0-9A-Za-z@_]+|0[xX][0-9A-Fa-f]+|\d+|[-+*/%<>=!&|^~?:,()])*$/;
// Special parameters bash always sets to a number (or nothing), which no command can change.
const NUMERIC_SPECIALS = new Set(["?", "#", "$", "!"]);
const ARITHMETIC_TESTS = new Set(["-eq", "-ne", "-lt", "-le", "-gt", "-ge"]);
const NAME_TESTS = new Set(["-v", "-R"]);
// ${x@op}: all but P produce a value without evaluating it; P runs prompt expansion, with $(…).
const INERT_TRANSFORMS = new Set(["Q", "E", "A", "K", "a", "U", "u", "L"]);
/** Builtins that run a string or a file as code, or change what a name runs. */
const CODE_BUILTINS: Record<string, string> = {
  eval: "runs its arguments as a command",
  source: "runs a file's commands",
  ".": "runs a file's commands",
  trap: "stores a command to run later",
  enable: "loads builtins from a file or turns builtins off",
  alias: "defines text to be read as commands",
  bind: "binds commands to keys",
  fc: "runs commands from the history and an editor",
  history: "expands history into commands",
  complete: "stores commands and word lists to evaluate later",
  compgen: "evaluates its word list (-W) and runs commands (-C, -F)",
  compopt: "belongs to programmable completion",
};
const DECLARATIONS = new Set(["declare", "typeset", "local", "export", "readonly"]);
/** Command names whose arguments are inspected: wrappers and the builtins checked below. */
const INSPECTED_COMMANDS = new Set([
  ...Object.keys(CODE_BUILTINS),
  ...DECLARATIONS,
  "builtin",
  "command",
  "exec",
  "let",
  "read",
  "mapfile",
  "readarray",
  "printf",
  "wait",
  "unset",
  "getopts",
  "hash",
  "set",
  "shopt",
  "test",
  "[",
]);
// -i makes later assignments arithmetic; -n makes a name an alias for another (a subscript in it
// is evaluated on every use). Other options only label the value.
const DECLARATION_OPTIONS: Record<string, RegExp> = {
  declare: /^[-+][aAfFgIlprtux]*$/,
  typeset: /^[-+][aAfFgIlprtux]*$/,
  local: /^[-+][aAfFgIlprtux]*$/,
  export: /^-[fnp]*$/,
  readonly: /^-[aAfp]*$/,
};
const SET_FLAGS = /^[-+][abefhmnuvxtBCEPT]*o?$/;
const SET_OPTIONS = new Set([
  "allexport",
  "braceexpand",
  "errexit",
  "errtrace",
  "functrace",
  "hashall",
  "ignoreeof",
  "monitor",
  "noclobber",
  "noexec",
  "noglob",
  "notify",
  "nounset",
  "onecmd",
  "physical",
  "pipefail",
  "verbose",
  "xtrace",
]);
const SHOPT_OPTIONS = new Set([
  "cdable_vars",
  "cdspell",
  "checkhash",
  "checkjobs",
  "checkwinsize",
  "dirspell",
  "dotglob",
  "execfail",
  "failglob",
  "force_fignore",
  "globasciiranges",
  "globskipdots",
  "globstar",
  "gnu_errfmt",
  "huponexit",
  "inherit_errexit",
  "lastpipe",
  "nocaseglob",
  "nocasematch",
  "nullglob",
  "shift_verbose",
  "xpg_echo",
]);
const TEST_BINARY = new Set([
  "=",
  "==",
  "!=",
  "<",
  ">",
  "-eq",
  "-ne",
  "-lt",
  "-le",
  "-gt",
  "-ge",
  "-nt",
  "-ot",
  "-ef",
  "-a",
  "-o",
]);

/** Operator codes of this mvdan-sh build, read from parses rather than copied from its source. */
interface OperatorCodes {
  readonly transform: number;
  readonly assignDefault: readonly number[];
  readonly duplicate: readonly number[];
}

function operatorCodes(): OperatorCodes {
  const first = (source: string, kind: string): ShNode => {
    let found: ShNode | undefined;
    syntax.Walk(parseBash(source), (node) => {
      if (node !== null && found === undefined && syntax.NodeType(node) === kind) found = node;
      return found === undefined;
    });
    return found!;
  };
  const expansion = (source: string) => (first(source, "ParamExp") as ShParamExp).Exp!.Op;
  const redirect = (source: string) => (first(source, "Redirect") as ShRedirect).Op;
  return {
    transform: expansion("${x@Q}"),
    assignDefault: [expansion("${x=a}"), expansion("${x:=a}")],
    duplicate: [redirect("echo >&2"), redirect("cat <&2")],
  };
}

const CODES = operatorCodes();

/** One argument of a builtin as far as it can be known before the command runs. */
interface Arg {
  readonly word: ShWord;
  /** The value when it is written literally. */
  readonly literal: string | undefined;
  /** False when the value surely does not start with `-` or `+`, so it is no option. */
  readonly mayBeOption: boolean;
  /** False when bash may split or glob it into several words (or none). */
  readonly single: boolean;
}

type Refusal = string;

/**
 * Collects why a parsed command hides code from the policy. It is shown every node of the tree
 * once, by the walk that collects the simple commands (which also walks `${x:offset:length}`,
 * which mvdan-sh's own walk skips); `refusal` then holds the first reason found. `strict` (an
 * allow rule is set) also refuses every construct that evaluates data.
 */
export class HiddenCodeFinder {
  readonly #source: ShellSource;
  readonly #strict: boolean;
  readonly #codes: OperatorCodes = CODES;
  #refusal: Refusal | undefined;

  constructor(source: ShellSource, strict: boolean) {
    this.#source = source;
    this.#strict = strict;
  }

  get refusal(): Refusal | undefined {
    return this.#refusal;
  }

  /** Looks at one node of kind `kind` (syntax.NodeType). */
  inspect(node: ShNode, kind: string): void {
    this.#refusal ??= this.#check(node, kind);
  }

  #text(node: ShNode): string {
    const text = this.#source.of(node).replace(/\s+/g, " ");
    return text.length > 60 ? `${text.slice(0, 57)}...` : text;
  }

  #check(node: ShNode, kind: string): Refusal | undefined {
    const blind = this.#checkParserBlindSpot(node, kind);
    if (blind !== undefined || !this.#strict) return blind;
    switch (kind) {
      case "ParamExp":
        return this.#checkParamExp(node as ShParamExp);
      case "ArithmExp":
      case "ArithmCmd":
        return this.#arithmetic((node as ShUnary).X, node);
      case "LetClause":
        for (const expr of (node as ShLetClause).Exprs) {
          const refusal = this.#arithmetic(expr, node);
          if (refusal) return refusal;
        }
        return undefined;
      case "CStyleLoop": {
        const loop = node as ShCStyleLoop;
        return this.#arithmetic(loop.Init, node) ?? this.#arithmetic(loop.Cond, node) ??
          this.#arithmetic(loop.Post, node);
      }
      case "BinaryTest":
        return this.#checkBinaryTest(node as ShBinary);
      case "UnaryTest":
        return this.#checkUnaryTest(node as ShUnary);
      case "Assign":
        return this.#checkAssign(node as ShAssign);
      case "ArrayElem":
        return this.#subscript((node as ShArrayElem).Index, node);
      case "DeclClause":
        return this.#checkDeclClause(node as ShDeclClause);
      case "CallExpr":
        return this.#checkCall(node as ShCallExpr);
      case "WordIter":
        return this.#bind((node as ShWordIter).Name.Value, "a for or select loop", node);
      case "CoprocClause": {
        const name = (node as ShCoprocClause).Name;
        const value = name === null ? undefined : literalValue(name);
        return value === undefined ? undefined : this.#bind(value, "coproc", node);
      }
      case "Redirect": {
        const fd = (node as ShRedirect).N?.Value;
        if (fd === undefined || !fd.startsWith("{")) return undefined;
        const name = fd.slice(1, -1);
        if (!IDENTIFIER.test(name)) {
          return `${this.#text(node)}: bash evaluates a subscript in a {name} redirect as ` +
            `arithmetic: use a plain name`;
        }
        return this.#bind(name, "a {name} redirect", node, true);
      }
    }
    return undefined;
  }

  /** Spellings whose command bash runs while the parser sees text: refused under any rule. */
  #checkParserBlindSpot(node: ShNode, kind: string): Refusal | undefined {
    if (kind === "DblQuoted") {
      const quoted = node as ShDblQuoted;
      if (quoted.Dollar) {
        return `${this.#text(node)} is a $"…" translation, and a translation catalog can put ` +
          `commands in it that the policy never sees: use plain double quotes`;
      }
      for (const part of quoted.Parts) {
        if (syntax.NodeType(part) !== "ParamExp") continue;
        if (this.#holdsSingleQuotes(part)) {
          return `${this.#text(part)} holds single quotes inside double quotes, where bash ` +
            `treats them as ordinary characters and still runs any $(…) between them: drop the ` +
            `double quotes around the expansion, or the single quotes inside it`;
        }
      }
    }
    if (kind === "ExtGlob" && /[$`]/.test((node as ShExtGlob).Pattern.Value)) {
      return `the pattern ${this.#text(node)} holds an expansion that the policy cannot see ` +
        `into: write the pattern without $ or backquotes`;
    }
    if (kind === "Redirect") {
      const redirect = node as ShRedirect;
      if (this.#codes.duplicate.includes(redirect.Op)) {
        const target = literalValue(redirect.Word);
        if (target === undefined || !/^(?:\d+-?|-|[\w./,:@%+=-]+)$/.test(target)) {
          return `the target of ${this.#text(node)} is expanded a second time by bash when it ` +
            `is not a number, which runs any $(…) in it: write a file descriptor number, or ` +
            `>file 2>&1`;
        }
      }
    }
    // In arithmetic, single quotes are ordinary characters to bash, so $(…) between them runs.
    const arithmetic: (ShNode | null | undefined)[] = [];
    if (kind === "ArithmExp" || kind === "ArithmCmd") arithmetic.push((node as ShUnary).X);
    if (kind === "CStyleLoop") {
      const loop = node as ShCStyleLoop;
      arithmetic.push(loop.Init, loop.Cond, loop.Post);
    }
    if (kind === "Assign" || kind === "ArrayElem") arithmetic.push((node as ShArrayElem).Index);
    if (kind === "ParamExp") {
      const exp = node as ShParamExp;
      arithmetic.push(exp.Index, exp.Slice?.Offset, exp.Slice?.Length);
    }
    for (const expr of arithmetic) {
      if (expr && this.#holdsSingleQuotes(expr)) {
        return `${this.#text(node)} holds single quotes in arithmetic (a subscript, offset or ` +
          `$((…))), where bash treats them as ordinary characters and still runs any $(…) ` +
          `between them: remove the quotes`;
      }
    }
    return undefined;
  }

  /** Whether single quotes in `node` hold a $ or `, not counting nested $(…). */
  #holdsSingleQuotes(node: ShNode): boolean {
    // Reading the source is much cheaper than walking the tree.
    if (!this.#source.of(node).includes("'")) return false;
    let found = false;
    syntax.Walk(node, (inner) => {
      if (inner === null || found) return !found;
      const kind = syntax.NodeType(inner);
      // Only $ and ` start an expansion; other quoted text means the same either way.
      if (kind === "SglQuoted" && /[$`]/.test((inner as ShSglQuoted).Value)) found = true;
      return !found && kind !== "CmdSubst" && kind !== "ProcSubst";
    });
    return found;
  }

  #checkParamExp(exp: ShParamExp): Refusal | undefined {
    const text = this.#text(exp);
    if (exp.Excl) {
      return `${text} uses \${!…}, which reads the name of a variable from data (indirection) ` +
        `and evaluates any subscript in it: name the variable directly`;
    }
    if (exp.Width) return `${text} is not bash syntax: remove it`;
    const subscript = this.#subscript(exp.Index, exp);
    if (subscript) return subscript;
    if (exp.Slice) {
      const refusal = this.#arithmetic(exp.Slice.Offset, exp) ??
        this.#arithmetic(exp.Slice.Length, exp);
      if (refusal) return refusal;
    }
    if (exp.Exp?.Op === this.#codes.transform) {
      const op = exp.Exp.Word === null ? undefined : literalValue(exp.Exp.Word);
      if (op === "P") {
        return `${text} runs prompt expansion on a variable's value, which runs any $(…) ` +
          `stored in it: write the text literally instead`;
      }
      if (op === undefined || !INERT_TRANSFORMS.has(op)) {
        return `${text} is a transformation the policy does not know to be safe: use one of ` +
          `@Q @E @A @K @a @U @u @L`;
      }
    }
    if (exp.Exp !== null && this.#codes.assignDefault.includes(exp.Exp.Op) && exp.Param) {
      return this.#bind(exp.Param.Value, "${name:=value}", exp, true);
    }
    return undefined;
  }

  /** Arithmetic that reads no variable: numbers, operators and numeric special parameters. */
  #arithmetic(expr: ShNode | null, context: ShNode): Refusal | undefined {
    if (expr === null) return undefined;
    const kind = syntax.NodeType(expr);
    if (kind === "BinaryArithm") {
      const binary = expr as ShBinary;
      return this.#arithmetic(binary.X, context) ?? this.#arithmetic(binary.Y, context);
    }
    if (kind === "UnaryArithm" || kind === "ParenArithm") {
      return this.#arithmetic((expr as ShUnary).X, context);
    }
    if (kind === "Word" && this.#isLiteralNumber(expr as ShWord)) return undefined;
    return `${this.#text(context)} evaluates ${this.#text(expr)} as arithmetic, and arithmetic ` +
      `evaluates the value of any variable it reads as an expression, which can run $(…) ` +
      `hidden in an array subscript: use only numbers and operators (like $((1+2))), or compute ` +
      `the value with a program such as expr`;
  }

  #isLiteralNumber(word: ShWord): boolean {
    const value = literalValue(word, true);
    if (value !== undefined) return LITERAL_ARITHMETIC.test(value);
    const parts = word.Parts;
    if (parts.length !== 1 || syntax.NodeType(parts[0]) !== "ParamExp") return false;
    const exp = parts[0] as ShParamExp;
    if (exp.Excl || exp.Width || exp.Slice || exp.Repl || exp.Exp || exp.Names) return false;
    if (exp.Length) return exp.Index === null || this.#subscript(exp.Index, exp) === undefined;
    return exp.Index === null && NUMERIC_SPECIALS.has(exp.Param?.Value ?? "");
  }

  #subscript(index: ShNode | null, context: ShNode): Refusal | undefined {
    if (index === null) return undefined;
    if (syntax.NodeType(index) === "Word") {
      const parts = (index as ShWord).Parts;
      const only = parts.length === 1 && syntax.NodeType(parts[0]) === "Lit"
        ? (parts[0] as ShLit).Value
        : undefined;
      if (only === "@" || only === "*") return undefined;
    }
    return this.#arithmetic(index, context);
  }

  #checkBinaryTest(test: ShBinary): Refusal | undefined {
    const op = this.#source.slice(test.X.End().Offset(), test.Y.Pos().Offset()).trim();
    if (!ARITHMETIC_TESTS.has(op)) return undefined;
    for (const side of [test.X, test.Y]) {
      if (syntax.NodeType(side) !== "Word" || !this.#isLiteralNumber(side as ShWord)) {
        return `${this.#text(test)} compares with ${op}, which evaluates both sides as ` +
          `arithmetic, and arithmetic evaluates variables' values as expressions: compare ` +
          `numbers written literally, or compare strings with == or !=`;
      }
    }
    return undefined;
  }

  #checkUnaryTest(test: ShUnary): Refusal | undefined {
    const op = this.#source.slice(test.Pos().Offset(), test.X.Pos().Offset()).trim();
    if (!NAME_TESTS.has(op)) return undefined;
    const name = syntax.NodeType(test.X) === "Word"
      ? literalValue(test.X as ShWord, true)
      : undefined;
    return this.#nameArgument(name, `${op} in [[ ]]`, test);
  }

  /** A variable name a builtin is given: written literally, with at most a literal subscript. */
  #nameArgument(name: string | undefined, where: string, node: ShNode): Refusal | undefined {
    const match = name === undefined ? null : NAME_WITH_SUBSCRIPT.exec(name);
    if (
      match === null ||
      (match[2] !== undefined && match[2] !== "@" && match[2] !== "*" &&
        !LITERAL_ARITHMETIC.test(match[2]))
    ) {
      return `${this.#text(node)}: ${where} takes a variable name, and bash evaluates a ` +
        `subscript in that name as arithmetic, which can run $(…): write the name literally, ` +
        `with a numeric subscript if any`;
    }
    return undefined;
  }

  /**
   * A variable bound by something other than a plain assignment (`for`, `read`, `${x:=…}`) or by
   * one (`assignment` true): shell code variables never, arithmetic ones to digits only, and
   * settings such as PATH only by a plain assignment, where the rules see them.
   */
  #bind(
    name: string,
    how: string,
    node: ShNode,
    hidden = true,
    value?: string,
  ): Refusal | undefined {
    const base = NAME_WITH_SUBSCRIPT.exec(name)?.[1] ?? name;
    if (isShellCodeVariable(base)) {
      return `${this.#text(node)} sets ${base}, whose value bash runs as code or reads as ` +
        `shell settings the policy never sees: leave ${base} alone`;
    }
    if (ARITHMETIC_VARIABLES.has(base) && (hidden || !/^\d*$/.test(value ?? "x"))) {
      return `${this.#text(node)} sets ${base}, which bash evaluates as arithmetic: assign it ` +
        `a number written literally (${base}=1)`;
    }
    if (
      hidden &&
      (SHELL_SETTING_VARIABLES.has(base) ||
        SHELL_SETTING_PREFIXES.some((prefix) => base.startsWith(prefix)))
    ) {
      return `${this.#text(node)} sets ${base} through ${how}, out of sight of the rules: set ` +
        `it with a plain assignment (${base}=…) that a rule allows`;
    }
    return undefined;
  }

  #checkAssign(assign: ShAssign): Refusal | undefined {
    if (assign.Naked || assign.Name === null) return undefined;
    const subscript = this.#subscript(assign.Index, assign);
    if (subscript) return subscript;
    const value = assign.Value === null ? "" : literalValue(assign.Value);
    return this.#bind(assign.Name.Value, "an assignment", assign, false, value);
  }

  #checkDeclClause(decl: ShDeclClause): Refusal | undefined {
    const variant = typeof decl.Variant === "string" ? decl.Variant : decl.Variant.Value;
    const options = DECLARATION_OPTIONS[variant];
    if (options === undefined) return `${this.#text(decl)}: ${variant} is not bash: remove it`;
    for (const arg of decl.Args) {
      if (!arg.Naked) {
        if (arg.Value !== null && literalValue(arg.Value) === undefined) {
          return `${this.#text(decl)}: ${variant} re-parses a value that comes from data (a ` +
            `value like "([\$(…)]=1)" becomes an array assignment whose subscripts run): assign ` +
            `it first with a plain assignment (name=value; ${variant} name)`;
        }
        continue;
      }
      if (arg.Name !== null) continue;
      const text = arg.Value === null ? "" : literalValue(arg.Value);
      const refusal = this.#declarationWord(variant, text, decl);
      if (refusal) return refusal;
    }
    return undefined;
  }

  /** One argument of declare & co. that is not an assignment the parser recognised. */
  #declarationWord(variant: string, text: string | undefined, node: ShNode): Refusal | undefined {
    if (text === undefined) {
      return `${this.#text(node)}: the arguments of ${variant} must be written literally, ` +
        `because it evaluates subscripts in the names it is given`;
    }
    if (/^[-+]/.test(text)) {
      if (DECLARATION_OPTIONS[variant].test(text)) return undefined;
      return `${this.#text(node)}: ${variant} ${text} is refused, because -n (a reference to ` +
        `another name) and -i (arithmetic on every assignment) evaluate data: drop the option`;
    }
    const equals = text.search(/\+?=/);
    const name = equals === -1 ? text : text.slice(0, equals);
    return this.#nameArgument(name, variant, node) ??
      this.#bind(name, variant, node, false, equals === -1 ? "" : text.replace(/^[^=]*=/, ""));
  }

  #arg(word: ShWord): Arg {
    const literal = literalValue(word);
    if (literal !== undefined) return { word, literal, mayBeOption: true, single: true };
    const parts = word.Parts;
    const first = parts[0];
    let prefix = "";
    const kind = syntax.NodeType(first);
    if (kind === "Lit" || kind === "SglQuoted") prefix = (first as ShLit).Value;
    if (kind === "DblQuoted") {
      const inner = (first as ShDblQuoted).Parts[0];
      if (inner !== undefined && syntax.NodeType(inner) === "Lit") prefix = (inner as ShLit).Value;
    }
    return {
      word,
      literal,
      mayBeOption: prefix === "" || prefix.startsWith("-") || prefix.startsWith("+"),
      single: parts.every((part) => this.#isSingle(part)),
    };
  }

  /** Whether a part of a word expands within one word: quoted, and not "$@" or "${a[@]}". */
  #isSingle(part: ShNode): boolean {
    const kind = syntax.NodeType(part);
    if (kind === "SglQuoted") return true;
    if (kind === "Lit") return literalValue({ Parts: [part] } as ShWord) !== undefined;
    if (kind !== "DblQuoted") return false;
    return (part as ShDblQuoted).Parts.every((inner) => {
      if (syntax.NodeType(inner) !== "ParamExp") return true;
      const exp = inner as ShParamExp;
      const index = exp.Index !== null && syntax.NodeType(exp.Index) === "Word"
        ? literalValue(exp.Index as ShWord)
        : undefined;
      return exp.Param?.Value !== "@" && index !== "@" && !exp.Names;
    });
  }

  #checkCall(call: ShCallExpr): Refusal | undefined {
    const words = call.Args;
    if (words.length === 0) return undefined;
    // Most commands are plain programs: their arguments are data, so only the name is read.
    const name = literalValue(words[0]);
    if (name !== undefined && !INSPECTED_COMMANDS.has(name)) return undefined;
    const args = words.map((word) => this.#arg(word));
    let i = 0;
    while (i < args.length) {
      const name = args[i].literal;
      if (name === undefined) {
        // A name with a slash is a path, never a builtin or function, unless splitting moves it.
        const path = args[i].single && /\//.test(this.#source.of(args[i].word));
        if (path) return undefined;
        return `${this.#text(call)}: the command name ${this.#text(args[i].word)} is not ` +
          `written literally, so the policy cannot tell what runs: write the name itself`;
      }
      if (name === "builtin") {
        i++;
      } else if (name === "command" || name === "exec") {
        // command -v and -V only describe, whatever the names after them.
        const leading = args.slice(i + 1).findIndex((arg) => !/^-[pvV]+$/.test(arg.literal ?? ""));
        const flags = args.slice(i + 1, leading === -1 ? undefined : i + 1 + leading);
        if (name === "command" && flags.some((arg) => /[vV]/.test(arg.literal!))) return undefined;
        const parsed = this.#options(args.slice(i + 1), name === "exec" ? "a:cl" : "pvV", call);
        if (typeof parsed === "string") return parsed;
        if (parsed.options.some(([option]) => option === "v" || option === "V")) return undefined;
        i = args.length - parsed.operands.length;
      } else {
        return this.#checkBuiltin(name, args.slice(i + 1), call);
      }
    }
    return undefined;
  }

  #checkBuiltin(name: string, args: Arg[], call: ShCallExpr): Refusal | undefined {
    const reason = CODE_BUILTINS[name];
    if (reason !== undefined) {
      return `${this.#text(call)}: ${name} ${reason}, which the policy cannot see: run the ` +
        `commands themselves`;
    }
    if (DECLARATIONS.has(name)) {
      for (const arg of args) {
        const refusal = this.#declarationWord(name, arg.literal, call);
        if (refusal) return refusal;
      }
      return undefined;
    }
    switch (name) {
      case "let":
        for (const arg of args) {
          if (arg.literal === undefined || !LITERAL_ARITHMETIC.test(arg.literal)) {
            return this.#arithmetic(arg.word, call) ??
              `${this.#text(call)}: let evaluates its arguments as arithmetic: use numbers`;
          }
        }
        return undefined;
      case "read":
        return this.#namesBuiltin(name, args, "a:d:i:n:N:p:t:u:ers", ["a"], call, true);
      case "mapfile":
      case "readarray":
        return this.#namesBuiltin(name, args, "C:c:d:n:O:s:u:t", [], call, true);
      case "printf":
        return this.#namesBuiltin(name, args, "v:", ["v"], call, false);
      case "wait":
        return this.#namesBuiltin(name, args, "p:fn", ["p"], call, false);
      case "unset":
        return this.#namesBuiltin(name, args, "fvn", [], call, true);
      case "getopts": {
        const operand = args[1];
        if (operand === undefined) return undefined;
        return this.#nameArgument(operand.literal, "getopts", call) ??
          this.#bind(operand.literal!, "getopts", call);
      }
      case "hash": {
        const parsed = this.#options(args, "dlp:rt", call);
        if (typeof parsed === "string") return parsed;
        if (parsed.options.some(([option]) => option === "p")) {
          return `${this.#text(call)}: hash -p makes a command name run another file: run ` +
            `the file by its path`;
        }
        return undefined;
      }
      case "set":
        return this.#checkSet(args, call);
      case "shopt":
        return this.#checkShopt(args, call);
      case "test":
        return this.#checkTest(args, call);
      case "[": {
        const last = args.at(-1);
        if (last?.literal !== "]") return undefined;
        return this.#checkTest(args.slice(0, -1), call);
      }
    }
    return undefined;
  }

  /**
   * Builtins that take variable names: as option values (`nameOptions`) and, when
   * `operandsAreNames`, as operands. mapfile's -C runs a command for every line.
   */
  #namesBuiltin(
    name: string,
    args: Arg[],
    spec: string,
    nameOptions: string[],
    call: ShCallExpr,
    operandsAreNames: boolean,
  ): Refusal | undefined {
    const parsed = this.#options(args, spec, call);
    if (typeof parsed === "string") return parsed;
    for (const [option, value] of parsed.options) {
      if (option === "C" && (name === "mapfile" || name === "readarray")) {
        return `${this.#text(call)}: ${name} -C runs a command for each line read: read the ` +
          `lines, then run the command`;
      }
      if (nameOptions.includes(option)) {
        const refusal = this.#nameArgument(value?.literal, `${name} -${option}`, call) ??
          this.#bind(value!.literal!, `${name} -${option}`, call);
        if (refusal) return refusal;
      }
    }
    if (!operandsAreNames) return undefined;
    const functions = parsed.options.some(([option]) => option === "f");
    for (const operand of parsed.operands) {
      if (functions && operand.literal !== undefined) continue;
      const refusal = this.#nameArgument(operand.literal, name, call) ??
        (name === "unset" ? undefined : this.#bind(operand.literal!, name, call));
      if (refusal) return refusal;
    }
    return undefined;
  }

  /**
   * Reads a builtin's options the way bash's internal getopt does. An argument in option
   * position whose value is unknown refuses, since it may turn out to be an option such as -v.
   */
  #options(
    args: Arg[],
    spec: string,
    call: ShCallExpr,
    plus = false,
  ): { options: [string, Arg | undefined][]; operands: Arg[] } | Refusal {
    const options: [string, Arg | undefined][] = [];
    let i = 0;
    for (; i < args.length; i++) {
      const arg = args[i];
      if (arg.literal === undefined) {
        if (!arg.mayBeOption) break;
        return `${this.#text(call)}: the argument ${this.#text(arg.word)} may expand to an ` +
          `option that makes the builtin evaluate data: write options literally, or start the ` +
          `argument with a fixed character`;
      }
      const text = arg.literal;
      if (text === "--") {
        i++;
        break;
      }
      if (text.length < 2 || !(text[0] === "-" || (plus && text[0] === "+"))) break;
      for (let j = 1; j < text.length; j++) {
        const option = text[j];
        const takesValue = spec.includes(`${option}:`);
        if (!takesValue) {
          options.push([option, undefined]);
          continue;
        }
        if (j + 1 < text.length) {
          const rest = text.slice(j + 1);
          options.push([option, { ...arg, literal: rest }]);
        } else {
          i++;
          options.push([option, args[i]]);
        }
        break;
      }
    }
    return { options, operands: args.slice(i) };
  }

  #checkSet(args: Arg[], call: ShCallExpr): Refusal | undefined {
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (arg.literal === undefined) {
        if (!arg.mayBeOption) return undefined;
        return `${this.#text(call)}: set's options must be written literally (use set -- "$x" ` +
          `to set positional parameters)`;
      }
      if (arg.literal === "--" || arg.literal === "-" || !/^[-+]/.test(arg.literal)) {
        return undefined;
      }
      if (!SET_FLAGS.test(arg.literal)) {
        return `${this.#text(call)}: set ${arg.literal} changes how bash reads or runs ` +
          `commands (keyword assignments, history expansion, POSIX mode…): use only -e -u -x ` +
          `-o pipefail and similar options`;
      }
      if (arg.literal.endsWith("o")) {
        const option = args[++i];
        if (option === undefined) return undefined;
        if (option.literal === undefined || !SET_OPTIONS.has(option.literal)) {
          return `${this.#text(call)}: set -o ${
            option.literal ?? this.#text(option.word)
          } is refused, because it can change how bash reads commands: use errexit, nounset, ` +
            `pipefail, xtrace or a similar option`;
        }
      }
    }
    return undefined;
  }

  #checkShopt(args: Arg[], call: ShCallExpr): Refusal | undefined {
    const parsed = this.#options(args, "", call);
    if (typeof parsed === "string") return parsed;
    const changes = parsed.options.some(([option]) => option === "s" || option === "u");
    const setOptions = parsed.options.some(([option]) => option === "o");
    for (const operand of parsed.operands) {
      const known = setOptions ? SET_OPTIONS : SHOPT_OPTIONS;
      if (operand.literal === undefined || (changes && !known.has(operand.literal))) {
        return `${this.#text(call)}: shopt ${
          operand.literal ?? this.#text(operand.word)
        } can change how bash parses or expands commands (extglob, expand_aliases…): leave ` +
          `it out, or use an option such as nullglob, globstar or lastpipe`;
      }
    }
    return undefined;
  }

  /**
   * test and [ are builtins, so their arguments are words whose values decide which are
   * operators: a value from data could be -v, which evaluates a subscript. Allowed are all-literal
   * tests and, with values from data, forms of up to three arguments whose operators are literal.
   */
  #checkTest(args: Arg[], call: ShCallExpr): Refusal | undefined {
    const refuse = (why: string) =>
      `${this.#text(call)}: ${why}, and test -v evaluates the subscript of a name, which can ` +
      `run $(…): use [[ … ]] instead`;
    if (args.every((arg) => arg.literal !== undefined)) {
      for (let i = 0; i < args.length - 1; i++) {
        if (NAME_TESTS.has(args[i].literal!)) {
          const refusal = this.#nameArgument(args[i + 1].literal, `test ${args[i].literal}`, call);
          if (refusal) return refusal;
        }
      }
      return undefined;
    }
    if (args.some((arg) => !arg.single)) {
      return refuse("an unquoted expansion may split into several arguments and shift operators");
    }
    if (args.length > 3) {
      return refuse("with more than three arguments, a value may act as an operator");
    }
    const [a, b] = args.map((arg) => arg.literal);
    const literalName = (arg: Arg | undefined) =>
      arg?.literal !== undefined && NAME_WITH_SUBSCRIPT.test(arg.literal) &&
      this.#nameArgument(arg.literal, "test", call) === undefined;
    if (args.length === 2) {
      if (a === undefined) return refuse("its first argument may be an operator such as -v");
      if (NAME_TESTS.has(a) && !literalName(args[1])) return refuse(`${a} takes a name from data`);
      return undefined;
    }
    if (args.length === 3) {
      if (b !== undefined && TEST_BINARY.has(b)) return undefined;
      if (b === undefined) {
        if (a === undefined || a === "!" || a === "(") {
          return refuse("its middle argument may be an operator such as -v");
        }
        return undefined;
      }
      if (NAME_TESTS.has(b) && !literalName(args[2])) return refuse(`${b} takes a name from data`);
    }
    return undefined;
  }
}
