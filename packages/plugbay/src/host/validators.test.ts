import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Manifest } from '../core/manifest-schema.js';
import { manifestValidators } from './validators.js';

const source = { plugin: 'p', version: '1.0.0' };
const text = { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] };

/** A manifest with only what manifestValidators reads. */
function manifest(functions: Manifest['functions'], config?: unknown): Manifest {
  return { name: 'p', version: '1.0.0', runtime: 'node', entry: 'index.mjs', functions, config } as Manifest;
}

test('a manifest with the schemas of an earlier load gets its compiled validators; other schemas get their own', () => {
  const first = manifestValidators(manifest({ echo: { input: text, output: text } }), source);
  const again = manifestValidators(
    manifest({ echo: { input: structuredClone(text), output: structuredClone(text) } }),
    source,
  );
  assert.equal(again, first);
  assert.equal(again.functions.get('echo')?.input({ text: 'x' }), true);
  assert.equal(again.functions.get('echo')?.input({}), false);

  const renamed = manifestValidators(manifest({ other: { input: text, output: text } }), source);
  assert.notEqual(renamed, first);
  const withConfig = manifestValidators(
    manifest({ echo: { input: text, output: text } }, { type: 'object' }),
    source,
  );
  assert.notEqual(withConfig, first);
  assert.equal(withConfig.config?.({}), true);
  assert.equal(withConfig.config?.(1), false);
});

test('a $ref to the $id of another schema of the manifest follows that manifest, not an earlier one', () => {
  // Cached one by one, b's validator would keep the urn:tag it was first compiled against (a string).
  const strings = manifestValidators(
    manifest({
      a: { input: { $id: 'urn:plugbay-test:tag', type: 'string' }, output: {} },
      b: { input: { $ref: 'urn:plugbay-test:tag' }, output: {} },
    }),
    source,
  );
  const numbers = manifestValidators(
    manifest({
      a: { input: { $id: 'urn:plugbay-test:tag', type: 'number' }, output: {} },
      b: { input: { $ref: 'urn:plugbay-test:tag' }, output: {} },
    }),
    source,
  );
  assert.equal(strings.functions.get('b')?.input('x'), true);
  assert.equal(strings.functions.get('b')?.input(1), false);
  assert.equal(numbers.functions.get('b')?.input(1), true);
  assert.equal(numbers.functions.get('b')?.input('x'), false);
});

test('bytes functions have no compiled schemas: the host checks only that they are bytes', () => {
  const v = manifestValidators(
    manifest({ blob: { input: { type: 'string' }, output: {}, codec: 'bytes' } as never }),
    source,
  );
  assert.equal(v.functions.has('blob'), false);
});

test('a schema Ajv cannot compile fails the load as PLUGBAY_MANIFEST_INVALID naming its field, every time', () => {
  const broken = manifest({ f: { input: { $ref: '#/nowhere' }, output: {} } });
  for (let i = 0; i < 2; i++) {
    assert.throws(
      () => manifestValidators(broken, source),
      (e: { code: string; message: string; plugin: string }) =>
        e.code === 'PLUGBAY_MANIFEST_INVALID' && e.message.startsWith('functions.f:') && e.plugin === 'p',
    );
  }
});

test('the cache is bounded: the least recently used set is compiled again', () => {
  const schemaOf = (i: number) => ({ type: 'object', properties: { [`n${i}`]: { type: 'number' } } });
  const oldest = manifestValidators(manifest({ f: { input: schemaOf(0), output: {} } }), source);
  for (let i = 1; i <= 64; i++)
    manifestValidators(manifest({ f: { input: schemaOf(i), output: {} } }), source);
  const recent = manifestValidators(manifest({ f: { input: schemaOf(64), output: {} } }), source);
  const recompiled = manifestValidators(manifest({ f: { input: schemaOf(0), output: {} } }), source);
  assert.notEqual(recompiled, oldest);
  assert.equal(manifestValidators(manifest({ f: { input: schemaOf(64), output: {} } }), source), recent);
});
