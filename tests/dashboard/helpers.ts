/** Logging in to a server's dashboard as a browser would, and its requests, for the tests. */

import { waitFor } from "../helpers.ts";
import type { HttpServer } from "../http/harness.ts";

export interface DashboardSession {
  /** The server's origin, e.g. http://127.0.0.1:40123 */
  readonly origin: string;
  /** The Cookie header that carries the session. */
  readonly cookie: string;
  /** The session's CSRF token, as the page holds it. */
  readonly csrf: string;
}

/** The newest one-time login link the server printed. */
export async function loginLink(server: HttpServer): Promise<string> {
  return await waitFor(
    () => [...server.stderr().matchAll(/dashboard: open (\S+)/g)].at(-1)?.[1],
    { what: "the dashboard's login link" },
  );
}

export function originOf(server: HttpServer): string {
  return new URL(server.url).origin;
}

/**
 * Trades the login link (or, with `withToken`, the token through the login form: the link works
 * once) for a session: its cookie, and the CSRF token of the page.
 */
export async function login(
  server: HttpServer,
  options: { withToken?: boolean } = {},
): Promise<DashboardSession> {
  const answer = options.withToken
    ? await fetch(new URL("/login", server.url), {
      method: "POST",
      redirect: "manual",
      headers: {
        origin: originOf(server),
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ token: server.token! }).toString(),
    })
    : await fetch(await loginLink(server), { redirect: "manual" });
  await answer.body?.cancel();
  if (answer.status !== 303) throw new Error(`login answered ${answer.status}`);
  const cookie = answer.headers.get("set-cookie")!.split(";")[0];
  const page = await fetch(new URL("/", server.url), { headers: { cookie } });
  const html = await page.text();
  const csrf = /name="csrf-token" content="([^"]+)"/.exec(html)?.[1];
  if (!csrf) throw new Error(`no CSRF token in the page: ${html.slice(0, 200)}`);
  return { origin: originOf(server), cookie, csrf };
}

/** A GET of the dashboard's JSON API with the session; the parsed body and status. */
export async function getJson(
  session: DashboardSession,
  path: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = await fetch(new URL(path, session.origin), {
    headers: { cookie: session.cookie },
  });
  return { status: answer.status, body: await answer.json() };
}

/** A POST as the page sends it: cookie, own Origin and the CSRF token (each can be overridden). */
export async function post(
  session: DashboardSession,
  path: string,
  headers: Record<string, string | null> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const all: Record<string, string | null> = {
    cookie: session.cookie,
    origin: session.origin,
    "x-csrf-token": session.csrf,
    ...headers,
  };
  const sent: Record<string, string> = {};
  for (const [name, value] of Object.entries(all)) if (value !== null) sent[name] = value;
  const answer = await fetch(new URL(path, session.origin), { method: "POST", headers: sent });
  const text = await answer.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text);
  } catch {
    body = { text };
  }
  return { status: answer.status, body };
}
