import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { BackburnerError } from "./errors.ts";
import type { SlurmResources } from "./executors/slurm/resources.ts";
import type { ExecutorName, StopReason, Task, TaskStatus } from "./task.ts";

/**
 * How many tasks each status has, kept exact by triggers (issue 16): list_tasks' total without a
 * count(*) over every row. Triggers, not the Store's code, keep it: every writer — another
 * server, an older backburner still running on this database, the CLI's prune, a hand-made
 * DELETE — moves the counts in the same transaction as the rows, so a read transaction sees both
 * from one snapshot. The migration fills it from the rows already stored. Self-contained: it may
 * move to any place in MIGRATIONS.
 */
const TASK_COUNTS =
  `CREATE TABLE task_counts (status TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
   INSERT INTO task_counts (status, n) SELECT status, count(*) FROM tasks GROUP BY status;
   CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks BEGIN
     INSERT INTO task_counts (status, n) VALUES (NEW.status, 1)
       ON CONFLICT (status) DO UPDATE SET n = n + 1;
   END;
   CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks BEGIN
     UPDATE task_counts SET n = n - 1 WHERE status = OLD.status;
   END;
   CREATE TRIGGER task_counts_update AFTER UPDATE OF status ON tasks
   WHEN OLD.status IS NOT NEW.status BEGIN
     UPDATE task_counts SET n = n - 1 WHERE status = OLD.status;
     INSERT INTO task_counts (status, n) VALUES (NEW.status, 1)
       ON CONFLICT (status) DO UPDATE SET n = n + 1;
   END;
   CREATE INDEX tasks_by_cwd ON tasks (cwd, created_at DESC);`;

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
  // Queues, dependencies, retries, restarts and idempotent starts (issue 13). A queued task keeps
  // its extra environment here until it runs: the database is 0600 in a 0700 directory.
  `ALTER TABLE tasks ADD COLUMN queue TEXT NOT NULL DEFAULT 'default';
   ALTER TABLE tasks ADD COLUMN after_ids TEXT;
   ALTER TABLE tasks ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE tasks ADD COLUMN retry_delay_ms INTEGER;
   ALTER TABLE tasks ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
   ALTER TABLE tasks ADD COLUMN not_before INTEGER;
   ALTER TABLE tasks ADD COLUMN idempotency_key TEXT;
   ALTER TABLE tasks ADD COLUMN restart_of TEXT;
   ALTER TABLE tasks ADD COLUMN env_json TEXT;
   CREATE INDEX tasks_queued ON tasks (queue, created_at) WHERE status = 'queued';
   CREATE INDEX tasks_working_by_queue ON tasks (queue) WHERE status = 'working';
   CREATE INDEX tasks_by_key ON tasks (idempotency_key, created_at DESC)
     WHERE idempotency_key IS NOT NULL;
   CREATE TABLE queues (name TEXT PRIMARY KEY, max_working INTEGER);`,
  // Executors (issue 14): what runs a task, its Slurm job once submitted, its Slurm settings.
  `ALTER TABLE tasks ADD COLUMN executor TEXT NOT NULL DEFAULT 'local';
   ALTER TABLE tasks ADD COLUMN slurm_job_id TEXT;
   ALTER TABLE tasks ADD COLUMN slurm_json TEXT;`,
  // The dashboard's filters (issue 15): a page of one status or one queue, newest first, walks
  // an index instead of every task.
  `CREATE INDEX tasks_by_status ON tasks (status, created_at DESC);
   CREATE INDEX tasks_by_queue ON tasks (queue, created_at DESC);`,
  TASK_COUNTS,
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
  /** The server (or command line) that starts it. */
  readonly owner: string;
  readonly label: string | null;
  /** How long after its creation the task may be removed once ended; null: the retention period. */
  readonly ttlMs?: number | null;
  readonly queue: string;
  readonly after: readonly string[];
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly idempotencyKey: string | null;
  readonly restartOf: string | null;
  /** The task's extra environment, kept until (and for) its runs. */
  readonly env: Record<string, string>;
  /** What runs it. Default "local". */
  readonly executor?: ExecutorName;
  /** Its validated Slurm settings (slurm tasks only). */
  readonly slurm?: SlurmResources | null;
}

/** What a queued task's dispatch is decided from; read in the claiming transaction. */
export interface QueueSnapshot {
  /** Every queued task, oldest first. */
  readonly queued: readonly QueuedRow[];
  /** The status of each task a queued one depends on; a task no longer recorded is absent. */
  readonly dependencies: ReadonlyMap<string, TaskStatus>;
  /** How many tasks work in each queue that has any. */
  readonly working: ReadonlyMap<string, number>;
  /** The limit of each queue that has one. */
  readonly limits: ReadonlyMap<string, number>;
}

export interface QueuedRow {
  readonly id: string;
  readonly queue: string;
  readonly after: readonly string[];
  readonly notBefore: number | null;
  readonly createdAt: number;
}

/** What one dispatch does: tasks to claim (they start here), tasks to fail without running. */
export interface DispatchPlan {
  readonly start: readonly string[];
  readonly fail: readonly { readonly id: string; readonly message: string }[];
}

/** A queue's limit and what is in it. */
export interface QueueCounts {
  readonly name: string;
  readonly limit: number | null;
  readonly working: number;
  readonly queued: number;
}

/** Where a task with an idempotency key stands; what the start does is its caller's decision. */
export type KeyDecision = { readonly kind: "insert" } | { readonly kind: "existing"; task: Task };

/** Which tasks list_tasks shows; every given field must match. */
export interface TaskFilter {
  readonly limit: number;
  readonly status?: TaskStatus;
  readonly label?: string;
  readonly cwd?: string;
  readonly queue?: string;
  /** Only tasks whose command, label or id contains this text (case-insensitive for ASCII). */
  readonly text?: string;
  /** Counts at most this many matching tasks (total is then a lower bound). Default: all. */
  readonly maxTotal?: number;
  /** Only tasks older than this one in list order (newest first): a page cursor. */
  readonly before?: { readonly createdAt: number; readonly id: string };
}

/** How a task ended, written once. */
export interface TaskEnd {
  readonly status: Exclude<TaskStatus, "queued" | "working">;
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
    queue: row.queue as string,
    after: parseIds(row.after_ids as string | null),
    attempt: row.attempt as number,
    retries: row.retries as number,
    retryDelayMs: (row.retry_delay_ms as number | null) ?? 1000,
    notBefore: row.not_before as number | null,
    idempotencyKey: row.idempotency_key as string | null,
    restartOf: row.restart_of as string | null,
    executor: ((row.executor as string | null) ?? "local") as ExecutorName,
    slurmJobId: row.slurm_job_id as string | null,
    slurm: parseSlurm(row.slurm_json as string | null),
  };
}

function parseSlurm(json: string | null): SlurmResources | null {
  if (json === null) return null;
  try {
    return JSON.parse(json) as SlurmResources;
  } catch {
    return null;
  }
}

function parseIds(json: string | null): string[] {
  if (json === null) return [];
  try {
    const ids = JSON.parse(json);
    return Array.isArray(ids) ? ids.filter((id) => typeof id === "string") : [];
  } catch {
    return [];
  }
}

/** Most prepared statements a store keeps. */
const MAX_STATEMENTS = 256;

/**
 * The SQLite state shared by every server on one state directory. Each write is one statement
 * or one short BEGIN IMMEDIATE transaction, so concurrent servers never see "database is locked".
 */
export class Store {
  #db: DatabaseSync;
  /**
   * Prepared statements by their SQL, kept for the store's life: preparing one per call costs a
   * parse each time, and the native memory of each statement stays until V8 happens to collect
   * its small wrapper, which an idle or busy server may not do for a long time (1.3 KB each:
   * 150 MiB over 120,000 calls, measured).
   */
  readonly #statements = new Map<string, StatementSync>();
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
      const { user_version: version } = this.#prepare("PRAGMA user_version").get() as {
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
    this.#statements.clear();
    if (this.#db.isOpen) this.#db.close();
  }

  /** The prepared statement of `sql`, made once. The SQL texts are few (a fixed set of shapes). */
  #prepare(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      // A bound on what a caller building SQL from unforeseen shapes could make it keep.
      if (this.#statements.size >= MAX_STATEMENTS) this.#statements.clear();
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /**
   * Records a new task as queued, in one transaction with the check of its idempotency key:
   * `onKey` is given the newest task holding the key and says whether to insert (or throws).
   * Dependencies must all be recorded already (else `onUnknownDependency` throws).
   */
  insertQueued(
    task: NewTask,
    checks: {
      readonly onKey: (holder: Task) => KeyDecision;
      readonly onUnknownDependency: (id: string) => never;
      readonly onCycle: (path: readonly string[]) => never;
    },
  ): KeyDecision {
    return this.#transaction(() => {
      if (task.idempotencyKey !== null) {
        const row = this.#prepare(
          `SELECT * FROM tasks WHERE idempotency_key = ? ORDER BY created_at DESC, id DESC LIMIT 1`,
        ).get(task.idempotencyKey) as Row | undefined;
        if (row) {
          const decision = checks.onKey(toTask(row));
          if (decision.kind === "existing") return decision;
        }
      }
      for (const id of task.after) {
        if (!this.#prepare("SELECT 1 FROM tasks WHERE id = ?").get(id)) {
          checks.onUnknownDependency(id);
        }
      }
      const cycle = this.#findCycle(task.id, task.after);
      if (cycle) checks.onCycle(cycle);
      this.#prepare(
        `INSERT INTO tasks
           (id, command, cwd, status, created_at, timeout_seconds, owner, label, ttl_ms,
            started_by, queue, after_ids, retries, retry_delay_ms, idempotency_key, restart_of,
            env_json, executor, slurm_json)
         VALUES (?, ?, ?, 'queued', ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        task.id,
        task.command,
        task.cwd,
        task.createdAt,
        task.timeoutSeconds,
        task.label,
        task.ttlMs ?? null,
        task.owner,
        task.queue,
        task.after.length ? JSON.stringify(task.after) : null,
        task.retries,
        task.retryDelayMs,
        task.idempotencyKey,
        task.restartOf,
        Object.keys(task.env).length ? JSON.stringify(task.env) : null,
        task.executor ?? "local",
        task.slurm ? JSON.stringify(task.slurm) : null,
      );
      return { kind: "insert" };
    });
  }

  /** A path of dependencies from `id` back to itself, or null: walks the recorded after_ids. */
  #findCycle(id: string, after: readonly string[]): string[] | null {
    const seen = new Set<string>();
    const walk = (from: string, path: string[]): string[] | null => {
      if (from === id) return [...path, from];
      if (seen.has(from)) return null;
      seen.add(from);
      const row = this.#prepare("SELECT after_ids FROM tasks WHERE id = ?").get(from) as
        | { after_ids: string | null }
        | undefined;
      for (const next of parseIds(row?.after_ids ?? null)) {
        const found = walk(next, [...path, from]);
        if (found) return found;
      }
      return null;
    };
    for (const dep of after) {
      const found = walk(dep, [id]);
      if (found) return found;
    }
    return null;
  }

  /** The extra environment a task was started with. */
  taskEnv(id: string): Record<string, string> {
    const row = this.#prepare("SELECT env_json FROM tasks WHERE id = ?").get(id) as
      | { env_json: string | null }
      | undefined;
    if (!row?.env_json) return {};
    try {
      return JSON.parse(row.env_json);
    } catch {
      return {};
    }
  }

  /** True when some task waits in a queue: a cheap look before a dispatch's transaction. */
  hasQueued(): boolean {
    return this.#prepare(
      "SELECT 1 FROM tasks WHERE status = 'queued' AND slurm_job_id IS NULL LIMIT 1",
    ).get() !== undefined;
  }

  /**
   * One dispatch, in one BEGIN IMMEDIATE transaction (SQLite's write lock serialises servers):
   * reads the queues, lets `plan` decide, claims the tasks it starts for `owner` (working, not yet
   * spawned: no pid, no started_at; the deadline counts from now) and fails those it fails.
   * Returns the claimed tasks and the ids of the failed ones.
   */
  dispatch(
    owner: string,
    now: number,
    plan: (snapshot: QueueSnapshot) => DispatchPlan,
  ): { claimed: Task[]; failed: string[] } {
    return this.#transaction(() => {
      const queued = this.#queuedRows();
      if (queued.length === 0) return { claimed: [], failed: [] };
      const dependencies = this.#dependencyStatuses(queued);
      const working = new Map<string, number>();
      for (
        const row of this.#prepare(
          `SELECT queue, count(*) AS n FROM tasks
           WHERE status = 'working' OR (status = 'queued' AND slurm_job_id IS NOT NULL)
           GROUP BY queue`,
        ).all() as { queue: string; n: number }[]
      ) working.set(row.queue, row.n);
      const limits = this.#queueLimits();
      const decided = plan({ queued, dependencies, working, limits });
      const failed: string[] = [];
      const fail = this.#prepare(
        `UPDATE tasks SET status = 'failed', status_message = ?, ended_at = ?
         WHERE id = ? AND status = 'queued'`,
      );
      for (const { id, message } of decided.fail) {
        if (fail.run(message, now, id).changes === 1) failed.push(id);
      }
      const claim = this.#prepare(
        `UPDATE tasks SET status = 'working', owner = ?,
           deadline_at = CASE WHEN timeout_seconds IS NULL THEN NULL
                         ELSE ? + CAST(timeout_seconds * 1000 AS INTEGER) END,
           not_before = NULL, status_message = NULL
         WHERE id = ? AND status = 'queued'`,
      );
      const claimed: Task[] = [];
      for (const id of decided.start) {
        if (claim.run(owner, now, id).changes === 1) claimed.push(this.getTask(id)!);
      }
      return { claimed, failed };
    });
  }

  /**
   * The queued tasks the dispatcher starts (not those handed to Slurm), oldest first; only
   * `queue`'s when one is given.
   */
  #queuedRows(queue?: string): QueuedRow[] {
    const inQueue = queue === undefined ? "" : "AND queue = ?";
    const rows = this.#prepare(
      `SELECT id, queue, after_ids, not_before, created_at FROM tasks
       WHERE status = 'queued' AND slurm_job_id IS NULL ${inQueue} ORDER BY created_at, rowid`,
    ).all(...(queue === undefined ? [] : [queue])) as Row[];
    return rows.map((row) => ({
      id: row.id as string,
      queue: row.queue as string,
      after: parseIds(row.after_ids as string | null),
      notBefore: row.not_before as number | null,
      createdAt: row.created_at as number,
    }));
  }

  /** The status of each task `rows` wait on (after); a task no longer recorded is absent. */
  #dependencyStatuses(rows: readonly QueuedRow[]): Map<string, TaskStatus> {
    const dependencies = new Map<string, TaskStatus>();
    const statusOf = this.#prepare("SELECT status FROM tasks WHERE id = ?");
    for (const row of rows) {
      for (const dep of row.after) {
        if (dependencies.has(dep)) continue;
        const found = statusOf.get(dep) as { status: TaskStatus } | undefined;
        if (found) dependencies.set(dep, found.status);
      }
    }
    return dependencies;
  }

  #queueLimits(): Map<string, number> {
    const limits = new Map<string, number>();
    for (
      const row of this.#prepare(
        "SELECT name, max_working FROM queues WHERE max_working IS NOT NULL",
      ).all() as { name: string; max_working: number }[]
    ) limits.set(row.name, row.max_working);
    return limits;
  }

  /** Sets limits only for queues that have no row yet (the environment's defaults). */
  seedQueueLimits(limits: ReadonlyMap<string, number>): void {
    this.#transaction(() => {
      const insert = this.#prepare(
        "INSERT OR IGNORE INTO queues (name, max_working) VALUES (?, ?)",
      );
      for (const [name, limit] of limits) insert.run(name, limit);
    });
  }

  /** Sets (or, with null, removes) a queue's limit, for every server. */
  setQueueLimit(name: string, limit: number | null): void {
    this.#prepare("INSERT OR REPLACE INTO queues (name, max_working) VALUES (?, ?)").run(
      name,
      limit,
    );
  }

  /** Each queue with a row, a working task or a queued one; with its limit and counts. */
  queueCounts(): QueueCounts[] {
    this.#db.exec("BEGIN");
    try {
      const byName = new Map<string, { limit: number | null; working: number; queued: number }>();
      const entry = (name: string) => {
        let found = byName.get(name);
        if (!found) byName.set(name, found = { limit: null, working: 0, queued: 0 });
        return found;
      };
      for (
        const row of this.#prepare("SELECT name, max_working FROM queues").all() as {
          name: string;
          max_working: number | null;
        }[]
      ) entry(row.name).limit = row.max_working;
      for (
        const row of this.#prepare(
          `SELECT queue, status, count(*) AS n FROM tasks
           WHERE status IN ('queued', 'working') GROUP BY queue, status`,
        ).all() as { queue: string; status: string; n: number }[]
      ) entry(row.queue)[row.status === "queued" ? "queued" : "working"] = row.n;
      return [...byName].map(([name, counts]) => ({ name, ...counts })).sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0
      );
    } finally {
      this.#db.exec("COMMIT");
    }
  }

  /** The queued tasks of one queue, oldest first, with the statuses of what they wait on. */
  queuedIn(queue: string): { rows: QueuedRow[]; dependencies: Map<string, TaskStatus> } {
    this.#db.exec("BEGIN");
    try {
      const rows = this.#queuedRows(queue);
      return { rows, dependencies: this.#dependencyStatuses(rows) };
    } finally {
      this.#db.exec("COMMIT");
    }
  }

  /**
   * Puts a claimed task that never spawned back in its queue, only if it is still working, owned
   * by `from` and without a process (the owner died between claim and spawn).
   */
  requeueUnspawned(id: string, from: string | null): boolean {
    return this.#prepare(
      `UPDATE tasks SET status = 'queued', owner = NULL, deadline_at = NULL, started_at = NULL
       WHERE id = ? AND status = 'working' AND owner IS ? AND pid IS NULL AND stop_reason IS NULL
         AND slurm_job_id IS NULL`,
    ).run(id, from).changes === 1;
  }

  /**
   * Sends a task whose attempt exited non-zero back to its queue for the next attempt, not before
   * `notBefore`; refused (false) when it already ended or a stop was asked.
   */
  scheduleRetry(id: string, attempt: number, notBefore: number): boolean {
    return this.#prepare(
      `UPDATE tasks SET status = 'queued', attempt = ?, not_before = ?, owner = NULL, pid = NULL,
         started_at = NULL, deadline_at = NULL, exit_code = NULL, signal = NULL,
         status_message = NULL
       WHERE id = ? AND status = 'working' AND stop_reason IS NULL AND attempt = ?`,
    ).run(attempt + 1, notBefore, id, attempt).changes === 1;
  }

  /** Ends a queued task as cancelled before it ever ran; false when it was not queued. */
  cancelQueued(id: string, at: number, message: string): boolean {
    return this.#prepare(
      `UPDATE tasks SET status = 'cancelled', status_message = ?, ended_at = ?,
         stop_reason = 'cancel', stop_requested_at = ?
       WHERE id = ? AND status = 'queued' AND slurm_job_id IS NULL`,
    ).run(message, at, at, id).changes === 1;
  }

  /** The queued tasks a server started (for its shutdown with cancel). */
  queuedStartedBy(server: string): string[] {
    return (this.#prepare(
      "SELECT id FROM tasks WHERE status = 'queued' AND started_by = ?",
    ).all(server) as { id: string }[]).map((row) => row.id);
  }

  deleteTask(id: string): void {
    this.#prepare("DELETE FROM tasks WHERE id = ?").run(id);
  }

  /** Removes a task only while it is still queued; false when it is not (claimed meanwhile). */
  deleteQueued(id: string): boolean {
    return this.#prepare("DELETE FROM tasks WHERE id = ? AND status = 'queued'").run(id)
      .changes === 1;
  }

  /**
   * Records the spawned process and its deadline, which counts from the real start (deadlineFrom).
   * False when the task ended meanwhile (a stop that gave up waiting for the spawn).
   */
  markStarted(id: string, pid: number, startedAt: number, deadlineAt: number | null): boolean {
    return this.#prepare(
      `UPDATE tasks SET pid = ?, started_at = ?, deadline_at = ?
       WHERE id = ? AND status = 'working'`,
    ).run(pid, startedAt, deadlineAt, id).changes === 1;
  }

  /** Records when a working task started, if nothing recorded it (its server died meanwhile). */
  recordStart(id: string, startedAt: number): void {
    this.#prepare(
      "UPDATE tasks SET started_at = ? WHERE id = ? AND status = 'working' AND started_at IS NULL",
    ).run(startedAt, id);
  }

  getTask(id: string): Task | undefined {
    const row = this.#prepare("SELECT * FROM tasks WHERE id = ?").get(id) as Row | undefined;
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
        ["queue", filter.queue],
      ] as const
    ) {
      if (value === undefined) continue;
      conditions.push(`${column} = ?`);
      values.push(value);
    }
    if (filter.text !== undefined && filter.text !== "") {
      const like = `%${filter.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      conditions.push(
        "(command LIKE ? ESCAPE '\\' OR ifnull(label, '') LIKE ? ESCAPE '\\' OR id LIKE ? ESCAPE '\\')",
      );
      values.push(like, like, like);
    }
    const where = conditions.length ? `WHERE ${conditions.join(" AND ")}` : "";
    // The total: with no filter or a status alone, from the counts the triggers keep (a few
    // rows, whatever the store holds); otherwise counted in an index (label, cwd, queue), or
    // capped at maxTotal rows (the dashboard's text search).
    const byCounts = conditions.length === 0 ||
      (conditions.length === 1 && filter.status !== undefined);
    const countSql = byCounts
      ? filter.status === undefined
        ? "SELECT coalesce(sum(n), 0) AS n FROM task_counts"
        : "SELECT coalesce(sum(n), 0) AS n FROM task_counts WHERE status = ?"
      : filter.maxTotal === undefined
      ? `SELECT count(*) AS n FROM tasks ${where}`
      : `SELECT count(*) AS n FROM (SELECT 1 FROM tasks ${where} LIMIT ${
        Math.max(1, Math.floor(filter.maxTotal))
      })`;
    const countValues = [...values];
    if (filter.before) {
      // The first term bounds an index range; the second breaks ties within one millisecond.
      conditions.push("created_at <= ? AND (created_at < ? OR id < ?)");
      values.push(filter.before.createdAt, filter.before.createdAt, filter.before.id);
    }
    const page = conditions.length ? `WHERE ${conditions.join(" AND ")}` : "";
    // One read transaction: the count and the page come from the same snapshot, so a task that
    // starts or ends in between cannot make the total smaller than the page.
    this.#db.exec("BEGIN");
    try {
      const { n } = this.#prepare(countSql).get(...countValues) as { n: number };
      const rows = this.#prepare(
        `SELECT * FROM tasks ${page} ORDER BY created_at DESC, id DESC LIMIT ?`,
      ).all(...values, filter.limit) as Row[];
      // A caller that asked for a capped count gets one, however it was counted.
      const total = filter.maxTotal === undefined ? n : Math.min(n, Math.max(1, filter.maxTotal));
      return { tasks: rows.map(toTask), total };
    } finally {
      this.#db.exec("COMMIT");
    }
  }

  /** Tasks per status as the triggers keep them (tests compare it with count(*)). */
  statusCounts(): Map<string, number> {
    const rows = this.#prepare("SELECT status, n FROM task_counts WHERE n != 0").all() as {
      status: string;
      n: number;
    }[];
    return new Map(rows.map((row) => [row.status, row.n]));
  }

  /**
   * Removes ended tasks that ended before `cutoff` or whose ttl (from creation) has passed at
   * `now`; returns their ids. Never a working task.
   */
  deleteExpired(cutoff: number, now: number): string[] {
    const condition = `status NOT IN ('queued', 'working') AND
      (ended_at < ? OR (ttl_ms IS NOT NULL AND created_at + ttl_ms < ?))`;
    return this.#transaction(() => {
      const rows = this.#prepare(`SELECT id FROM tasks WHERE ${condition}`).all(
        cutoff,
        now,
      ) as { id: string }[];
      this.#prepare(`DELETE FROM tasks WHERE ${condition}`).run(cutoff, now);
      return rows.map((row) => row.id);
    });
  }

  /** The ids of every task on record. */
  taskIds(): Set<string> {
    const rows = this.#prepare("SELECT id FROM tasks").all() as { id: string }[];
    return new Set(rows.map((row) => row.id));
  }

  countTasks(): number {
    const row = this.#prepare("SELECT count(*) AS n FROM tasks").get() as { n: number };
    return row.n;
  }

  /** The few columns that say who watches each working task: cheap enough to read twice a second. */
  workingSummary(): {
    id: string;
    owner: string | null;
    stopReason: string | null;
    executor: string;
  }[] {
    const rows = this.#prepare(
      "SELECT id, owner, stop_reason, executor FROM tasks WHERE status = 'working'",
    ).all() as {
      id: string;
      owner: string | null;
      stop_reason: string | null;
      executor: string;
    }[];
    return rows.map((row) => ({
      id: row.id,
      owner: row.owner,
      stopReason: row.stop_reason,
      executor: row.executor,
    }));
  }

  workingTasks(): Task[] {
    const rows = this.#prepare("SELECT * FROM tasks WHERE status = 'working'").all() as Row[];
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
    const result = this.#prepare(
      `UPDATE tasks SET status = ?, exit_code = ?, signal = ?, status_message = ?, ended_at = ?${
        end.natural ? ", stop_reason = NULL, stop_requested_at = NULL" : ""
      }
       WHERE id = ? AND status = 'working' ${condition}`,
    ).run(end.status, end.exitCode, end.signal, end.statusMessage, end.endedAt, id);
    return result.changes === 1;
  }

  /** Asks for a stop; the first reason wins. Returns the task as it is afterwards. */
  requestStop(id: string, reason: StopReason, at: number): Task | undefined {
    this.#prepare(
      `UPDATE tasks SET stop_reason = ?, stop_requested_at = ?
       WHERE id = ? AND status = 'working' AND stop_reason IS NULL`,
    ).run(reason, at, id);
    return this.getTask(id);
  }

  /** Moves a task to a new owner only if nobody claimed it since `from` was read. */
  claim(id: string, from: string | null, to: string): boolean {
    const result = this.#prepare(
      "UPDATE tasks SET owner = ? WHERE id = ? AND status = 'working' AND owner IS ?",
    ).run(to, id, from);
    return result.changes === 1;
  }

  /**
   * The Slurm tasks a reconcile pass looks at: claimed (working, submitted or being submitted) or
   * waiting in Slurm's queue (queued with a job id).
   */
  slurmTasks(): Task[] {
    const rows = this.#prepare(
      `SELECT * FROM tasks WHERE executor = 'slurm' AND
         (status = 'working' OR (status = 'queued' AND slurm_job_id IS NOT NULL))`,
    ).all() as Row[];
    return rows.map(toTask);
  }

  /**
   * Records the job a claimed Slurm task was submitted as: it waits in Slurm's queue now. False
   * when the task is no longer the claimed, unsubmitted one (a cancel came meanwhile).
   */
  recordSlurmJob(id: string, jobId: string, message: string): boolean {
    return this.#prepare(
      `UPDATE tasks SET slurm_job_id = ?, status = 'queued', status_message = ?
       WHERE id = ? AND status = 'working' AND slurm_job_id IS NULL AND stop_reason IS NULL`,
    ).run(jobId, message, id).changes === 1;
  }

  /**
   * Moves a submitted Slurm task between waiting in Slurm's queue and running, as Slurm says;
   * `startedAt` is kept from the first time it ran. False when nothing changed.
   */
  setSlurmState(
    id: string,
    status: "queued" | "working",
    message: string | null,
    at: number,
  ): boolean {
    return this.#prepare(
      `UPDATE tasks SET status = ?, status_message = ?,
         started_at = CASE WHEN ? = 'working' THEN COALESCE(started_at, ?) ELSE started_at END
       WHERE id = ? AND executor = 'slurm' AND slurm_job_id IS NOT NULL
         AND status IN ('queued', 'working')
         AND (status IS NOT ? OR status_message IS NOT ?)`,
    ).run(status, message, status, at, id, status, message).changes === 1;
  }

  /**
   * Ends a Slurm task, queued in Slurm's queue or working; `startedAt` is recorded when no start
   * was (it ran between two looks). False when it had already ended.
   */
  finishSlurm(id: string, end: TaskEnd, startedAt: number | null = null): boolean {
    return this.#prepare(
      `UPDATE tasks SET status = ?, exit_code = ?, signal = ?, status_message = ?, ended_at = ?,
         started_at = COALESCE(started_at, ?)
       WHERE id = ? AND executor = 'slurm' AND status IN ('queued', 'working')`,
    ).run(end.status, end.exitCode, end.signal, end.statusMessage, end.endedAt, startedAt, id)
      .changes === 1;
  }

  /**
   * Sends a Slurm task whose attempt exited non-zero back to backburner's queue for its next
   * attempt (a new job then), not before `notBefore`; false when it ended or a stop was asked.
   */
  scheduleSlurmRetry(id: string, attempt: number, notBefore: number): boolean {
    return this.#prepare(
      `UPDATE tasks SET status = 'queued', attempt = ?, not_before = ?, owner = NULL, pid = NULL,
         started_at = NULL, deadline_at = NULL, exit_code = NULL, signal = NULL,
         status_message = NULL, slurm_job_id = NULL
       WHERE id = ? AND executor = 'slurm' AND status IN ('queued', 'working')
         AND stop_reason IS NULL AND attempt = ?`,
    ).run(attempt + 1, notBefore, id, attempt).changes === 1;
  }

  /** Asks for the stop of a Slurm task (queued in Slurm or working); the first reason wins. */
  requestSlurmStop(id: string, reason: StopReason, at: number): Task | undefined {
    this.#prepare(
      `UPDATE tasks SET stop_reason = ?, stop_requested_at = ?
       WHERE id = ? AND executor = 'slurm' AND status IN ('queued', 'working')
         AND stop_reason IS NULL`,
    ).run(reason, at, id);
    return this.getTask(id);
  }

  /** Moves a Slurm task to a new owner only if nobody claimed it since `from` was read. */
  claimSlurm(id: string, from: string | null, to: string): boolean {
    return this.#prepare(
      `UPDATE tasks SET owner = ? WHERE id = ? AND executor = 'slurm'
         AND status IN ('queued', 'working') AND owner IS ?`,
    ).run(to, id, from).changes === 1;
  }

  registerServer(server: ServerRecord): void {
    this.#prepare(
      "INSERT OR REPLACE INTO servers (id, pid, start_time, started_at) VALUES (?, ?, ?, ?)",
    ).run(server.id, server.pid, server.startTime, server.startedAt);
  }

  unregisterServer(id: string): void {
    this.#prepare("DELETE FROM servers WHERE id = ?").run(id);
  }

  listServers(): ServerRecord[] {
    const rows = this.#prepare("SELECT * FROM servers").all() as Row[];
    return rows.map((row) => ({
      id: row.id as string,
      pid: row.pid as number,
      startTime: row.start_time as string,
      startedAt: row.started_at as number,
    }));
  }

  /**
   * SQLite's data_version: a number that changes whenever another connection commits (never for
   * this connection's own writes). One cheap read tells a server whether anything changed.
   */
  dataVersion(): number {
    const row = this.#prepare("PRAGMA data_version").get() as { data_version: number };
    return row.data_version;
  }

  integrityCheck(): string {
    const row = this.#prepare("PRAGMA integrity_check").get() as { integrity_check: string };
    return row.integrity_check;
  }
}
