// The error registry lives in @plugbay/sdk so that plugin code and the host share one set of codes;
// the host re-exports it from here so that nothing in the host imports the SDK for errors directly.

export type { ErrorCode, ErrorSource, WireError } from '@plugbay/sdk';
export { errorCodes, isErrorCode, PlugbayError, toWireError } from '@plugbay/sdk';

/** The message of anything thrown: an Error's message, or the value as text. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** True for a promise or any object with a `then` method (what `await` would wait on). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
