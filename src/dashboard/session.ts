/**
 * Who may use the dashboard: a browser that traded a one-time login code (the link the server
 * prints, good for LOGIN_CODE_MS) or the token (the login form) for a session cookie. The cookie is HttpOnly (page scripts
 * cannot read it) and SameSite=Strict (no other site's page makes the browser send it); each
 * session has its own CSRF token, which the page sends in a header with every state-changing
 * request. Sessions live in memory: a restarted server asks for a new login.
 *
 * @module
 */

import { timingSafeEqual } from "node:crypto";

/** Sessions kept at once; the oldest goes first (a browser that logs in again and again). */
const MAX_SESSIONS = 64;
/** A session unused this long is gone. */
const SESSION_IDLE_MS = 12 * 3600 * 1000;
/** Login codes kept at once (spent and expired ones too, to say which); the oldest goes first. */
const MAX_CODES = 16;
/** How long a printed login link works: long enough to copy it into a browser, no longer. */
export const LOGIN_CODE_MS = 10 * 60 * 1000;

/** What became of a login code brought to the server. */
export type Redeemed = "ok" | "spent" | "expired" | "unknown";

interface Session {
  readonly csrf: string;
  lastUsed: number;
}

/** A random, URL-safe secret of 256 bits. */
export function secret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replaceAll("=", "");
}

/** Whether two secrets are equal, in time that does not depend on where they differ. */
export function sameSecret(a: string, b: string): boolean {
  const encoder = new TextEncoder();
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  // Equal lengths for timingSafeEqual; a length mismatch is no secret (they are all 43 long).
  if (x.length !== y.length) return false;
  return timingSafeEqual(x, y);
}

export class Sessions {
  readonly #sessions = new Map<string, Session>();
  /** Each code issued (of the last MAX_CODES): when it expires, and whether it was spent. */
  readonly #codes = new Map<string, { expires: number; spent: boolean }>();
  readonly #now: () => number;
  readonly #codeMs: number;

  constructor(options: { now?: () => number; codeMs?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#codeMs = options.codeMs ?? LOGIN_CODE_MS;
  }

  /**
   * A new one-time login code: the first browser that brings it within its time gets a session;
   * then it is spent.
   */
  issueCode(): string {
    const code = secret();
    this.#codes.set(code, { expires: this.#now() + this.#codeMs, spent: false });
    if (this.#codes.size > MAX_CODES) this.#codes.delete(this.#codes.keys().next().value!);
    return code;
  }

  /** Spends a login code: "ok" when it was an unused one in its time, else why not. */
  redeem(code: string): Redeemed {
    for (const [known, state] of this.#codes) {
      if (!sameSecret(known, code)) continue;
      if (state.spent) return "spent";
      if (this.#now() >= state.expires) return "expired";
      state.spent = true;
      return "ok";
    }
    return "unknown";
  }

  /** Opens a session; its id goes into the cookie, its CSRF token into the page. */
  open(): { id: string; csrf: string } {
    const id = secret();
    const csrf = secret();
    this.#sessions.set(id, { csrf, lastUsed: this.#now() });
    while (this.#sessions.size > MAX_SESSIONS) {
      this.#sessions.delete(this.#sessions.keys().next().value!);
    }
    return { id, csrf };
  }

  /** The session of the first of `ids` (cookie values) that is one, touched. */
  findAny(ids: readonly string[]): { id: string; csrf: string } | undefined {
    // A handful at most: a header carries few cookies of one name.
    for (const id of ids.slice(0, 8)) {
      const found = this.find(id);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /** The session of a cookie value, touched; undefined when unknown or idle too long. */
  find(id: string | undefined): { id: string; csrf: string } | undefined {
    if (id === undefined) return undefined;
    for (const [known, session] of this.#sessions) {
      if (!sameSecret(known, id)) continue;
      if (this.#now() - session.lastUsed > SESSION_IDLE_MS) {
        this.#sessions.delete(known);
        return undefined;
      }
      session.lastUsed = this.#now();
      return { id: known, csrf: session.csrf };
    }
    return undefined;
  }

  close(id: string): void {
    this.#sessions.delete(id);
  }
}

/**
 * Every value of cookie `name` in a Cookie header, in the order sent. There may be several:
 * cookies do not keep ports apart, so a page on another port of the same host can set one of
 * this name (for a longer path, which the browser sends first); the session is whichever is one.
 */
export function cookieValues(header: string | null, name: string): string[] {
  if (header === null) return [];
  const values: string[] = [];
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) values.push(part.slice(eq + 1).trim());
  }
  return values;
}

/**
 * The Set-Cookie header of a session. Cookies are not separated by port, so the name carries the
 * port: two servers on one machine do not log each other out.
 */
export function sessionCookie(name: string, id: string): string {
  return `${name}=${id}; Path=/; HttpOnly; SameSite=Strict`;
}
