/**
 * The dashboard's task page: what the task is (command, cwd, the names of its extra environment
 * variables — never their values —, timing, exit code, message), and its output followed live.
 * Output is read as the tools read it (src/logs): a tail to begin with, then the bytes after the
 * page's offset as they come, in bounded ranges — a 1 GiB log costs what the page shows, never
 * the whole file. A page that falls far behind skips ahead and says how much it skipped.
 *
 * @module
 */

import type { Engine } from "../engine/engine.ts";
import { readRange, readTail } from "../logs/slice.ts";
import type { Store } from "../store.ts";
import { isTerminal } from "../task.ts";
import { queueWait, type StatusView, viewStatus } from "../views.ts";
import type { EventStream } from "./sse.ts";
import type { StoreTicker } from "./ticker.ts";

/** Bytes of output sent to a page at a time. */
const CHUNK_BYTES = 256 * 1024;
/** A page further behind than this skips to the last CHUNK_BYTES. */
const SKIP_BYTES = 4 * 1024 * 1024;
/** The first tail a page shows. */
const TAIL_LINES = 2000;
const TAIL_CHARS = 400_000;

export interface TaskDetail {
  readonly task: StatusView;
  /** Names of the extra environment variables the task was started with. */
  readonly env_keys: string[];
  readonly now: number;
}

export interface OutputChunk {
  readonly text: string;
  readonly start: number;
  readonly next: number;
  /** Bytes before `start` not shown (a tail's start, or bytes skipped to catch up). */
  readonly skipped: number;
  readonly total: number;
}

/** The task page's facts now. Throws unknown_task for a task that is not (or no longer) there. */
export async function readDetail(engine: Engine, store: Store, id: string): Promise<TaskDetail> {
  const { task, outputBytes, output } = await engine.inspect(id);
  const now = Date.now();
  return {
    task: viewStatus(task, outputBytes, output, now, queueWait(engine, task)),
    env_keys: Object.keys(store.taskEnv(task.id)).sort(),
    now,
  };
}

/** The end of the output, cleaned, to start following from. */
export async function readOutputTail(engine: Engine, id: string): Promise<OutputChunk> {
  const { task } = engine.status(id);
  const slice = await readTail(engine.logPath(task.id), {
    maxChars: TAIL_CHARS,
    lines: TAIL_LINES,
    complete: isTerminal(task.status),
  });
  return {
    text: slice.text,
    start: slice.startOffset,
    next: slice.nextOffset,
    skipped: slice.omittedBefore,
    total: slice.totalBytes,
  };
}

/**
 * The cleaned output from `offset` on, at most CHUNK_BYTES. A follower (`skipAhead`) that is
 * more than SKIP_BYTES behind jumps to the last CHUNK_BYTES instead: it shows what is happening,
 * and says how much it skipped.
 */
export async function readOutputFrom(
  engine: Engine,
  id: string,
  offset: number,
  options: { complete: boolean; skipAhead: boolean },
): Promise<OutputChunk> {
  const { complete } = options;
  const path = engine.logPath(id);
  const size = engine.outputBytes(id);
  const start = options.skipAhead && size - offset > SKIP_BYTES ? size - CHUNK_BYTES : offset;
  const slice = await readRange(path, {
    offset: start,
    maxBytes: CHUNK_BYTES,
    maxChars: CHUNK_BYTES * 2,
    complete,
  });
  return {
    text: slice.text,
    start: slice.startOffset,
    next: slice.nextOffset,
    skipped: slice.startOffset - offset,
    total: slice.totalBytes,
  };
}

interface Follower {
  readonly id: string;
  readonly page: EventStream;
  offset: number;
}

interface Channel {
  readonly id: string;
  readonly followers: Set<Follower>;
  size: number;
  stop: () => void;
}

/** Live task pages, one channel per task however many pages show it. */
export class TaskChannels {
  readonly #engine: Engine;
  readonly #store: Store;
  readonly #ticker: StoreTicker;
  readonly #channels = new Map<string, Channel>();

  constructor(engine: Engine, store: Store, ticker: StoreTicker) {
    this.#engine = engine;
    this.#store = store;
    this.#ticker = ticker;
  }

  /** Follows task `id` for `page` from output offset `offset`; returns its removal. */
  async add(id: string, offset: number, page: EventStream): Promise<() => void> {
    let channel = this.#channels.get(id);
    if (channel === undefined) {
      const created: Channel = { id, followers: new Set(), size: -1, stop: () => {} };
      created.stop = this.#ticker.listen((changed) => this.#tick(created, changed));
      this.#channels.set(id, created);
      channel = created;
    }
    const follower = { id, page, offset };
    channel.followers.add(follower);
    const removal = () => {
      channel.followers.delete(follower);
      if (channel.followers.size === 0) {
        channel.stop();
        this.#channels.delete(id);
      }
    };
    try {
      const detail = await readDetail(this.#engine, this.#store, id);
      page.send("task", detail);
      await this.#follow(follower, isTerminal(detail.task.status));
    } catch (error) {
      removal();
      throw error;
    }
    return removal;
  }

  async #follow(follower: Follower, complete: boolean): Promise<void> {
    // A page that does not keep up is skipped now and caught up (or skipped ahead) later.
    if (!follower.page.ready) return;
    const chunk = await readOutputFrom(this.#engine, follower.id, follower.offset, {
      complete,
      skipAhead: true,
    });
    if (chunk.next === follower.offset && chunk.skipped === 0) return;
    follower.offset = chunk.next;
    follower.page.send("output", chunk);
  }

  async #tick(channel: Channel, storeChanged: boolean): Promise<void> {
    const size = this.#engine.outputBytes(channel.id);
    const grew = size !== channel.size;
    channel.size = size;
    if (!storeChanged && !grew) return;
    let detail: TaskDetail;
    try {
      detail = await readDetail(this.#engine, this.#store, channel.id);
    } catch {
      // Removed (pruned) meanwhile: the pages say so.
      for (const follower of channel.followers) follower.page.send("gone", { id: channel.id });
      return;
    }
    const complete = isTerminal(detail.task.status);
    for (const follower of channel.followers) {
      follower.page.send("task", detail);
      // Each page follows from its own offset; most often there is one.
      await this.#follow(follower, complete);
    }
  }
}
