/**
 * Which servers sharing the state directory are alive: by their locks (server_lock.ts), exact and
 * cheap; a server without one (an older version) by a process scan, trusted for a short while. A
 * server found dead is unregistered and its lock file removed, so that its tasks are adopted.
 *
 * @module
 */
import type { ExecutorSnapshot } from "../executors/executor.ts";
import type { Store } from "../store.ts";
import { removeServerLock, serverLiveness } from "./server_lock.ts";

/** How long a process scan's verdict on lockless servers' liveness is trusted. */
const OWNER_CHECK_MS = 2000;

export interface LiveServersOptions {
  readonly store: Store;
  /** The state directory. */
  readonly home: string;
  /** This server: alive by definition. */
  readonly serverId: string;
}

/** Tells the registered servers alive or dead. */
export class LiveServers {
  readonly #options: LiveServersOptions;
  /** The last process scan that told servers without a lock alive or dead. */
  #scan: { at: number; table: ExecutorSnapshot } | undefined;

  constructor(options: LiveServersOptions) {
    this.#options = options;
  }

  /** The ids of the live servers; `snapshot` is taken only when a lockless server needs it. */
  async live(snapshot: () => Promise<ExecutorSnapshot>): Promise<Set<string>> {
    const { store, home, serverId } = this.#options;
    const live = new Set<string>([serverId]);
    let table: ExecutorSnapshot | undefined;
    const scanned = async () => {
      const cached = this.#scan;
      if (cached && Date.now() - cached.at < OWNER_CHECK_MS) return cached.table;
      table ??= await snapshot();
      this.#scan = { at: Date.now(), table };
      return table;
    };
    for (const server of store.listServers()) {
      if (server.id === serverId) continue;
      const liveness = serverLiveness(home, server.id);
      if (
        liveness === "alive" ||
        (liveness === "unknown" && (await scanned()).isAlive(server.pid, server.startTime))
      ) {
        live.add(server.id);
      } else {
        store.unregisterServer(server.id);
        removeServerLock(home, server.id);
      }
    }
    return live;
  }
}
