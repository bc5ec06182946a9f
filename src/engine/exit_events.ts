/**
 * Exit events: when a task's command has ended and its exit record is in place, the wrapper
 * touches `<home>/events/<task id>`. One watch on that folder (inotify, kqueue or FSEvents through
 * Deno.watchFs) tells every server sharing the state directory at once, so a task whose owner died
 * is seen ended within milliseconds, without reading every working task on a timer. The file is
 * a signal only: the exit record in the task's folder stays the truth, and a server that misses
 * an event (none watching, or a wrapper of an older version) still finds the record on its
 * safety sweep.
 *
 * @module
 */
import { basename, join } from "node:path";
import { isTaskId } from "../task.ts";

/** The folder the wrappers announce exits in. */
export function eventsDir(home: string): string {
  return join(home, "events");
}

/** The file a task's wrapper touches once its exit record is written. */
export function exitEventPath(home: string, taskId: string): string {
  return join(eventsDir(home), taskId);
}

/** Removes a task's exit event, once its end is recorded (or it is not running). */
export function removeExitEvent(home: string, taskId: string): void {
  try {
    Deno.removeSync(exitEventPath(home, taskId));
  } catch {
    // None, or already removed by another server.
  }
}

/** The task ids with an exit event waiting. */
export function pendingExitEvents(home: string): string[] {
  const ids: string[] = [];
  try {
    for (const entry of Deno.readDirSync(eventsDir(home))) {
      if (entry.isFile && isTaskId(entry.name)) ids.push(entry.name);
    }
  } catch {
    // No folder yet.
  }
  return ids;
}

/** A watch on the events folder; close() ends it. */
export interface ExitEventWatch {
  close(): void;
  /** Settles once the watch has ended (closed, or failed: then `failure` says why). */
  readonly done: Promise<void>;
  readonly failure: () => string | null;
}

/**
 * Watches the events folder (made if missing) and calls `onExit` with the task ids of each batch
 * of new events. Throws when the platform cannot watch it (then the caller polls instead).
 */
export function watchExitEvents(
  home: string,
  onExit: (ids: string[]) => void,
): ExitEventWatch {
  const dir = eventsDir(home);
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const watcher = Deno.watchFs(dir, { recursive: false });
  let failure: string | null = null;
  let closed = false;
  const done = (async () => {
    try {
      for await (const event of watcher) {
        if (event.kind !== "create" && event.kind !== "modify" && event.kind !== "any") continue;
        const ids = event.paths.map((path) => basename(path)).filter(isTaskId);
        if (ids.length > 0) onExit(ids);
      }
    } catch (error) {
      if (!closed) failure = error instanceof Error ? error.message : String(error);
    }
  })();
  return {
    close() {
      if (closed) return;
      closed = true;
      try {
        watcher.close();
      } catch {
        // Already ended.
      }
    },
    done,
    failure: () => failure,
  };
}
