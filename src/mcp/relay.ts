/**
 * What a transport that wraps another (eras.ts, screen.ts) owes the one it wraps.
 *
 * @module
 */

import type { Transport } from "./sdk.ts";

/**
 * Passes `inner`'s close and errors on to `outer`'s handlers. Handlers set on `inner` before it
 * was wrapped keep running, first.
 */
export function relayCloseAndError(
  inner: Transport,
  outer: Pick<Transport, "onclose" | "onerror">,
): void {
  const innerClose = inner.onclose;
  inner.onclose = () => {
    innerClose?.();
    outer.onclose?.();
  };
  const innerError = inner.onerror;
  inner.onerror = (error) => {
    innerError?.(error);
    outer.onerror?.(error);
  };
}
