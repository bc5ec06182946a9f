/**
 * Request and response bodies at the HTTP face: reading a request's body within a size and a time
 * bound, and knowing when a response's body is over (which is how long it holds its slot).
 *
 * @module
 */

/** Why a body could not be read: too large (413) or too slow (408). */
export class BodyRefused extends Error {
  readonly status: 408 | 413;

  constructor(status: 408 | 413, message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * The request's body, at most `maxBytes`, read within `timeoutMs`: a client that sends a large
 * body, or sends it slowly to hold a connection, is refused without the whole of it being read.
 */
export async function readBody(
  request: Request,
  maxBytes: number,
  timeoutMs: number,
): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  if (request.body === null) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new BodyRefused(
            408,
            `the request body did not arrive within ${timeoutMs / 1000} s: send it whole, at once`,
          ),
        ),
      timeoutMs,
    );
  });
  try {
    while (true) {
      const { value, done } = await Promise.race([reader.read(), timeout]);
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) throw tooLarge(maxBytes);
      chunks.push(value);
    }
  } catch (error) {
    void reader.cancel().catch(() => {});
    throw error;
  } finally {
    clearTimeout(timer);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

function tooLarge(maxBytes: number): BodyRefused {
  return new BodyRefused(
    413,
    `the request body is larger than ${maxBytes} bytes, the most this server reads (BACKBURNER_MAX_MESSAGE_BYTES)`,
  );
}

/**
 * The response, with `done` called once its body has been sent, cancelled or failed (at once for
 * a response without a body): how long a request, or a stream, holds its slot.
 */
export function afterBody(response: Response, done: () => void): Response {
  if (response.body === null) {
    done();
    return response;
  }
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    done();
  };
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done: ended } = await reader.read();
        if (ended) {
          controller.close();
          finish();
        } else {
          controller.enqueue(value);
        }
      } catch (error) {
        controller.error(error);
        finish();
      }
    },
    cancel(reason) {
      finish();
      return reader.cancel(reason);
    },
  });
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}
