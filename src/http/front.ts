/**
 * The HTTP face's TCP front: it takes the connections on the public address and passes their
 * bytes, unchanged, to the server listening on a socket only its owner can reach. Deno.serve has
 * no bound on connections and no timeouts before a request is whole, and its listener dies for
 * good when the process runs out of file descriptors; so, before any token is seen, a program
 * that opens connections and sends nothing (or a byte now and then) could hold them all, take
 * every descriptor, end the listener and leave the port to whoever binds it next. The front:
 *
 * - keeps its listener through a failed accept (out of descriptors: it waits, then accepts again);
 * - holds at most `maxConnections`; past that, a new connection replaces the one stalled the
 *   longest (still sending a request's headers, or idle), and is refused only when every
 *   connection has a whole request waiting for its answer;
 * - closes a connection whose request's headers are not whole within `headerMs` of its first
 *   byte (or of the connection), one idle (the server spoke last) for `idleMs`, and one that has
 *   been sending for `sendingMs` without an answer (a body trickled byte by byte) — never one
 *   waiting for a long answer.
 *
 * @module
 */

import type { ListenAddress } from "./address.ts";

export interface FrontOptions {
  readonly listen: ListenAddress;
  /** The Unix socket the server listens on. */
  readonly backend: string;
  readonly maxConnections: number;
  readonly headerMs: number;
  readonly idleMs: number;
  readonly sendingMs: number;
  readonly log: (message: string) => void;
}

export interface Front {
  readonly addr: Deno.NetAddr;
  /**
   * Stops accepting, lets connections the server has ended pass on what it sent last (within
   * `graceMs`), then closes every connection.
   */
  close(graceMs?: number): Promise<void>;
}

interface Link {
  readonly client: Deno.Conn;
  backend?: Deno.Conn;
  /** When the client began sending after the server last spoke (0: the server spoke last). */
  sendingSince: number;
  /** Whether the headers of the request being sent are whole (its blank line came). */
  headersDone: boolean;
  /** The end of what the client sent so far, to find the blank line ending the headers. */
  tail: string;
  lastClient: number;
  lastServer: number;
  closed: boolean;
}

const REFUSED = new TextEncoder().encode(
  "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n" +
    "Retry-After: 1\r\nContent-Length: 64\r\n\r\n" +
    "Too many connections, each busy with a request: retry in a moment\n".slice(0, 64),
);

const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 ");
/** Headers larger than this are passed on before they end, for the server to refuse. */
const MAX_EARLY_BYTES = 64 * 1024;
const latin1 = new TextDecoder("latin1");

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.length >= prefix.length && prefix.every((byte, i) => bytes[i] === byte);
}

/** Starts the front (listening on return); throws as Deno.listen does. */
export function startFront(options: FrontOptions): Front {
  const { log } = options;
  const listener = Deno.listen({
    hostname: options.listen.hostname,
    port: options.listen.port,
    transport: "tcp",
  });
  const links = new Set<Link>();
  let closed = false;

  const end = (link: Link) => {
    if (link.closed) return;
    link.closed = true;
    links.delete(link);
    for (const conn of [link.client, link.backend]) {
      try {
        conn?.close();
      } catch {
        // closed already
      }
    }
  };

  /**
   * Since when a link has been stalled, if it may be replaced: still sending a request's headers,
   * or idle (the server spoke last); undefined when a whole request waits for its answer.
   */
  const stalledSince = (link: Link): number | undefined => {
    if (link.sendingSince === 0) return Math.max(link.lastClient, link.lastServer);
    return link.headersDone ? undefined : link.sendingSince;
  };

  const sweep = () => {
    const now = Date.now();
    for (const link of links) {
      const sending = link.sendingSince !== 0;
      if (sending && !link.headersDone && now - link.sendingSince > options.headerMs) {
        end(link);
      } else if (sending && link.lastClient - link.sendingSince > options.sendingMs) {
        end(link);
      } else if (!sending && now - link.lastServer > options.idleMs) {
        end(link);
      }
    }
  };
  const sweeper = setInterval(sweep, Math.min(1000, options.headerMs / 2));

  const pipe = async (from: Deno.Conn, to: Deno.Conn, seen: (bytes: Uint8Array) => void) => {
    const buffer = new Uint8Array(16 * 1024);
    try {
      for (;;) {
        const n = await from.read(buffer);
        if (n === null) break;
        const bytes = buffer.subarray(0, n);
        seen(bytes);
        for (let sent = 0; sent < n;) sent += await to.write(bytes.subarray(sent));
      }
    } catch {
      // either side went away
    }
  };

  /** What the client sent: when it began, and whether its request's headers are whole. */
  const fromClient = (link: Link, bytes: Uint8Array) => {
    const now = Date.now();
    link.lastClient = now;
    if (link.sendingSince === 0) {
      link.sendingSince = now;
      link.headersDone = false;
      link.tail = "";
    }
    if (!link.headersDone) {
      link.tail = (link.tail + latin1.decode(bytes)).slice(-(bytes.length + 3));
      if (link.tail.includes("\r\n\r\n")) link.headersDone = true;
    }
  };

  const serve = async (link: Link) => {
    const { client } = link;
    // No socket to the server until the first request's headers are whole: a connection that
    // sends nothing, or headers a byte at a time, costs one descriptor, not three.
    const early: Uint8Array[] = [];
    let size = 0;
    const buffer = new Uint8Array(16 * 1024);
    while (!link.headersDone && size < MAX_EARLY_BYTES) {
      let n: number | null;
      try {
        n = await client.read(buffer);
      } catch {
        n = null;
      }
      if (n === null || link.closed) {
        end(link);
        return;
      }
      const bytes = buffer.slice(0, n);
      fromClient(link, bytes);
      early.push(bytes);
      size += n;
    }
    try {
      link.backend = await Deno.connect({ transport: "unix", path: options.backend });
    } catch (error) {
      log(`http: cannot reach the server's socket: ${(error as Error).message}`);
      end(link);
      return;
    }
    if (link.closed) {
      link.backend.close();
      return;
    }
    const backend = link.backend;
    try {
      for (const bytes of early) {
        for (let sent = 0; sent < bytes.length;) sent += await backend.write(bytes.subarray(sent));
      }
    } catch {
      end(link);
      return;
    }
    const upstream = pipe(client, backend, (bytes) => fromClient(link, bytes)).then(() => {
      // The client is done sending (it may still read): let the server see the end.
      if (!link.closed) backend.closeWrite().catch(() => {});
    });
    const downstream = pipe(backend, client, (bytes) => {
      link.lastServer = Date.now();
      // An interim 100 Continue lets the body come: the request is still being sent.
      if (!startsWith(bytes, CONTINUE)) link.sendingSince = 0;
    });
    await downstream;
    end(link);
    await upstream;
  };

  const accept = async () => {
    let failures = 0;
    while (!closed) {
      let client: Deno.Conn;
      try {
        client = await listener.accept();
        failures = 0;
      } catch (error) {
        if (closed || error instanceof Deno.errors.BadResource) return;
        // Out of file descriptors, or a connection reset before it was taken: wait, go on.
        if (failures++ === 0) {
          log(`http: accepting a connection failed: ${(error as Error).message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 10 * failures)));
        continue;
      }
      const now = Date.now();
      if (links.size >= options.maxConnections) {
        let victim: Link | undefined;
        let since = Infinity;
        for (const link of links) {
          const stalled = stalledSince(link);
          if (stalled !== undefined && stalled < since) [victim, since] = [link, stalled];
        }
        if (victim) {
          end(victim);
        } else {
          void client.write(REFUSED).catch(() => {}).finally(() => client.close());
          continue;
        }
      }
      // Open, the connection is sending its first request's headers.
      const link: Link = {
        client,
        sendingSince: now,
        headersDone: false,
        tail: "",
        lastClient: now,
        lastServer: now,
        closed: false,
      };
      links.add(link);
      void serve(link).catch(() => end(link));
    }
  };
  void accept();

  return {
    addr: listener.addr as Deno.NetAddr,
    async close(graceMs = 0) {
      if (closed) return;
      closed = true;
      clearInterval(sweeper);
      try {
        listener.close();
      } catch {
        // closed already
      }
      for (const link of [...links]) if (!link.backend) end(link);
      const deadline = Date.now() + graceMs;
      while (links.size > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      for (const link of [...links]) end(link);
    },
  };
}

/**
 * How many connections the front may hold with `descriptors` file descriptors: each takes
 * three (the client's, and both ends of the server's socket), and 128 stay for the rest (tasks'
 * pipes and logs, the database). 256 when the limit is not known.
 */
export function connectionsFor(descriptors: number | null): number {
  if (descriptors === null || !Number.isFinite(descriptors)) return 256;
  return Math.max(8, Math.min(1024, Math.floor((descriptors - 128) / 3)));
}

/** This process's limit on open file descriptors (`ulimit -n`), or null when not known. */
export async function descriptorLimit(): Promise<number | null> {
  try {
    const output = await new Deno.Command("sh", {
      args: ["-c", "ulimit -n"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    const text = new TextDecoder().decode(output.stdout).trim();
    if (text === "unlimited") return Infinity;
    const value = Number(text);
    return output.success && Number.isInteger(value) && value > 0 ? value : null;
  } catch {
    return null;
  }
}
