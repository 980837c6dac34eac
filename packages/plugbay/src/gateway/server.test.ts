import assert from 'node:assert/strict';
import { request } from 'node:http';
import { type TestContext, test } from 'node:test';
import { pino } from 'pino';
import type { ErrorCode } from '../core/errors.js';
import { createHost } from '../host/host.js';
import type { PluginHost } from '../host/types.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { httpStatuses } from './errors.js';
import { createGateway, type Gateway } from './server.js';

const quiet = pino({ level: 'silent' });
const obj = (properties: Record<string, unknown>, required: string[] = Object.keys(properties)) => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});
const message = obj({ message: { type: 'string' } });

function echoSource(version: string): string {
  return `export default {
  name: 'echo',
  version: '${version}',
  functions: {
    greet: { handler: ({ name }) => ({ message: 'Hello, ' + name + '! (${version})' }) },
    wait: {
      handler: (_input, ctx) =>
        new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))),
    },
    fail: { handler: () => { throw new Error('boom'); } },
    badOutput: { handler: () => ({ wrong: 1 }) },
    text: { handler: () => 'just a string' },
    none: { handler: () => ({ message: 'no input needed' }) },
    context: { handler: (_input, ctx) => ({ message: JSON.stringify({ key: ctx.key, traceId: ctx.traceId }) }) },
    hold: {
      // Inline tier: this runs in the test's own process, so globalThis is how the test sees the call's progress.
      handler: (_input, ctx) =>
        new Promise((_resolve, reject) => {
          globalThis.holdStarted?.();
          ctx.signal.addEventListener('abort', () => {
            globalThis.holdAborted?.(ctx.signal.reason);
            reject(ctx.signal.reason);
          });
        }),
    },
  },
};
`;
}

function echoManifest(version: string) {
  return manifest({
    version,
    functions: {
      greet: { input: obj({ name: { type: 'string', minLength: 1 } }), output: message },
      wait: { input: obj({}), output: message },
      fail: { input: obj({}), output: message },
      badOutput: { input: obj({}), output: message },
      text: { input: obj({}), output: { type: 'string' } },
      none: { input: obj({}), output: message },
      context: { input: obj({}), output: message },
      hold: { input: obj({}), output: message },
    },
  });
}

/** A real host (inline tier, for speed) with echo@1.0.0 and echo@1.1.0 loaded, behind a gateway. */
async function setup(
  t: TestContext,
  options: { bodyLimit?: number } = {},
): Promise<{ host: PluginHost; gateway: Gateway }> {
  const root = await tempDir(t);
  for (const version of ['1.0.0', '1.1.0']) {
    await writePlugin(root, `echo@${version}`, {
      manifest: echoManifest(version),
      files: { 'index.mjs': echoSource(version) },
    });
  }
  const host = createHost({ logger: quiet, tierFor: () => 'inline' });
  t.after(() => host.close());
  const report = await host.loadDirectory(root);
  assert.deepEqual(report.diagnostics, []);
  const gateway = createGateway({ host, port: 0, logger: quiet, ...options });
  t.after(() => gateway.close());
  return { host, gateway };
}

function call(
  gateway: Gateway,
  fn: string,
  payload: string,
  headers: Record<string, string> = {},
  plugin = 'echo',
) {
  return gateway.fastify.inject({
    method: 'POST',
    url: `/v1/call/${plugin}/${fn}`,
    payload,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

test('POST /v1/call answers with the output and says which version served it', async (t) => {
  const { gateway } = await setup(t);
  const res = await call(gateway, 'greet', '{"name":"Ada"}');
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { message: 'Hello, Ada! (1.1.0)' });
  assert.equal(res.headers['x-plugbay-served-by'], 'echo@1.1.0');
  assert.equal(res.headers['x-plugbay-arm'], 'stable');
  assert.match(String(res.headers['content-type']), /^application\/json/);

  const pinned = await call(gateway, 'greet', '{"name":"Ada"}', { 'x-plugbay-version': '1.0.0' });
  assert.deepEqual(pinned.json(), { message: 'Hello, Ada! (1.0.0)' });
  assert.equal(pinned.headers['x-plugbay-served-by'], 'echo@1.0.0');
  const ranged = await call(gateway, 'greet', '{"name":"Ada"}', { 'x-plugbay-version': '~1.0.0' });
  assert.equal(ranged.headers['x-plugbay-served-by'], 'echo@1.0.0');

  // A string output is sent as a JSON string, not as text.
  const text = await call(gateway, 'text', '{}');
  assert.equal(text.statusCode, 200);
  assert.equal(text.body, '"just a string"');

  // Any content type is read as JSON (curl -d sends form encoding); no body at all is the empty object.
  const form = await call(gateway, 'greet', '{"name":"Bo"}', {
    'content-type': 'application/x-www-form-urlencoded',
  });
  assert.deepEqual(form.json(), { message: 'Hello, Bo! (1.1.0)' });
  const bare = await gateway.fastify.inject({ method: 'POST', url: '/v1/call/echo/none' });
  assert.equal(bare.statusCode, 200, bare.body);
  const empty = await call(gateway, 'none', '');
  assert.equal(empty.statusCode, 200, empty.body);
});

test('errors are JSON {error:{code,message,plugin,version}} with the status of their code', async (t) => {
  const { gateway } = await setup(t);
  const cases: [
    string,
    Promise<{ statusCode: number; json(): unknown }>,
    number,
    string,
    string | undefined,
  ][] = [
    [
      'unknown plugin',
      call(gateway, 'greet', '{"name":"x"}', {}, 'nope'),
      404,
      'PLUGBAY_UNKNOWN_PLUGIN',
      undefined,
    ],
    ['unknown function', call(gateway, 'nope', '{}'), 404, 'PLUGBAY_UNKNOWN_FUNCTION', '1.1.0'],
    ['invalid input', call(gateway, 'greet', '{"name":""}'), 400, 'PLUGBAY_INVALID_INPUT', '1.1.0'],
    [
      'timeout',
      call(gateway, 'wait', '{}', { 'x-plugbay-timeout-ms': '30' }),
      504,
      'PLUGBAY_TIMEOUT',
      '1.1.0',
    ],
    ['plugin throws', call(gateway, 'fail', '{}'), 502, 'PLUGBAY_PLUGIN_ERROR', '1.1.0'],
    ['invalid output', call(gateway, 'badOutput', '{}'), 502, 'PLUGBAY_INVALID_OUTPUT', '1.1.0'],
    [
      'no such version',
      call(gateway, 'greet', '{"name":"x"}', { 'x-plugbay-version': '9.0.0' }),
      503,
      'PLUGBAY_NO_INSTANCE',
      undefined,
    ],
    [
      'bad version header',
      call(gateway, 'greet', '{}', { 'x-plugbay-version': 'latest!' }),
      400,
      'PLUGBAY_INVALID_ARGUMENT',
      undefined,
    ],
    [
      'bad timeout header',
      call(gateway, 'greet', '{}', { 'x-plugbay-timeout-ms': '-5' }),
      400,
      'PLUGBAY_INVALID_ARGUMENT',
      undefined,
    ],
  ];
  for (const [what, pending, status, code, version] of cases) {
    const res = await pending;
    assert.equal(res.statusCode, status, what);
    const body = res.json() as {
      error: { code: string; message: string; plugin?: string; version?: string };
    };
    assert.equal(body.error.code, code, what);
    assert.equal(res.statusCode, httpStatuses[code as ErrorCode], `${what}: the status of its code`);
    assert.equal(typeof body.error.message, 'string', what);
    assert.equal(body.error.plugin, what === 'unknown plugin' ? 'nope' : 'echo', what);
    if (version !== undefined) assert.equal(body.error.version, version, what);
  }
});

test('malformed JSON and poisoned bodies get 400, big bodies 413, unknown routes 404; the gateway keeps serving', async (t) => {
  const { gateway } = await setup(t, { bodyLimit: 64 });
  for (const payload of [
    '{"name":',
    'not json',
    '{"__proto__":{"x":1}}',
    '{"constructor":{"prototype":{}}}',
  ]) {
    const res = await call(gateway, 'greet', payload);
    assert.equal(res.statusCode, 400, payload);
    assert.equal(res.json().error.code, 'PLUGBAY_INVALID_INPUT', payload);
  }
  const big = await call(gateway, 'greet', JSON.stringify({ name: 'x'.repeat(100) }));
  assert.equal(big.statusCode, 413);
  assert.equal(big.json().error.code, 'PLUGBAY_INVALID_INPUT');

  for (const [method, url] of [
    ['GET', '/nope'],
    ['GET', '/v1/call/echo/greet'],
    ['POST', '/v1/call/echo'],
  ] as const) {
    const res = await gateway.fastify.inject({ method, url });
    assert.equal(res.statusCode, 404, `${method} ${url}`);
    assert.equal(typeof res.json().error.code, 'string');
  }
  const after = await call(gateway, 'greet', '{"name":"Ada"}');
  assert.equal(after.statusCode, 200);
});

test('an unknown route answers 404 with PLUGBAY_NOT_FOUND, the code whose status is 404', async (t) => {
  const { gateway } = await setup(t);
  const res = await gateway.fastify.inject({ method: 'GET', url: '/v2/nope?x=1' });
  assert.equal(res.statusCode, 404);
  const { error } = res.json() as { error: { code: string; details?: unknown } };
  assert.equal(error.code, 'PLUGBAY_NOT_FOUND');
  assert.equal(httpStatuses[error.code as ErrorCode], res.statusCode);
  assert.deepEqual(error.details, { method: 'GET', url: '/v2/nope?x=1' });
});

test('GET /v1/plugins lists versions with tier and state, and diagnostics; /healthz and /readyz', async (t) => {
  const { host, gateway } = await setup(t);
  const root = await tempDir(t);
  await writePlugin(root, 'broken', { manifest: manifest({ name: 'broken', version: 'nope' }) });
  await writePlugin(root, 'nameless', { manifest: '{' });
  await host.loadDirectory(root);

  const res = await gateway.fastify.inject({ method: 'GET', url: '/v1/plugins' });
  assert.equal(res.statusCode, 200);
  const body = res.json() as {
    plugins: {
      name: string;
      versions: { version: string; tier: string; state: string; functions: string[] }[];
      diagnostics: { code: string }[];
    }[];
    diagnostics: { code: string; dir: string }[];
  };
  const echo = body.plugins.find((p) => p.name === 'echo');
  assert.deepEqual(
    echo?.versions.map((v) => [v.version, v.tier, v.state]),
    [
      ['1.0.0', 'inline', 'ready'],
      ['1.1.0', 'inline', 'ready'],
    ],
  );
  assert.ok(echo?.versions[0]?.functions.includes('greet'));
  assert.deepEqual(
    body.plugins.find((p) => p.name === 'broken')?.diagnostics.map((d) => d.code),
    ['PLUGBAY_MANIFEST_INVALID'],
  );
  assert.ok(
    body.diagnostics.some((d) => d.dir.endsWith('nameless') && d.code === 'PLUGBAY_MANIFEST_INVALID'),
  );

  assert.equal((await gateway.fastify.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  const notReady = await gateway.fastify.inject({ method: 'GET', url: '/readyz' });
  assert.equal(notReady.statusCode, 503);
  gateway.setReady(true);
  const ready = await gateway.fastify.inject({ method: 'GET', url: '/readyz' });
  assert.equal(ready.statusCode, 200);
  assert.deepEqual(ready.json(), { status: 'ready' });
});

test('createGateway checks its options at once and names each bad one', () => {
  assert.throws(
    () => createGateway({ host: {} as PluginHost, port: 70000, bodyLimit: 0 }),
    (err: Error & { code?: string }) =>
      err.code === 'PLUGBAY_INVALID_ARGUMENT' &&
      /options\.host/.test(err.message) &&
      /options\.port/.test(err.message) &&
      /options\.bodyLimit/.test(err.message),
  );
  assert.throws(
    () =>
      createGateway({
        host: {} as PluginHost,
        port: 1.5,
        hostname: '',
        allowHosts: 'gw.lan' as unknown as string[],
        shutdownTimeoutMs: -1,
      }),
    (err: Error & { code?: string; details?: { problems?: string[] } }) => {
      const problems = err.details?.problems ?? [];
      assert.equal(err.code, 'PLUGBAY_INVALID_ARGUMENT');
      assert.deepEqual(
        problems.map((p) => /^options\.(\w+)/.exec(p)?.[1]),
        ['host', 'port', 'hostname', 'allowHosts', 'shutdownTimeoutMs'],
        problems.join('\n'),
      );
      return true;
    },
  );
});

test('x-plugbay-key and traceparent reach the plugin', async (t) => {
  const { gateway } = await setup(t);
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const res = await call(gateway, 'context', '{}', {
    'x-plugbay-key': 'tenant-7',
    traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
  });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(JSON.parse(res.json().message), { key: 'tenant-7', traceId });
});

test('a call without a traceparent, or with a malformed one, starts a new trace of its own', async (t) => {
  const { gateway } = await setup(t);
  const traceIds = new Set<unknown>();
  const none: Record<string, string> = {};
  for (const headers of [none, none, { traceparent: 'not-a-traceparent' }]) {
    const res = await call(gateway, 'context', '{}', headers);
    assert.equal(res.statusCode, 200);
    const { traceId } = JSON.parse(res.json().message) as { traceId?: string };
    assert.match(String(traceId), /^[0-9a-f]{32}$/);
    traceIds.add(traceId);
  }
  assert.equal(traceIds.size, 3);
});

test('a client that hangs up cancels its call (PLUGBAY_CANCELLED reaches the plugin)', async (t) => {
  const { gateway } = await setup(t);
  const { port } = await gateway.listen();
  const g = globalThis as { holdStarted?: () => void; holdAborted?: (reason: unknown) => void };
  const started = new Promise<void>((resolve) => {
    g.holdStarted = resolve;
  });
  const aborted = new Promise<unknown>((resolve) => {
    g.holdAborted = resolve;
  });
  t.after(() => {
    g.holdStarted = undefined;
    g.holdAborted = undefined;
  });
  const req = request({ port, host: '127.0.0.1', method: 'POST', path: '/v1/call/echo/hold' });
  req.on('error', () => {}); // the socket is destroyed on purpose
  req.end('{}');
  await started;
  req.destroy();
  const reason = (await aborted) as { code?: string };
  assert.equal(reason.code, 'PLUGBAY_CANCELLED');
});
