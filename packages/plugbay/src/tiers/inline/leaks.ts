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

/** Resources alive per tracked sink. */
const tracked = new Map<FaultSink, Map<number, Tracked>>();
/** asyncId → the sink whose map holds it (for destroy). */
const owners = new Map<number, Map<number, Tracked>>();

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
    owners.set(asyncId, resources);
  },
  destroy(asyncId) {
    const resources = owners.get(asyncId);
    if (resources === undefined) return;
    owners.delete(asyncId);
    resources.delete(asyncId);
  },
});

/** Starts recording resources created under `sink`; returns the function that stops it and returns the leaks. */
export function trackLeaks(sink: FaultSink): () => Promise<Leak[]> {
  if (tracked.size === 0) hook.enable();
  const resources = new Map<number, Tracked>();
  tracked.set(sink, resources);
  let report: Promise<Leak[]> | undefined;
  return () => {
    report ??= (async () => {
      // destroy hooks of timers cleared in stop() run from a queue: let them drain before reporting.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const leaks: Leak[] = [];
      for (const [id, r] of resources) {
        const resource = r.resource.deref();
        if (resource === undefined || finished(r.type, resource)) continue;
        leaks.push({ kind: kindOf(r.type, resource), type: r.type, stack: r.stack });
        owners.delete(id);
      }
      tracked.delete(sink);
      for (const id of resources.keys()) owners.delete(id);
      if (tracked.size === 0) hook.disable();
      return leaks;
    })();
    return report;
  };
}

function kindOf(type: string, resource: object): string {
  if (type === 'Timeout') return (resource as { _repeat?: unknown })._repeat ? 'interval' : 'timeout';
  return watched[type] ?? type;
}

/** A one-shot timer that already fired, or a timer cleared (destroy hook not run yet): not a leak. */
function finished(type: string, resource: object): boolean {
  if (type === 'Timeout') return (resource as { _destroyed?: boolean })._destroyed === true;
  if (type === 'Immediate') return (resource as { _destroyed?: boolean })._destroyed === true;
  return false;
}

/** The stack without this file's frame and the `Error` line: starts at the Node API the plugin called. */
function pluginFrames(stack: string): string {
  return stack
    .split('\n')
    .slice(1)
    .filter((line) => !line.includes('/tiers/inline/leaks.') && !line.includes('node:internal/async_hooks'))
    .join('\n');
}
