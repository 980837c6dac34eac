// The route schemas tell the truth: real answers validate against the schema documented for their status (and the
// status is documented at all), and requests that break a schema get the usual 400 naming the field.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { ValidateFunction } from 'ajv';
import { pino } from 'pino';
import { createAjv } from '../core/schema.js';
import { createHost } from '../host/host.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { errorSchema } from './schemas.js';
import { createGateway, type Gateway, type GatewayOptions } from './server.js';

const quiet = pino({ level: 'silent' });
const ajv = createAjv({ allErrors: true });
ajv.addSchema(errorSchema);
const compiled = new WeakMap<object, ValidateFunction>();

/** svc@1.0.0 and svc@1.1.0 (inline tier), `who` answers its version, `need` requires `{ n: integer }`. */
async function setup(t: TestContext, options: Partial<GatewayOptions> = {}): Promise<Gateway> {
  const root = await tempDir(t);
  const need = { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] };
  for (const version of ['1.0.0', '1.1.0']) {
    await writePlugin(root, `svc@${version}`, {
      manifest: manifest({
        name: 'svc',
        version,
        functions: { who: { input: {}, output: {} }, need: { input: need, output: {} } },
      }),
      files: {
        'index.mjs': `export default { name: 'svc', version: '${version}', functions: {
          who: { handler: () => '${version}' }, need: { handler: ({ n }) => n } } };\n`,
      },
    });
  }
  const host = createHost({ logger: quiet, tierFor: () => 'inline' });
  t.after(() => host.close());
  assert.deepEqual((await host.loadDirectory(root)).diagnostics, []);
  const gateway = createGateway({ ...options, host, port: 0, logger: quiet });
  t.after(() => gateway.close());
  await gateway.fastify.ready();
  return gateway;
}

interface Case {
  route: string;
  url: string;
  method?: 'GET' | 'PUT' | 'POST';
  payload?: string;
  headers?: Record<string, string>;
  status: number;
}

test('every answer is documented and validates against the schema of its status', async (t) => {
  const gateway = await setup(t);
  const route = '{"stable":"1.0.0","canary":{"version":"1.1.0","percent":10}}';
  const cases: Case[] = [
    // The gateway's own files beside the dashboard's modules are not served.
    { route: 'GET /dashboard/:module', url: '/dashboard/routes.js', status: 404 },
    { route: 'POST /v1/call/:plugin/:fn', url: '/v1/call/svc/who', method: 'POST', status: 200 },
    {
      route: 'POST /v1/call/:plugin/:fn',
      url: '/v1/call/svc/need',
      method: 'POST',
      payload: '{}',
      status: 400,
    },
    {
      route: 'POST /v1/call/:plugin/:fn',
      url: '/v1/call/svc/who',
      method: 'POST',
      headers: { 'x-plugbay-timeout-ms': 'soon' },
      status: 400,
    },
    { route: 'POST /v1/call/:plugin/:fn', url: '/v1/call/svc/nope', method: 'POST', status: 404 },
    { route: 'POST /v1/call/:plugin/:fn', url: '/v1/call/nope/who', method: 'POST', status: 404 },
    {
      route: 'POST /v1/call/:plugin/:fn',
      url: '/v1/call/svc/who',
      method: 'POST',
      payload: '{',
      status: 400,
    },
    {
      route: 'POST /v1/call/:plugin/:fn',
      url: '/v1/call/svc/who',
      method: 'POST',
      payload: JSON.stringify({ big: 'x'.repeat(1024 * 1024) }),
      status: 413,
    },
    { route: 'GET /v1/plugins', url: '/v1/plugins', status: 200 },
    { route: 'GET /v1/fleet', url: '/v1/fleet', status: 200 },
    { route: 'GET /v1/plugins/:plugin', url: '/v1/plugins/svc', status: 200 },
    { route: 'GET /v1/plugins/:plugin', url: '/v1/plugins/nope', status: 404 },
    { route: 'GET /v1/stats', url: '/v1/stats', status: 200 },
    { route: 'GET /healthz', url: '/healthz', status: 200 },
    { route: 'GET /readyz', url: '/readyz', status: 503 },
    { route: 'GET /v1/routes/:plugin', url: '/v1/routes/svc', status: 200 },
    { route: 'GET /v1/routes/:plugin', url: '/v1/routes/nope', status: 404 },
    { route: 'PUT /v1/routes/:plugin', url: '/v1/routes/svc', method: 'PUT', payload: route, status: 200 },
    {
      route: 'PUT /v1/routes/:plugin',
      url: '/v1/routes/svc',
      method: 'PUT',
      payload: '{"stable":"9.9.9"}',
      status: 409,
    },
    {
      route: 'PUT /v1/routes/:plugin',
      url: '/v1/routes/svc',
      method: 'PUT',
      payload: '{"x":1}',
      status: 400,
    },
    {
      route: 'PUT /v1/routes/:plugin',
      url: '/v1/routes/nope',
      method: 'PUT',
      payload: '{}',
      status: 404,
    },
    { route: 'GET /v1/routes/:plugin', url: '/v1/routes/svc', status: 200 },
    {
      route: 'POST /v1/plugins/:plugin/activate',
      url: '/v1/plugins/svc/activate',
      method: 'POST',
      payload: '{"version":"1.1.0","reason":"test"}',
      status: 200,
    },
    {
      route: 'POST /v1/plugins/:plugin/activate',
      url: '/v1/plugins/svc/activate',
      method: 'POST',
      payload: '{"version":"3.0.0"}',
      status: 409,
    },
    { route: 'GET /v1/plugins/:plugin', url: '/v1/plugins/svc', status: 200 },
    {
      route: 'POST /v1/plugins/:plugin/rollback',
      url: '/v1/plugins/svc/rollback',
      method: 'POST',
      status: 200,
    },
    {
      route: 'POST /v1/plugins/:plugin/rollback',
      url: '/v1/plugins/nope/rollback',
      method: 'POST',
      status: 400,
    },
    { route: 'GET /v1/audit', url: '/v1/audit?plugin=svc&limit=5', status: 200 },
    { route: 'GET /v1/audit', url: '/v1/audit?limit=0', status: 400 },
    {
      route: 'POST /v1/call/:plugin/:fn',
      url: '/v1/call/svc/who',
      method: 'POST',
      headers: { 'x-plugbay-version': '7.0.0' },
      status: 503,
    },
    {
      route: 'POST /v1/call/:plugin/:fn',
      url: '/v1/call/svc/who',
      method: 'POST',
      headers: { 'x-plugbay-version': 'newest' },
      status: 400,
    },
  ];
  const routes = gateway.routes();
  for (const c of cases) {
    const [method, url] = c.route.split(' ');
    const schema = routes.find((r) => r.method === method && r.url === url)?.schema;
    assert.ok(schema !== undefined, `${c.route} is not a route`);
    const res = await gateway.fastify.inject({
      method: c.method ?? 'GET',
      url: c.url,
      headers: c.headers ?? {},
      ...(c.payload === undefined ? {} : { payload: c.payload }),
    });
    const what = `${c.method ?? 'GET'} ${c.url} ${c.payload ?? ''} → ${res.statusCode} ${res.body.slice(0, 300)}`;
    assert.equal(res.statusCode, c.status, what);
    const documented = (schema.response as Record<string, object>)[String(res.statusCode)];
    assert.ok(
      documented !== undefined,
      `${c.route} answered ${res.statusCode}, which its schema does not list`,
    );
    let validate = compiled.get(documented);
    if (validate === undefined) {
      validate = ajv.compile(documented);
      compiled.set(documented, validate);
    }
    assert.ok(validate(res.json()), `${what}\n${ajv.errorsText(validate.errors)}`);
  }

  gateway.setReady(true);
  const ready = await gateway.fastify.inject({ url: '/readyz' });
  assert.deepEqual([ready.statusCode, ready.json()], [200, { status: 'ready' }]);
  // Text answers have the documented media type.
  const texts = [
    ['/metrics', '/metrics'],
    ['/', '/'],
    ['/dashboard/style.css', '/dashboard/style.css'],
    ['/dashboard/app.js', '/dashboard/:module'],
    ['/dashboard/charts.js', '/dashboard/:module'],
  ];
  for (const [url, route] of texts) {
    const res = await gateway.fastify.inject({ url });
    const schema = gateway.routes().find((r) => r.method === 'GET' && r.url === route)?.schema;
    const responses = (schema?.response ?? {}) as Record<string, { content?: object }>;
    const content = responses[200]?.content ?? {};
    assert.equal(res.statusCode, 200, url);
    assert.deepEqual([res.headers['content-type']], Object.keys(content), url);
  }
});

test('a request breaking a route schema is 400 PLUGBAY_INVALID_ARGUMENT naming the part and the field', async (t) => {
  const gateway = await setup(t);
  const send = async (method: 'GET' | 'POST' | 'PUT', url: string, payload?: string) => {
    const res = await gateway.fastify.inject({ method, url, ...(payload === undefined ? {} : { payload }) });
    return { status: res.statusCode, error: res.json().error };
  };
  const cases: [string, Awaited<ReturnType<typeof send>>, string, string][] = [
    ['limit not a number', await send('GET', '/v1/audit?limit=ten'), 'querystring', 'limit'],
    ['before not a number', await send('GET', '/v1/audit?before=-1'), 'querystring', 'before'],
    [
      'activate: unknown field',
      await send('POST', '/v1/plugins/svc/activate', '{"version":"1.0.0","x":1}'),
      'body',
      'x',
    ],
    [
      'activate: empty version',
      await send('POST', '/v1/plugins/svc/activate', '{"version":""}'),
      'body',
      'version',
    ],
    [
      'activate: reason not a string',
      await send('POST', '/v1/plugins/svc/activate', '{"version":"1.0.0","reason":5}'),
      'body',
      'reason',
    ],
    ['rollback: a JSON array', await send('POST', '/v1/plugins/svc/rollback', '[]'), 'body', '(root)'],
    [
      'route: percent 150',
      await send('PUT', '/v1/routes/svc', '{"stable":"1.0.0","canary":{"version":"1.1.0","percent":150}}'),
      'body',
      'canary.percent',
    ],
  ];
  for (const [what, { status, error }, part, field] of cases) {
    assert.equal(status, 400, what);
    assert.equal(error.code, 'PLUGBAY_INVALID_ARGUMENT', what);
    assert.equal(error.details.in, part, what);
    assert.equal(error.details.field, field, what);
    assert.ok(Array.isArray(error.details.problems) && error.details.problems[0].field === field, what);
  }
  // No body at all is still the empty object: rollback reaches the host, which has no previous stable.
  const rollback = await send('POST', '/v1/plugins/svc/rollback');
  assert.equal(rollback.status, 400);
  assert.equal(rollback.error.details.in, undefined, 'refused by the host, not by the schema');
  assert.ok(Array.isArray(rollback.error.details.history));
  // Nothing changed: no route, no audit entry.
  const audit = await gateway.fastify.inject({ url: '/v1/audit' });
  assert.deepEqual(audit.json(), { entries: [] });
});

test('with an admin token, exactly the admin routes answer 401 without it, as documented', async (t) => {
  const gateway = await setup(t, { adminToken: 'schema-token-0123456789' });
  const refused: string[] = [];
  for (const { method, url, schema } of gateway.routes()) {
    if (method === 'HEAD') continue;
    const res = await gateway.fastify.inject({
      method: method as 'GET',
      url: url.replace(':plugin', 'svc').replace(':fn', 'who'),
      headers: { 'content-type': 'application/json' },
      payload: method === 'GET' ? undefined : '{}',
    });
    if (res.statusCode !== 401) continue;
    refused.push(`${method} ${url}`);
    const documented = (schema?.response as Record<string, object> | undefined)?.['401'];
    assert.ok(documented !== undefined, `${method} ${url} answered 401, which its schema does not list`);
    assert.equal((res.json() as { error: { code: string } }).error.code, 'PLUGBAY_UNAUTHORIZED');
  }
  assert.deepEqual(refused.sort(), [
    'GET /metrics',
    'GET /v1/admin/rollouts',
    'GET /v1/admin/rollouts/:plugin',
    'GET /v1/audit',
    'GET /v1/fleet',
    'GET /v1/grants',
    'GET /v1/plugins',
    'GET /v1/plugins/:plugin',
    'GET /v1/routes/:plugin',
    'GET /v1/series',
    'GET /v1/stats',
    'POST /v1/admin/rollouts',
    'POST /v1/admin/rollouts/:plugin/abort',
    'POST /v1/admin/rollouts/:plugin/pause',
    'POST /v1/admin/rollouts/:plugin/promote',
    'POST /v1/admin/rollouts/:plugin/resume',
    'POST /v1/plugins/:plugin/activate',
    'POST /v1/plugins/:plugin/grant',
    'POST /v1/plugins/:plugin/revoke',
    'POST /v1/plugins/:plugin/rollback',
    'PUT /v1/routes/:plugin',
  ]);
});
