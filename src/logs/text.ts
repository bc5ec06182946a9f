/** Turning terminal output into text an agent can read. Pure functions over strings. */

const decoder = new TextDecoder("utf-8", { fatal: false });

/** Log bytes as text an MCP reply can carry: invalid UTF-8 and NUL become U+FFFD. */
export function toText(bytes: Uint8Array): string {
  return decoder.decode(bytes).replaceAll("\0", "\uFFFD");
}

// CSI (ESC [ … final byte), OSC (ESC ] … BEL or ESC \), and the other escapes (ESC, any
// intermediate bytes, one final byte: ESC 7, ESC ( B, ESC c).
const ANSI =
  // deno-lint-ignore no-control-regex
  /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[ -/]*[0-~]|\x9b[0-?]*[ -/]*[@-~]/g;

/** Removes ANSI escape sequences (colours, cursor moves, titles). */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, "");
}

// Every control character (C0, DEL, C1: a terminal acts on them) and the bidirectional overrides
// that make a terminal show text in another order than it is (Trojan Source).
const UNSAFE = /[\p{Cc}\u202a-\u202e\u2066-\u2069]/gu;

/**
 * Stored or parsed text (a command, a label, a directory, a progress message, a line of output)
 * made safe to show on a terminal: escape sequences removed, and every control character too, so
 * that no text a task or an agent chose can move the cursor, retitle the window or write the
 * clipboard (OSC 52). One line by default (a newline shows as "⏎", a tab as a space); with
 * `lines`, newlines and tabs are kept.
 */
export function terminalText(text: string, options: { lines?: boolean } = {}): string {
  const plain = stripAnsi(text);
  if (options.lines) {
    return plain.replace(UNSAFE, (char) => char === "\n" || char === "\t" ? char : "");
  }
  return plain.replace(/\s*\n\s*/g, " ⏎ ").replace(UNSAFE, (char) => char === "\t" ? " " : "");
}

/**
 * Collapses carriage-return redraws to what a terminal would finally show on each line:
 * `"10%\r50%\r100%\n"` becomes `"100%\n"`. A shorter redraw leaves the tail of a longer one, as on
 * a terminal. A "\r\n" line ending is kept as a plain "\n".
 */
export function collapseCarriageReturns(text: string): string {
  if (!text.includes("\r")) return text;
  return text.split("\n").map((line) => {
    const body = line.endsWith("\r") ? line.slice(0, -1) : line;
    if (!body.includes("\r")) return body;
    let screen = "";
    for (const segment of body.split("\r")) {
      screen = segment + screen.slice(segment.length);
    }
    return screen;
  }).join("\n");
}

/** Cuts lines longer than `maxLineChars`, saying how much of each was left out. */
export function cutLongLines(text: string, maxLineChars: number): string {
  if (text.length <= maxLineChars) return text;
  return text.split("\n").map((line) =>
    line.length <= maxLineChars
      ? line
      : `${line.slice(0, maxLineChars)}… [${line.length - maxLineChars} more characters]`
  ).join("\n");
}

/**
 * One line of output as clean text, the same for every reader that goes line by line (waiting
 * for a pattern, following a log, parsing progress): NUL as U+FFFD, escape sequences removed,
 * redraws collapsed; not cut.
 */
export function cleanLine(raw: string): string {
  return collapseCarriageReturns(stripAnsi(raw.replaceAll("\0", "\uFFFD")));
}

/** Default longest line shown in clean text. */
export const MAX_LINE_CHARS = 2000;

/** What an agent reads by default: no escape sequences, redraws collapsed, long lines cut. */
export function cleanText(text: string, maxLineChars = MAX_LINE_CHARS): string {
  return cutLongLines(collapseCarriageReturns(stripAnsi(text)), maxLineChars);
}
