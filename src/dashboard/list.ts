/**
 * The dashboard's task list: one page of tasks (newest first, keyset-paged so page 1,000 of
 * 100,000 tasks costs what page 1 does), filtered by status, label, queue and text, each row with
 * what a person glances at. Pages with the same filter share one channel: it reads the page again
 * only when the store changed or the output of a working task on it grew, and sends the result to
 * all of them.
 *
 * @module
 */

import type { Engine } from "../engine/engine.ts";
import { BackburnerError } from "../errors.ts";
import { type Task, TASK_STATUSES, type TaskStatus } from "../task.ts";
import { viewTask } from "../views.ts";
import type { EventStream } from "./sse.ts";
import type { StoreTicker } from "./ticker.ts";

/** Rows on a page unless the page asks otherwise. */
export const PAGE_ROWS = 50;
/** Matching tasks counted at most: beyond it the page says "10,000+". */
const MAX_TOTAL = 10_000;

export interface ListFilter {
  readonly status?: TaskStatus;
  readonly label?: string;
  readonly queue?: string;
  readonly text?: string;
  /** Tasks older than this one ("created_at:id" of the last row of the previous page). */
  readonly before?: { readonly createdAt: number; readonly id: string };
  readonly limit: number;
}

/** One row of the list. Times are ms since the epoch; the page ticks durations from them. */
export interface TaskRow {
  readonly id: string;
  readonly status: TaskStatus;
  readonly label: string | null;
  readonly command: string;
  readonly queue: string;
  readonly created_at: number;
  readonly started_at: number | null;
  readonly ended_at: number | null;
  readonly exit_code: number | null;
  readonly message: string;
  readonly attempt: number;
  readonly attempts: number;
  readonly progress:
    | { percent?: number; current?: number; total?: number; message?: string }
    | null;
  /** While working: seconds since the output last grew, when it was measured (`now`). */
  readonly seconds_since_output: number | null;
  readonly waiting_for_input: boolean;
}

export interface ListPage {
  readonly rows: TaskRow[];
  /** Matching tasks in all (at most MAX_TOTAL counted). */
  readonly total: number;
  readonly total_capped: boolean;
  /** The cursor of the next (older) page, or null on the last. */
  readonly next: string | null;
  /** The server's clock when the page was read, so the page's ticking agrees with it. */
  readonly now: number;
}

function invalid(message: string): BackburnerError {
  return new BackburnerError("invalid_argument", message);
}

/** The filter of a list request's query; throws an invalid_argument sentence. */
export function parseFilter(params: URLSearchParams): ListFilter {
  const text = (name: string, max: number): string | undefined => {
    const value = params.get(name)?.trim();
    if (value === undefined || value === "") return undefined;
    if (value.length > max) throw invalid(`${name} is too long: at most ${max} characters`);
    return value;
  };
  const status = text("status", 20);
  if (status !== undefined && !(TASK_STATUSES as readonly string[]).includes(status)) {
    throw invalid(`Unknown status "${status}": pass one of ${TASK_STATUSES.join(", ")}`);
  }
  const limitText = params.get("limit");
  const limit = limitText === null ? PAGE_ROWS : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) {
    throw invalid("limit is out of range: pass a whole number from 1 to 200");
  }
  const cursor = text("before", 100);
  let before: ListFilter["before"];
  if (cursor !== undefined) {
    const match = /^(\d{1,16}):([a-z0-9]{1,64})$/.exec(cursor);
    if (!match) throw invalid("before is not a page cursor: use the next link of a page");
    before = { createdAt: Number(match[1]), id: match[2] };
  }
  return {
    status: status as TaskStatus | undefined,
    label: text("label", 200),
    queue: text("queue", 200),
    text: text("q", 200),
    before,
    limit,
  };
}

/** Reads one page now. */
export async function readPage(engine: Engine, filter: ListFilter): Promise<ListPage> {
  const { tasks, total } = engine.list({
    limit: filter.limit,
    status: filter.status,
    label: filter.label,
    queue: filter.queue,
    text: filter.text,
    before: filter.before,
    maxTotal: MAX_TOTAL,
  });
  const now = Date.now();
  const rows = await Promise.all(tasks.map((task) => rowOf(engine, task, now)));
  const last = tasks.at(-1);
  return {
    rows,
    total,
    total_capped: total >= MAX_TOTAL,
    next: last !== undefined && tasks.length === filter.limit
      ? `${last.createdAt}:${last.id}`
      : null,
    now,
  };
}

async function rowOf(engine: Engine, task: Task, now: number): Promise<TaskRow> {
  const view = viewTask(task, 0, now);
  let output = null;
  // Only a working task's output changes: an ended one's progress is history, a queued one has
  // none. Reading it costs the bytes the output gained since the last look (ProgressTracker).
  if (task.status === "working") {
    try {
      output = (await engine.inspect(task.id)).output;
    } catch {
      // removed meanwhile
    }
  }
  const progress = output?.progress ?? null;
  return {
    id: task.id,
    status: task.status,
    label: task.label,
    command: task.command.length > 500 ? `${task.command.slice(0, 500)}…` : task.command,
    queue: task.queue,
    created_at: task.createdAt,
    started_at: task.startedAt,
    ended_at: task.endedAt,
    exit_code: task.exitCode,
    message: view.status_message,
    attempt: task.attempt,
    attempts: task.retries + 1,
    progress: progress && {
      percent: progress.percent,
      current: progress.current,
      total: progress.total,
      message: progress.message,
    },
    seconds_since_output: output?.secondsSinceOutput ?? null,
    waiting_for_input: output?.waitingForInput ?? false,
  };
}

/** The pages open on one filter, and what they were last sent. */
interface Channel {
  readonly filter: ListFilter;
  readonly pages: Set<EventStream>;
  /** Output sizes of the working tasks on the page when last read. */
  sizes: Map<string, number>;
  last: string | null;
  stop: () => void;
}

/** Live pages of the list, one channel per distinct filter. */
export class ListChannels {
  readonly #engine: Engine;
  readonly #ticker: StoreTicker;
  readonly #channels = new Map<string, Channel>();

  constructor(engine: Engine, ticker: StoreTicker) {
    this.#engine = engine;
    this.#ticker = ticker;
  }

  /** Sends `page` the list now and on every change until it goes. */
  async add(filter: ListFilter, page: EventStream): Promise<void> {
    const key = JSON.stringify(filter);
    let channel = this.#channels.get(key);
    if (channel === undefined) {
      const created: Channel = {
        filter,
        pages: new Set(),
        sizes: new Map(),
        last: null,
        stop: () => {},
      };
      created.stop = this.#ticker.listen((changed) => this.#tick(created, changed));
      this.#channels.set(key, created);
      channel = created;
    }
    channel.pages.add(page);
    const current = await this.#read(channel);
    page.send("tasks", current);
  }

  /** The page is gone. */
  remove(filter: ListFilter, page: EventStream): void {
    const key = JSON.stringify(filter);
    const channel = this.#channels.get(key);
    if (channel === undefined) return;
    channel.pages.delete(page);
    if (channel.pages.size === 0) {
      channel.stop();
      this.#channels.delete(key);
    }
  }

  async #read(channel: Channel): Promise<ListPage> {
    const page = await readPage(this.#engine, channel.filter);
    channel.sizes = new Map(
      page.rows.filter((row) => row.status === "working").map((row) => [
        row.id,
        this.#engine.outputBytes(row.id),
      ]),
    );
    return page;
  }

  async #tick(channel: Channel, storeChanged: boolean): Promise<void> {
    // One stat per working task on the page, shared by every page of this filter.
    const grew = !storeChanged &&
      [...channel.sizes].some(([id, size]) => this.#engine.outputBytes(id) !== size);
    if (!storeChanged && !grew) return;
    const page = await this.#read(channel);
    const json = JSON.stringify(page.rows) + page.total;
    if (json === channel.last && !grew) return;
    channel.last = json;
    for (const open of channel.pages) open.send("tasks", page);
  }

  /** Every live page, for tests and the close. */
  get pages(): number {
    let count = 0;
    for (const channel of this.#channels.values()) count += channel.pages.size;
    return count;
  }
}
