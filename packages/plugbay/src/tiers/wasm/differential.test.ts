/**
 * The same .wasm files under plugbay's wasm tier and under @extism/extism (the oracle, a devDependency): same
 * inputs, same output bytes, same failures and error messages.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import createPlugin, { type Plugin } from '@extism/extism';
import { PlugbayError } from '../../core/errors.js';
import type { Instance } from '../../core/types.js';
import { callTier } from '../test-support.js';
import { buildFixtures, fixture, loadOptions, wasmPlugin } from './test-fixtures.js';
import { createWasmTier, type WasmRunMode } from './tier.js';

type Outcome = { ok: true; bytes: string } | { ok: false; message: string };

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
before(() => buildFixtures());

const config = { greeting: 'grüß dich' };

async function ours(name: string, run: WasmRunMode): Promise<Instance> {
  const p = wasmPlugin(fixture(name), { permissions: { memoryMb: 64 } });
  const instance = await createWasmTier({ run, codec: 'bytes' }).load(p.plugin, loadOptions());
  cleanups.push(p.cleanup, () => instance.destroy());
  await instance.start({ signal: new AbortController().signal, config });
  return instance;
}

async function oracle(name: string, wasi: boolean): Promise<Plugin> {
  const plugin = await createPlugin(
    { wasm: [{ data: readFileSync(fixture(name)) }] },
    { useWasi: wasi, runInWorker: false, config },
  );
  cleanups.push(() => plugin.close());
  return plugin;
}

async function viaOurs(instance: Instance, fn: string, input: Uint8Array): Promise<Outcome> {
  try {
    const out = (await callTier(instance, fn, input)) as Uint8Array;
    return { ok: true, bytes: Buffer.from(out).toString('hex') };
  } catch (err) {
    assert.ok(err instanceof PlugbayError);
    assert.equal(err.code, 'PLUGBAY_PLUGIN_ERROR');
    return { ok: false, message: err.message };
  }
}

async function viaOracle(plugin: Plugin, fn: string, input: Uint8Array): Promise<Outcome> {
  try {
    const out = await plugin.call(fn, input);
    return { ok: true, bytes: out === null ? '' : Buffer.from(out.bytes()).toString('hex') };
  } catch (err) {
    return { ok: false, message: (err as Error).message.replace(/^Plugin-originated error: /, '') };
  }
}

const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
function megabyteJson(): Uint8Array {
  const unit = 'aé✓🎉 '; // 1 + 2 + 3 + 4 + 1 = 11 bytes of UTF-8
  return utf8(JSON.stringify({ text: unit.repeat(Math.ceil((1024 * 1024) / 11)) }));
}

const inputs: [string, Uint8Array][] = [
  ['empty', new Uint8Array(0)],
  ['ascii json', utf8('"hello"')],
  ['non-ASCII json', utf8(JSON.stringify({ name: 'Zoë', city: '東京', mood: '🎉', ru: 'привет' }))],
  ['7 bytes', utf8('1234567')],
  ['9 bytes', utf8('123456789')],
  ['binary', Uint8Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff)],
  ['1 MiB json', megabyteJson()],
];

const cases: { name: string; wasi: boolean; calls: [fn: string, inputs: 'all' | Uint8Array[]][] }[] = [
  {
    name: 'corpus',
    wasi: false,
    calls: [
      ['echo', 'all'],
      ['fail', [new Uint8Array(0)]],
      ['config', [new Uint8Array(0)]],
      ['count', [new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)]],
    ],
  },
  {
    name: 'as',
    wasi: false,
    calls: [
      ['echo', 'all'],
      ['greet', [utf8('"Zoë"')]],
      ['count', [new Uint8Array(0), new Uint8Array(0)]],
      ['fail', [new Uint8Array(0)]],
      ['spin', [utf8('0'), utf8('100000')]],
    ],
  },
  {
    name: 'rust',
    wasi: false,
    calls: [
      ['echo', 'all'],
      ['reverse', [utf8('"añb✓🎉"'), utf8('"x"'), utf8('nope')]],
      ['remember', [utf8('1'), utf8('{"b":"ü"}')]],
      ['fail_with', [new Uint8Array(0)]],
      ['spin', [utf8('0'), utf8('100000')]],
    ],
  },
  {
    name: 'c',
    wasi: true,
    calls: [
      ['echo', 'all'],
      ['spin', [utf8('0'), utf8('100000')]],
    ],
  },
];

// metered: the module the meter rewrote must answer exactly as the original does under Extism
for (const run of ['host-thread', 'metered'] as const)
  describe(`differential (${run}): plugbay wasm tier vs @extism/extism`, () => {
    for (const c of cases) {
      test(`${c.name}: identical outputs and errors`, async () => {
        const a = await ours(c.name, run);
        const b = await oracle(c.name, c.wasi);
        let compared = 0;
        for (const [fn, list] of c.calls) {
          const named: [string, Uint8Array][] = list === 'all' ? inputs : list.map((v, i) => [`#${i}`, v]);
          for (const [label, input] of named) {
            const mine = await viaOurs(a, fn, input);
            const theirs = await viaOracle(b, fn, input);
            assert.deepEqual(mine, theirs, `${c.name}.${fn}(${label})`);
            compared++;
          }
        }
        assert.ok(compared > 0);
      });
    }

    // A known, deliberate divergence: @extism/extism 1.0.3 (JS) treats a non-zero return without error_set as
    // success with no output; Extism's Rust runtime and plugbay report it as an error.
    test('non-zero return without an error message: plugbay fails the call, the JS SDK returns null', async () => {
      const a = await ours('corpus', run);
      const b = await oracle('corpus', false);
      assert.deepEqual(await viaOurs(a, 'rc7', new Uint8Array(0)), { ok: false, message: 'returned 7' });
      assert.deepEqual(await viaOracle(b, 'rc7', new Uint8Array(0)), { ok: true, bytes: '' });
    });
  });
