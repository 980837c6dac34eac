// Cross-site requests, DNS rebinding, admin content types and the timeout cap, over real HTTP to a real gateway.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { createHost } from '../host/host.js';
import { createOriginPolicy } from './origin.js';
import { type Reply, start } from './rollout.test.shared.js';
import { createGateway } from './server.js';

type ErrorReply = { error: { code: string; details: Record<string, unknown> } };
const errorOf = (r: Reply) => (r.body as ErrorReply).error;

function assertForbidden(r: Reply, header: string, what: string) {
  assert.equal(r.status, 403, what);
  assert.equal(errorOf(r).code, 'PLUGBAY_FORBIDDEN_ORIGIN', what);
  assert.equal(errorOf(r).details.header, header, what);
}

test('a cross-site call or change is refused with 403 PLUGBAY_FORBIDDEN_ORIGIN and changes nothing', async (t) => {
  const { send, port } = await start(t);
  assert.equal((await send('PUT', '/v1/routes/svc', '{"stable":"1.0.0"}')).status, 200);
  const auditBefore = (await send('GET', '/v1/audit')).body;
  const evil = { origin: 'https://evil.example' };
  const changes: [string, string, string | undefined][] = [
    ['POST', '/v1/call/svc/who', '{}'],
    ['PUT', '/v1/routes/svc', '{"stable":"1.1.0"}'],
    ['POST', '/v1/plugins/svc/activate', '{"version":"1.1.0"}'],
    ['POST', '/v1/plugins/svc/rollback', undefined],
    ['POST', '/v1/plugins/svc/activate', 'version=1.1.0'], // an HTML form's body
  ];
  for (const [method, path, body] of changes) {
    const what = `${method} ${path}`;
    assertForbidden(await send(method, path, body, evil), 'origin', `${what} from another origin`);
    // The browser's own word, with or without an Origin.
    const site = { 'sec-fetch-site': 'cross-site' };
    assertForbidden(await send(method, path, body, site), 'sec-fetch-site', `${what} cross-site`);
    const sameSite = { 'sec-fetch-site': 'same-site', origin: `http://localhost:${port}` };
    assertForbidden(await send(method, path, body, sameSite), 'sec-fetch-site', `${what} same-site`);
    // Sandboxed frames, file: pages and cross-site redirects send `Origin: null`.
    assertForbidden(await send(method, path, body, { origin: 'null' }), 'origin', `${what} from null`);
    // Same host, other port: another origin.
    const otherPort = { origin: `http://127.0.0.1:${port + 1}` };
    assertForbidden(await send(method, path, body, otherPort), 'origin', `${what} from another port`);
  }
  assert.deepEqual((await send('GET', '/v1/audit')).body, auditBefore, 'nothing was changed');
  assert.equal(
    ((await send('GET', '/v1/routes/svc')).body as { route: { stable: string } }).route.stable,
    '1.0.0',
  );
  // Reading is not a change: a GET from another origin is answered (the browser keeps the answer from the page).
  assert.equal((await send('GET', '/v1/plugins', undefined, evil)).status, 200);
});

test('same-origin (the dashboard), no Origin (curl, the CLI) and allow-listed origins are served', async (t) => {
  const { send, port } = await start(t, {
    allowOrigins: ['https://ops.example.com/', 'http://LOCALHOST:5173'],
  });
  const own = { origin: `http://127.0.0.1:${port}` };
  const call = (headers: Record<string, string>) => send('POST', '/v1/call/svc/who', '{}', headers);
  assert.equal((await call({})).status, 200, 'no Origin');
  assert.equal((await call(own)).status, 200, 'own origin');
  assert.equal((await call({ ...own, 'sec-fetch-site': 'same-origin' })).status, 200, 'same-origin');
  assert.equal((await call({ 'sec-fetch-site': 'none' })).status, 200, 'typed by the user');
  // Behind a TLS proxy that passes the Host through, the dashboard's origin is https: its host still matches.
  const proxied = await send('POST', '/v1/call/svc/who', '{}', {
    host: 'localhost',
    origin: 'https://localhost',
  });
  assert.equal(proxied.status, 200, 'https origin, same host');
  // Allowed origins, normalised (trailing slash, case, default port), even when the browser says cross-site.
  for (const origin of ['https://ops.example.com', 'https://ops.example.com:443', 'http://localhost:5173']) {
    const r = await call({ origin, 'sec-fetch-site': 'cross-site' });
    assert.equal(r.status, 200, origin);
  }
  assertForbidden(await call({ origin: 'http://ops.example.com' }), 'origin', 'the http twin is not allowed');
  // The whole admin flow from an allowed origin.
  const ops = { origin: 'https://ops.example.com', 'content-type': 'application/json' };
  assert.equal((await send('PUT', '/v1/routes/svc', '{"stable":"1.0.0"}', ops)).status, 200);
  assert.equal((await send('POST', '/v1/plugins/svc/activate', '{"version":"1.1.0"}', ops)).status, 200);
  assert.equal(
    (await send('POST', '/v1/plugins/svc/rollback', undefined, { origin: ops.origin })).status,
    200,
  );
});

test('listening on loopback, a Host that is not loopback, an IP or allowed is refused (DNS rebinding)', async (t) => {
  const { send, port } = await start(t, { allowHosts: ['plugbay.internal'] });
  // A rebound page is same-origin for the browser: only its Host gives it away, on reads as on changes.
  const rebound = {
    host: `evil.example:${port}`,
    origin: `http://evil.example:${port}`,
    'sec-fetch-site': 'same-origin',
  };
  assertForbidden(await send('GET', '/v1/plugins', undefined, rebound), 'host', 'read');
  assertForbidden(await send('GET', '/', undefined, rebound), 'host', 'dashboard');
  assertForbidden(await send('POST', '/v1/call/svc/who', '{}', rebound), 'host', 'call');
  assertForbidden(
    await send('GET', '/v1/plugins', undefined, { host: 'localhost.evil.example' }),
    'host',
    'suffix',
  );
  for (const host of [
    `127.0.0.1:${port}`,
    `localhost:${port}`,
    'LOCALHOST',
    `[::1]:${port}`,
    '10.1.2.3',
    'plugbay.internal:80',
  ]) {
    assert.equal((await send('GET', '/v1/plugins', undefined, { host })).status, 200, host);
  }
});

test('the Host check holds on every listen address: a wildcard or LAN gateway is reachable by a rebound page too', () => {
  const rebound = { host: 'evil.example:7070' };
  for (const listenHostname of ['::1', 'localhost', '0.0.0.0', '::', '192.168.1.5']) {
    const policy = createOriginPolicy({ listenHostname, allowOrigins: [], allowHosts: [] });
    assert.equal(policy.check('GET', rebound)?.code, 'PLUGBAY_FORBIDDEN_ORIGIN', listenHostname);
    const change = { ...rebound, origin: 'http://evil.example:7070', 'sec-fetch-site': 'same-origin' };
    assert.equal(policy.check('POST', change)?.code, 'PLUGBAY_FORBIDDEN_ORIGIN', listenHostname);
    assert.equal(policy.check('GET', { host: '192.168.1.5:7070' }), undefined, listenHostname);
    assert.equal(policy.check('GET', { host: 'localhost.:7070' }), undefined, listenHostname);
  }
  const listed = createOriginPolicy({ listenHostname: '0.0.0.0', allowOrigins: [], allowHosts: ['gw.lan'] });
  assert.equal(listed.check('GET', rebound)?.code, 'PLUGBAY_FORBIDDEN_ORIGIN');
  assert.equal(listed.check('GET', { host: 'gw.lan:7070' }), undefined);
  const named = createOriginPolicy({ listenHostname: 'gw.internal', allowOrigins: [], allowHosts: [] });
  assert.equal(named.check('GET', { host: 'gw.internal:7070' }), undefined, 'the listen name itself');
  // An allowed name still gets the cross-site check.
  const crossSite = { host: 'gw.lan', origin: 'https://evil.example' };
  assert.equal(listed.check('POST', crossSite)?.code, 'PLUGBAY_FORBIDDEN_ORIGIN');
});

test('admin changes take JSON or no content type; calls take any', async (t) => {
  const { send } = await start(t);
  for (const type of [
    'application/x-www-form-urlencoded',
    'text/plain;charset=UTF-8',
    'multipart/form-data; boundary=x',
  ]) {
    for (const [method, path] of [
      ['PUT', '/v1/routes/svc'],
      ['POST', '/v1/plugins/svc/activate'],
      ['POST', '/v1/plugins/svc/rollback'],
    ] as const) {
      const r = await send(method, path, '{"version":"1.1.0"}', { 'content-type': type });
      assert.equal(r.status, 400, `${method} ${path} as ${type}`);
      assert.equal(errorOf(r).code, 'PLUGBAY_INVALID_ARGUMENT');
      assert.equal(errorOf(r).details.field, 'content-type');
    }
    assert.equal((await send('POST', '/v1/call/svc/who', '{}', { 'content-type': type })).status, 200, type);
  }
  assert.deepEqual((await send('GET', '/v1/audit')).body, { entries: [] }, 'nothing was changed');
  const json = { 'content-type': 'Application/JSON; charset=utf-8' };
  assert.equal((await send('POST', '/v1/plugins/svc/activate', '{"version":"1.1.0"}', json)).status, 200);
  assert.equal(
    (await send('POST', '/v1/plugins/svc/activate', '{"version":"1.0.0"}')).status,
    200,
    'no type',
  );
  assert.equal((await send('POST', '/v1/plugins/svc/rollback')).status, 200, 'no body, no type');
});

test('x-plugbay-timeout-ms is capped: above maxTimeoutMs is 400 naming the header and the rule', async (t) => {
  const { send } = await start(t, { maxTimeoutMs: 1000 });
  const call = (ms: string) => send('POST', '/v1/call/svc/who', '{}', { 'x-plugbay-timeout-ms': ms });
  assert.equal((await call('1000')).status, 200);
  assert.equal((await call('1')).status, 200);
  for (const ms of ['1001', '86400000', '9007199254740993']) {
    const r = await call(ms);
    assert.equal(r.status, 400, ms);
    assert.equal(errorOf(r).code, 'PLUGBAY_INVALID_ARGUMENT', ms);
    assert.equal(errorOf(r).details.field, 'x-plugbay-timeout-ms', ms);
    assert.equal(typeof errorOf(r).details.rule, 'string', ms);
  }
  // The default cap is 60 s.
  const defaults = await start(t);
  const over = await defaults.send('POST', '/v1/call/svc/who', '{}', { 'x-plugbay-timeout-ms': '60001' });
  assert.equal(errorOf(over).details.max, 60000);
  const at = await defaults.send('POST', '/v1/call/svc/who', '{}', { 'x-plugbay-timeout-ms': '60000' });
  assert.equal(at.status, 200);
});

test('createGateway refuses bad origins, host names and caps, naming each', async (t) => {
  const host = createHost({ logger: pino({ level: 'silent' }) });
  t.after(() => host.close());
  assert.throws(
    () =>
      createGateway({
        host,
        allowOrigins: ['https://ops.example.com/path', 'null', 'ftp://x.example'],
        allowHosts: ['gw.lan:80'],
        maxTimeoutMs: 0,
      }),
    (err: Error & { code?: string }) =>
      err.code === 'PLUGBAY_INVALID_ARGUMENT' &&
      /allowOrigins\[0\]/.test(err.message) &&
      /allowOrigins\[1\]/.test(err.message) &&
      /allowOrigins\[2\]/.test(err.message) &&
      /allowHosts\[0\]/.test(err.message) &&
      /maxTimeoutMs/.test(err.message),
  );
});
