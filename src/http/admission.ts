/**
 * How many requests and event streams the HTTP face serves at once: a bound per client, so that
 * one client (a runaway loop, a careless agent) cannot take the slots every other client needs,
 * and a bound for all clients together. Past either, the request is answered 429 at once.
 *
 * @module
 */

export type Slot = "request" | "stream";

export interface AdmissionLimits {
  /** Requests one client may have in flight (a stream counts here as well). */
  readonly requestsPerClient: number;
  /** Long-lived event streams (SSE) one client may hold open. */
  readonly streamsPerClient: number;
  /** Requests and streams of all clients together. */
  readonly total: number;
}

export const DEFAULT_LIMITS: AdmissionLimits = {
  requestsPerClient: 16,
  streamsPerClient: 4,
  total: 256,
};

interface Counts {
  request: number;
  stream: number;
}

/** Counts what each client holds; `admit` takes a slot or says why not. */
export class Admission {
  readonly #limits: AdmissionLimits;
  readonly #clients = new Map<string, Counts>();
  #total = 0;

  constructor(limits: AdmissionLimits = DEFAULT_LIMITS) {
    this.#limits = limits;
  }

  /**
   * Takes a slot of `kind` for `client`: the function that gives it back (call it once the
   * response, or the stream, is over), or a sentence saying which bound was reached.
   */
  admit(client: string, kind: Slot): (() => void) | { refused: string } {
    const counts = this.#clients.get(client) ?? { request: 0, stream: 0 };
    if (this.#total >= this.#limits.total) {
      return { refused: `the server is serving ${this.#total} requests at once, its limit` };
    }
    if (counts.request >= this.#limits.requestsPerClient) {
      return {
        refused:
          `this client has ${counts.request} requests in flight, the most one client may have`,
      };
    }
    if (kind === "stream" && counts.stream >= this.#limits.streamsPerClient) {
      return {
        refused:
          `this client has ${counts.stream} event streams open, the most one client may have`,
      };
    }
    counts.request++;
    if (kind === "stream") counts.stream++;
    this.#clients.set(client, counts);
    this.#total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      counts.request--;
      if (kind === "stream") counts.stream--;
      this.#total--;
      if (counts.request === 0) this.#clients.delete(client);
    };
  }

  /** Requests and streams in flight, of all clients. */
  get inFlight(): number {
    return this.#total;
  }
}
