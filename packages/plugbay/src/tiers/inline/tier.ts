import { OptionChecker } from '../../core/options.js';
import type { CheckedPlugin, Instance, LoadOptions, Tier } from '../../core/types.js';
import { InlineInstance } from './instance.js';

/**
 * How errors that escape plugin code (its own timers, promises nobody awaits) are traced to their instance:
 * - `async-context`: AsyncLocalStorage around all plugin code, with the stack as fallback. Exact; on Node 20 every
 *   promise in the process costs more while an inline instance is loaded (see inline/attribution.ts).
 * - `stack`: only the error's stack (a frame inside the plugin directory). No cost on any call; misses errors made
 *   outside plugin files.
 * - `off`: no process listeners at all; such errors crash the process as they would without plugbay.
 */
export type Attribution = 'async-context' | 'stack' | 'off';
export const attributionModes: readonly Attribution[] = ['async-context', 'stack', 'off'];

export interface InlineTierOptions {
  /**
   * How errors escaping plugin code are blamed on their instance, which then fails ('fault' event, state
   * `failed`) while the process lives on. Unattributed errors keep Node's default behaviour. Default
   * `stack` on Node < 24 and `async-context` from Node 24 on (see `defaultAttribution`).
   */
  attribution?: Attribution;
}

/**
 * `async-context` costs every promise in the process a context hook until Node 24, where AsyncContextFrame makes
 * it a field read (measured on Node 20: 0.73 µs per inline call against 0.36 µs with `stack`). `stack` blames the
 * same errors whenever they are Errors thrown from the plugin's own files (its timers included), so it is the
 * default where the hook is expensive; leak reports (`leaks()`) need `async-context` and ask for it.
 */
export function defaultAttribution(nodeMajor = Number(process.versions.node.split('.')[0])): Attribution {
  return nodeMajor >= 24 ? 'async-context' : 'stack';
}

/** Runs trusted plugins on the host thread: the fastest tier, and the one with no isolation at all. */
export class InlineTier implements Tier {
  readonly kind = 'inline' as const;
  readonly options: Required<InlineTierOptions>;

  constructor(options: InlineTierOptions = {}) {
    const check = new OptionChecker('inline tier');
    check.oneOf('attribution', options.attribution, attributionModes);
    check.done();
    this.options = { attribution: options.attribution ?? defaultAttribution() };
  }

  async load(plugin: CheckedPlugin, opts: LoadOptions): Promise<Instance> {
    const instance = new InlineInstance(plugin, opts.log, this.options.attribution);
    await instance.init(opts.signal);
    return instance;
  }
}

export function createInlineTier(options?: InlineTierOptions): InlineTier {
  return new InlineTier(options);
}
