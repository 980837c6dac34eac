import { createHook } from 'node:async_hooks';
import { sep } from 'node:path';
import { pathToFileURL } from 'node:url';

/** A timer or interval made by plugin code and still pending after the plugin was closed. */
export interface LeakedTimer {
  kind: 'Timeout' | 'Immediate';
  /** Where the plugin created it: the first stack frame inside the plugin directory. */
  createdAt: string;
}

export interface LeakTracker {
  /** The timers created by code of the plugin directory that are still pending. */
  pending(): LeakedTimer[];
  /** Clears the pending timers (so a leak does not keep the test process alive); returns how many. */
  clear(): number;
  stop(): void;
}

/**
 * Tracks timers, intervals and immediates created while a stack frame of `dir` is on the stack, for inline plugins
 * (which share the host's event loop, so a forgotten setInterval outlives the plugin and keeps the process alive).
 * A timer counts as pending until Node destroys it (fired once, or cleared).
 */
export function trackTimers(dir: string, digest?: string): LeakTracker {
  const base = dir.endsWith(sep) ? dir.slice(0, -1) : dir;
  const prefixes = [base + sep, `${pathToFileURL(base).href}/`];
  // The host runs the plugin from its artifact store (`<store>/<digest>/`): its frames count as the plugin's, and
  // are reported under the plugin's own folder.
  const stored = digest === undefined ? undefined : new RegExp(`(file://)?[^\\s(]*/${digest}/`);
  if (digest !== undefined) prefixes.push(`/${digest}/`);
  const live = new Map<number, { resource: object; leak: LeakedTimer }>();
  const hook = createHook({
    init(asyncId, type, _trigger, resource) {
      if (type !== 'Timeout' && type !== 'Immediate') return;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 50;
      const stack = new Error().stack ?? '';
      Error.stackTraceLimit = limit;
      const frame = stack.split('\n').find((line) => prefixes.some((p) => line.includes(p)));
      if (frame === undefined) return;
      const createdAt = frame
        .trim()
        .replace(/^at /, '')
        .replace(stored ?? /$^/, base + sep);
      live.set(asyncId, { resource, leak: { kind: type, createdAt } });
    },
    destroy(asyncId) {
      live.delete(asyncId);
    },
  });
  // destroy hooks run a little later than clearTimeout; Node marks the Timeout itself at once.
  const stillPending = () =>
    [...live.values()].filter(({ resource }) => (resource as { _destroyed?: boolean })._destroyed !== true);
  hook.enable();
  return {
    pending: () => stillPending().map(({ leak }) => leak),
    clear: () => {
      const leaks = stillPending();
      for (const { resource, leak } of leaks) {
        if (leak.kind === 'Timeout') clearTimeout(resource as NodeJS.Timeout);
        else clearImmediate(resource as NodeJS.Immediate);
      }
      return leaks.length;
    },
    stop: () => {
      hook.disable();
      live.clear();
    },
  };
}
