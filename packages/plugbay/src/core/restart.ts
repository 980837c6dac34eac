import type { OptionChecker } from './options.js';

/**
 * When to restart a crashed worker or process, and when to give up for a while. Exponential backoff (100 ms
 * doubling to 30 s by default); `crashloopCount` crashes inside `crashloopWindowMs` is a crash loop: stop
 * restarting, and try once more after a cool-down (30 s doubling to 5 min). That retry is half-open: a crash before
 * the new run was stable (`stableAfterMs`) is at once another crash loop, with twice the cool-down.
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
  /** A run that stayed up this long resets the backoff and the cool-down. Default 10 s. */
  stableAfterMs?: number;
  /** Wait in a crash loop before the half-open retry. Default 30 s; doubles with each crash loop in a row. */
  coolDownMs?: number;
  /** Largest wait in a crash loop. Default 5 min. */
  maxCoolDownMs?: number;
}

const optionNames = [
  'initialDelayMs',
  'maxDelayMs',
  'crashloopCount',
  'crashloopWindowMs',
  'stableAfterMs',
  'coolDownMs',
  'maxCoolDownMs',
] as const satisfies readonly (keyof RestartOptions)[];

/** Checks a tier's `restart` options (every field a positive integer) into `check`, under `name`. */
export function checkRestartOptions(check: OptionChecker, name: string, options: unknown): void {
  check.object(name, options);
  if (options === null || typeof options !== 'object') return;
  for (const key of optionNames) check.positiveInteger(`${name}.${key}`, (options as RestartOptions)[key]);
}

export type RestartDecision =
  | { action: 'restart'; delayMs: number }
  | { action: 'crashloop'; crashes: number; retryInMs: number };

export class RestartPolicy {
  readonly options: Required<RestartOptions>;
  #crashes: number[] = [];
  #attempt = 0;
  #lastStart = 0;
  /** Crash loops in a row (each doubles the cool-down). */
  #loops = 0;
  /** The run is a half-open retry out of a crash loop: its next crash before it is stable is a crash loop. */
  #probing = false;

  constructor(options: RestartOptions = {}) {
    this.options = {
      initialDelayMs: options.initialDelayMs ?? 100,
      maxDelayMs: options.maxDelayMs ?? 30_000,
      crashloopCount: options.crashloopCount ?? 5,
      crashloopWindowMs: options.crashloopWindowMs ?? 60_000,
      stableAfterMs: options.stableAfterMs ?? 10_000,
      coolDownMs: options.coolDownMs ?? 30_000,
      maxCoolDownMs: options.maxCoolDownMs ?? 300_000,
    };
  }

  /** Call when the worker/process (re)started successfully. */
  started(now = Date.now()): void {
    this.#lastStart = now;
  }

  /** Call when it crashed: says whether to restart (and after how long) or that it is a crash loop. */
  crashed(now = Date.now()): RestartDecision {
    const o = this.options;
    if (this.#lastStart !== 0 && now - this.#lastStart >= o.stableAfterMs) {
      this.#attempt = 0;
      this.#loops = 0;
      this.#probing = false;
    }
    this.#crashes = this.#crashes.filter((t) => now - t < o.crashloopWindowMs);
    this.#crashes.push(now);
    if (this.#probing || this.#crashes.length >= o.crashloopCount) {
      const crashes = this.#crashes.length;
      const retryInMs = Math.min(o.maxCoolDownMs, o.coolDownMs * 2 ** this.#loops);
      this.#loops++;
      this.#crashes = [];
      this.#attempt = 0;
      this.#probing = false;
      return { action: 'crashloop', crashes, retryInMs };
    }
    const delayMs = Math.min(o.maxDelayMs, o.initialDelayMs * 2 ** this.#attempt);
    this.#attempt++;
    return { action: 'restart', delayMs };
  }

  /**
   * Call when a crash-looped instance is tried again: after its cool-down, or at once by an operator (`reset`:
   * the cool-down starts again from `coolDownMs`). Either way the retry is half-open.
   */
  retrying(reset = false): void {
    if (reset) this.#loops = 0;
    this.#probing = true;
    this.#lastStart = 0; // stability counts from the retry's own start
  }
}
