// The admin API's bearer token, its own listener, and the rule that a gateway reachable beyond loopback has a
// token: over real HTTP on loopback.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { createHost } from '../host/host.js';
import { isLoopback } from './admin-auth.js';
import { start } from './rollout.test.shared.js';
import { createGateway, type GatewayOptions } from './server.js';

const token = 'admin-token-0123456789abcdef';
const json = { 'content-type': 'application/json' };
type ErrorAnswer = { error: { code: string; details?: { field?: string } } };

/** Every route of the admin API, in an order in which each succeeds with the token. */
const adminRequests: [method: string, path: string, body?: string][] = [
  ['GET', '/v1/routes/svc'],
  ['PUT', '/v1/routes/svc', '{"stable":"1.0.0"}'],
  ['POST', '/v1/plugins/svc/activate', '{"version":"1.1.0"}'],
  ['POST', '/v1/plugins/svc/rollback', '{}'],
  ['GET', '/v1/audit'],
  ['GET', '/v1/plugins'],
  ['GET', '/v1/fleet'],
  ['GET', '/v1/plugins/svc'],
  ['GET', '/v1/stats'],
  ['GET', '/metrics'],
  ['GET', '/v1/series'],
];

test('with an admin token, every admin route answers 401 PLUGBAY_UNAUTHORIZED without it; calls, health and the dashboard page need none', async (t) => {
  const { send } = await start(t, { adminToken: token });
  const wrong = [
    undefined,
    'Bearer wrong-token-0123456789abcdef',
    `Bearer ${token}x`,
    `Bearer ${token.slice(0, -1)}`,
    `Basic ${token}`,
    token,
    'Bearer ',
  ];
  for (const [method, path, body] of adminRequests) {
    for (const authorization of wrong) {
      const label = `${method} ${path} with ${authorization ?? 'no authorization'}`;
      const r = await send(method, path, body, { ...json, ...(authorization ? { authorization } : {}) });
      assert.equal(r.status, 401, label);
      assert.equal((r.body as ErrorAnswer).error.code, 'PLUGBAY_UNAUTHORIZED', label);
      assert.equal((r.body as ErrorAnswer).error.details?.field, 'authorization', label);
      assert.match(String(r.headers['www-authenticate']), /^Bearer realm=/, label);
    }
  }
  const authorized = { ...json, authorization: `Bearer ${token}` };
  const audit = await send('GET', '/v1/audit', undefined, authorized);
  const changes = (audit.body as { entries: { action: string }[] }).entries.filter((e) =>
    ['route', 'activate', 'rollback'].includes(e.action),
  );
  assert.deepEqual(changes, [], 'a refused request changed nothing');

  for (const [method, path, body] of adminRequests) {
    const r = await send(method, path, body, authorized);
    assert.equal(r.status, 200, `${method} ${path}: ${JSON.stringify(r.body)}`);
  }
  // The scheme is case-insensitive (RFC 9110).
  assert.equal((await send('GET', '/v1/audit', undefined, { authorization: `bearer ${token}` })).status, 200);

  const call = await send('POST', '/v1/call/svc/who', '{}');
  assert.equal(call.status, 200);
  for (const path of ['/healthz', '/', '/dashboard/app.js', '/dashboard/style.css']) {
    assert.equal((await send('GET', path)).status, 200, path);
  }
  assert.equal((await send('GET', '/readyz')).status, 503); // not set ready: answered, not refused
});

test('adminPort: the admin API, status and dashboard on their own loopback listener; the traffic port serves calls and health only', async (t) => {
  const { send, sendAdmin, port, adminPort } = await start(t, { adminPort: 0 });
  assert.notEqual(adminPort, port);
  for (const [method, path, body] of [...adminRequests, ['GET', '/'] as [string, string]]) {
    const r = await send(method, path, body, json);
    assert.equal(r.status, 404, `traffic port: ${method} ${path}`);
    assert.equal((r.body as ErrorAnswer).error.code, 'PLUGBAY_NOT_FOUND');
  }
  assert.equal((await send('POST', '/v1/call/svc/who', '{}')).status, 200);
  assert.equal((await send('GET', '/healthz')).status, 200);
  assert.equal((await send('GET', '/readyz')).status, 503);

  for (const [method, path, body] of adminRequests) {
    const r = await sendAdmin(method, path, body, json);
    assert.equal(r.status, 200, `admin port: ${method} ${path}: ${JSON.stringify(r.body)}`);
  }
  assert.equal((await sendAdmin('GET', '/')).status, 200);
  assert.equal((await sendAdmin('GET', '/healthz')).status, 200);
  assert.equal((await sendAdmin('POST', '/v1/call/svc/who', '{}')).status, 404, 'no calls on the admin port');
});

test('adminPort with a token: the admin listener asks for it', async (t) => {
  const { sendAdmin } = await start(t, { adminPort: 0, adminToken: token });
  const r = await sendAdmin('GET', '/v1/routes/svc');
  assert.equal(r.status, 401);
  assert.equal((r.body as ErrorAnswer).error.code, 'PLUGBAY_UNAUTHORIZED');
  assert.equal(
    (await sendAdmin('GET', '/v1/routes/svc', undefined, { authorization: `Bearer ${token}` })).status,
    200,
  );
});

test('createGateway refuses a listener beyond loopback without an admin token, and a weak token', async (t) => {
  const host = createHost({ logger: pino({ level: 'silent' }) });
  t.after(() => host.close());
  const refused: [Partial<GatewayOptions>, string][] = [
    [{ hostname: '0.0.0.0' }, 'adminToken'],
    [{ hostname: '::' }, 'adminToken'],
    [{ hostname: '192.168.1.10' }, 'adminToken'],
    [{ hostname: 'gateway.lan' }, 'adminToken'],
    [{ adminPort: 0, adminHostname: '0.0.0.0' }, 'adminToken'],
    [{ hostname: '0.0.0.0', adminPort: 0 }, 'adminToken'],
    [{ adminToken: 'short' }, 'adminToken'],
    [{ adminToken: `${token} with spaces` }, 'adminToken'],
    [{ adminHostname: '127.0.0.1' }, 'adminHostname'],
    [{ adminPort: 70000 }, 'adminPort'],
    [{ shutdownTimeoutMs: -1 }, 'shutdownTimeoutMs'],
  ];
  for (const [options, option] of refused) {
    assert.throws(
      () => createGateway({ host, port: 0, ...options }),
      (err: { code: string; message: string }) =>
        err.code === 'PLUGBAY_INVALID_ARGUMENT' && err.message.includes(`options.${option}`),
      JSON.stringify(options),
    );
  }
  for (const options of [
    { hostname: '0.0.0.0', adminToken: token },
    { hostname: '::', adminPort: 0, adminHostname: '0.0.0.0', adminToken: token },
    { hostname: '127.0.0.1' },
    { hostname: '::1', adminPort: 0, adminHostname: 'localhost' },
    { shutdownTimeoutMs: 0 },
  ]) {
    assert.doesNotThrow(() => createGateway({ host, port: 0, ...options }), JSON.stringify(options));
  }
  assert.deepEqual(
    [
      '127.0.0.1',
      '127.1.2.3',
      '::1',
      'localhost',
      'LOCALHOST',
      '0.0.0.0',
      '::',
      '10.0.0.1',
      'example.com',
    ].map(isLoopback),
    [true, true, true, true, true, false, false, false, false],
  );
});
