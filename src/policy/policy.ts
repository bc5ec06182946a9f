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
 * For that to hold, bash must not run text that is not one of the commands the
 * rules judged: under an allow rule, hidden_code.ts refuses every construct that
 * evaluates data as code (`${x@P}`, arithmetic on variables, `eval`, …), and
 * {@linkcode checkEnv} keeps the `env` parameter from doing the same.
 *
 * @module
 */

import { HiddenCodeFinder } from "./hidden_code.ts";
import { isShellCodeVariable, type Policy, type PolicyDecision } from "./rules.ts";
import {
  decodeAnsiC,
  parseBash,
  parserMessage,
  ShellSource,
  syntax,
  unescapeDoubleQuoted,
  unescapeUnquoted,
} from "./shell.ts";
import type {
  ShAssign,
  ShCallExpr,
  ShDblQuoted,
  ShDeclClause,
  ShLetClause,
  ShLit,
  ShNode,
  ShParamExp,
  ShRedirect,
  ShSglQuoted,
  ShStmt,
  ShWord,
} from "./shell.ts";

export {
  parsePolicy,
  type Policy,
  type PolicyDecision,
  type PolicyRule,
  splitRules,
  unsafeInheritedEnv,
} from "./rules.ts";

const SIMPLE_COMMANDS = new Set(["CallExpr", "DeclClause", "LetClause"]);

/**
 * Returns the text of every simple command in `command` as policy rules see
 * it (see the module documentation for the format). A command comes before
 * the commands nested in its substitutions.
 *
 * @throws {SyntaxError} With the parser's message when `command` is not valid bash.
 */
export function simpleCommands(command: string): string[] {
  return new CommandCollector(new ShellSource(command)).collect(parse(command));
}

function parse(command: string): ShNode {
  try {
    return parseBash(command);
  } catch (error) {
    throw new SyntaxError(parserMessage(error));
  }
}

/** Decides whether `command` may run under `policy`. */
export function checkCommand(policy: Policy, command: string): PolicyDecision {
  if (policy.error !== undefined) return { allowed: false, reason: policy.error };
  if (policy.allow.length === 0 && policy.deny.length === 0) return { allowed: true };

  let file: ShNode;
  try {
    file = parse(command);
  } catch (error) {
    // Anything the analysis cannot see through must not run while rules exist.
    return {
      allowed: false,
      reason: `Command refused by policy: it cannot be parsed (${
        parserMessage(error)
      }), and unparseable commands are refused while a policy is set`,
    };
  }
  const shell = new ShellSource(command);
  const finder = new HiddenCodeFinder(shell, policy.allow.length > 0);
  // One walk serves both: mvdan-sh's walk costs about 13 µs a node.
  const commands = new CommandCollector(shell, finder).collect(file);
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
  // The visible commands pass; code that bash would run without it being one of them must not.
  const hidden = finder.refusal;
  if (hidden !== undefined) {
    return { allowed: false, reason: `Command refused by policy: ${hidden}` };
  }
  return { allowed: true };
}

// Under an allow rule the rules judge commands by the names they run, so the environment may not
// change which file a name reaches, load code into every program, or change how bash reads.
const LOOKUP_VARIABLES: Record<string, string> = {
  PATH: "changes which program a command name runs",
  HOME: "changes what ~ names",
  CDPATH: "changes which directory cd enters",
  EXECIGNORE: "changes which program a command name runs",
  GLOBIGNORE: "changes which files a pattern names",
  IFS: "changes how bash splits words",
  BASH_LOADABLES_PATH: "changes which builtins enable loads",
  BASH_XTRACEFD: "sends the shell's trace to another file descriptor",
};
const LOADER_PREFIXES = ["LD_", "DYLD_"];
const LOCALE_VARIABLES = new Set(["LANG", "LC_ALL", "LC_CTYPE"]);
// C, POSIX and UTF-8 locales read every byte of a command the way the parser does; other
// multibyte encodings (Big5, GBK, Shift-JIS) can swallow a backslash or quote into a character.
const SAFE_LOCALE = /^(?:|C|POSIX|[A-Za-z_]+\.(?:UTF-8|utf-8|utf8|UTF8)(?:@\w+)?)$/;

/** Quotes a value for a shell, so the policy sees an env entry exactly as an assignment. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * Decides whether the `env` entries of a start request may be set under `policy`. While any rule
 * is set, variables whose value bash runs (BASH_ENV, PS4, exported functions…) are refused; under
 * an allow rule so are those that change which program a name runs (PATH, LD_PRELOAD…). Each
 * remaining entry must pass the rules as the assignment it is (`NAME='value'`).
 */
export function checkEnv(policy: Policy, env: Record<string, string>): PolicyDecision {
  if (policy.error !== undefined) return { allowed: false, reason: policy.error };
  if (policy.allow.length === 0 && policy.deny.length === 0) return { allowed: true };
  const refuse = (reason: string): PolicyDecision => ({
    allowed: false,
    reason: `Command refused by policy: env sets ${reason} (from the env parameter)`,
  });
  for (const name of Object.keys(env)) {
    if (isShellCodeVariable(name)) {
      return refuse(
        `${name}, whose value bash runs as code or reads as shell settings the policy never sees: leave it out`,
      );
    }
  }
  for (const [name, value] of Object.entries(env)) {
    const verdict = checkCommand(policy, `${name}=${shellQuote(value)}`);
    if (!verdict.allowed) {
      return { allowed: false, reason: `${verdict.reason} (from the env parameter)` };
    }
  }
  if (policy.allow.length === 0) return { allowed: true };
  // An allow rule written for assignments (`^[A-Z_]+=`) is rarely meant to cover these.
  for (const [name, value] of Object.entries(env)) {
    const lookup = LOOKUP_VARIABLES[name];
    if (lookup !== undefined) {
      return refuse(
        `${name}, which ${lookup}, while allow rules judge commands by what they name: set it in the command (${name}=… cmd), where the rules see it`,
      );
    }
    if (LOADER_PREFIXES.some((prefix) => name.startsWith(prefix))) {
      return refuse(
        `${name}, which makes the dynamic loader load code into every program: leave it out`,
      );
    }
    if (LOCALE_VARIABLES.has(name) && !SAFE_LOCALE.test(value)) {
      return refuse(
        `${name} to "${
          value.slice(0, 40)
        }", a locale whose encoding can change how bash reads quotes and backslashes: use C, POSIX or a UTF-8 locale`,
      );
    }
  }
  return { allowed: true };
}

/** Walks one parsed file and renders its simple commands. */
class CommandCollector {
  readonly #shell: ShellSource;
  readonly #finder: HiddenCodeFinder | undefined;
  readonly #commands: string[] = [];

  constructor(shell: ShellSource, finder?: HiddenCodeFinder) {
    this.#shell = shell;
    this.#finder = finder;
  }

  collect(file: ShNode): string[] {
    this.#visit(file, []);
    return this.#commands;
  }

  /** `inherited` holds the rendered redirects of enclosing compound commands. */
  #visit(root: ShNode, inherited: readonly string[]): void {
    syntax.Walk(root, (node) => {
      if (node === null) return true;
      const nodeKind = syntax.NodeType(node);
      this.#finder?.inspect(node, nodeKind);
      if (nodeKind === "ParamExp") {
        // mvdan-sh's walk skips ${x:offset:length}, where $(…) runs like anywhere else.
        const slice = (node as ShParamExp).Slice;
        if (slice?.Offset) this.#visit(slice.Offset, inherited);
        if (slice?.Length) this.#visit(slice.Length, inherited);
      }
      if (nodeKind !== "Stmt") return true;
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
    return this.#shell.of(node);
  }

  #slice(start: number, end: number): string {
    return this.#shell.slice(start, end);
  }
}
