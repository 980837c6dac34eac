// Hostile input to POST /v1/admin/rollouts: each refusal is a 400 PLUGBAY_INVALID_ARGUMENT naming the field and the
// rule, and starts nothing (no rollout, the route untouched).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { start } from './rollout.test.shared.js';

const token = 'rollout-input-test-token';
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
const base = { plugin: 'svc', version: '1.1.0', stable: '1.0.0', intervalMs: 60_000 };
const check = (over: Record<string, unknown>) => ({
  type: 'promql',
  url: 'http://127.0.0.1:9090',
  query: 'up',
  max: 1,
  ...over,
});

const refused: [what: string, body: Record<string, unknown>, field: string, rule: string][] = [
  ['a negative interval', { ...base, intervalMs: -5 }, 'intervalMs', 'range'],
  ['an interval of no duration', { ...base, intervalMs: undefined, interval: 'NaN' }, 'interval', 'duration'],
  [
    'an interval past 24 h',
    { ...base, intervalMs: undefined, interval: '99999999999h' },
    'interval',
    'range',
  ],
  [
    '100 000 steps',
    { ...base, steps: Array.from({ length: 100_000 }, (_, i) => i + 1) },
    'steps.100',
    'maximum',
  ],
  ['a threshold out of range', { ...base, thresholds: { confidence: 5 } }, 'thresholds.confidence', 'range'],
  [
    'a check URL of another scheme',
    { ...base, checks: [check({ url: 'file:///etc/passwd' })] },
    'checks.0.url',
    'url',
  ],
  ['a check URL without a host', { ...base, checks: [check({ url: 'http://' })] }, 'checks.0.url', 'url'],
  [
    'a check URL that does not parse',
    { ...base, checks: [check({ url: 'http://exa mple:9090' })] },
    'checks.0.url',
    'url',
  ],
  // fetch() refuses a URL with credentials: such a check could never answer, every step would fail.
  [
    'a check URL with credentials',
    { ...base, checks: [check({ url: 'http://user:secret@127.0.0.1:9090' })] },
    'checks.0.url',
    'no-credentials',
  ],
  // Beyond the judgement's own 30 s deadline it means nothing; past 2^32 ms AbortSignal.timeout throws.
  [
    'a check timeout past 30 s',
    { ...base, checks: [check({ timeoutMs: 99_999_999_999 })] },
    'checks.0.timeoutMs',
    'range',
  ],
  // Every check is a request at each step's end, all at once: a few thousand would be a flood from the host.
  ['5000 checks', { ...base, checks: Array.from({ length: 5000 }, () => check({})) }, 'checks', 'max-items'],
];

test('rollouts: hostile starts are typed 400s naming field and rule, and change nothing', async (t) => {
  const { sendAdmin } = await start(t, { adminToken: token });
  const routeBefore = await sendAdmin('GET', '/v1/routes/svc', undefined, headers);
  for (const [what, body, field, rule] of refused) {
    const r = await sendAdmin('POST', '/v1/admin/rollouts', JSON.stringify(body), headers);
    assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.body).slice(0, 300)}`);
    const error = (r.body as { error: { code: string; details: { field: string; rule: string } } }).error;
    assert.equal(error.code, 'PLUGBAY_INVALID_ARGUMENT', what);
    assert.deepEqual({ field: error.details.field, rule: error.details.rule }, { field, rule }, what);
    const list = await sendAdmin('GET', '/v1/admin/rollouts', undefined, headers);
    assert.deepEqual(list.body, { rollouts: [] }, `${what}: no rollout`);
  }
  assert.deepEqual((await sendAdmin('GET', '/v1/routes/svc', undefined, headers)).body, routeBefore.body);
  // The limits are limits, not a refusal of everything: 16 checks on an https URL start.
  const ok = await sendAdmin(
    'POST',
    '/v1/admin/rollouts',
    JSON.stringify({
      ...base,
      checks: Array.from({ length: 16 }, () => check({ url: 'https://prom.example', timeoutMs: 30_000 })),
    }),
    headers,
  );
  assert.equal(ok.status, 201, JSON.stringify(ok.body).slice(0, 300));
  assert.equal((await sendAdmin('POST', '/v1/admin/rollouts/svc/abort', '{}', headers)).status, 200);
});

test('rollouts: the routes ask for the admin token', async (t) => {
  const { sendAdmin } = await start(t, { adminToken: token });
  const json = { 'content-type': 'application/json' };
  for (const [method, path, body] of [
    ['GET', '/v1/admin/rollouts', undefined],
    ['GET', '/v1/admin/rollouts/svc', undefined],
    ['GET', '/v1/series', undefined],
    ['POST', '/v1/admin/rollouts', JSON.stringify(base)],
    ['POST', '/v1/admin/rollouts/svc/abort', '{}'],
  ] as const) {
    const r = await sendAdmin(method, path, body, {
      ...json,
      authorization: 'Bearer wrong-token-0123456789',
    });
    assert.equal(r.status, 401, `${method} ${path}`);
  }
  const list = await sendAdmin('GET', '/v1/admin/rollouts', undefined, { authorization: `Bearer ${token}` });
  assert.deepEqual(list.body, { rollouts: [] });
});
