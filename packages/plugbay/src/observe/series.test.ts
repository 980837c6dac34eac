import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bucketCount,
  bucketOf,
  lowerOf,
  type SeriesClock,
  SeriesRing,
  seriesOf,
  slotCount,
  Totals,
  windowOf,
} from './series.js';

/** A clock the test moves: monotonic ms from 0, wall ms from a whole epoch second. */
class TestClock implements SeriesClock {
  mono = 0;
  readonly epoch = 1_790_000_000_000;
  now(): number {
    return this.mono;
  }
  wall(): number {
    return this.epoch + this.mono;
  }
  /** Wall ms now. */
  get at(): number {
    return this.wall();
  }
}

/** A deterministic PRNG (mulberry32): the same values on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('histogram buckets', () => {
  it('put each duration between its bucket bounds, 8 per octave, no wider than 1/8 of the value', () => {
    const rnd = random(1);
    for (let n = 0; n < 20_000; n++) {
      const x = 2 ** (-20 + rnd() * 26); // 0.95 µs … 64 s
      const b = bucketOf(x);
      assert.ok(b > 0 && b < bucketCount - 1, `${x} → ${b}`);
      assert.ok(lowerOf(b) <= x && x < lowerOf(b + 1), `${x} not in [${lowerOf(b)}, ${lowerOf(b + 1)})`);
      assert.ok((lowerOf(b + 1) - lowerOf(b)) / lowerOf(b) <= 1 / 8 + 1e-12);
    }
    assert.equal(bucketOf(1), bucketOf(1.1)); // [1, 1.125)
    assert.equal(bucketOf(1.125), bucketOf(1) + 1);
    assert.equal(bucketOf(2), bucketOf(1) + 8); // one octave up
    assert.equal(bucketOf(0), 0);
    assert.equal(bucketOf(1e-7), 0);
    assert.equal(bucketOf(65), bucketCount - 1);
    assert.equal(bucketOf(Number.NaN), bucketCount - 1);
  });
});

describe('SeriesRing', () => {
  it('counts calls and errors per second; the caller’s invalid input and cancellations are not errors', () => {
    const clock = new TestClock();
    const ring = new SeriesRing(clock);
    const t0 = clock.at;
    ring.record(0.001, clock.mono);
    ring.record(0.002, clock.mono);
    ring.fail('PLUGBAY_TIMEOUT');
    ring.record(0.003, clock.mono);
    ring.fail('PLUGBAY_INVALID_INPUT');
    ring.record(0.003, clock.mono);
    ring.fail('PLUGBAY_CANCELLED');
    clock.mono += 1000; // the next second
    ring.record(0.004, clock.mono);
    ring.fail('PLUGBAY_PLUGIN_ERROR');
    ring.record(0.004, clock.mono);
    ring.fail('PLUGBAY_CLOSED');
    const first = windowOf([ring], t0, t0 + 1000, clock.at);
    assert.equal(first.calls, 4);
    assert.equal(first.errors, 1);
    assert.deepEqual(first.errorsByCode, { PLUGBAY_TIMEOUT: 1 });
    assert.equal(first.errorRate, 0.25);
    const both = windowOf([ring], t0, t0 + 2000, clock.at);
    assert.equal(both.calls, 6);
    assert.deepEqual(both.errorsByCode, { PLUGBAY_TIMEOUT: 1, PLUGBAY_PLUGIN_ERROR: 1, other: 1 });
    assert.equal(both.fromMs, t0);
    const second = windowOf([ring], t0 + 1000, t0 + 2000, clock.at);
    assert.equal(second.calls, 2);
    assert.equal(second.errors, 2);
  });

  it('wraps after 15 minutes: a slot written again forgets its old second, a stale one is never read', () => {
    const clock = new TestClock();
    const ring = new SeriesRing(clock);
    const t0 = clock.at;
    for (let i = 0; i < 3; i++) ring.record(0.001, clock.mono);
    ring.fail('PLUGBAY_PLUGIN_ERROR');
    clock.mono += 5000;
    ring.record(0.001, clock.mono); // second 5
    // 900 s later second 0's slot is second 900's: written again, it is reset first.
    clock.mono = slotCount * 1000;
    ring.record(0.5, clock.mono);
    const now = clock.at;
    const all = windowOf([ring], t0, now + 1000, now);
    assert.equal(all.calls, 2, 'second 0 is gone (wrapped), seconds 5 and 900 remain');
    assert.equal(all.errors, 0, 'the error of second 0 was reset with its slot');
    assert.equal(all.fromMs, t0 + 1000, 'the window starts where the ring does');
    // Asking for second 0 explicitly reads nothing: its slot holds second 900.
    const totals = new Totals();
    ring.addTo(totals, t0 / 1000, t0 / 1000);
    assert.equal(totals.calls, 0);
    // Much later, nothing written meanwhile: every slot is stale and reads as zero.
    clock.mono += 3 * slotCount * 1000;
    const later = windowOf([ring], clock.at - 900_000, clock.at, clock.at);
    assert.equal(later.calls, 0);
    assert.equal(later.p50Ms, undefined);
    // The slot second 5 used is written again much later: only the new call counts.
    ring.record(0.001, clock.mono);
    assert.equal(windowOf([ring], clock.at - 900_000, clock.at + 1, clock.at).calls, 1);
  });

  it('stays on the current second when the wall clock goes back', () => {
    const clock = new TestClock();
    let wallShift = 0;
    const ring = new SeriesRing({ now: () => clock.mono, wall: () => clock.wall() + wallShift });
    const t0 = clock.at;
    ring.record(0.001, clock.mono);
    clock.mono += 1500;
    wallShift = -10_000; // NTP stepped the clock back 10 s
    ring.record(0.001, clock.mono);
    ring.record(0.001, clock.mono);
    const w = windowOf([ring], t0, t0 + 1000, t0 + 1000);
    assert.equal(w.calls, 3, 'the calls after the step land in the last second written');
  });

  it('quantiles of merged slots are within one bucket of the exact values', () => {
    const clock = new TestClock();
    const rings = [new SeriesRing(clock), new SeriesRing(clock)];
    const rnd = random(7);
    const t0 = clock.at;
    const exact: number[] = [];
    for (let s = 0; s < 30; s++) {
      for (let i = 0; i < 400; i++) {
        // log-normal-ish around 2 ms with a slow tail
        const x = 0.002 * Math.exp((rnd() + rnd() + rnd() - 1.5) * 2) * (rnd() < 0.02 ? 20 : 1);
        exact.push(x);
        rings[i % 2]!.record(x, clock.mono);
      }
      clock.mono += 1000;
    }
    exact.sort((a, b) => a - b);
    const w = windowOf(rings, t0, clock.at, clock.at);
    assert.equal(w.calls, exact.length);
    for (const [q, got] of [
      [0.5, w.p50Ms],
      [0.99, w.p99Ms],
    ] as const) {
      const want = exact[Math.ceil(q * exact.length) - 1]! * 1000;
      assert.ok(got !== undefined);
      const error = Math.abs(got - want) / want;
      assert.ok(error <= 1 / 8, `p${q * 100}: ${got} ms vs exact ${want} ms (${(error * 100).toFixed(1)} %)`);
    }
  });

  it('series: points per step from since to now, zero-filled, with their own p50/p99', () => {
    const clock = new TestClock();
    const ring = new SeriesRing(clock);
    clock.mono = 10_000; // second 10 of the test epoch (a multiple of 5 s)
    const t0 = clock.at;
    ring.record(0.001, clock.mono);
    ring.record(0.001, clock.mono);
    clock.mono += 2000; // second 12
    ring.record(0.1, clock.mono);
    ring.fail('PLUGBAY_PLUGIN_CRASHED');
    clock.mono += 4000; // second 16
    const report = seriesOf([{ plugin: 'p', version: '1.0.0', rings: [ring] }], t0, 1000, clock.at + 500);
    assert.equal(report.stepMs, 1000);
    const points = report.versions[0]!.points;
    assert.deepEqual(
      points.map((p) => [p.t - t0, p.calls, p.errors]),
      [
        [0, 2, 0],
        [1000, 0, 0],
        [2000, 1, 1],
        [3000, 0, 0],
        [4000, 0, 0],
        [5000, 0, 0],
        [6000, 0, 0],
      ],
    );
    assert.ok(Math.abs(points[0]!.p50Ms! - 1) < 1 / 8);
    assert.ok(Math.abs(points[2]!.p99Ms! - 100) < 100 / 8);
    assert.equal(points[1]!.p50Ms, undefined);
    const coarse = seriesOf([{ plugin: 'p', version: '1.0.0', rings: [ring] }], t0, 5000, clock.at);
    assert.deepEqual(
      coarse.versions[0]!.points.map((p) => [p.t - t0, p.calls, p.errors]),
      [
        [0, 3, 1],
        [5000, 0, 0],
      ],
    );
  });
});
