import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RestartPolicy } from './restart.js';

// Times are given explicitly: the policy is pure arithmetic over the clock it is handed.

test('crashes back off, then a crash loop waits its cool-down; each crash loop in a row doubles it up to the cap', () => {
  const p = new RestartPolicy({ crashloopCount: 3, coolDownMs: 1000, maxCoolDownMs: 3000 });
  p.started(0);
  assert.deepEqual(p.crashed(1), { action: 'restart', delayMs: 100 });
  assert.deepEqual(p.crashed(2), { action: 'restart', delayMs: 200 });
  assert.deepEqual(p.crashed(3), { action: 'crashloop', crashes: 3, retryInMs: 1000 });
  p.retrying();
  p.started(1003);
  // The half-open retry crashed before it was stable: a crash loop again at once, twice the cool-down.
  assert.deepEqual(p.crashed(1004), { action: 'crashloop', crashes: 1, retryInMs: 2000 });
  p.retrying();
  assert.deepEqual(p.crashed(3004), { action: 'crashloop', crashes: 1, retryInMs: 3000 }); // capped
});

test('a retry that stays up stableAfterMs is healthy again: the next crash restarts with the first backoff', () => {
  const p = new RestartPolicy({ crashloopCount: 2, coolDownMs: 1000, stableAfterMs: 500 });
  p.started(0);
  p.crashed(1);
  assert.equal(p.crashed(2).action, 'crashloop');
  p.retrying();
  p.started(1002);
  assert.deepEqual(p.crashed(1600), { action: 'restart', delayMs: 100 });
  assert.deepEqual(p.crashed(1601), { action: 'crashloop', crashes: 2, retryInMs: 1000 }); // cool-down reset too
});

test("an operator's retry resets the cool-down but is half-open too; a retry whose start fails is a crash loop", () => {
  const p = new RestartPolicy({ crashloopCount: 2, coolDownMs: 1000, stableAfterMs: 500 });
  p.started(0);
  assert.equal(p.crashed(10_000).action, 'restart');
  assert.deepEqual(p.crashed(10_001), { action: 'crashloop', crashes: 2, retryInMs: 1000 });
  p.retrying();
  assert.deepEqual(p.crashed(20_000), { action: 'crashloop', crashes: 1, retryInMs: 2000 }); // never started
  p.retrying(true);
  assert.deepEqual(p.crashed(30_000), { action: 'crashloop', crashes: 1, retryInMs: 1000 });
});
