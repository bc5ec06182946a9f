/**
 * The rules of the command policy (`BACKBURNER_ALLOW`, `BACKBURNER_DENY`): what needs no shell
 * parser. policy.ts has the checks, which parse commands; gate.ts loads them only when rules are
 * set.
 *
 * @module
 */

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

/** Variables whose value bash runs or reads as shell settings: never set them under a policy. */
export const SHELL_CODE_VARIABLES: ReadonlySet<string> = new Set([
  "BASH_ENV", // sourced by every non-interactive bash
  "ENV", // sourced by interactive sh and bash in POSIX mode
  "SHELLOPTS", // `set -o` options at startup (xtrace runs PS4)
  "BASHOPTS", // `shopt` options at startup (expand_aliases, extglob…)
  "BASH_COMPAT", // older quoting and parsing rules
  "POSIXLY_CORRECT", // POSIX mode: aliases are expanded even in scripts
  "PS0",
  "PS1",
  "PS2",
  "PS3",
  "PS4", // expanded, with $(…), before every traced command
  "PROMPT_COMMAND",
]);

/** Whether `name` is an exported-function variable (`BASH_FUNC_f%%`) or one in SHELL_CODE_VARIABLES. */
export function isShellCodeVariable(name: string): boolean {
  return SHELL_CODE_VARIABLES.has(name) || name.startsWith("BASH_FUNC_");
}

/**
 * The variables of the server's own environment `env` that must not reach a task's shell under
 * `policy`, each mapped to the empty value that disarms it in bash: under an allow rule, those
 * that make bash run code the rules never saw (BASH_ENV, ENV, SHELLOPTS, BASHOPTS, PS4, exported
 * functions…). POSIXLY_CORRECT counts by its presence, so a blank cannot disarm it; it is left
 * alone, as the aliases POSIX mode enables are refused by the command checks anyway.
 */
export function unsafeInheritedEnv(
  policy: Policy,
  env: Record<string, string>,
): Record<string, string> {
  if (policy.allow.length === 0) return {};
  const blanks: Record<string, string> = {};
  for (const name of Object.keys(env)) {
    if (name !== "POSIXLY_CORRECT" && isShellCodeVariable(name)) blanks[name] = "";
  }
  return blanks;
}
