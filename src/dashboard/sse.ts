/**
 * A server-sent event stream to one page: events as they come, a comment now and then so that
 * proxies and the TCP front do not take a quiet stream for a dead one, and an end when the page
 * goes (or the server closes).
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

/** Bytes queued for a page before it is deemed slow and skipped. */
const HIGH_WATER_BYTES = 4 * 1024 * 1024;

export function eventStream(options: {
  keepAliveMs: number;
  onClose: () => void;
  headers?: Record<string, string>;
}): EventStream {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  let timer: ReturnType<typeof setInterval> | undefined;
  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(timer);
    options.onClose();
  };
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      // A page reconnects (EventSource does) after 1 s if the stream breaks.
      c.enqueue(encoder.encode("retry: 1000\n\n"));
      timer = setInterval(() => {
        if (!closed) controller.enqueue(encoder.encode(": keep-alive\n\n"));
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
      return !closed && (controller.desiredSize ?? 0) > 0;
    },
    send(event, data) {
      if (closed || (controller.desiredSize ?? 0) <= 0) return false;
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
