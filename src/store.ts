import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { BackburnerError } from "./errors.ts";
import { deadlineFrom, type StopReason, type Task, type TaskStatus } from "./task.ts";

/** Each entry moves the schema one version forward; never edit one that has shipped. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE tasks (
     id TEXT PRIMARY KEY,
     command TEXT NOT NULL,
     cwd TEXT NOT NULL,
     status TEXT NOT NULL,
     exit_code INTEGER,
     signal TEXT,
     status_message TEXT,
     created_at INTEGER NOT NULL,
     started_at INTEGER,
     ended_at INTEGER,
     pid INTEGER,
     timeout_seconds REAL,
     deadline_at INTEGER,
     owner TEXT,
     stop_reason TEXT,
     stop_requested_at INTEGER
   );
   CREATE INDEX tasks_by_created ON tasks (created_at DESC);
   CREATE INDEX tasks_working ON tasks (status) WHERE status = 'working';
   CREATE TABLE servers (
     id TEXT PRIMARY KEY,
     pid INTEGER NOT NULL,
     start_time TEXT NOT NULL,
     started_at INTEGER NOT NULL
   );`,
  `ALTER TABLE tasks ADD COLUMN label TEXT;
   CREATE INDEX tasks_by_label ON tasks (label, created_at DESC);`,
  `ALTER TABLE tasks ADD COLUMN ttl_ms INTEGER;`,
  // Which server (or command line) started a task: a shutdown cancels only its own.
  `ALTER TABLE tasks ADD COLUMN started_by TEXT;`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** A server process that watches tasks; identified by pid plus start time against pid reuse. */
export interface ServerRecord {
  readonly id: string;
  readonly pid: number;
  readonly startTime: string;
  readonly startedAt: number;
}

export interface NewTask {
  readonly id: string;
  readonly command: string;
  readonly cwd: string;
  readonly createdAt: number;
  readonly timeoutSeconds: number | null;
  readonly owner: string;
  readonly label: string | null;
  /** How long after its creation the task may be removed once ended; null: the retention period. */
  readonly ttlMs?: number | null;
}

/** Which tasks list_tasks shows; every given field must match. */
export interface TaskFilter {
  readonly limit: number;
  readonly status?: TaskStatus;
  readonly label?: string;
  readonly cwd?: string;
  /** Only tasks older than this one in list order (newest first): a page cursor. */
  readonly before?: { readonly createdAt: number; readonly id: string };
}

/** How a task ended, written once. */
export interface TaskEnd {
  readonly status: Exclude<TaskStatus, "working">;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly statusMessage: string | null;
  readonly endedAt: number;
  /**
   * The command ended by itself although a stop was asked for: the stop request is withdrawn, so
   * the task reads as never stopped.
   */
  readonly natural?: boolean;
}

type Row = Record<string, SQLInputValue>;

function toTask(row: Row): Task {
  return {
    id: row.id as string,
    command: row.command as string,
    cwd: row.cwd as string,
    status: row.status as TaskStatus,
    exitCode: row.exit_code as number | null,
    signal: row.signal as string | null,
    statusMessage: row.status_message as string | null,
    createdAt: row.created_at as number,
    startedAt: row.started_at as number | null,
    endedAt: row.ended_at as number | null,
    pid: row.pid as number | null,
    timeoutSeconds: row.timeout_seconds as number | null,
    deadlineAt: row.deadline_at as number | null,
    owner: row.owner as string | null,
    stopReason: row.stop_reason as StopReason | null,
    stopRequestedAt: row.stop_requested_at as number | null,
    label: row.label as string | null,
    ttlMs: row.ttl_ms as number | null,
    startedBy: row.started_by as string | null,
  };
}

/**
 * The SQLite state shared by every server on one state directory. Each write is one statement
 * or one short BEGIN IMMEDIATE transaction, so concurrent servers never see "database is locked".
 */
export class Store {
  #db: DatabaseSync;
  /** The database file. */
  readonly path: string;

  constructor(path: string) {
    this.path = path;
    // The busy timeout makes a writer wait for another process's write instead of failing.
    this.#db = new DatabaseSync(path, { timeout: 10_000 });
    this.#db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
    this.#migrate();
  }

  #migrate(): void {
    this.#transaction(() => {
      const { user_version: version } = this.#db.prepare("PRAGMA user_version").get() as {
        user_version: number;
      };
      if (version > MIGRATIONS.length) {
        throw new BackburnerError(
          "storage_failure",
          `The state database has schema version ${version}, newer than this backburner knows (${MIGRATIONS.length}): upgrade backburner`,
        );
      }
      for (let v = version; v < MIGRATIONS.length; v++) this.#db.exec(MIGRATIONS[v]);
      this.#db.exec(`PRAGMA user_version = ${MIGRATIONS.length}`);
    });
  }

  #transaction<T>(body: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = body();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  insertTask(task: NewTask): void {
    this.#db.prepare(
      `INSERT INTO tasks
         (id, command, cwd, status, created_at, timeout_seconds, deadline_at, owner, label, ttl_ms,
          started_by)
       VALUES (?, ?, ?, 'working', ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      task.id,
      task.command,
      task.cwd,
      task.createdAt,
      task.timeoutSeconds,
      // Until it has started, a task's deadline counts from its creation.
      deadlineFrom(task.createdAt, task.timeoutSeconds),
      task.owner,
      task.label,
      task.ttlMs ?? null,
      task.owner,
    );
  }

  deleteTask(id: string): void {
    this.#db.prepare("DELETE FROM tasks WHERE id = ?").run(id);
  }

  /** Records the spawned process and its deadline, which counts from the real start (deadlineFrom). */
  markStarted(id: string, pid: number, startedAt: number, deadlineAt: number | null): void {
    this.#db.prepare("UPDATE tasks SET pid = ?, started_at = ?, deadline_at = ? WHERE id = ?")
      .run(pid, startedAt, deadlineAt, id);
  }

  getTask(id: string): Task | undefined {
    const row = this.#db.prepare("SELECT * FROM tasks WHERE id = ?").get(id) as Row | undefined;
    return row && toTask(row);
  }

  /** The newest tasks that match, and how many match in all. */
  listTasks(filter: TaskFilter): { tasks: Task[]; total: number } {
    const conditions: string[] = [];
    const values: SQLInputValue[] = [];
    for (
      const [column, value] of [
        ["status", filter.status],
        ["label", filter.label],
        ["cwd", filter.cwd],
      ] as const
    ) {
      if (value === undefined) continue;
      conditions.push(`${column} = ?`);
      values.push(value);
    }
    const where = conditions.length ? `WHERE ${conditions.join(" AND ")}` : "";
    const countValues = [...values];
    if (filter.before) {
      conditions.push("(created_at < ? OR (created_at = ? AND id < ?))");
      values.push(filter.before.createdAt, filter.before.createdAt, filter.before.id);
    }
    const page = conditions.length ? `WHERE ${conditions.join(" AND ")}` : "";
    // One read transaction: the count and the page come from the same snapshot, so a task that
    // starts or ends in between cannot make the total smaller than the page.
    this.#db.exec("BEGIN");
    try {
      const { n } = this.#db.prepare(`SELECT count(*) AS n FROM tasks ${where}`).get(
        ...countValues,
      ) as { n: number };
      const rows = this.#db.prepare(
        `SELECT * FROM tasks ${page} ORDER BY created_at DESC, id DESC LIMIT ?`,
      ).all(...values, filter.limit) as Row[];
      return { tasks: rows.map(toTask), total: n };
    } finally {
      this.#db.exec("COMMIT");
    }
  }

  /**
   * Removes ended tasks that ended before `cutoff` or whose ttl (from creation) has passed at
   * `now`; returns their ids. Never a working task.
   */
  deleteExpired(cutoff: number, now: number): string[] {
    const condition = `status != 'working' AND
      (ended_at < ? OR (ttl_ms IS NOT NULL AND created_at + ttl_ms < ?))`;
    return this.#transaction(() => {
      const rows = this.#db.prepare(`SELECT id FROM tasks WHERE ${condition}`).all(
        cutoff,
        now,
      ) as { id: string }[];
      this.#db.prepare(`DELETE FROM tasks WHERE ${condition}`).run(cutoff, now);
      return rows.map((row) => row.id);
    });
  }

  /** The ids of every task on record. */
  taskIds(): Set<string> {
    const rows = this.#db.prepare("SELECT id FROM tasks").all() as { id: string }[];
    return new Set(rows.map((row) => row.id));
  }

  countTasks(): number {
    const row = this.#db.prepare("SELECT count(*) AS n FROM tasks").get() as { n: number };
    return row.n;
  }

  /** The few columns that say who watches each working task: cheap enough to read twice a second. */
  workingSummary(): { id: string; owner: string | null; stopReason: string | null }[] {
    const rows = this.#db.prepare(
      "SELECT id, owner, stop_reason FROM tasks WHERE status = 'working'",
    ).all() as { id: string; owner: string | null; stop_reason: string | null }[];
    return rows.map((row) => ({ id: row.id, owner: row.owner, stopReason: row.stop_reason }));
  }

  workingTasks(): Task[] {
    const rows = this.#db.prepare("SELECT * FROM tasks WHERE status = 'working'").all() as Row[];
    return rows.map(toTask);
  }

  /**
   * Ends a task that ran to its own exit. Refuses (returns false) when it already ended or a stop
   * was asked for: then the stopper records the end, so every end is written exactly once.
   */
  finishExited(id: string, end: TaskEnd): boolean {
    return this.#end(id, end, "AND stop_reason IS NULL");
  }

  /** Ends a task whatever was asked; false when it had already ended. */
  finish(id: string, end: TaskEnd): boolean {
    return this.#end(id, end, "");
  }

  #end(id: string, end: TaskEnd, condition: string): boolean {
    const result = this.#db.prepare(
      `UPDATE tasks SET status = ?, exit_code = ?, signal = ?, status_message = ?, ended_at = ?${
        end.natural ? ", stop_reason = NULL, stop_requested_at = NULL" : ""
      }
       WHERE id = ? AND status = 'working' ${condition}`,
    ).run(end.status, end.exitCode, end.signal, end.statusMessage, end.endedAt, id);
    return result.changes === 1;
  }

  /** Asks for a stop; the first reason wins. Returns the task as it is afterwards. */
  requestStop(id: string, reason: StopReason, at: number): Task | undefined {
    this.#db.prepare(
      `UPDATE tasks SET stop_reason = ?, stop_requested_at = ?
       WHERE id = ? AND status = 'working' AND stop_reason IS NULL`,
    ).run(reason, at, id);
    return this.getTask(id);
  }

  /** Moves a task to a new owner only if nobody claimed it since `from` was read. */
  claim(id: string, from: string | null, to: string): boolean {
    const result = this.#db.prepare(
      "UPDATE tasks SET owner = ? WHERE id = ? AND status = 'working' AND owner IS ?",
    ).run(to, id, from);
    return result.changes === 1;
  }

  registerServer(server: ServerRecord): void {
    this.#db.prepare(
      "INSERT OR REPLACE INTO servers (id, pid, start_time, started_at) VALUES (?, ?, ?, ?)",
    ).run(server.id, server.pid, server.startTime, server.startedAt);
  }

  unregisterServer(id: string): void {
    this.#db.prepare("DELETE FROM servers WHERE id = ?").run(id);
  }

  listServers(): ServerRecord[] {
    const rows = this.#db.prepare("SELECT * FROM servers").all() as Row[];
    return rows.map((row) => ({
      id: row.id as string,
      pid: row.pid as number,
      startTime: row.start_time as string,
      startedAt: row.started_at as number,
    }));
  }

  integrityCheck(): string {
    const row = this.#db.prepare("PRAGMA integrity_check").get() as { integrity_check: string };
    return row.integrity_check;
  }
}
