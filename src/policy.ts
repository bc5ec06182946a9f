/**
 * Command policy: `BACKBURNER_ALLOW` and `BACKBURNER_DENY` hold comma-separated
 * JavaScript regular expressions that every command must satisfy before it runs.
 *
 * Commands run through `bash -c`, so matching the raw string would be trivially
 * bypassed (`pytest; rm -rf ~` starts with `pytest`). Instead the command is
 * parsed with mvdan/sh and every simple command found anywhere in it — lists,
 * pipelines, subshells, groups, substitutions, compound-command bodies, redirect
 * targets — is checked on its own.
 *
 * What a rule sees for one simple command: its assignments, words and redirects
 * after quote removal, joined with single spaces. Parts whose value is only known
 * at run time (parameter expansion, command/arithmetic/process substitution,
 * globs, brace expansion) are kept as their source text. Redirects are written
 * as the operator immediately followed by the target, with no space (`2>&1`,
 * `>out.txt`, `<<EOF`), so `pytest -q > out.txt 2>&1` is seen as
 * `pytest -q >out.txt 2>&1`. Redirects on a compound command apply to
 * everything inside it, so they are appended to each simple command within
 * (`{ echo a; } > f` is seen as `echo a >f`).
 *
 * Deny rules are a best-effort tripwire: a shell can always spell a command in
 * a way no regex anticipates (`X=1 rm`, `$cmd`, `eval`, `xargs rm`). An allow
 * list is the robust control, because anything it does not recognise is refused.
 *
 * @module
 */

import sh from "mvdan-sh";

/** One compiled rule, remembering where it came from so refusals can name it. */
export interface PolicyRule {
  readonly variable: "BACKBURNER_ALLOW" | "BACKBURNER_DENY";
  readonly source: string;
  readonly regex: RegExp;
}

/** The rules in force; `error` is set when the configuration is unusable. */
export interface Policy {
  readonly allow: readonly PolicyRule[];
  readonly deny: readonly PolicyRule[];
  readonly error?: string;
}

/** The outcome of checking one command against a policy. */
export type PolicyDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly reason: string };

// mvdan-sh is a GopherJS build without type declarations; these describe only
// the parts of its syntax tree this module reads.
interface ShPos {
  Offset(): number;
}
interface ShNode {
  Pos(): ShPos;
  End(): ShPos;
}
interface ShLit extends ShNode {
  Value: string;
}
interface ShWord extends ShNode {
  Parts: ShNode[];
}
interface ShSglQuoted extends ShNode {
  Value: string;
  Dollar: boolean;
}
interface ShDblQuoted extends ShNode {
  Parts: ShNode[];
}
interface ShAssign extends ShNode {
  Append: boolean;
  Naked: boolean;
  Name: ShLit | null;
  Index: ShNode | null;
  Value: ShWord | null;
  Array: ShNode | null;
}
interface ShCallExpr extends ShNode {
  Assigns: ShAssign[];
  Args: ShWord[];
}
interface ShDeclClause extends ShNode {
  Variant: ShLit | string;
  Args: ShAssign[];
}
interface ShLetClause extends ShNode {
  Exprs: ShNode[];
}
interface ShRedirect extends ShNode {
  Word: ShWord;
}
interface ShStmt extends ShNode {
  Cmd: ShNode | null;
  Redirs: ShRedirect[];
}
interface ShParser {
  Parse(source: string, name: string): ShNode;
}
interface ShSyntax {
  NewParser(): ShParser;
  Walk(node: ShNode, visit: (node: ShNode | null) => boolean): void;
  NodeType(node: ShNode): string;
}

const syntax = (sh as unknown as { syntax: ShSyntax }).syntax;

// Parsers are relatively costly to build and are reusable after errors.
let parser: ShParser | undefined;

const SIMPLE_COMMANDS = new Set(["CallExpr", "DeclClause", "LetClause"]);
// A `{n}`, `{n,}` or `{n,m}` quantifier, whose comma belongs to the regex.
const QUANTIFIER = /^\{\d*(?:,\d*)?\}/;

/**
 * Splits an environment value into rule sources at commas that are not part
 * of a regex: commas inside `{…}` quantifiers, `[…]` classes and `(…)` groups,
 * and escaped commas (`\,`), stay with their rule. Entries are trimmed and
 * empty ones dropped.
 */
export function splitRules(value: string): string[] {
  const rules: string[] = [];
  let current = "";
  let inClass = false;
  let groupDepth = 0;
  for (let i = 0; i < value.length; i++) {
    const char = value[i];
    if (char === "\\") {
      current += value.slice(i, i + 2);
      i++;
      continue;
    }
    if (inClass) {
      if (char === "]") inClass = false;
      current += char;
      continue;
    }
    if (char === "{") {
      const quantifier = QUANTIFIER.exec(value.slice(i));
      if (quantifier) {
        current += quantifier[0];
        i += quantifier[0].length - 1;
        continue;
      }
    } else if (char === "[") {
      inClass = true;
    } else if (char === "(") {
      groupDepth++;
    } else if (char === ")" && groupDepth > 0) {
      groupDepth--;
    } else if (char === "," && groupDepth === 0) {
      rules.push(current);
      current = "";
      continue;
    }
    current += char;
  }
  rules.push(current);
  return rules.map((rule) => rule.trim()).filter((rule) => rule !== "");
}

/**
 * Builds a policy from the raw `BACKBURNER_ALLOW` and `BACKBURNER_DENY` values.
 * Never throws: an invalid rule is reported through `error`, which makes
 * {@linkcode checkCommand} refuse everything rather than run unpoliced.
 */
export function parsePolicy(allow: string | undefined, deny: string | undefined): Policy {
  const errors: string[] = [];
  const compile = (variable: PolicyRule["variable"], value: string | undefined) => {
    const rules: PolicyRule[] = [];
    for (const source of splitRules(value ?? "")) {
      try {
        rules.push({ variable, source, regex: new RegExp(source) });
      } catch (error) {
        const detail = error instanceof Error ? error.message : String(error);
        errors.push(
          `${variable} rule "${source}" is not a valid regular expression (${detail}): fix the rule and restart backburner`,
        );
      }
    }
    return rules;
  };
  const allowRules = compile("BACKBURNER_ALLOW", allow);
  const denyRules = compile("BACKBURNER_DENY", deny);
  if (errors.length > 0) return { allow: allowRules, deny: denyRules, error: errors[0] };
  return { allow: allowRules, deny: denyRules };
}

/**
 * Returns the text of every simple command in `command` as policy rules see
 * it (see the module documentation for the format). A command comes before
 * the commands nested in its substitutions.
 *
 * @throws {SyntaxError} With the parser's message when `command` is not valid bash.
 */
export function simpleCommands(command: string): string[] {
  parser ??= syntax.NewParser();
  let file: ShNode;
  try {
    file = parser.Parse(command, "");
  } catch (error) {
    throw new SyntaxError(parserMessage(error));
  }
  return new CommandCollector(command).collect(file);
}

/** Decides whether `command` may run under `policy`. */
export function checkCommand(policy: Policy, command: string): PolicyDecision {
  if (policy.error !== undefined) return { allowed: false, reason: policy.error };
  if (policy.allow.length === 0 && policy.deny.length === 0) return { allowed: true };

  let commands: string[];
  try {
    commands = simpleCommands(command);
  } catch (error) {
    // Anything the analysis cannot see through must not run while rules exist.
    return {
      allowed: false,
      reason: `Command refused by policy: it cannot be parsed (${
        parserMessage(error)
      }), and unparseable commands are refused while a policy is set`,
    };
  }
  if (commands.length === 0) {
    return {
      allowed: false,
      reason: "Command refused by policy: command is empty, so there is nothing to run",
    };
  }

  // Deny wins over allow, so every command is checked against deny first.
  for (const text of commands) {
    const rule = policy.deny.find((rule) => rule.regex.test(text));
    if (rule) {
      return {
        allowed: false,
        reason:
          `Command refused by policy: "${text}" matches ${rule.variable} rule "${rule.source}"`,
      };
    }
  }
  if (policy.allow.length > 0) {
    for (const text of commands) {
      if (!policy.allow.some((rule) => rule.regex.test(text))) {
        const rules = policy.allow.map((rule) => rule.source).join(", ");
        return {
          allowed: false,
          reason:
            `Command refused by policy: "${text}" matches no BACKBURNER_ALLOW rule (${rules})`,
        };
      }
    }
  }
  return { allowed: true };
}

function parserMessage(error: unknown): string {
  // GopherJS throws Go error values, which are not Error instances.
  if (typeof error === "object" && error !== null) {
    const goError = (error as { Error?: unknown }).Error;
    if (typeof goError === "function") return String(goError.call(error));
    if (error instanceof Error) return error.message;
  }
  return String(error);
}

/** Walks one parsed file and renders its simple commands. */
class CommandCollector {
  readonly #bytes: Uint8Array;
  readonly #decoder = new TextDecoder();
  readonly #commands: string[] = [];

  constructor(source: string) {
    // Parser offsets count UTF-8 bytes, not UTF-16 code units.
    this.#bytes = new TextEncoder().encode(source);
  }

  collect(file: ShNode): string[] {
    this.#visit(file, []);
    return this.#commands;
  }

  /** `inherited` holds the rendered redirects of enclosing compound commands. */
  #visit(root: ShNode, inherited: readonly string[]): void {
    syntax.Walk(root, (node) => {
      if (node === null || syntax.NodeType(node) !== "Stmt") return true;
      const stmt = node as ShStmt;
      const redirects = stmt.Redirs.map((redirect) => this.#redirect(redirect));
      const kind = stmt.Cmd === null ? undefined : syntax.NodeType(stmt.Cmd);
      if (stmt.Cmd === null || SIMPLE_COMMANDS.has(kind!)) {
        const words = stmt.Cmd === null ? [] : this.#words(stmt.Cmd, kind!);
        const text = [...words, ...redirects, ...inherited].join(" ");
        if (text !== "") this.#commands.push(text);
        // Keep walking: substitutions inside the words hold commands too.
        return true;
      }
      if (redirects.length === 0) return true;
      // The compound's redirects apply to its body, but not to commands
      // inside its own redirect targets.
      const before = this.#commands.length;
      this.#visit(stmt.Cmd, [...redirects, ...inherited]);
      if (this.#commands.length === before) {
        // `[[ … ]] > f` has no simple command to carry the redirect, yet it
        // still opens `f`, so the redirect is judged on its own.
        this.#commands.push([...redirects, ...inherited].join(" "));
      }
      for (const redirect of stmt.Redirs) this.#visit(redirect, inherited);
      return false;
    });
  }

  #words(cmd: ShNode, kind: string): string[] {
    if (kind === "CallExpr") {
      const call = cmd as ShCallExpr;
      return [
        ...call.Assigns.map((assign) => this.#assign(assign)),
        ...call.Args.map((word) => this.#word(word)),
      ];
    }
    if (kind === "DeclClause") {
      const decl = cmd as ShDeclClause;
      const variant = typeof decl.Variant === "string" ? decl.Variant : decl.Variant.Value;
      return [variant, ...decl.Args.map((assign) => this.#assign(assign))];
    }
    const let_ = cmd as ShLetClause;
    return [
      "let",
      ...let_.Exprs.map((expr) =>
        syntax.NodeType(expr) === "Word" ? this.#word(expr as ShWord) : this.#source(expr)
      ),
    ];
  }

  #assign(assign: ShAssign): string {
    if (assign.Naked) {
      // A declaration argument without `=`: a name or an option such as `-x`.
      if (assign.Name !== null) return assign.Name.Value;
      return assign.Value === null ? "" : this.#word(assign.Value);
    }
    const index = assign.Index === null ? "" : `[${this.#source(assign.Index)}]`;
    const value = assign.Value !== null
      ? this.#word(assign.Value)
      : assign.Array !== null
      ? this.#source(assign.Array)
      : "";
    return `${assign.Name?.Value ?? ""}${index}${assign.Append ? "+=" : "="}${value}`;
  }

  #redirect(redirect: ShRedirect): string {
    // The operator, with any fd prefix (`2>&`, `{fd}>`), is what lies between
    // the redirect's start and its target; only blanks and line continuations
    // can separate them.
    const operator = this.#slice(redirect.Pos().Offset(), redirect.Word.Pos().Offset())
      .replace(/\\\n/g, "")
      .replace(/\s+/g, "");
    return operator + this.#word(redirect.Word);
  }

  #word(word: ShWord): string {
    return word.Parts.map((part) => {
      switch (syntax.NodeType(part)) {
        case "Lit":
          return unescapeUnquoted((part as ShLit).Value);
        case "SglQuoted": {
          const quoted = part as ShSglQuoted;
          return quoted.Dollar ? decodeAnsiC(quoted.Value) : quoted.Value;
        }
        case "DblQuoted":
          return (part as ShDblQuoted).Parts.map((inner) =>
            syntax.NodeType(inner) === "Lit"
              ? unescapeDoubleQuoted((inner as ShLit).Value)
              : this.#source(inner)
          ).join("");
        default:
          // Expansions and substitutions are only known at run time.
          return this.#source(part);
      }
    }).join("");
  }

  #source(node: ShNode): string {
    return this.#slice(node.Pos().Offset(), node.End().Offset());
  }

  #slice(start: number, end: number): string {
    return this.#decoder.decode(this.#bytes.subarray(start, end));
  }
}

function unescapeUnquoted(value: string): string {
  return value.replace(/\\([\s\S])/g, (_, char: string) => char === "\n" ? "" : char);
}

function unescapeDoubleQuoted(value: string): string {
  return value.replace(/\\([$`"\\\n])/g, (_, char: string) => char === "\n" ? "" : char);
}

const SIMPLE_ESCAPES: Record<string, number> = {
  a: 0x07,
  b: 0x08,
  e: 0x1b,
  E: 0x1b,
  f: 0x0c,
  n: 0x0a,
  r: 0x0d,
  t: 0x09,
  v: 0x0b,
  "\\": 0x5c,
  "'": 0x27,
  '"': 0x22,
  "?": 0x3f,
};

/**
 * Decodes the body of a bash `$'…'` string. `\x` and octal escapes produce raw
 * bytes, as in bash, so the result is assembled as UTF-8 and decoded at the end.
 */
function decodeAnsiC(value: string): string {
  const encoder = new TextEncoder();
  const bytes: number[] = [];
  const pushText = (text: string) => bytes.push(...encoder.encode(text));
  const digits = (from: number, pattern: RegExp, max: number) => {
    let end = from;
    while (end < value.length && end - from < max && pattern.test(value[end])) end++;
    return value.slice(from, end);
  };
  let i = 0;
  while (i < value.length) {
    const char = value[i];
    if (char !== "\\" || i + 1 >= value.length) {
      const codePoint = value.codePointAt(i)!;
      pushText(String.fromCodePoint(codePoint));
      i += codePoint > 0xffff ? 2 : 1;
      continue;
    }
    const escape = String.fromCodePoint(value.codePointAt(i + 1)!);
    i += 1 + escape.length;
    if (escape in SIMPLE_ESCAPES) {
      bytes.push(SIMPLE_ESCAPES[escape]);
    } else if (/[0-7]/.test(escape)) {
      const octal = escape + digits(i, /[0-7]/, 2);
      i += octal.length - 1;
      bytes.push(parseInt(octal, 8) & 0xff);
    } else if (escape === "x" || escape === "u" || escape === "U") {
      const hex = digits(i, /[0-9a-fA-F]/, escape === "x" ? 2 : escape === "u" ? 4 : 8);
      if (hex === "") {
        pushText(`\\${escape}`);
        continue;
      }
      i += hex.length;
      const number = parseInt(hex, 16);
      if (escape === "x") bytes.push(number);
      else pushText(number <= 0x10ffff ? String.fromCodePoint(number) : "\ufffd");
    } else if (escape === "c" && i < value.length) {
      bytes.push(value.charCodeAt(i) & 0x1f);
      i++;
    } else {
      // Unknown escapes are kept verbatim by bash.
      pushText(`\\${escape}`);
    }
  }
  const text = new TextDecoder().decode(new Uint8Array(bytes));
  // Bash strings are C strings: a NUL ends the value.
  const nul = text.indexOf("\0");
  return nul === -1 ? text : text.slice(0, nul);
}
