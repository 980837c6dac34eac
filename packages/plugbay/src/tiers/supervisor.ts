import { type RestartDecision, type RestartOptions, RestartPolicy } from '../core/restart.js';
import type { InstanceState, PluginLoggerSink } from '../core/types.js';
import { type InstanceBase, leftDegraded } from './base.js';

/** What the instance does for its supervisor. */
export interface SupervisorHooks {
  /** The instance's own state move (InstanceBase.setState): to `degraded`, `crashloop`, and out of it. */
  move(next: InstanceState): void;
  /**
   * Brings up a fresh worker or process and runs the plugin's start() on it, with the config of the first start.
   * Calls started() once it serves; a failure is reported as another crashed() (by the instance's crash path).
   */
  restart(): Promise<void>;
  /** The instance entered a crash loop (its state is `crashloop` already): fail the calls that wait. */
  crashloop(decision: Extract<RestartDecision, { action: 'crashloop' }>): void;
}

/**
 * Restarts a tier's worker or process on core/restart.ts's RestartPolicy, the same way in every tier: a crash
 * moves a serving instance to `degraded` and restarts it after the backoff delay; too many crashes are a
 * `crashloop` (calls refused), left by one half-open retry after the cool-down or at once by the operator
 * (recover(): the cool-down starts again from its first value). The host audits `crashloop` and its exit from
 * the instance's 'state' events.
 */
export class Supervisor {
  readonly policy: RestartPolicy;
  readonly #instance: InstanceBase;
  readonly #hooks: SupervisorHooks;
  readonly #log: PluginLoggerSink;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    instance: InstanceBase,
    options: RestartOptions,
    hooks: SupervisorHooks,
    log: PluginLoggerSink,
  ) {
    this.#instance = instance;
    this.policy = new RestartPolicy(options);
    this.#hooks = hooks;
    this.#log = log;
  }

  /** The worker/process serves (the first start or a restart): stability is counted from now. */
  started(): void {
    this.stop();
    this.policy.started();
  }

  /** A restart or the crash-loop retry is scheduled. */
  get pending(): boolean {
    return this.#timer !== undefined;
  }

  /**
   * The worker/process of a serving instance (`ready` or `degraded`) crashed, or a restart failed: schedule the
   * next restart after the backoff, or enter a crash loop. Returns what the policy decided.
   */
  crashed(): RestartDecision {
    this.stop();
    const decision = this.policy.crashed();
    if (decision.action === 'crashloop') {
      this.#log.error(
        `crashed ${decision.crashes} times in a row (crashloop); next try in ${decision.retryInMs} ms`,
        { crashes: decision.crashes, retryInMs: decision.retryInMs },
      );
      this.#instance.emit('crashloop', { crashes: decision.crashes, retryInMs: decision.retryInMs });
      this.#hooks.move('crashloop');
      this.#hooks.crashloop(decision);
      this.#timer = setTimeout(() => void this.#retry(false), decision.retryInMs);
      this.#timer.unref(); // a cool-down alone keeps no process alive
      return decision;
    }
    this.#log.info(`restart in ${decision.delayMs} ms`, { delayMs: decision.delayMs });
    this.#hooks.move('degraded');
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#instance.closing && this.#instance.state === 'degraded') void this.#hooks.restart();
    }, decision.delayMs);
    return decision;
  }

  /**
   * Leaves `crashloop` now (the operator's activate) instead of after the cool-down: one half-open restart.
   * Resolves once the instance left `degraded` again (up, crashed again, or closed).
   */
  async recover(): Promise<void> {
    if (this.#instance.closing || this.#instance.state !== 'crashloop') return;
    const settled = leftDegraded(this.#instance);
    await this.#retry(true);
    await settled;
  }

  /** No more restarts (close, destroy). */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #retry(byOperator: boolean): Promise<void> {
    if (this.#instance.closing || this.#instance.state !== 'crashloop') return;
    this.stop();
    this.policy.retrying(byOperator);
    this.#hooks.move('degraded');
    await this.#hooks.restart();
  }
}
