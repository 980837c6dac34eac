/** A minimal CallContext for tests and benchmarks of the tier alone (the host builds the real one). */
import { PlugbayError } from '../../core/errors.js';
import type { CallContext } from '../../core/types.js';

export function testCallContext(timeoutMs?: number): CallContext & { dispose(): void } {
  const controller = new AbortController();
  const listeners: ((reason: PlugbayError) => void)[] = [];
  let timer: NodeJS.Timeout | undefined;
  const abort = (reason: PlugbayError) => {
    if (controller.signal.aborted) return;
    controller.abort(reason);
    for (const l of listeners.splice(0)) l(reason);
  };
  if (timeoutMs !== undefined) {
    timer = setTimeout(
      () => abort(new PlugbayError('PLUGBAY_TIMEOUT', `call timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
  }
  return {
    signal: controller.signal,
    deadline: timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs,
    traceparent: undefined,
    key: undefined,
    onAbort(listener) {
      listeners.push(listener);
    },
    dispose() {
      clearTimeout(timer);
      listeners.length = 0;
    },
  };
}
