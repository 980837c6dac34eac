/**
 * Settles like `promise`, or rejects with the signal's reason as soon as `signal` aborts. The listener is removed
 * when either happens; `promise` keeps running (nobody can stop plugin code that ignores its signal).
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {}); // its late rejection has no reader any more
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      promise.catch(() => {});
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** An AbortSignal that aborts after `timeoutMs`, and its teardown. */
export function timeoutSignal(
  timeoutMs: number,
  reason: () => Error,
): { signal: AbortSignal; cleanup(): void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(reason()), timeoutMs);
  return { signal: controller.signal, cleanup: () => clearTimeout(timer) };
}
