import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { createGateway } from '../gateway/server.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { createProcessTier } from '../tiers/index.js';
import { createHost } from './host.js';

// The process tier through the host and the gateway: Go plugins built with hashicorp/go-plugin (npm test builds
// them with scripts/build-go-plugins.sh) and a Node plugin run by the SDK's process entry.

const goPlugins = fileURLToPath(new URL('../../../../examples/go-plugins/', import.meta.url));

function processHost(t: Parameters<typeof tempDir>[0]) {
  const host = createHost({
    logger: pino({ level: 'silent' }),
    tiers: { process: createProcessTier() },
    tierFor: () => 'process',
  });
  t.after(() => host.close());
  const gateway = createGateway({ host, port: 0 });
  t.after(() => gateway.close());
  return { host, gateway };
}

test('both Go plugins (plugbay.v1 and a plain go-plugin KV) answer over HTTP', async (t) => {
  assert.ok(existsSync(join(goPlugins, 'kv/bin/kv')), 'npm test builds the Go plugins first');
  const { host, gateway } = processHost(t);
  await host.load(join(goPlugins, 'plugbay-echo'));
  await host.load(join(goPlugins, 'kv'));
  const address = await gateway.listen();
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${address.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-plugbay-key': 'tenant-7' },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      body: (await res.json()) as Record<string, unknown>,
      servedBy: res.headers.get('x-plugbay-served-by'),
    };
  };
  const echo = await post('/v1/call/go-echo/echo', { hello: 'go' });
  assert.equal(echo.status, 200);
  assert.equal(echo.servedBy, 'go-echo@1.0.0');
  assert.deepEqual([echo.body.input, echo.body.lang, echo.body.key], [{ hello: 'go' }, 'go', 'tenant-7']);
  const put = await post('/v1/call/go-kv/Put', { key: 'k', value: Buffer.from('v1').toString('base64') });
  assert.equal(put.status, 200);
  const get = await post('/v1/call/go-kv/Get', { key: 'k' });
  assert.equal(get.status, 200);
  assert.equal(Buffer.from(String(get.body.value), 'base64').toString(), 'v1');
  const fail = await post('/v1/call/go-echo/fail', {});
  assert.equal(fail.status, 502);
  assert.equal((fail.body.error as { code: string }).code, 'PLUGBAY_PLUGIN_ERROR');

  // codec "bytes" on an exec plugin (#18): raw bytes with zeros reach the Go code unchanged and come back raw.
  const raw = await fetch(`${address.url}/v1/call/go-echo/reverse`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: new Uint8Array([0, 1, 0, 2, 255]),
  });
  assert.equal(raw.status, 200);
  assert.equal(raw.headers.get('content-type'), 'application/octet-stream');
  assert.deepEqual(new Uint8Array(await raw.arrayBuffer()), new Uint8Array([255, 2, 0, 1, 0]));
  const lib = await host.call<Uint8Array>('go-echo', 'reverse', new TextEncoder().encode('abc'));
  assert.equal(Buffer.from(lib).toString(), 'cba');
});

test('a Node plugin runs unchanged in the process tier, with schemas and deadlines from the host', async (t) => {
  const root = await tempDir(t);
  const dir = await writePlugin(root, 'echo', {
    manifest: manifest(),
    files: {
      'index.mjs': `export default { name: 'echo', version: '1.0.0', functions: {
        echo: { input: {}, output: {}, handler: (i) => ({ text: i.text + ' from pid ' + process.pid }) } } };`,
    },
  });
  const { host } = processHost(t);
  await host.load(dir);
  const out = (await host.call('echo', 'echo', { text: 'hi' })) as { text: string };
  assert.match(out.text, /^hi from pid \d+$/);
  assert.notEqual(out.text, `hi from pid ${process.pid}`);
  await assert.rejects(host.call('echo', 'echo', { nope: 1 }), { code: 'PLUGBAY_INVALID_INPUT' });
});
