/**
 * The bearer token of the HTTP face: BACKBURNER_TOKEN when set, otherwise a random one generated at
 * first need and kept, readable by its owner only, in the state directory (`backburner token`
 * prints it). Compared in constant time.
 *
 * @module
 */

import { timingSafeEqual } from "node:crypto";
import { join } from "node:path";

export const TOKEN_FILE = "token";
/** Fewer characters than this is a password anyone could guess, not a token. */
const MIN_TOKEN_CHARS = 16;

/** The token and where it came from, for the server's first log line. */
export interface HttpToken {
  readonly value: string;
  readonly source: "environment" | "file" | "generated";
  readonly path: string;
}

/**
 * The token: `fromEnvironment` (BACKBURNER_TOKEN) if given, else the state directory's token file,
 * created (mode 0600, 256 random bits) if missing. Throws a sentence saying what to do when the
 * one given is unusable.
 */
export function loadToken(home: string, fromEnvironment: string | undefined): HttpToken {
  const path = join(home, TOKEN_FILE);
  if (fromEnvironment !== undefined && fromEnvironment.trim() !== "") {
    return {
      value: checked(fromEnvironment.trim(), "BACKBURNER_TOKEN"),
      source: "environment",
      path,
    };
  }
  try {
    const value = Deno.readTextFileSync(path).trim();
    refuseShared(path);
    return { value: checked(value, path), source: "file", path };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  Deno.mkdirSync(home, { recursive: true, mode: 0o700 });
  const value = generate();
  try {
    Deno.writeTextFileSync(path, `${value}\n`, { mode: 0o600, createNew: true });
  } catch (error) {
    // Another server made it first: use theirs.
    if (error instanceof Deno.errors.AlreadyExists) return loadToken(home, undefined);
    throw error;
  }
  return { value, source: "generated", path };
}

function generate(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replaceAll("=", "");
}

function checked(value: string, where: string): string {
  if (value.length < MIN_TOKEN_CHARS || !/^[!-~]+$/.test(value)) {
    throw new RangeError(
      `the token in ${where} is unusable: it needs at least ${MIN_TOKEN_CHARS} characters, each a visible ASCII character (no spaces) (remove the file to have one generated)`,
    );
  }
  return value;
}

/** A token file others can read is no secret: refuse it rather than serve behind it. */
function refuseShared(path: string): void {
  if (Deno.build.os === "windows") return;
  const mode = (Deno.statSync(path).mode ?? 0) & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new RangeError(
      `the token file "${path}" can be read by other users (mode ${
        mode.toString(8).padStart(4, "0")
      }): run chmod 600 "${path}", or remove it to have a new one generated`,
    );
  }
}

/** Whether `given` is the token, in time that does not depend on where they differ. */
export async function sameToken(expected: string, given: string): Promise<boolean> {
  const encoder = new TextEncoder();
  const [a, b] = await Promise.all(
    [expected, given].map((text) => crypto.subtle.digest("SHA-256", encoder.encode(text))),
  );
  return timingSafeEqual(new Uint8Array(a), new Uint8Array(b));
}
