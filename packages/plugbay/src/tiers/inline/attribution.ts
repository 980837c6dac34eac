/**
 * Attributes errors that escape inline plugin code (a throw in the plugin's own timer, a rejected promise nobody
 * awaits) to the instance that caused them, so one plugin's bug fails that instance instead of the host process.
 *
 * Two ways to find the culprit, tried in this order:
 * - `async-context`: every piece of plugin code (import, start, calls, stop, health) runs inside
 *   `scope.run(sink, …)`. Timers, immediates, nextTicks and promises created there carry the sink, and Node 20
 *   still exposes it to 'uncaughtException' / 'unhandledRejection' listeners. Exact, but on Node 20 an active
 *   AsyncLocalStorage makes every promise in the process pay for context propagation (measured ~+170 ns per
 *   awaited async call); Node ≥ 24 (AsyncContextFrame by default) makes that nearly free, so the default mode is
 *   `stack` before Node 24 and `async-context` from then on (tier.ts, `defaultAttribution`).
 * - `stack`: the error's stack names a file inside the plugin's directory (the top-most such frame wins). Free on
 *   the call path; misses errors made outside plugin files (a library callback, a non-Error rejection) and
 *   `queueMicrotask` callbacks, which lose the async context on Node 20.
 * One pair of process listeners is installed while at least one instance uses attribution (reference-counted).
 *
 * Errors we cannot attribute behave as Node would without our listeners:
 * - uncaught exception: when nobody else listens, print it and exit with code 1 (Node's own behaviour);
 *   otherwise leave it to the other listeners.
 * - unhandled rejection: when nobody else listens, follow `--unhandled-rejections` (default `throw`: raised as an
 *   uncaught exception, i.e. other 'uncaughtException' listeners get it with origin 'unhandledRejection', else
 *   print and exit 1; `warn`, `warn-with-error-code`, `none` and `strict` as documented by Node).
 * An error from a plugin whose last instance is gone is no longer attributed (nothing listens any more).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import type { FaultOrigin } from './errors.js';

/** What the scope holds: the instance to blame. */
export interface FaultSink {
  fault(value: unknown, origin: FaultOrigin): void;
}

export const scope = new AsyncLocalStorage<FaultSink>();

/** Every attributed instance, with the path prefixes of its plugin directory (as a path and as a file: URL). */
const sinks = new Map<FaultSink, readonly string[]>();

/**
 * Makes `sink` a candidate for errors whose stack points into `dir`, and installs the process listeners with the
 * first sink. Returns the matching idempotent release.
 */
export function registerFaultSink(sink: FaultSink, dir: string): () => void {
  const base = dir.endsWith(sep) ? dir.slice(0, -1) : dir;
  sinks.set(sink, [base + sep, `${pathToFileURL(base).href}/`]);
  if (sinks.size === 1) {
    process.on('uncaughtException', onUncaughtException);
    process.on('unhandledRejection', onUnhandledRejection);
  }
  return () => {
    if (!sinks.delete(sink) || sinks.size > 0) return;
    process.off('uncaughtException', onUncaughtException);
    process.off('unhandledRejection', onUnhandledRejection);
    // Lets Node turn its promise hooks off again (see above: their cost is process-wide on Node 20).
    scope.disable();
  };
}

/** The instance to blame: the async context first, then the stack. */
function culprit(error: unknown): FaultSink | undefined {
  return scope.getStore() ?? byStack(error);
}

/** The sink whose plugin directory appears in the top-most frame of the error's stack. */
function byStack(error: unknown): FaultSink | undefined {
  const stack = error instanceof Error ? error.stack : undefined;
  if (typeof stack !== 'string') return undefined;
  let best: FaultSink | undefined;
  let bestAt = Number.POSITIVE_INFINITY;
  for (const [sink, prefixes] of sinks) {
    for (const prefix of prefixes) {
      const at = stack.indexOf(prefix);
      if (at !== -1 && at < bestAt) {
        best = sink;
        bestAt = at;
      }
    }
  }
  return best;
}

function onUncaughtException(error: unknown, origin: NodeJS.UncaughtExceptionOrigin): void {
  const sink = culprit(error);
  if (sink !== undefined) {
    sink.fault(error, origin === 'unhandledRejection' ? 'unhandledRejection' : 'uncaughtException');
    return;
  }
  if (process.listenerCount('uncaughtException') > 1) return; // the application handles its own errors
  die(error);
}

function onUnhandledRejection(reason: unknown): void {
  const sink = culprit(reason);
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
