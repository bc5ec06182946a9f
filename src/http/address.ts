/**
 * Where the HTTP face listens: `--http [HOST:]PORT`, and what follows from the host — whether it
 * is loopback only, and which names a request's Host header may carry.
 *
 * @module
 */

export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = 8787;
export const MCP_PATH = "/mcp";

export interface ListenAddress {
  /** As Deno.serve takes it: an IPv6 address without brackets. */
  readonly hostname: string;
  /** 0 asks the system for a free port. */
  readonly port: number;
}

/** Parses `[HOST:]PORT` (`8787`, `127.0.0.1:8787`, `[::1]:8787`, `localhost:0`); throws a sentence. */
export function parseListenAddress(text: string): ListenAddress {
  const value = text.trim();
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:\[\]]*)):(\d+)$/.exec(value) ??
    /^()()(\d+)$/.exec(value);
  const port = match ? Number(match[3]) : NaN;
  if (!match || !Number.isInteger(port) || port > 65535) {
    throw new RangeError(
      `--http "${
        text.slice(0, 80)
      }" is not [HOST:]PORT: write a port from 0 to 65535, optionally after a host, as in 8787, 127.0.0.1:8787 or [::1]:8787`,
    );
  }
  const hostname = match[1] ?? (match[2] || DEFAULT_HOST);
  return { hostname, port };
}

/** Whether only this machine can reach the address (127.0.0.0/8, ::1, localhost). */
export function isLoopback(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return host === "localhost" || host.endsWith(".localhost") || host === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Whether the address is every interface (0.0.0.0, ::). */
export function isWildcard(hostname: string): boolean {
  return hostname === "0.0.0.0" || hostname === "::" || hostname === "";
}

/** The host as a URL or Host header writes it (IPv6 in brackets). */
export function hostForUrl(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

/**
 * The host names a request's Host header may carry (port ignored): the bound one, the loopback
 * names when bound to loopback, and those the person allowed with --allow-host (needed to reach
 * a server bound to every interface by the name clients use).
 */
export function allowedHostnames(hostname: string, extra: readonly string[]): string[] {
  const names = new Set<string>();
  if (!isWildcard(hostname)) names.add(hostForUrl(hostname.toLowerCase()));
  if (isLoopback(hostname)) {
    for (const name of ["localhost", "127.0.0.1", "[::1]"]) names.add(name);
  }
  for (const name of extra) names.add(hostForUrl(name.trim().toLowerCase()));
  return [...names];
}
