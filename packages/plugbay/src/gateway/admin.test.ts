// The admin API's refusals over real HTTP: each names the field, and nothing changes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { start } from './rollout.test.shared.js';

test('bad route bodies get 400/409 naming the field, and change nothing', async (t) => {
  const { send } = await start(t);
  const good = { stable: '1.0.0', canary: { version: '1.1.0', percent: 5 } };
  assert.equal((await send('PUT', '/v1/routes/svc', JSON.stringify(good))).status, 200);
  const auditBefore = (await send('GET', '/v1/audit')).body;

  const cases: [string, string, number, string, string][] = [
    ['unknown version', JSON.stringify({ stable: '9.9.9' }), 409, 'PLUGBAY_VERSION_NOT_LOADED', 'stable'],
    [
      'percent 150',
      JSON.stringify({ stable: '1.0.0', canary: { version: '1.1.0', percent: 150 } }),
      400,
      'PLUGBAY_INVALID_ARGUMENT',
      'canary.percent',
    ],
    [
      'duplicate experiment names',
      JSON.stringify({
        stable: '1.0.0',
        experiments: [
          { name: 'x', variants: { A: '1.0.0' } },
          { name: 'x', variants: { A: '1.1.0' } },
        ],
      }),
      400,
      'PLUGBAY_INVALID_ARGUMENT',
      'experiments.1.name',
    ],
    ['malformed JSON', '{"stable": "1.0.0",', 400, 'PLUGBAY_INVALID_ARGUMENT', '(root)'],
    ['not an object', '[1]', 400, 'PLUGBAY_INVALID_ARGUMENT', '(root)'],
  ];
  for (const [what, body, status, code, field] of cases) {
    const r = await send('PUT', '/v1/routes/svc', body, { 'content-type': 'application/json' });
    const error = (r.body as { error: { code: string; details: { field: string } } }).error;
    assert.equal(r.status, status, what);
    assert.equal(error.code, code, what);
    assert.equal(error.details.field, field, what);
  }
  const route = await send('GET', '/v1/routes/svc');
  assert.deepEqual((route.body as { route: unknown }).route, good);
  assert.deepEqual((await send('GET', '/v1/audit')).body, auditBefore, 'no audit entry for a refused change');

  const noVersion = await send('POST', '/v1/plugins/svc/activate', '{}');
  assert.equal(noVersion.status, 400);
  assert.equal((noVersion.body as { error: { details: { field: string } } }).error.details.field, 'version');
  const notLoaded = await send('POST', '/v1/plugins/svc/activate', '{"version":"3.0.0"}');
  assert.equal(notLoaded.status, 409);
  assert.equal((notLoaded.body as { error: { code: string } }).error.code, 'PLUGBAY_VERSION_NOT_LOADED');
  const badLimit = await send('GET', '/v1/audit?limit=0');
  assert.equal(badLimit.status, 400);
  assert.equal((badLimit.body as { error: { details: { field: string } } }).error.details.field, 'limit');
  const unknown = await send('GET', '/v1/routes/nope');
  assert.equal(unknown.status, 404);
  assert.deepEqual((await send('GET', '/v1/routes/svc')).body, route.body);
});

test('PUT /v1/routes/:plugin for a plugin the host does not know: 404 PLUGBAY_UNKNOWN_PLUGIN, nothing stored', async (t) => {
  const { send } = await start(t);
  const auditBefore = (await send('GET', '/v1/audit')).body;
  for (const body of ['{}', '{"fallback":[]}', '{"stable":"1.0.0"}']) {
    const r = await send('PUT', '/v1/routes/nope', body, { 'content-type': 'application/json' });
    assert.equal(r.status, 404, body);
    const error = (r.body as { error: { code: string; plugin: string } }).error;
    assert.equal(error.code, 'PLUGBAY_UNKNOWN_PLUGIN', body);
    assert.equal(error.plugin, 'nope', body);
  }
  assert.equal((await send('GET', '/v1/routes/nope')).status, 404, 'no route was stored');
  assert.deepEqual((await send('GET', '/v1/audit')).body, auditBefore, 'no audit entry');
});
