import type { CheckedPlugin, Instance, LoadOptions, Tier } from '../../core/types.js';
import { OptionChecker } from '../options.js';
import { InlineInstance } from './instance.js';

export interface InlineTierOptions {
  /**
   * Install process-level 'uncaughtException' / 'unhandledRejection' listeners (while an inline instance is alive)
   * that blame errors escaping plugin code on their instance, which then fails instead of the process.
   * Unattributed errors keep Node's default behaviour (see inline/attribution.ts). Default true.
   */
  attributeErrors?: boolean;
}

/** Runs trusted plugins on the host thread: the fastest tier, and the one with no isolation at all. */
export class InlineTier implements Tier {
  readonly kind = 'inline' as const;
  readonly options: Required<InlineTierOptions>;

  constructor(options: InlineTierOptions = {}) {
    const check = new OptionChecker('inline tier');
    check.boolean('attributeErrors', options.attributeErrors);
    check.done();
    this.options = { attributeErrors: options.attributeErrors ?? true };
  }

  async load(plugin: CheckedPlugin, opts: LoadOptions): Promise<Instance> {
    const instance = new InlineInstance(plugin, opts.log, this.options.attributeErrors);
    await instance.init(opts.signal);
    return instance;
  }
}

export function createInlineTier(options?: InlineTierOptions): InlineTier {
  return new InlineTier(options);
}
