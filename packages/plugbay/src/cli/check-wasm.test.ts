// plugbay check compiles each wasm plugin's module and checks its imports as the wasm tier's load does: garbage
// bytes, an import the host does not provide, or a manifest function the module lacks reject the plugin (exit 1)
// before anything is served; WASI functions the host does not implement (they answer ENOSYS) are a warning.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import wabtInit from 'wabt';
import type { Diagnostic } from '../core/types.js';
import { tempDir, writePlugin } from '../test-support/plugins.js';
import type { CheckReport } from './commands/check.js';
import { checkCommand } from './commands/check.js';

const wabt = await wabtInit();

function wasm(imports: string): string {
  const mod = wabt.parseWat(
    'plugin.wat',
    `(module ${imports} (memory (export "memory") 1) (func (export "echo") (result i32) (i32.const 0)))`,
  );
  const { buffer } = mod.toBinary({});
  mod.destroy();
  return Buffer.from(buffer).toString('latin1');
}

async function wasmPlugin(root: string, name: string, module: string | Buffer, functions = ['echo']) {
  const dir = await writePlugin(root, name, {
    manifest: {
      name,
      version: '1.0.0',
      runtime: 'wasm',
      entry: 'plugin.wasm',
      functions: Object.fromEntries(functions.map((f) => [f, { input: {}, output: {} }])),
    },
  });
  await writeFile(
    join(dir, 'plugin.wasm'),
    typeof module === 'string' ? Buffer.from(module, 'latin1') : module,
  );
}

test('plugbay check compiles wasm modules and checks their imports: garbage and unknown imports exit 1', async (t) => {
  const root = await tempDir(t);
  const extism = '(import "extism:host/env" "output_set" (func (param i64 i64)))';
  await wasmPlugin(root, 'good', wasm(extism));
  await wasmPlugin(root, 'garbage', Buffer.from('this is not a WebAssembly module'));
  await wasmPlugin(root, 'unknown-import', wasm(`${extism} (import "env" "system" (func (param i32)))`));
  await wasmPlugin(root, 'missing-export', wasm(extism), ['echo', 'reverse']);
  await wasmPlugin(
    root,
    'enosys',
    wasm('(import "wasi_snapshot_preview1" "proc_raise" (func (param i32) (result i32)))'),
  );

  const out: string[] = [];
  const io = { out: (s: string) => out.push(s), err: (s: string) => out.push(s) };
  assert.equal(await checkCommand.run([root, '--json'], io), 1);
  const report = JSON.parse(out.join('')) as CheckReport;
  const status = Object.fromEntries(report.plugins.map((p) => [p.name, p.status]));
  assert.deepEqual(status, {
    enosys: 'warnings',
    garbage: 'rejected',
    good: 'ok',
    'missing-export': 'rejected',
    'unknown-import': 'rejected',
  });
  const about = (plugin: string): Partial<Diagnostic> | undefined => {
    const d = report.diagnostics.find((x) => x.plugin === plugin);
    return d && { code: d.code, severity: d.severity, field: d.field, rule: d.rule };
  };
  assert.deepEqual(about('garbage'), {
    code: 'PLUGBAY_LOAD_FAILED',
    severity: 'error',
    field: 'entry',
    rule: 'wasm-module',
  });
  assert.deepEqual(about('unknown-import'), {
    code: 'PLUGBAY_LOAD_FAILED',
    severity: 'error',
    field: 'entry',
    rule: 'imports',
  });
  assert.deepEqual(report.diagnostics.find((d) => d.plugin === 'unknown-import')?.details?.unsupported, [
    'env.system',
  ]);
  assert.deepEqual(about('missing-export'), {
    code: 'PLUGBAY_LOAD_FAILED',
    severity: 'error',
    field: 'functions',
    rule: 'exported',
  });
  assert.equal(about('enosys')?.severity, 'warning');
  assert.equal(about('enosys')?.rule, 'wasi-unimplemented');
  assert.equal(about('good'), undefined);
});
