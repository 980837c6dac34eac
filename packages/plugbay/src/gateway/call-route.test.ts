// The call route has two doors (call-route.ts): calls on the gateway's sockets are served in front of fastify,
// everything else, and inject(), goes through fastify's route. Both must answer alike: the same requests through
// each give the same status, body and headers, and a hook on fastify shows which door a socket request took.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { type TestContext, test } from 'node:test';
import { pino } from 'pino';
import { createHost } from '../host/host.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { createGateway, type Gateway } from './server.js';

const quiet = pino({ level: 'silent' });
const obj = (properties: Record<string, unknown>) => ({
  type: 'object',
  properties,
  required: Object.keys(properties),
  additionalProperties: false,
});
const message = obj({ message: { type: 'string' } });
const bodyLimit = 256;

async function setup(t: TestContext) {
  const root = await tempDir(t);
  for (const version of ['1.0.0', '1.1.0']) {
    await writePlugin(root, `echo@${version}`, {
      manifest: manifest({
        version,
        functions: {
          greet: { input: obj({ name: { type: 'string', minLength: 1 } }), output: message },
          none: { input: obj({}), output: message },
          text: { input: obj({}), output: { type: 'string' } },
          fail: { input: obj({}), output: message },
        },
      }),
      files: {
        'index.mjs': `export default { name: 'echo', version: '${version}', functions: {
          greet: { handler: ({ name }) => ({ message: 'Hello, ' + name + ' (${version})' }) },
          none: { handler: () => ({ message: 'none' }) },
          text: { handler: () => 'just a string' },
          fail: { handler: () => { throw new Error('boom'); } },
        } };`,
      },
    });
  }
  const host = createHost({ logger: quiet, tierFor: () => 'inline' });
  t.after(() => host.close());
  assert.deepEqual((await host.loadDirectory(root)).diagnostics, []);
  const gateway = createGateway({ host, port: 0, logger: quiet, bodyLimit });
  t.after(() => gateway.close());
  // Which requests fastify saw: a call served in front of it never reaches its hooks.
  const seenByFastify: string[] = [];
  gateway.fastify.addHook('onRequest', (req, _reply, done) => {
    seenByFastify.push(`${req.method} ${req.url}`);
    done();
  });
  const { port } = await gateway.listen();
  return { gateway, port, seenByFastify };
}

interface Sent {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | undefined>;
}

const compared = ['content-type', 'x-plugbay-served-by', 'x-plugbay-arm', 'retry-after'];

function pick(headers: Record<string, unknown>): Answer['headers'] {
  return Object.fromEntries(
    compared.map((h) => [h, headers[h] === undefined ? undefined : String(headers[h])]),
  );
}

/** Over a socket, with a Host the gateway serves (`localhost`, as inject() sends it). */
function overSocket(port: number, sent: Sent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: sent.method ?? 'POST',
        path: sent.path,
        headers: { host: 'localhost:80', 'content-type': 'application/json', ...sent.headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: pick(res.headers) }));
      },
    );
    req.on('error', reject);
    req.end(sent.body);
  });
}

async function throughFastify(gateway: Gateway, sent: Sent): Promise<Answer> {
  const res = await gateway.fastify.inject({
    method: (sent.method ?? 'POST') as 'POST',
    url: sent.path,
    headers: { 'content-type': 'application/json', ...sent.headers },
    ...(sent.body === undefined ? {} : { payload: sent.body }),
  });
  return { status: res.statusCode, body: res.body, headers: pick(res.headers) };
}

const cases: [name: string, sent: Sent, status: number][] = [
  ['a call', { path: '/v1/call/echo/greet', body: '{"name":"Ada"}' }, 200],
  [
    'a pinned call',
    { path: '/v1/call/echo/greet', body: '{"name":"Ada"}', headers: { 'x-plugbay-version': '1.0.0' } },
    200,
  ],
  ['a query string', { path: '/v1/call/echo/greet?debug=1', body: '{"name":"Ada"}' }, 200],
  ['a fragment', { path: '/v1/call/echo/greet#top', body: '{"name":"Ada"}' }, 200],
  ['encoded names', { path: '/v1/call/%65cho/gr%65et', body: '{"name":"Ada"}' }, 200],
  ['no body', { path: '/v1/call/echo/none' }, 200],
  ['a string output', { path: '/v1/call/echo/text', body: '{}' }, 200],
  [
    'any content type',
    { path: '/v1/call/echo/greet', body: '{"name":"Bo"}', headers: { 'content-type': 'text/plain' } },
    200,
  ],
  [
    'a content type with parameters',
    {
      path: '/v1/call/echo/greet',
      body: '{"name":"Bo"}',
      headers: { 'content-type': 'application/json; charset=UTF-8' },
    },
    200,
  ],
  [
    'a malformed content type',
    { path: '/v1/call/echo/greet', body: '{"name":"Bo"}', headers: { 'content-type': 'json' } },
    415,
  ],
  ['input the schema refuses', { path: '/v1/call/echo/greet', body: '{"name":""}' }, 400],
  ['malformed JSON', { path: '/v1/call/echo/greet', body: '{"name":' }, 400],
  [
    'a malformed timeout',
    { path: '/v1/call/echo/none', body: '{}', headers: { 'x-plugbay-timeout-ms': '1.5' } },
    400,
  ],
  [
    'a timeout over the cap',
    { path: '/v1/call/echo/none', body: '{}', headers: { 'x-plugbay-timeout-ms': '60001' } },
    400,
  ],
  [
    'a version that is no version',
    { path: '/v1/call/echo/none', body: '{}', headers: { 'x-plugbay-version': 'zzz' } },
    400,
  ],
  ['an unknown function', { path: '/v1/call/echo/nope', body: '{}' }, 404],
  ['an unknown plugin', { path: '/v1/call/nobody/greet', body: '{}' }, 404],
  ['a plugin error', { path: '/v1/call/echo/fail', body: '{}' }, 502],
  [
    'a body over the limit',
    { path: '/v1/call/echo/greet', body: JSON.stringify({ name: 'x'.repeat(bodyLimit) }) },
    413,
  ],
  [
    'a cross-site page',
    { path: '/v1/call/echo/none', body: '{}', headers: { origin: 'https://evil.example' } },
    403,
  ],
  ['a rebound Host', { path: '/v1/call/echo/none', body: '{}', headers: { host: 'evil.example' } }, 403],
  ['a trailing slash', { path: '/v1/call/echo/greet/', body: '{}' }, 404],
  ['no function', { path: '/v1/call/echo', body: '{}' }, 404],
  ['an empty name', { path: '/v1/call//greet', body: '{}' }, 404],
  // fastify's router refuses it (414) before any route or error handler of ours.
  ['a name over 100 characters', { path: `/v1/call/${'e'.repeat(101)}/greet`, body: '{}' }, 414],
  ['a malformed encoding', { path: '/v1/call/%E0%A4%A/greet', body: '{}' }, 400],
  ['a GET', { method: 'GET', path: '/v1/call/echo/greet' }, 404],
];

test('every call answers the same on a socket (in front of fastify) as through fastify', async (t) => {
  const { gateway, port } = await setup(t);
  for (const [name, sent, status] of cases) {
    const socket = await overSocket(port, sent);
    const fastify = await throughFastify(gateway, sent);
    assert.equal(socket.status, status, `${name}: ${socket.body}`);
    assert.deepEqual(socket, fastify, name);
  }
});

test('plain calls on a socket never reach fastify; odd requests go on to it', async (t) => {
  const { port, seenByFastify } = await setup(t);
  for (const path of ['/v1/call/echo/greet', '/v1/call/echo/greet?x=1', '/v1/call/%65cho/greet']) {
    assert.equal((await overSocket(port, { path, body: '{"name":"Ada"}' })).status, 200, path);
  }
  // Refused in front too: the origin check and the body limit hold on both doors.
  await overSocket(port, {
    path: '/v1/call/echo/none',
    body: '{}',
    headers: { origin: 'https://evil.example' },
  });
  await overSocket(port, { path: '/v1/call/echo/none', body: 'x'.repeat(bodyLimit + 1) });
  assert.deepEqual(seenByFastify, []);
  for (const [sent, status] of [
    [{ path: '/v1/call/echo/greet/' }, 404],
    [{ method: 'GET', path: '/v1/call/echo/greet' }, 404],
  ] as const) {
    assert.equal((await overSocket(port, { ...sent, body: '{}' })).status, status, sent.path);
  }
  assert.deepEqual(seenByFastify, ['POST /v1/call/echo/greet/', 'GET /v1/call/echo/greet']);
  // fastify's router refuses these before any hook, with the gateway's error body; its code says who answered.
  for (const [path, status, httpCode] of [
    [`/v1/call/${'e'.repeat(101)}/greet`, 414, 'FST_ERR_MAX_PARAM_LENGTH'],
    ['/v1/call/%E0%A4%A/greet', 400, 'FST_ERR_BAD_URL'],
  ] as const) {
    const answer = await overSocket(port, { path, body: '{}' });
    assert.equal(answer.status, status, path);
    const { error } = JSON.parse(answer.body) as { error: { code: string; details: { httpCode: string } } };
    assert.equal(error.code, 'PLUGBAY_INVALID_INPUT', path);
    assert.equal(error.details.httpCode, httpCode, path);
  }
});

test('a body over the limit is 413 and ends the connection, declared or as it grows; a client gone mid-body leaves the gateway serving', async (t) => {
  const { port } = await setup(t);
  const oversized = (headers: Record<string, string>) =>
    new Promise<{ status: number; code: string; connection: string | undefined }>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method: 'POST', path: '/v1/call/echo/greet', headers },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c.toString();
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              code: (JSON.parse(body) as { error: { code: string } }).error.code,
              connection: res.headers.connection,
            }),
          );
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 8; i++) req.write('x'.repeat(64));
      req.end();
    });
  const refused = { status: 413, code: 'PLUGBAY_INVALID_INPUT', connection: 'close' };
  assert.deepEqual(await oversized({ 'transfer-encoding': 'chunked' }), refused);
  assert.deepEqual(await oversized({ 'content-length': String(8 * 64) }), refused);

  // Headers promise 100 bytes, 10 come, the client hangs up.
  const gone = connect(port, '127.0.0.1');
  await new Promise((resolve) => gone.once('connect', resolve));
  gone.write('POST /v1/call/echo/greet HTTP/1.1\r\nhost: localhost\r\ncontent-length: 100\r\n\r\n{"name":"');
  gone.destroy();
  await new Promise((resolve) => gone.once('close', resolve));
  assert.equal((await overSocket(port, { path: '/v1/call/echo/greet', body: '{"name":"Ada"}' })).status, 200);
});
