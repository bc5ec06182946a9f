/**
 * The retention sweep: ended tasks (records and folders) past the retention period or their ttl
 * are removed, never a running one; so are task folders no record names (what a start that failed
 * half-way left), and the executor's leftovers of ended tasks (empty cgroups).
 *
 * @module
 */
import type { Executor } from "../executors/executor.ts";
import type { Store } from "../store.ts";
import { listTaskFolders, removeTaskFolder, taskPaths } from "./task_files.ts";

/** How often a watching engine sweeps. */
export const RETENTION_SWEEP_MS = 60_000;
/** A task folder without a record this old is a leftover of a failed start, not one starting. */
const STRAY_FOLDER_MS = 60_000;

export interface SweepOptions {
  readonly store: Store;
  readonly executor: Executor;
  /** The state directory. */
  readonly home: string;
  /** How long ended tasks are kept, in ms. */
  readonly retentionMs: number;
  /** False once the state database is lost: then no folder is taken for a stray. */
  readonly stateTrusted: () => boolean;
  /** Forgets what is kept in memory for a removed task. */
  readonly forget: (id: string) => void;
  readonly log: (message: string) => void;
  readonly now: number;
}

/** Removes what is past retention; returns how many tasks were removed. */
export function sweepExpired(options: SweepOptions): number {
  const { now, log } = options;
  const removed = options.store.deleteExpired(now - options.retentionMs, now);
  for (const id of removed) {
    options.forget(id);
    try {
      removeTaskFolder(taskPaths(options.home, id).dir);
    } catch (error) {
      log(`removing the folder of task ${id} failed: ${String(error)}`);
    }
  }
  if (removed.length) log(`removed ${removed.length} tasks past the retention period`);
  options.executor.sweep().catch((error) =>
    log(`removing empty task cgroups failed: ${String(error)}`)
  );
  if (options.stateTrusted()) removeStrayFolders(options);
  return removed.length;
}

/**
 * Removes task folders that have no record: what a start that failed half-way left (a crash
 * between the folder and the record). A folder younger than a minute may be a start under way.
 */
function removeStrayFolders({ store, home, log, now }: SweepOptions): void {
  const folders = listTaskFolders(home);
  if (folders.length === 0) return;
  const known = store.taskIds();
  for (const { id, dir, changedAt } of folders) {
    if (known.has(id)) continue;
    try {
      if (now - (changedAt() ?? now) < STRAY_FOLDER_MS) continue;
      // Looked up again: a start that was under way may have recorded it meanwhile.
      if (store.getTask(id)) continue;
      if (!removeTaskFolder(dir)) continue;
      log(`removed the folder of task ${id}: no task is recorded for it (a start that failed)`);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        log(`removing the stray folder ${dir} failed: ${String(error)}`);
      }
    }
  }
}
