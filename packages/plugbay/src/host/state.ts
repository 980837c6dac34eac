// What the host's parts share. createHost builds it once; each part (loader, rollout, grants, invoke) takes it and
// keeps its own state to itself. Keep this small: a field belongs here only when two parts need it.
import type { Logger } from 'pino';
import type { HostMetrics } from '../observe/metrics.js';
import type { StateStore } from '../store/types.js';
import type { HostSettings } from './options.js';
import type { VersionSet } from './versions.js';

export interface HostState {
  readonly settings: HostSettings;
  readonly log: Logger;
  /** Routes, stable history, run-time grants and the audit log. */
  readonly store: StateStore;
  /** Undefined: metrics off. */
  readonly metrics: HostMetrics | undefined;
  readonly versions: VersionSet;
  /** Admin changes (routes, activate, rollback, grants) to one plugin run one at a time. */
  readonly locks: PluginLocks;
  /** Set when close() or destroy() starts: loads and calls are refused from then on. */
  closed: boolean;
}

/** One queue of admin changes per plugin name. */
export class PluginLocks {
  readonly #tails = new Map<string, Promise<unknown>>();

  exclusive<T>(name: string, work: () => Promise<T>): Promise<T> {
    const run = (this.#tails.get(name) ?? Promise.resolve()).then(work);
    this.#tails.set(
      name,
      run.catch(() => {}),
    );
    return run;
  }
}
