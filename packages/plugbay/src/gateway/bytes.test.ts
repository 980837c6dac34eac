// Bytes through the gateway (#18): an Extism-style wasm plugin written for text in / text out (the C fixture's
// `first_line` reads a mount and answers its first line as plain text) works through the gateway once its function
// says `codec: "bytes"`; JSON stays the default (and its plain-text answer is refused, as before); raw bytes,
// zero bytes included, reach the plugin unchanged.
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, type TestContext, test } from 'node:test';
import { pino } from 'pino';
import { createHost } from '../host/host.js';
import { runPlugbay } from '../test-support/cli.js';
import { tempDir, writePlugin } from '../test-support/plugins.js';
import { buildFixtures, fixture } from '../tiers/wasm/test-fixtures.js';
import { createGateway } from './server.js';

before(() => buildFixtures());

const quiet = pino({ level: 'silent' });

async function serve(t: TestContext, functions: Record<string, unknown>) {
  const root = await tempDir(t);
  const dir = await writePlugin(root, 'reader', {
    manifest: {
      name: 'reader',
      version: '1.0.0',
      runtime: 'wasm',
      entry: 'plugin.wasm',
      functions,
      permissions: { fs: { mounts: [{ host: 'data', guest: '/data', readOnly: true }] } },
    },
    files: { 'data/hello.txt': 'hello mount\nsecond line\n' },
  });
  await copyFile(fixture('c'), join(dir, 'plugin.wasm'));
  const host = createHost({ logger: quiet });
  t.after(() => host.close());
  const report = await host.loadDirectory(root);
  assert.deepEqual(report.diagnostics, []);
  const gateway = createGateway({ host, port: 0, logger: quiet });
  t.after(() => gateway.close());
  const { url } = await gateway.listen();
  return { url, host, root };
}

const post = (url: string, fn: string, body: string | Uint8Array, type = 'application/octet-stream') =>
  fetch(`${url}/v1/call/reader/${fn}`, { method: 'POST', headers: { 'content-type': type }, body });

test('a JSON function answering plain text is refused (502 PLUGBAY_INVALID_OUTPUT): JSON stays the default', async (t) => {
  const { url } = await serve(t, { first_line: { input: {}, output: {} } });
  const res = await post(url, 'first_line', JSON.stringify('/data/hello.txt'), 'application/json');
  assert.equal(res.status, 502);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'PLUGBAY_INVALID_OUTPUT');
});

test('codec "bytes": the raw body goes in, the first line of the mount comes out as text/plain', async (t) => {
  const { url } = await serve(t, {
    first_line: { input: {}, output: {}, codec: 'bytes', contentType: 'text/plain; charset=utf-8' },
  });
  const res = await post(url, 'first_line', '/data/hello.txt', 'text/plain');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(res.headers.get('x-plugbay-served-by'), 'reader@1.0.0');
  assert.equal(await res.text(), 'hello mount');

  // plugbay call --raw: the text goes in as bytes and the bytes come out as they are, here and in-process.
  const { root } = await serve(t, { first_line: { input: {}, output: {}, codec: 'bytes' } });
  for (const where of [
    ['--url', url],
    ['--plugins', root],
  ]) {
    const cli = await runPlugbay(['call', 'reader.first_line', '/data/hello.txt', '--raw', ...where]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stdout, 'hello mount', where[0]);
  }
});

test('codec "bytes": binary bodies with zero bytes reach the plugin unchanged; the default type is octet-stream', async (t) => {
  const { url, host } = await serve(t, { echo: { input: {}, output: {}, codec: 'bytes' } });
  const body = new Uint8Array([0, 1, 2, 0, 255, 0, 0x7b, 0x22, 0]);
  const res = await post(url, 'echo', body);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/octet-stream');
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), body);
  // No body at all is zero bytes, not `{}`.
  const empty = await fetch(`${url}/v1/call/reader/echo`, { method: 'POST' });
  assert.equal(empty.status, 200);
  assert.equal((await empty.arrayBuffer()).byteLength, 0);

  // The library: a bytes function takes and returns a Uint8Array; anything else is the caller's error.
  const out = await host.call<Uint8Array>('reader', 'echo', body);
  assert.ok(out instanceof Uint8Array);
  assert.deepEqual(new Uint8Array(out), body);
  await assert.rejects(host.call('reader', 'echo', { not: 'bytes' }), { code: 'PLUGBAY_INVALID_INPUT' });
});

test('a contentType node cannot send in a header is a 500 PLUGBAY_INTERNAL, and the gateway serves on', async (t) => {
  const { url } = await serve(t, {
    echo: { input: {}, output: {}, codec: 'bytes', contentType: 'text/plain\u0001' },
  });
  const res = await post(url, 'echo', 'hi');
  assert.equal(res.status, 500);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'PLUGBAY_INTERNAL');
  assert.equal((await post(url, 'echo', 'hi')).status, 500, 'the gateway is still up and answering');
});

test('manifest rules: contentType needs codec "bytes"; a node plugin cannot take bytes', async (t) => {
  const { validateManifest } = await import('../core/manifest.js');
  const base = { name: 'x', version: '1.0.0', entry: 'i.js' };
  const fields = (raw: unknown) =>
    (validateManifest(raw).problems as { field: string; rule: string }[]).map((p) => `${p.field}:${p.rule}`);
  assert.deepEqual(
    fields({
      ...base,
      runtime: 'wasm',
      functions: { f: { input: {}, output: {}, contentType: 'text/plain' } },
    }),
    ['functions.f.contentType:codec'],
  );
  assert.deepEqual(
    fields({ ...base, runtime: 'node', functions: { f: { input: {}, output: {}, codec: 'bytes' } } }),
    ['functions.f.codec:runtime'],
  );
  assert.deepEqual(
    fields({ ...base, runtime: 'wasm', functions: { f: { input: {}, output: {}, codec: 'text' } } }),
    ['functions.f.codec:enum'],
  );
  t.diagnostic('manifest rules checked');
});
