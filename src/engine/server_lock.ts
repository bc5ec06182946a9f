/**
 * A server's liveness, as a lock it holds for as long as it lives: `<home>/servers/<id>.lock`,
 * locked exclusively (flock) at registration. The kernel lets go of the lock the moment the
 * process ends, however it ends (kill -9 included), so another server learns that one died with a
 * non-blocking try of the lock: a few system calls, with no process scan and no pid reuse to tell
 * apart. Servers of older versions hold no lock file; their liveness comes from the process scan.
 *
 * @module
 */
import { join } from "node:path";

/** The folder of the servers' lock files. */
export function serversDir(home: string): string {
  return join(home, "servers");
}

function lockPath(home: string, serverId: string): string {
  return join(serversDir(home), `${serverId}.lock`);
}

/** The lock a live server holds; release() lets go of it and removes its file. */
export interface ServerLock {
  release(): void;
}

/** Takes this server's lock. Throws when the file cannot be made or locked. */
export function holdServerLock(home: string, serverId: string): ServerLock {
  Deno.mkdirSync(serversDir(home), { recursive: true, mode: 0o700 });
  const path = lockPath(home, serverId);
  const file = Deno.openSync(path, { read: true, write: true, create: true, mode: 0o600 });
  try {
    file.lockSync(true);
  } catch (error) {
    file.close();
    throw error;
  }
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      // Removed first: a look between the two finds no file (an unknown liveness), never a free
      // lock of a server that is still shutting down.
      removeQuietly(path);
      file.close();
    },
  };
}

/**
 * "alive" while the server holds its lock, "dead" once it no longer does (the file stays behind a
 * killed server), "unknown" when it has no lock file (an older version, or one that already
 * removed it on its way out).
 */
export function serverLiveness(home: string, serverId: string): "alive" | "dead" | "unknown" {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(lockPath(home, serverId), { read: true, write: true });
  } catch {
    return "unknown";
  }
  try {
    if (!file.tryLockSync(true)) return "alive";
    file.unlockSync();
    return "dead";
  } catch {
    return "unknown";
  } finally {
    file.close();
  }
}

/** Removes the lock file a dead server left behind. */
export function removeServerLock(home: string, serverId: string): void {
  removeQuietly(lockPath(home, serverId));
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // Already gone.
  }
}
