import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import type { PlugbayError } from '../../core/errors.js';
import type { Instance } from '../../core/types.js';
import { callTier, testCall, testDeadlines } from '../test-support.js';
import { buildFixtures, fixture, loadOptions, wasmPlugin } from './test-fixtures.js';
import { createWasmTier } from './tier.js';

// The server runs in its own thread: in host-thread mode a plugin's http_request blocks the host thread, so a
// server on that same thread could never answer (documented limitation of host-thread mode).
let server: Worker;
let port: number;
const cleanups: (() => Promise<void> | void)[] = [];

before(async () => {
  buildFixtures();
  server = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const server = require('node:http').createServer((req, res) => {
       if (req.url === '/redirect') return res.writeHead(302, { location: 'http://example.com/' }).end();
       if (req.url === '/never') return; // no answer
       res.writeHead(200, { 'content-type': 'text/plain' }).end('hello ' + req.url + ' \u2713');
     });
     server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));`,
    { eval: true },
  );
  port = await new Promise<number>((resolve) => server.once('message', resolve));
});
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  testDeadlines.clear();
  await server.terminate();
});

async function plugin(run: 'metered' | 'host-thread' | 'worker', net: string[]): Promise<Instance> {
  const p = wasmPlugin(fixture('corpus'), { permissions: { net } });
  const instance = await createWasmTier({ run, codec: 'bytes' }).load(p.plugin, loadOptions());
  cleanups.push(p.cleanup, () => instance.destroy());
  await instance.start({ signal: new AbortController().signal, config: {} });
  return instance;
}

async function fetchVia(instance: Instance, url: string): Promise<{ status: number; body: string }> {
  const input = JSON.stringify({ url, method: 'GET' });
  const out = Buffer.from(
    (await callTier(instance, 'fetch', input, testCall({ timeoutMs: 10_000 }))) as Uint8Array,
  );
  return { status: out.readInt32LE(0), body: out.subarray(4).toString() };
}

test('http_request (metered): a request waits no longer than the call deadline, then PLUGBAY_TIMEOUT', async () => {
  const instance = await plugin('metered', [`127.0.0.1:${port}`]);
  const input = JSON.stringify({ url: `http://127.0.0.1:${port}/never`, method: 'GET' });
  const t0 = performance.now();
  await assert.rejects(
    callTier(instance, 'fetch', input, testCall({ timeoutMs: 300 })),
    (e: PlugbayError) => e.code === 'PLUGBAY_TIMEOUT' && e.details?.rule === 'deadline',
  );
  const took = performance.now() - t0;
  assert.ok(took >= 290 && took < 2000, `took ${took} ms`);
  assert.equal((await fetchVia(instance, `http://127.0.0.1:${port}/after`)).status, 200);
});

for (const run of ['metered', 'host-thread', 'worker'] as const) {
  test(`http_request (${run}): allowed host answered, other hosts and ports denied, redirects not followed`, async () => {
    const instance = await plugin(run, [`127.0.0.1:${port}`]);
    assert.deepEqual(await fetchVia(instance, `http://127.0.0.1:${port}/path`), {
      status: 200,
      body: 'hello /path ✓',
    });
    assert.deepEqual(await fetchVia(instance, `http://127.0.0.1:${port}/redirect`), {
      status: 302,
      body: '',
    });
    for (const url of [`http://localhost:${port}/`, `http://127.0.0.1:${port + 1}/`, 'file:///etc/passwd']) {
      await assert.rejects(
        fetchVia(instance, url),
        (e: PlugbayError) => e.code === 'PLUGBAY_PERMISSION_DENIED',
        url,
      );
    }
    const none = await plugin(run, []);
    await assert.rejects(
      fetchVia(none, `http://127.0.0.1:${port}/`),
      (e: PlugbayError) => e.code === 'PLUGBAY_PERMISSION_DENIED',
    );
  });
}
