/**
 * The bash syntax tree from mvdan-sh, as the policy reads it: node shapes, node kinds, and the
 * source text and literal value of a word.
 *
 * mvdan-sh is a GopherJS build without type declarations; the interfaces below describe only the
 * parts of its tree that backburner reads.
 *
 * @module
 */

import sh from "mvdan-sh";

export interface ShPos {
  Offset(): number;
}
export interface ShNode {
  Pos(): ShPos;
  End(): ShPos;
}
export interface ShLit extends ShNode {
  Value: string;
}
export interface ShWord extends ShNode {
  Parts: ShNode[];
}
export interface ShSglQuoted extends ShNode {
  Value: string;
  Dollar: boolean;
}
export interface ShDblQuoted extends ShNode {
  Parts: ShNode[];
  Dollar: boolean;
}
export interface ShSlice {
  Offset: ShNode | null;
  Length: ShNode | null;
}
export interface ShParamExp extends ShNode {
  Short: boolean;
  Excl: boolean;
  Length: boolean;
  Width: boolean;
  Param: ShLit | null;
  Index: ShNode | null;
  Slice: ShSlice | null;
  Repl: { Orig: ShWord | null; With: ShWord | null } | null;
  Names: number;
  Exp: { Op: number; Word: ShWord | null } | null;
}
export interface ShAssign extends ShNode {
  Append: boolean;
  Naked: boolean;
  Name: ShLit | null;
  Index: ShNode | null;
  Value: ShWord | null;
  Array: ShNode | null;
}
export interface ShArrayElem extends ShNode {
  Index: ShNode | null;
  Value: ShWord | null;
}
export interface ShCallExpr extends ShNode {
  Assigns: ShAssign[];
  Args: ShWord[];
}
export interface ShDeclClause extends ShNode {
  Variant: ShLit | string;
  Args: ShAssign[];
}
export interface ShLetClause extends ShNode {
  Exprs: ShNode[];
}
export interface ShRedirect extends ShNode {
  Op: number;
  N: ShLit | null;
  Word: ShWord;
}
export interface ShStmt extends ShNode {
  Cmd: ShNode | null;
  Redirs: ShRedirect[];
}
export interface ShBinary extends ShNode {
  X: ShNode;
  Y: ShNode;
}
export interface ShUnary extends ShNode {
  X: ShNode;
}
export interface ShCStyleLoop extends ShNode {
  Init: ShNode | null;
  Cond: ShNode | null;
  Post: ShNode | null;
}
export interface ShWordIter extends ShNode {
  Name: ShLit;
}
export interface ShCoprocClause extends ShNode {
  Name: ShWord | null;
}
export interface ShExtGlob extends ShNode {
  Pattern: ShLit;
}
interface ShParser {
  Parse(source: string, name: string): ShNode;
}
interface ShSyntax {
  NewParser(): ShParser;
  Walk(node: ShNode, visit: (node: ShNode | null) => boolean): void;
  NodeType(node: ShNode): string;
}

export const syntax = (sh as unknown as { syntax: ShSyntax }).syntax;

/** Parses bash source; throws mvdan-sh's error value when it is not valid bash. */
export function parseBash(source: string): ShNode {
  // A parser is reusable after errors and cheap to keep for one parse.
  return syntax.NewParser().Parse(source, "");
}

/** The message of an error thrown by the parser. */
export function parserMessage(error: unknown): string {
  // GopherJS throws Go error values, which are not Error instances.
  if (typeof error === "object" && error !== null) {
    const goError = (error as { Error?: unknown }).Error;
    if (typeof goError === "function") return String(goError.call(error));
    if (error instanceof Error) return error.message;
  }
  return String(error);
}

/** The source text of parsed bash, sliced by the parser's byte offsets. */
export class ShellSource {
  readonly #bytes: Uint8Array;
  readonly #decoder = new TextDecoder();

  constructor(source: string) {
    // Parser offsets count UTF-8 bytes, not UTF-16 code units.
    this.#bytes = new TextEncoder().encode(source);
  }

  of(node: ShNode): string {
    return this.slice(node.Pos().Offset(), node.End().Offset());
  }

  slice(start: number, end: number): string {
    return this.#decoder.decode(this.#bytes.subarray(start, end));
  }
}

/**
 * The value of an unquoted literal, or undefined when bash may expand it: an unescaped glob
 * (`*`, `?`, `[…]`), brace or leading tilde. Backslash escapes are removed.
 */
function unquotedLiteral(text: string, first: boolean, alone: boolean): string | undefined {
  let value = "";
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === "\\") {
      if (i + 1 < text.length && text[i + 1] !== "\n") value += text[i + 1];
      i++;
      continue;
    }
    if (char === "*" || char === "?" || char === "{") return undefined;
    // A bracket pairs with a `]` in any later part of the word (`a['x']` is a glob).
    if (char === "[" && (!alone || text.includes("]", i + 1))) return undefined;
    if (char === "~" && first && i === 0) return undefined;
    value += char;
  }
  return value;
}

/**
 * The value of `word` when bash gives it exactly that value, one word, whatever the run-time
 * state: no expansion, substitution, glob, brace or tilde; quotes removed. Undefined otherwise.
 * `unexpanded` is for places where bash does no globbing, brace or tilde expansion (inside
 * `[[ ]]` and arithmetic).
 */
export function literalValue(word: ShWord, unexpanded = false): string | undefined {
  let value = "";
  // Each read of a field of the tree converts it from Go, so the parts are read once.
  const parts = word.Parts;
  for (const part of parts) {
    switch (syntax.NodeType(part)) {
      case "Lit": {
        const text = unexpanded
          ? unescapeUnquoted((part as ShLit).Value)
          : unquotedLiteral((part as ShLit).Value, part === parts[0], parts.length === 1);
        if (text === undefined) return undefined;
        value += text;
        break;
      }
      case "SglQuoted": {
        const quoted = part as ShSglQuoted;
        value += quoted.Dollar ? decodeAnsiC(quoted.Value) : quoted.Value;
        break;
      }
      case "DblQuoted": {
        const quoted = part as ShDblQuoted;
        if (quoted.Dollar) return undefined;
        for (const inner of quoted.Parts) {
          if (syntax.NodeType(inner) !== "Lit") return undefined;
          value += unescapeDoubleQuoted((inner as ShLit).Value);
        }
        break;
      }
      default:
        return undefined;
    }
  }
  return value;
}

export function unescapeUnquoted(value: string): string {
  return value.replace(/\\([\s\S])/g, (_, char: string) => char === "\n" ? "" : char);
}

export function unescapeDoubleQuoted(value: string): string {
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
 * Decodes the body of a bash `$'…'` string. `\x` and octal escapes produce raw bytes, as in bash,
 * so the result is assembled as UTF-8 and decoded at the end.
 */
export function decodeAnsiC(value: string): string {
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
