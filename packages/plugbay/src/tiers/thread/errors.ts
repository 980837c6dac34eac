/**
 * The thread tier's one failure-mapping file: how a worker's death, a stuck worker, and errors that crossed the
 * MessagePort become PlugbayErrors naming the plugin and version.
 */
import { type ErrorSource, messageOf, PlugbayError, type WireError } from '../../core/errors.js';

/** Why a worker went away; `details.reason` of PLUGBAY_PLUGIN_CRASHED. */
export type CrashReason =
  | 'out-of-memory'
  | 'uncaught-exception'
  | 'exit'
  | 'unresponsive'
  | 'start-failed'
  | 'load-failed'
  | 'worker-failed';

/** What the host saw of a worker's end: the 'error' event (if any), the exit code, or our own verdict. */
export interface WorkerEnd {
  error?: unknown;
  exitCode?: number;
  /** Set when the host terminated the worker because it stopped answering. */
  unresponsiveMs?: number;
  /** Set when the host terminated a worker holding more ArrayBuffers/Buffers than permissions.memoryMb. */
  externalBytes?: number;
  /** Set when the host terminated a worker because the plugin could not run there (`error` says why). */
  failedIn?: 'load' | 'start';
}

/** The error every call in flight gets when its worker dies. Always PLUGBAY_PLUGIN_CRASHED (retryable). */
export function crashError(end: WorkerEnd, source: ErrorSource): PlugbayError {
  const { reason, message } = classify(end);
  const details: Record<string, unknown> = { reason };
  if (end.exitCode !== undefined) details.exitCode = end.exitCode;
  if (end.unresponsiveMs !== undefined) details.unresponsiveMs = end.unresponsiveMs;
  if (end.externalBytes !== undefined) details.externalBytes = end.externalBytes;
  const err = new PlugbayError('PLUGBAY_PLUGIN_CRASHED', message, { ...source, details, cause: end.error });
  if (end.error instanceof Error && end.error.stack !== undefined) err.stack = end.error.stack;
  return err;
}

function classify(end: WorkerEnd): { reason: CrashReason; message: string } {
  const code = (end.error as { code?: unknown } | undefined)?.code;
  // The host gave up on a worker that did not answer a ping (busy loop, blocking call) and terminated it.
  if (end.unresponsiveMs !== undefined) {
    return {
      reason: 'unresponsive',
      message: `worker did not respond within ${end.unresponsiveMs} ms and was terminated`,
    };
  }
  // A restarted worker loaded, but the plugin's start() threw or overran: as useless as a dead worker.
  if (end.failedIn === 'start') {
    return { reason: 'start-failed', message: `start() failed in the worker: ${messageOf(end.error)}` };
  }
  // The worker could not import the plugin (file gone or changed under a restart): nothing to run.
  if (end.failedIn === 'load') {
    return {
      reason: 'load-failed',
      message: `the worker could not load the plugin: ${messageOf(end.error)}`,
    };
  }
  // The worker's ArrayBuffers/Buffers, which V8's heap limit does not count, went over permissions.memoryMb.
  if (end.externalBytes !== undefined) {
    const mb = Math.round(end.externalBytes / 2 ** 20);
    return {
      reason: 'out-of-memory',
      message: `worker held ${mb} MB of ArrayBuffers/Buffers, over permissions.memoryMb, and was terminated`,
    };
  }
  // V8 hit resourceLimits (permissions.memoryMb): Node ends the worker with this error code.
  if (code === 'ERR_WORKER_OUT_OF_MEMORY') {
    return { reason: 'out-of-memory', message: 'worker ran out of memory (permissions.memoryMb)' };
  }
  // Node could not even start the worker (bad execArgv, init failure): nothing the plugin did.
  if (code === 'ERR_WORKER_INIT_FAILED' || code === 'ERR_WORKER_INVALID_EXEC_ARGV') {
    return { reason: 'worker-failed', message: `worker failed to start: ${messageOf(end.error)}` };
  }
  // Any other 'error' event is an exception nobody caught in the worker: the plugin threw in its own timer or
  // left a rejected promise unhandled (Node's default mode turns that into an uncaught exception).
  if (end.error !== undefined) {
    return {
      reason: 'uncaught-exception',
      message: `worker died of an uncaught exception: ${messageOf(end.error)}`,
    };
  }
  // No error: plugin code called process.exit() (in a worker this ends only the worker).
  return { reason: 'exit', message: `worker exited with code ${end.exitCode ?? 'unknown'}` };
}

/** A plugin-level error that crossed the port as `{ code, message, details }`. */
export function remoteError(wire: WireError, source: ErrorSource): PlugbayError {
  return PlugbayError.fromWire(wire, source);
}

/** The plugin module could not be imported or is no plugin definition. */
export function loadError(cause: PlugbayError | WireError, source: ErrorSource): PlugbayError {
  const err = cause instanceof PlugbayError ? cause : PlugbayError.fromWire(cause, source);
  if (err.code === 'PLUGBAY_LOAD_FAILED') return err;
  return new PlugbayError('PLUGBAY_LOAD_FAILED', `loading the plugin failed: ${err.message}`, {
    ...source,
    cause: err,
    details: { causeCode: err.code, ...err.details },
  });
}
