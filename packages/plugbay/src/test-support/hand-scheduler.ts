import type { RolloutScheduler } from '../host/progressive.js';

/**
 * A rollout scheduler the test fires by hand: each judgement runs when the test says so, not when a timer would
 * (deterministic steps, no sleeps). `pending` holds what a timer would run next.
 */
export class HandScheduler implements RolloutScheduler {
  readonly pending = new Set<() => void | Promise<void>>();

  after(_ms: number, fn: () => void | Promise<void>): () => void {
    this.pending.add(fn);
    return () => this.pending.delete(fn);
  }

  /** Runs what is pending now and waits for it (each run arms the next timer). */
  async fire(): Promise<void> {
    const now = [...this.pending];
    this.pending.clear();
    for (const fn of now) await fn();
  }
}
