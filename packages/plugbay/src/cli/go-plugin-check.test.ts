// `plugbay check` and `plugbay contract snapshot` on go-plugin plugins whose functions come from their .proto:
// derived when absent, a hand schema kept only when it narrows the message's, the service name checked.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runPlugbay } from '../test-support/cli.js';
import { tempDir, writePlugin } from '../test-support/plugins.js';
import type { CheckReport } from './commands/check.js';

const proto = `syntax = "proto3";
package shop;
message Order { string sku = 1; int32 qty = 2; }
message Receipt { int64 id = 1; }
service Shop { rpc Place(Order) returns (Receipt); }
`;

function goManifest(name: string, extra: Record<string, unknown> = {}) {
  return {
    name,
    version: '1.0.0',
    runtime: 'exec',
    entry: 'bin/shop',
    protocol: 'go-plugin',
    handshake: { magicCookieKey: 'SHOP', magicCookieValue: 'x', protocolVersion: 1 },
    proto: 'proto/shop.proto',
    service: 'shop.Shop',
    ...extra,
  };
}

const files = { 'bin/shop': '#!/bin/sh\n', 'proto/shop.proto': proto };

test('plugbay check: go-plugin functions derived from the .proto; wider hand schemas and bad services refused', async (t) => {
  const root = await tempDir(t);
  await writePlugin(root, 'derived', { manifest: goManifest('derived'), files });
  // narrower than the message: a bounded qty, sku required, no other fields
  const narrow = {
    type: 'object',
    properties: { sku: { type: 'string', minLength: 1 }, qty: { type: 'integer', minimum: 1, maximum: 100 } },
    required: ['sku', 'qty'],
    additionalProperties: false,
  };
  await writePlugin(root, 'narrowed', {
    manifest: goManifest('narrowed', { functions: { Place: { input: narrow, timeoutMs: 2000 } } }),
    files,
  });
  // qty as any integer admits 3000000000, which an int32 cannot hold
  const wide = { ...narrow, properties: { ...narrow.properties, qty: { type: 'integer' } } };
  await writePlugin(root, 'wide', {
    manifest: goManifest('wide', { functions: { Place: { input: wide } } }),
    files,
  });
  await writePlugin(root, 'no-rpc', {
    manifest: goManifest('no-rpc', { functions: { Cancel: { timeoutMs: 10 } } }),
    files,
  });
  await writePlugin(root, 'unqualified', { manifest: goManifest('unqualified', { service: 'Shop' }), files });
  await writePlugin(root, 'no-proto', {
    manifest: goManifest('no-proto', { proto: 'proto/none.proto' }),
    files,
  });
  await writePlugin(root, 'node-no-functions', {
    manifest: { name: 'plain', version: '1.0.0', runtime: 'node', entry: 'index.mjs' },
    files: { 'index.mjs': 'export default {};\n' },
  });

  const { code, stdout, stderr } = await runPlugbay(['check', root, '--json']);
  assert.equal(code, 1, stderr);
  const report = JSON.parse(stdout) as CheckReport;
  const status = Object.fromEntries(report.plugins.map((p) => [p.dir.slice(root.length + 1), p.status]));
  assert.deepEqual(status, {
    derived: 'ok',
    narrowed: 'ok',
    wide: 'rejected',
    'no-rpc': 'rejected',
    unqualified: 'rejected',
    'no-proto': 'rejected',
    'node-no-functions': 'rejected',
  });
  const diagnostic = (folder: string) => {
    const d = report.diagnostics.filter((x) => x.dir.endsWith(`/${folder}`));
    assert.equal(d.length, 1, JSON.stringify(d));
    return d[0] as (typeof d)[number];
  };
  const wideProblem = diagnostic('wide');
  assert.deepEqual(
    [wideProblem.code, wideProblem.field, wideProblem.rule],
    ['PLUGBAY_MANIFEST_INVALID', 'functions.Place.input', 'narrows-proto'],
  );
  assert.deepEqual([diagnostic('no-rpc').field, diagnostic('no-rpc').rule], ['functions.Cancel', 'rpc']);
  const unqualified = diagnostic('unqualified');
  assert.deepEqual([unqualified.field, unqualified.rule], ['service', 'defined']);
  assert.match(unqualified.message, /did you mean shop\.Shop/);
  assert.deepEqual([diagnostic('no-proto').field, diagnostic('no-proto').rule], ['proto', 'exists']);
  assert.deepEqual(
    [diagnostic('node-no-functions').field, diagnostic('node-no-functions').rule],
    ['functions', 'required'],
  );
});

test('plugbay contract snapshot: a go-plugin plugin snapshots its derived (or narrowed) schemas', async (t) => {
  const root = await tempDir(t);
  const dir = await writePlugin(root, 'shop', {
    manifest: goManifest('shop', { emitDefaults: true }),
    files,
  });
  const { code, stdout, stderr } = await runPlugbay(['contract', 'snapshot', dir]);
  assert.equal(code, 0, stderr);
  const snapshot = JSON.parse(stdout) as {
    functions: Record<string, { input: Record<string, unknown>; output: Record<string, unknown> }>;
  };
  assert.deepEqual(Object.keys(snapshot.functions), ['Place']);
  const input = snapshot.functions.Place?.input as { properties: Record<string, unknown> };
  assert.deepEqual(input.properties.qty, {
    type: ['integer', 'null'],
    minimum: -(2 ** 31),
    maximum: 2 ** 31 - 1,
  });
  // emitDefaults: the output always has its fields, int64 as a decimal string
  const output = snapshot.functions.Place?.output as {
    required: string[];
    properties: Record<string, unknown>;
  };
  assert.deepEqual(output.required, ['id']);
  assert.deepEqual(output.properties.id, { type: 'string', pattern: '^-?(0|[1-9][0-9]{0,18})$' });
});
