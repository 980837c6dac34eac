// Gray release over real HTTP: a 10 % canary, stickiness, activate and rollback.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callAll, start } from './rollout.test.shared.js';

test('over HTTP: a 10 % canary serves 9–11 % of 10 000 keys, stickily; activate, then rollback restores the stable', async (t) => {
  const { send } = await start(t);
  const put = await send(
    'PUT',
    '/v1/routes/svc',
    JSON.stringify({ stable: '1.0.0', canary: { version: '1.1.0', percent: 10 } }),
  );
  assert.equal(put.status, 200, JSON.stringify(put.body));

  const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
  const first = await callAll(send, keys);
  const canary = [...first.values()].filter((r) => r.servedBy === 'svc@1.1.0');
  assert.ok(canary.length >= 900 && canary.length <= 1100, `canary share ${canary.length / 100} %`);
  assert.ok(canary.every((r) => r.arm === 'canary'));
  assert.ok([...first.values()].every((r) => r.servedBy === 'svc@1.1.0' || r.arm === 'stable'));
  // Sticky: the same keys again get the same version.
  const again = await callAll(send, keys.slice(0, 1_000));
  for (const [key, r] of again) assert.equal(r.servedBy, first.get(key)?.servedBy, key);

  // The canary ends; then 1.1.0 is activated and rolled back.
  assert.equal((await send('PUT', '/v1/routes/svc', '{"stable":"1.0.0"}')).status, 200);
  const activated = await send('POST', '/v1/plugins/svc/activate', '{"version":"1.1.0"}', {
    'x-plugbay-actor': 'alice',
  });
  assert.equal(activated.status, 200, JSON.stringify(activated.body));
  assert.deepEqual(
    {
      version: (activated.body as { version: string }).version,
      previous: (activated.body as { previous: string }).previous,
    },
    { version: '1.1.0', previous: '1.0.0' },
  );
  const rolledBack = await send('POST', '/v1/plugins/svc/rollback');
  assert.equal(rolledBack.status, 200, JSON.stringify(rolledBack.body));
  assert.equal((rolledBack.body as { version: string }).version, '1.0.0');
  const route = await send('GET', '/v1/routes/svc');
  assert.deepEqual((route.body as { route: unknown }).route, { stable: '1.0.0' });
  const plain = await send('POST', '/v1/call/svc/who', '{}');
  assert.equal(plain.headers['x-plugbay-served-by'], 'svc@1.0.0');

  const audit = await send('GET', '/v1/audit?plugin=svc&limit=3');
  const entries = (audit.body as { entries: { action: string; actor: string; version?: string }[] }).entries;
  assert.deepEqual(
    entries.map((e) => [e.action, e.actor, e.version]),
    [
      ['rollback', 'admin-api', '1.0.0'],
      ['activate', 'alice', '1.1.0'],
      ['route', 'admin-api', undefined], // the last route set: its stable 1.0.0 is what rollback returns to
    ],
  );
});
