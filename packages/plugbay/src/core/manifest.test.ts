import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateManifest } from './manifest.js';

const goPlugin = {
  name: 'stock',
  version: '1.0.0',
  runtime: 'exec',
  entry: 'bin/stock',
  protocol: 'go-plugin',
  handshake: { magicCookieKey: 'K', magicCookieValue: 'v', protocolVersion: 1 },
  proto: 'stock.proto',
  service: 'stock.Stock',
};

const problemsOf = (raw: unknown) => {
  const r = validateManifest(raw);
  return 'manifest' in r ? [] : r.problems.map((p) => [p.field, p.rule]);
};

test('go-plugin manifests may leave out functions and schemas (derived from the .proto later)', () => {
  const bare = validateManifest(goPlugin);
  assert.ok('manifest' in bare);
  assert.deepEqual(bare.manifest.functions, {}, 'checked manifests always have functions');
  assert.deepEqual(
    problemsOf({ ...goPlugin, functions: { Get: { timeoutMs: 100 } }, emitDefaults: true }),
    [],
  );
});

test('other manifests still need functions with both schemas; emitDefaults is for go-plugin only', () => {
  const { protocol: _p, handshake: _h, proto: _pr, service: _s, ...exec } = goPlugin;
  assert.deepEqual(problemsOf(exec), [['functions', 'required']]);
  assert.deepEqual(problemsOf({ ...exec, functions: { f: { input: {} } } }), [
    ['functions.f.output', 'required'],
  ]);
  assert.deepEqual(problemsOf({ ...exec, functions: {}, protocol: 'plugbay', emitDefaults: true }), [
    ['emitDefaults', 'protocol'],
  ]);
  assert.deepEqual(
    problemsOf({ ...exec, runtime: 'node', entry: 'i.js', functions: {}, emitDefaults: false }),
    [['emitDefaults', 'runtime']],
  );
  assert.deepEqual(problemsOf({ ...goPlugin, emitDefaults: 'yes' }), [['emitDefaults', 'type']]);
});
