/**
 * A server-sent event stream to one page: events as they come, a comment now and then so that
 * proxies and the TCP front do not take a quiet stream for a dead one, and an end when the page
 * goes (or the server closes).
 *
 * A page that falls behind is skipped (and caught up later); one that stays behind — it stopped
 * reading, or its link is far too slow — is dropped, and what it had not read is freed: its
 * EventSource reconnects and starts again from a fresh snapshot. So a client that never reads
 * costs at most HIGH_WATER_BYTES and one event, for at most STALL_MS, and frees its slot.
 *
 * @module
 */

const encoder = new TextEncoder();

export interface EventStream {
  readonly response: Response;
  /** Sends one event; false when the page is gone or reads too slowly (then nothing is queued). */
  send(event: string, data: unknown): boolean;
  /** Whether the page keeps up: a page that does not is sent nothing more until it does. */
  readonly ready: boolean;
  close(): void;
}

/** Bytes queued for a page before it is deemed behind and skipped (an output chunk is 256 KiB). */
const HIGH_WATER_BYTES = 256 * 1024;
/** A page behind this long is dropped. */
const STALL_MS = 10_000;

export function eventStream(options: {
  keepAliveMs: number;
  onClose: () => void;
  headers?: Record<string, string>;
  /** How long a page may stay behind before it is dropped, in ms. Default STALL_MS. */
  stallMs?: number;
}): EventStream {
  const stallMs = options.stallMs ?? STALL_MS;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  let timer: ReturnType<typeof setInterval> | undefined;
  /** Since when the page has been behind (null: it keeps up). */
  let behindSince: number | null = null;
  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(timer);
    options.onClose();
  };
  /** Whether the page keeps up; drops it when it has been behind for stallMs. */
  const keepsUp = (): boolean => {
    if (closed) return false;
    if ((controller.desiredSize ?? 0) > 0) {
      behindSince = null;
      return true;
    }
    const now = Date.now();
    behindSince ??= now;
    if (now - behindSince >= stallMs) {
      finish();
      // An error, not a close: a closed stream would still hold its queue for the page to read.
      controller.error(new Error("The page stopped reading its event stream"));
    }
    return false;
  };
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      // A page reconnects (EventSource does) after 1 s if the stream breaks.
      c.enqueue(encoder.encode("retry: 1000\n\n"));
      timer = setInterval(() => {
        // A page that is behind needs no keep-alive (its queue is not empty); a stalled one goes.
        if (keepsUp()) controller.enqueue(encoder.encode(": keep-alive\n\n"));
      }, options.keepAliveMs);
    },
    cancel() {
      finish();
    },
  }, new ByteLengthQueuingStrategy({ highWaterMark: HIGH_WATER_BYTES }));
  return {
    response: new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        ...options.headers,
      },
    }),
    get ready() {
      return keepsUp();
    },
    send(event, data) {
      if (!keepsUp()) return false;
      controller.enqueue(encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
      return true;
    },
    close() {
      if (closed) return;
      finish();
      try {
        controller.close();
      } catch {
        // cancelled by the page already
      }
    },
  };
}
