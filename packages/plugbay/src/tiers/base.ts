import { EventEmitter } from 'node:events';
import { PlugbayError } from '../core/errors.js';
import type { CheckedPlugin, InstanceEvents, InstanceState, TierKind } from '../core/types.js';

/**
 * Which state may follow which (core/types.ts documents each state). `closed` is final; `failed` only leads to
 * `closed` (the host still closes or destroys it to release what it holds); `crashloop` also to `degraded` (its
 * half-open retry).
 */
const transitions: Record<InstanceState, readonly InstanceState[]> = {
  loading: ['starting', 'ready', 'draining', 'closed', 'failed', 'crashloop'],
  starting: ['ready', 'degraded', 'draining', 'closed', 'failed', 'crashloop'],
  ready: ['degraded', 'draining', 'closed', 'failed', 'crashloop'],
  degraded: ['ready', 'draining', 'closed', 'failed', 'crashloop'],
  draining: ['closed', 'failed'],
  failed: ['closed'],
  crashloop: ['degraded', 'closed'],
  closed: [],
};

/** Whether the state machine lets an instance move from `from` to `to` (the conformance suite checks every move). */
export function canTransition(from: InstanceState, to: InstanceState): boolean {
  return transitions[from].includes(to);
}

/** Resolves once `instance` leaves `degraded`: its restart (a crash loop's retry) came up, or failed. */
export function leftDegraded(instance: EventEmitter<InstanceEvents>): Promise<void> {
  return new Promise<void>((resolve) => {
    const onState = (state: InstanceState): void => {
      if (state === 'degraded') return;
      instance.off('state', onState);
      resolve();
    };
    instance.on('state', onState);
  });
}

/**
 * With PLUGBAY_STRICT_STATES=1 (plugbay's own tests: scripts/test.sh and the tier test helpers set it) a move the
 * table forbids throws, so a tier bug fails its test; anywhere else, an application's own tests included, it is
 * ignored, never a crash. Read at the forbidden move only, so a test may set it after this module loaded.
 */
function strictStates(): boolean {
  return process.env.PLUGBAY_STRICT_STATES === '1';
}

let nextId = 0;

/**
 * What every Instance implementation shares: the id, the state machine (emits 'state'), and two-phase shutdown
 * with memoised promises so that close() and destroy() are idempotent and may race. Nothing tier-specific.
 */
export abstract class InstanceBase extends EventEmitter<InstanceEvents> {
  readonly id: string;
  readonly plugin: CheckedPlugin;
  readonly tier: TierKind;
  #state: InstanceState = 'loading';
  #closing: Promise<void> | undefined;
  #destroying: Promise<void> | undefined;
  /** close()'s budget for the plugin's stop() when the caller gives none. */
  protected closeTimeoutMs = 5000;

  constructor(plugin: CheckedPlugin, tier: TierKind) {
    super();
    this.plugin = plugin;
    this.tier = tier;
    this.id = `${plugin.id}/${tier}/${++nextId}`;
  }

  get state(): InstanceState {
    return this.#state;
  }

  /** True from the moment close() or destroy() was called. */
  get closing(): boolean {
    return this.#closing !== undefined || this.#destroying !== undefined;
  }

  /**
   * Moves to `next` and emits 'state'; returns whether it moved (staying in the same state is no move). A move the
   * table forbids is a bug of the tier: it throws under node:test and is ignored otherwise, so callers that may
   * meet a forbidden move check `canTransition` first instead of relying on the result.
   */
  protected setState(next: InstanceState): boolean {
    const previous = this.#state;
    if (previous === next) return false;
    if (!transitions[previous].includes(next)) {
      if (strictStates()) throw new Error(`instance ${this.id}: no transition ${previous} → ${next}`);
      return false;
    }
    this.#state = next;
    this.onState(next, previous);
    this.emit('state', next, previous);
    return true;
  }

  /** Moves to `next` if the table allows it from the present state (a guard, never a throw); returns whether it did. */
  protected moveIfAllowed(next: InstanceState): boolean {
    return canTransition(this.#state, next) && this.setState(next);
  }

  /** Called on every move before 'state' is emitted: a tier's own bookkeeping (e.g. waking calls that wait). */
  protected onState(_next: InstanceState, _previous: InstanceState): void {}

  /** Graceful: runs the tier's onClose (the plugin's stop() under the timeout), then destroy(). Idempotent. */
  close(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#closing === undefined) {
      if (this.#destroying !== undefined) return this.#destroying;
      this.moveIfAllowed('draining'); // not from failed or crashloop: those go straight to closed
      const timeoutMs = opts.timeoutMs ?? this.closeTimeoutMs;
      this.#closing = this.onClose(timeoutMs)
        .catch(() => {}) // stop() failing must not keep the instance alive: release it anyway
        .then(() => this.destroy());
    }
    return this.#closing;
  }

  /** Hard: the tier's onDestroy (terminate, drop references, fail pending work), then `closed`. Idempotent. */
  destroy(reason?: Error): Promise<void> {
    this.#destroying ??= this.onDestroy(reason).finally(() => this.setState('closed'));
    return this.#destroying;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The error a call gets when the instance cannot take calls in its present state. */
  protected unavailable(): PlugbayError {
    const state = this.#state;
    const source = { plugin: this.plugin.manifest.name, version: this.plugin.manifest.version };
    if (state === 'crashloop') {
      return new PlugbayError('PLUGBAY_PLUGIN_CRASHED', `instance ${this.id} is in a crash loop`, {
        ...source,
        details: { state },
      });
    }
    if (state === 'draining' || state === 'closed') {
      return new PlugbayError('PLUGBAY_CLOSED', `instance ${this.id} is ${state}`, {
        ...source,
        details: { state },
      });
    }
    return new PlugbayError('PLUGBAY_NO_INSTANCE', `instance ${this.id} is ${state} and takes no calls`, {
      ...source,
      details: { state },
    });
  }

  /** Runs the plugin's stop() (bounded by timeoutMs). Must not throw for a plugin's failure. */
  protected abstract onClose(timeoutMs: number): Promise<void>;
  /** Releases everything now and fails what is pending. Called once. */
  protected abstract onDestroy(reason: Error | undefined): Promise<void>;
}
