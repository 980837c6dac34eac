// A/B routing over real HTTP.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callAll, start } from './rollout.test.shared.js';

test('over HTTP: a 50/50 experiment splits 10 000 keys within ±2 points, each variant on its version', async (t) => {
  const { send } = await start(t);
  const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
  const ab = await send(
    'PUT',
    '/v1/routes/svc',
    JSON.stringify({
      stable: '1.0.0',
      experiments: [{ name: 'color', variants: { A: '1.0.0', B: '1.1.0' }, split: { A: 50, B: 50 } }],
    }),
  );
  assert.equal(ab.status, 200, JSON.stringify(ab.body));
  const split = await callAll(send, keys);
  const b = [...split.values()].filter((r) => r.arm === 'experiment:color:B');
  assert.ok(b.every((r) => r.servedBy === 'svc@1.1.0'));
  assert.ok(b.length >= 4_800 && b.length <= 5_200, `variant B share ${b.length / 100} %`);
});
