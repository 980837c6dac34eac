import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  defaultThresholds,
  judgeCanary,
  normalQuantile,
  p99Levels,
  type WindowStats,
} from './canary-analysis.js';

const w = (calls: number, errors: number, p99Ms?: number): WindowStats => ({
  calls,
  errors,
  errorRate: calls === 0 ? 0 : errors / calls,
  errorsByCode: errors === 0 ? {} : { PLUGBAY_PLUGIN_ERROR: errors },
  ...(p99Ms === undefined ? {} : { p50Ms: p99Ms / 2, p99Ms }),
  fromMs: 0,
  toMs: 1000,
});
const t = defaultThresholds;

test('normalQuantile matches known values', () => {
  assert.ok(Math.abs(normalQuantile(0.5)) < 1e-9);
  assert.ok(Math.abs(normalQuantile(0.975) - 1.959964) < 1e-5);
  assert.ok(Math.abs(normalQuantile(0.99) - 2.326348) < 1e-5);
  assert.ok(Math.abs(normalQuantile(0.001) + 3.090232) < 1e-5);
});

test('a healthy canary with enough calls passes at the end of the interval, and only waits before it', () => {
  const j = judgeCanary(w(60, 0, 4), w(540, 0, 4), t, true);
  assert.equal(j.verdict, 'pass', j.reason);
  assert.equal(j.errorRateIncrease, 0);
  assert.equal(judgeCanary(w(60, 0, 4), w(540, 0, 4), t, false).verdict, 'wait');
});

test('too few canary calls waits, however good or bad they look', () => {
  assert.equal(judgeCanary(w(0, 0), w(500, 0, 4), t, true).verdict, 'wait');
  assert.equal(judgeCanary(w(49, 0, 4), w(500, 0, 4), t, true).verdict, 'wait');
  assert.equal(judgeCanary(w(49, 20, 4), w(500, 0, 4), t, true).verdict, 'wait');
});

test('20 % failures on the minimum of canary calls fail, early or at the end', () => {
  for (const final of [false, true]) {
    const j = judgeCanary(w(50, 10, 4), w(450, 0, 4), t, final);
    assert.equal(j.verdict, 'fail', j.reason);
    assert.equal(j.errorRateIncrease, 20);
    assert.ok((j.z ?? 0) > 2.33);
  }
});

test('an excess above the threshold that is not significant waits for more calls instead of failing', () => {
  // 1 error in 50 (2 points over a clean stable) is within chance of a 1-point-worse version.
  const j = judgeCanary(w(50, 1, 4), w(450, 0, 4), t, true);
  assert.equal(j.verdict, 'wait', j.reason);
  // Stable failing as often as the canary is no increase at all.
  assert.equal(judgeCanary(w(100, 20, 4), w(900, 180, 4), t, true).verdict, 'pass');
});

test('a canary 3× slower at p99 fails; a sub-slack excess on a fast plugin does not', () => {
  const slow = judgeCanary(w(60, 0, 15), w(540, 0, 5), t, false);
  assert.equal(slow.verdict, 'fail', slow.reason);
  assert.equal(slow.p99Ratio, 3);
  const fast = judgeCanary(w(60, 0, 0.3), w(540, 0, 0.1), t, true);
  assert.equal(fast.verdict, 'pass', fast.reason);
});

test('p99 is judged on confidence bounds: a tail of a few slow calls is no evidence, a slow body of calls is', () => {
  const levels = p99Levels(300, 0.99);
  assert.ok(Math.abs(levels.low - 0.9766) < 1e-3 && levels.high === 0.9999, JSON.stringify(levels));
  const high = p99Levels(1200, 0.99).high;
  assert.ok(Math.abs(high - 0.9967) < 1e-3, String(high));
  // Raw p99s 3× apart (a hiccup hit the canary's 3 slowest calls), but its lower bound is stable-like: no fail.
  const hiccup = judgeCanary(w(300, 0, 150), w(1200, 0, 50), t, true, {
    canaryP99LowMs: 55,
    stableP99HighMs: 60,
  });
  assert.equal(hiccup.verdict, 'pass', hiccup.reason);
  assert.equal(hiccup.p99Ratio, 3);
  // Every canary call 3× slower: the lower bound is too.
  const slow = judgeCanary(w(300, 0, 150), w(1200, 0, 50), t, false, {
    canaryP99LowMs: 140,
    stableP99HighMs: 60,
  });
  assert.equal(slow.verdict, 'fail', slow.reason);
  assert.match(slow.reason, /bounds: canary ≥ 140 ms, stable ≤ 60 ms/);
});
