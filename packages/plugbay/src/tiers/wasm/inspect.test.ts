import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { PlugbayError } from '../../core/errors.js';
import { validateManifest } from '../../core/manifest.js';
import { draftFunctions, inspectWasmModule } from './inspect.js';
import { buildFixtures, fixture, loadOptions, wasmPlugin } from './test-fixtures.js';
import { createWasmTier } from './tier.js';

const cleanups: (() => void)[] = [];
before(() => buildFixtures());
after(() => {
  for (const c of cleanups.splice(0)) c();
});

test('inspectWasmModule lists functions and WASI use; draftFunctions makes a valid manifest', async () => {
  const c = await inspectWasmModule(fixture('c'));
  assert.deepEqual(c, {
    functions: [
      'echo',
      'read_file',
      'first_line',
      'write_file',
      'get_env',
      'print',
      'now',
      'sleep_ms',
      'trap',
      'spin',
    ],
    wasi: true,
    unsupported: [],
    enosys: [],
  });
  const user = await inspectWasmModule(fixture('user-import'));
  assert.deepEqual(user.unsupported, ['extism:host/user.lookup']);
  const manifest = {
    name: 'c',
    version: '1.0.0',
    runtime: 'wasm',
    entry: 'plugin.wasm',
    functions: draftFunctions(c.functions),
  };
  assert.deepEqual(validateManifest(manifest).problems, []);
});

test('a manifest function the module does not export fails the load', async () => {
  const p = wasmPlugin(fixture('as'), {
    functions: { echo: { input: {}, output: {} }, gone: { input: {}, output: {} } },
  });
  cleanups.push(p.cleanup);
  await assert.rejects(
    createWasmTier().load(p.plugin, loadOptions()),
    (e: PlugbayError) =>
      e.code === 'PLUGBAY_LOAD_FAILED' && (e.details?.missing as string[] | undefined)?.[0] === 'gone',
  );
});
