/**
 * Every process and directory a benchmark or soak run makes, so that all of it is torn down
 * whatever happens. Each process it starts carries BACKBURNER_BENCH_RUN=<run id> in its
 * environment, and so does everything they start (backburner tasks inherit their server's
 * environment, the peer's shells inherit the peer's): one /proc scan for that entry finds and
 * kills whatever is left, even a task that called setsid.
 */

import { cleanup, type ServerHandle, startServer } from "../tests/helpers.ts";
import { type HttpServer, startHttpServer } from "../tests/http/harness.ts";
import { exists, killAllWith, killPid, type McpProcess } from "./common.ts";
import { startPeer } from "./peer.ts";

export const RUN_VARIABLE = "BACKBURNER_BENCH_RUN";

export class Lab {
  readonly runId = crypto.randomUUID();
  readonly #servers = new Set<ServerHandle>();
  readonly #peers = new Set<McpProcess>();
  readonly #http = new Set<HttpServer>();
  readonly #dirs = new Set<string>();
  #tornDown: Promise<TeardownReport> | undefined;

  /** The environment entry every process of this run carries. */
  get marker(): string {
    return `${RUN_VARIABLE}=${this.runId}`;
  }

  get env(): Record<string, string> {
    return { [RUN_VARIABLE]: this.runId };
  }

  /** A new temporary directory, removed at teardown (or earlier with remove()). */
  async dir(prefix = "backburner-bench-"): Promise<string> {
    const dir = await Deno.makeTempDir({ prefix });
    this.#dirs.add(dir);
    return dir;
  }

  /** Stops every task process under a state directory and removes it. */
  async remove(dir: string): Promise<void> {
    this.#dirs.delete(dir);
    await cleanup(dir);
  }

  /**
   * Starts backburner (main.ts, as tests/helpers.ts does) on a state directory; `entry` runs
   * another script instead (a diagnostic wrapper of main.ts, say).
   */
  async boot(
    home: string,
    env: Record<string, string> = {},
    entry?: string,
  ): Promise<ServerHandle> {
    const server = await startServer(home, { env: { ...this.env, ...env }, entry });
    this.#servers.add(server);
    return server;
  }

  /** Closes a server's connection and waits for it to exit; SIGKILL if it will not. */
  async stop(server: ServerHandle): Promise<void> {
    this.#servers.delete(server);
    try {
      await server.close();
    } catch {
      killPid(server.pid);
    }
  }

  /** Forgets a server that was killed on purpose (its transport is closed already). */
  forget(server: ServerHandle): void {
    this.#servers.delete(server);
    void server.client.close().catch(() => {});
  }

  /**
   * Starts backburner over HTTP (main.ts serve --http 127.0.0.1:0, as tests/http/harness.ts
   * does) on a state directory; resolves once it listens, with its URL and token.
   */
  async bootHttp(home: string, args: readonly string[] = []): Promise<HttpServer> {
    const server = await startHttpServer(home, { args, env: this.env });
    this.#http.add(server);
    return server;
  }

  /** SIGTERM to an HTTP server, and waits for it to exit; SIGKILL if it will not. */
  async stopHttp(server: HttpServer): Promise<void> {
    this.#http.delete(server);
    const exited = server.stop();
    const late = setTimeout(() => killPid(server.pid), 10_000);
    try {
      await exited;
    } finally {
      clearTimeout(late);
    }
  }

  async startPeer(entry: string, home: string, env: Record<string, string> = {}) {
    const peer = await startPeer(entry, home, { ...this.env, ...env });
    this.#peers.add(peer);
    return peer;
  }

  async stopPeer(peer: McpProcess): Promise<void> {
    this.#peers.delete(peer);
    await peer.close();
  }

  /** Stops everything of this run; safe to call more than once and from a signal handler. */
  teardown(): Promise<TeardownReport> {
    this.#tornDown ??= (async () => {
      for (const server of [...this.#servers]) await this.stop(server).catch(() => {});
      for (const server of [...this.#http]) await this.stopHttp(server).catch(() => {});
      for (const peer of [...this.#peers]) await this.stopPeer(peer).catch(() => {});
      const killed = await killAllWith(this.marker);
      const dirs = [...this.#dirs];
      for (const dir of dirs) await this.remove(dir).catch(() => {});
      // Anything that came back to life meanwhile (a task forking as it was killed).
      const late = await killAllWith(this.marker);
      return {
        killed: killed.length + late.length,
        leftovers: [...killed, ...late],
        dirsLeft: dirs.filter(exists).length,
        dirsMade: dirs.length,
      };
    })();
    return this.#tornDown;
  }
}

export interface TeardownReport {
  /** Processes of this run still alive after every server and peer was closed, killed then. */
  readonly killed: number;
  /** Those processes, each as "pid command line". */
  readonly leftovers: readonly string[];
  readonly dirsLeft: number;
  readonly dirsMade: number;
}
