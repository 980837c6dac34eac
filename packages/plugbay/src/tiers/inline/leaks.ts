/**
 * The inline tier's leak report (the goleak idea): timers, intervals, sockets and servers that plugin code created
 * and that are still alive after its instance closed, each with the stack where it was created.
 *
 * An async_hooks `init` hook sees every async resource; those created while an instance's attribution scope is
 * active (attribution.ts: all plugin code runs in `scope.run(sink, …)`) are recorded per instance, and `destroy`
 * forgets them. The hook is enabled only while at least one inline instance is tracked: an init hook makes Node
 * call into JS for every promise too, which the inline call path would otherwise not pay.
 * The thread, process and wasm tiers reclaim by construction (the worker, process or wasm instance is terminated
 * with everything it created), so they need no report.
 * `plugbay test` (testing/conformance.ts) reads the same report through host.leaks, then `clearLeak`s its timers.
 */
import { createHook } from 'node:async_hooks';
import type { Leak } from '../../core/types.js';
import { type FaultSink, scope } from './attribution.js';

export type { Leak };

const watched: Record<string, string> = {
  Timeout: 'timeout',
  Immediate: 'immediate',
  TCPWRAP: 'socket',
  TCPSERVERWRAP: 'server',
  PIPEWRAP: 'socket',
  PIPESERVERWRAP: 'server',
  UDPWRAP: 'socket',
  FSWATCHER: 'watcher',
  FSEVENTWRAP: 'watcher',
  STATWATCHER: 'watcher',
};

interface Tracked {
  type: string;
  stack: string;
  resource: WeakRef<object>;
}

/** The resource behind each reported leak, for clearLeak. */
const reported = new WeakMap<Leak, WeakRef<object>>();

/** Resources alive per tracked sink. */
const tracked = new Map<FaultSink, Map<number, Tracked>>();
/** Above this many records an instance's map is pruned of finished resources (timers that fired or were cleared). */
const pruneAt = 1024;

const hook = createHook({
  init(asyncId, type, _trigger, resource) {
    if (watched[type] === undefined) return;
    const sink = scope.getStore();
    if (sink === undefined) return;
    const resources = tracked.get(sink);
    if (resources === undefined) return;
    const stack = new Error().stack ?? '';
    const entry = { type, stack: pluginFrames(stack), resource: new WeakRef(resource as object) };
    resources.set(asyncId, entry);
    if (resources.size > pruneAt) prune(resources);
  },
  // No destroy hook: with one, Node tracks every promise for garbage collection, which cost ~5× the whole inline
  // call in a measurement here. Liveness is read from the resource itself when pruning and reporting.
});

function prune(resources: Map<number, Tracked>): void {
  for (const [id, r] of resources) {
    const resource = r.resource.deref();
    if (resource === undefined || finished(r.type, resource)) resources.delete(id);
  }
}

/** Starts recording resources created under `sink`; returns the function that stops it and returns the leaks. */
export function trackLeaks(sink: FaultSink): () => Promise<Leak[]> {
  if (tracked.size === 0) hook.enable();
  const resources = new Map<number, Tracked>();
  tracked.set(sink, resources);
  let report: Promise<Leak[]> | undefined;
  return () => {
    report ??= (async () => {
      // Let callbacks already due (a timer cleared by a stop() callback) run before reporting.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const leaks: Leak[] = [];
      for (const r of resources.values()) {
        const resource = r.resource.deref();
        if (resource === undefined || finished(r.type, resource)) continue;
        const leak = { kind: kindOf(r.type, resource), type: r.type, stack: r.stack };
        reported.set(leak, r.resource);
        leaks.push(leak);
      }
      tracked.delete(sink);
      if (tracked.size === 0) hook.disable();
      return leaks;
    })();
    return report;
  };
}

/**
 * Clears a reported timer, interval or immediate that is still pending, so that it cannot keep the process alive
 * (other kinds are left alone). True when it cleared one.
 */
export function clearLeak(leak: Leak): boolean {
  const resource = reported.get(leak)?.deref();
  if (resource === undefined || finished(leak.type, resource)) return false;
  if (leak.type === 'Timeout') clearTimeout(resource as NodeJS.Timeout);
  else if (leak.type === 'Immediate') clearImmediate(resource as NodeJS.Immediate);
  else return false;
  return true;
}

function kindOf(type: string, resource: object): string {
  if (type === 'Timeout') return (resource as { _repeat?: unknown })._repeat ? 'interval' : 'timeout';
  return watched[type] ?? type;
}

/**
 * Not alive any more: a timer or immediate that fired or was cleared (Node sets `_destroyed`), a socket, server or
 * watcher handle whose file descriptor is closed (`fd` is -1 then; handles without an fd count as alive).
 */
function finished(type: string, resource: object): boolean {
  if (type === 'Timeout' || type === 'Immediate')
    return (resource as { _destroyed?: boolean })._destroyed === true;
  const fd = (resource as { fd?: unknown }).fd;
  return typeof fd === 'number' && fd < 0;
}

/** The stack without this file's frame and the `Error` line: starts at the Node API the plugin called. */
function pluginFrames(stack: string): string {
  return stack
    .split('\n')
    .slice(1)
    .filter((line) => !line.includes('/tiers/inline/leaks.') && !line.includes('node:internal/async_hooks'))
    .join('\n');
}
