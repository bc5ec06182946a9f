/**
 * How many requests and event streams the HTTP face serves at once: a bound per client, so that
 * one client (a runaway loop, a careless agent) cannot take the slots every other client needs,
 * and a bound for all clients together. Past either, the request is answered 429 at once.
 * Requests and streams have bounds of their own: streams last as long as their sessions, so
 * clients that keep many open must not leave no room for anyone's requests.
 *
 * @module
 */

export type Slot = "request" | "stream";

export interface AdmissionLimits {
  /** Requests one client may have in flight. */
  readonly requestsPerClient: number;
  /** Long-lived event streams (SSE) one client may hold open. */
  readonly streamsPerClient: number;
  /** Requests of all clients together. */
  readonly total: number;
  /** Streams of all clients together. */
  readonly streamsTotal: number;
}

export const DEFAULT_LIMITS: AdmissionLimits = {
  requestsPerClient: 16,
  streamsPerClient: 4,
  total: 256,
  streamsTotal: 256,
};

interface Counts {
  request: number;
  stream: number;
}

/** Counts what each client holds; `admit` takes a slot or says why not. */
export class Admission {
  readonly #limits: AdmissionLimits;
  readonly #clients = new Map<string, Counts>();
  readonly #total: Counts = { request: 0, stream: 0 };

  constructor(limits: AdmissionLimits = DEFAULT_LIMITS) {
    this.#limits = limits;
  }

  /**
   * Takes a slot of `kind` for `client`: the function that gives it back (call it once the
   * response, or the stream, is over), or a sentence saying which bound was reached.
   */
  admit(client: string, kind: Slot): (() => void) | { refused: string } {
    const counts = this.#clients.get(client) ?? { request: 0, stream: 0 };
    const stream = kind === "stream";
    const total = stream ? this.#limits.streamsTotal : this.#limits.total;
    const perClient = stream ? this.#limits.streamsPerClient : this.#limits.requestsPerClient;
    const what = stream ? "event streams open" : "requests in flight";
    if (this.#total[kind] >= total) {
      return { refused: `the server has ${this.#total[kind]} ${what}, its limit` };
    }
    if (counts[kind] >= perClient) {
      return {
        refused: `this client has ${counts[kind]} ${what}, the most one client may have`,
      };
    }
    counts[kind]++;
    this.#clients.set(client, counts);
    this.#total[kind]++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      counts[kind]--;
      this.#total[kind]--;
      if (counts.request === 0 && counts.stream === 0) this.#clients.delete(client);
    };
  }

  /** Requests and streams in flight, of all clients. */
  get inFlight(): number {
    return this.#total.request + this.#total.stream;
  }
}
