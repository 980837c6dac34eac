/**
 * When to restart a crashed worker or process, and when to give up. Exponential backoff (100 ms doubling to 30 s
 * by default); `crashloopCount` crashes inside `crashloopWindowMs` is a crash loop: stop restarting.
 */
export interface RestartOptions {
  /** Delay before the first restart. Default 100 ms. */
  initialDelayMs?: number;
  /** Largest delay between restarts. Default 30 s. */
  maxDelayMs?: number;
  /** Crashes inside the window that make a crash loop. Default 5. */
  crashloopCount?: number;
  /** Default 60 s. */
  crashloopWindowMs?: number;
  /** A run that stayed up this long resets the backoff. Default 10 s. */
  stableAfterMs?: number;
}

export type RestartDecision =
  | { action: 'restart'; delayMs: number }
  | { action: 'crashloop'; crashes: number };

export class RestartPolicy {
  readonly options: Required<RestartOptions>;
  #crashes: number[] = [];
  #attempt = 0;
  #lastStart = 0;

  constructor(options: RestartOptions = {}) {
    this.options = {
      initialDelayMs: options.initialDelayMs ?? 100,
      maxDelayMs: options.maxDelayMs ?? 30_000,
      crashloopCount: options.crashloopCount ?? 5,
      crashloopWindowMs: options.crashloopWindowMs ?? 60_000,
      stableAfterMs: options.stableAfterMs ?? 10_000,
    };
  }

  /** Call when the worker/process (re)started successfully. */
  started(now = Date.now()): void {
    this.#lastStart = now;
  }

  /** Call when it crashed: says whether to restart (and after how long) or to give up. */
  crashed(now = Date.now()): RestartDecision {
    const o = this.options;
    if (this.#lastStart !== 0 && now - this.#lastStart >= o.stableAfterMs) this.#attempt = 0;
    this.#crashes = this.#crashes.filter((t) => now - t < o.crashloopWindowMs);
    this.#crashes.push(now);
    if (this.#crashes.length >= o.crashloopCount)
      return { action: 'crashloop', crashes: this.#crashes.length };
    const delayMs = Math.min(o.maxDelayMs, o.initialDelayMs * 2 ** this.#attempt);
    this.#attempt++;
    return { action: 'restart', delayMs };
  }
}
