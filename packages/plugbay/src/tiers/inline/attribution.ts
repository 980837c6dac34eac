/**
 * Attributes errors that escape inline plugin code (a throw in the plugin's own timer, a rejected promise nobody
 * awaits) to the instance that caused them, so one plugin's bug fails that instance instead of the host process.
 *
 * Every piece of plugin code (import, start, calls, stop, health) runs inside `scope.run(sink, …)`. Timers,
 * immediates, nextTicks and promises created there carry the sink, and Node 20 still exposes it to
 * 'uncaughtException' / 'unhandledRejection' listeners. One pair of process listeners is installed while at least
 * one inline instance is alive (reference-counted).
 *
 * Errors we cannot attribute behave as Node would without our listeners:
 * - uncaught exception: when nobody else listens, print it and exit with code 1 (Node's own behaviour);
 *   otherwise leave it to the other listeners.
 * - unhandled rejection: when nobody else listens, follow `--unhandled-rejections` (default `throw`: raised as an
 *   uncaught exception, i.e. other 'uncaughtException' listeners get it with origin 'unhandledRejection', else
 *   print and exit 1; `warn`, `warn-with-error-code`, `none` and `strict` as documented by Node).
 * Known gap: callbacks of `queueMicrotask` lose the context on Node 20, so a throw there is unattributed.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { inspect } from 'node:util';
import type { FaultOrigin } from './errors.js';

/** What the scope holds: the instance to blame. */
export interface FaultSink {
  fault(value: unknown, origin: FaultOrigin): void;
}

export const scope = new AsyncLocalStorage<FaultSink>();

let holders = 0;

/** Installs the process listeners (once for all instances); returns the matching idempotent release. */
export function retainFaultHandlers(): () => void {
  if (holders++ === 0) {
    process.on('uncaughtException', onUncaughtException);
    process.on('unhandledRejection', onUnhandledRejection);
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holders === 0) {
      process.off('uncaughtException', onUncaughtException);
      process.off('unhandledRejection', onUnhandledRejection);
      // Lets Node turn its promise hooks off again: while any AsyncLocalStorage is in use on Node 20, every
      // promise in the process pays for context propagation.
      scope.disable();
    }
  };
}

function onUncaughtException(error: unknown, origin: NodeJS.UncaughtExceptionOrigin): void {
  const sink = scope.getStore();
  if (sink !== undefined) {
    sink.fault(error, origin === 'unhandledRejection' ? 'unhandledRejection' : 'uncaughtException');
    return;
  }
  if (process.listenerCount('uncaughtException') > 1) return; // the application handles its own errors
  die(error);
}

function onUnhandledRejection(reason: unknown): void {
  const sink = scope.getStore();
  if (sink !== undefined) {
    sink.fault(reason, 'unhandledRejection');
    return;
  }
  if (process.listenerCount('unhandledRejection') > 1) return; // the application handles its own rejections
  switch (unhandledRejectionsMode()) {
    case 'none':
      return;
    case 'strict':
      return; // Node raised it as an uncaught exception before emitting this event: already handled there
    case 'warn':
      warnUnhandled(reason);
      return;
    case 'warn-with-error-code':
      warnUnhandled(reason);
      process.exitCode = 1;
      return;
    default: {
      // `throw` (Node's default): raise it as an uncaught exception.
      const others = process.listeners('uncaughtException').filter((l) => l !== onUncaughtException);
      if (others.length === 0) die(reason);
      for (const listener of others) listener(reason as Error, 'unhandledRejection');
    }
  }
}

/** Node's own end for an uncaught error: the error on stderr, exit code 1. */
function die(error: unknown): never {
  process.stderr.write(`${inspect(error)}\n\nNode.js ${process.version}\n`);
  process.exit(1);
}

function warnUnhandled(reason: unknown): void {
  process.emitWarning(`Unhandled promise rejection: ${inspect(reason)}`, 'UnhandledPromiseRejectionWarning');
}

function unhandledRejectionsMode(): string {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  const flag = flags.findLast((f) => f.startsWith('--unhandled-rejections='));
  return flag === undefined ? 'throw' : flag.slice('--unhandled-rejections='.length);
}
