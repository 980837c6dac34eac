/**
 * The `metered` run mode: module-meter.ts's rewrite on its own (real WebAssembly, a counting refill), then through
 * the tier with the C, Rust and AssemblyScript fixtures and meter.wat (endless loops, host calls in a loop, bulk
 * fills, deep and endless recursion, names the meter uses).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import wabtInit from 'wabt';
import { PlugbayError } from '../../core/errors.js';
import { validateManifest } from '../../core/manifest.js';
import type { Instance } from '../../core/types.js';
import { callTier, testCall, testDeadlines } from '../test-support.js';
import { ModuleFormatError } from './module-binary.js';
import { METER_MODULE, METER_REFILL, meterModule } from './module-meter.js';
import { buildFixtures, fixture, loadOptions, wasmPlugin } from './test-fixtures.js';
import { createWasmTier, type WasmTierOptions } from './tier.js';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  testDeadlines.clear();
});
before(() => buildFixtures());

const wabt = await wabtInit();
function wat(text: string, names = false): Uint8Array {
  const mod = wabt.parseWat('test.wat', text, { reference_types: true, bulk_memory: true });
  const { buffer } = mod.toBinary({ write_debug_names: names });
  mod.destroy();
  return buffer;
}

/** Instantiates `bytes` metered, with a refill that counts its calls and grants `fuel` (throws once told to). */
function metered(bytes: Uint8Array, fuel: number, imports: Record<string, Record<string, unknown>> = {}) {
  const counter = { refills: 0, stopAfter: Number.POSITIVE_INFINITY };
  const refill = () => {
    if (++counter.refills > counter.stopAfter) throw new Error('out of fuel');
    return fuel;
  };
  const { bytes: out, info } = meterModule(bytes, fuel);
  const instance = new WebAssembly.Instance(new WebAssembly.Module(out), {
    ...imports,
    [METER_MODULE]: { [METER_REFILL]: refill },
  } as WebAssembly.Imports);
  return { exports: instance.exports as Record<string, (...a: number[]) => number>, counter, info };
}

const hostStubs = { 'extism:host/env': { get_log_level: () => 2, output_set: () => {} } };

describe('module-meter: the rewrite', () => {
  test('function indices are renumbered everywhere: start, call_indirect through an element segment, ref.func in a global', () => {
    const { exports, info } = metered(readFileSync(fixture('meter')), 1 << 20, hostStubs);
    assert.equal(exports.deep!(), 0); // traps (unreachable) if start did not run or a reference points elsewhere
    assert.ok(info.points >= 8, `points: ${info.points}`);
  });

  test('element segments in every form (indices, expressions, passive, declared) and table.init keep their targets', () => {
    const bytes = wat(`(module
      (import "env" "f" (func $f (result i32)))
      (type $t (func (result i32)))
      (table $tab 4 funcref)
      (func $a (result i32) (i32.const 11))
      (func $b (result i32) (i32.const 22))
      (elem (table $tab) (i32.const 0) funcref (ref.func $a) (ref.null func) (ref.func $b))
      (elem $passive funcref (ref.func $b))
      (elem declare func $a)
      (func (export "go") (result i32)
        (table.init $tab $passive (i32.const 3) (i32.const 0) (i32.const 1))
        (i32.add (i32.add (call_indirect (type $t) (i32.const 0)) (call_indirect (type $t) (i32.const 2)))
          (i32.add (call_indirect (type $t) (i32.const 3)) (ref.is_null (ref.func $a))))))`);
    const env = { env: { f: () => 0 } };
    const plain = new WebAssembly.Instance(new WebAssembly.Module(bytes), env).exports as { go(): number };
    const { exports, info } = metered(bytes, 1000, env);
    assert.equal(plain.go(), 55);
    assert.equal(exports.go!(), 55);
    assert.equal(info.bulkOps, 1);
  });

  test('the name section follows the renumbering: a trap names the function that trapped', () => {
    const bytes = wat(
      `(module (import "env" "f" (func $f)) (func $first (export "a") (call $second)) (func $second (unreachable)))`,
      true,
    );
    const { exports } = metered(bytes, 1000, { env: { f: () => {} } });
    const err = (() => {
      try {
        exports.a!();
      } catch (e) {
        return e as Error;
      }
      assert.fail('expected a trap');
    })();
    assert.match(String(err.stack).split('\n')[1] ?? '', /second/);
  });

  test('a loop charges every round: refill runs again and again and its throw unwinds the guest', () => {
    const bytes = wat(`(module (func (export "spin") (loop $l (br $l))))`);
    const { exports, counter } = metered(bytes, 1000);
    counter.stopAfter = 50;
    assert.throws(() => exports.spin!(), /out of fuel/);
    assert.equal(counter.refills, 51);
  });

  test('bulk memory operations are charged by their size', () => {
    const bytes = wat(
      `(module (memory 2) (func (export "fill") (param $n i32) (memory.fill (i32.const 0) (i32.const 1) (local.get $n))))`,
    );
    const { exports, counter, info } = metered(bytes, 1000);
    assert.equal(info.bulkOps, 1);
    exports.fill!(1000); // 15 units: within the first fuel
    assert.equal(counter.refills, 0);
    exports.fill!(65536); // 1024 units: more than a refill grants
    assert.equal(counter.refills, 1);
  });

  test('a module importing from the reserved meter module, or that is no wasm, is refused', () => {
    const own = wat(`(module (import "${METER_MODULE}" "${METER_REFILL}" (func (result i32))))`);
    assert.throws(() => meterModule(own, 1000), ModuleFormatError);
    assert.throws(() => meterModule(Uint8Array.of(1, 2, 3), 1000), ModuleFormatError);
  });

  test('every toolchain fixture meters into a module that validates and keeps its imports and exports', () => {
    for (const name of ['as', 'c', 'rust', 'corpus', 'meter']) {
      const original = readFileSync(fixture(name));
      const { bytes } = meterModule(original, 1 << 20);
      assert.ok(WebAssembly.validate(bytes), name);
      const before = new WebAssembly.Module(original);
      const after = new WebAssembly.Module(bytes);
      assert.deepEqual(WebAssembly.Module.exports(after), WebAssembly.Module.exports(before), name);
      assert.deepEqual(WebAssembly.Module.imports(after), [
        ...WebAssembly.Module.imports(before),
        { module: METER_MODULE, name: METER_REFILL, kind: 'function' },
      ]);
    }
  });
});

async function start(
  name: string,
  tierOptions: WasmTierOptions = {},
  manifest: Record<string, unknown> = {},
) {
  const p = wasmPlugin(fixture(name), manifest);
  const instance = await createWasmTier(tierOptions).load(p.plugin, loadOptions());
  cleanups.push(p.cleanup, () => instance.destroy());
  await instance.start({ signal: new AbortController().signal, config: {} });
  return instance;
}

/** A plugin of the meter fixture's manifest whose module is `bytes`. */
function pluginOf(bytes: Uint8Array) {
  const p = wasmPlugin(fixture('meter'));
  cleanups.push(p.cleanup);
  writeFileSync(p.plugin.entryPath, bytes);
  return p.plugin;
}

/** `bytes` loaded and started in the default (metered) mode. */
async function startModule(bytes: Uint8Array): Promise<Instance> {
  const instance = await createWasmTier().load(pluginOf(bytes), loadOptions());
  cleanups.push(() => instance.destroy());
  await instance.start({ signal: new AbortController().signal, config: {} });
  return instance;
}

function call(instance: Instance, fn: string, input: unknown, timeoutMs = 5000): Promise<unknown> {
  return callTier(instance, fn, input, testCall({ timeoutMs }));
}

async function failure(p: Promise<unknown>): Promise<PlugbayError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof PlugbayError, `expected a PlugbayError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

type Stats = { instantiations: number; workerSpawns: number };
const stats = (i: Instance) => (i as unknown as { stats: Stats }).stats;

/**
 * A runaway call must end within this much of its deadline: a refill comes about every ms of guest work; the rest
 * is room for a loaded machine.
 */
const slackMs = 1500;

describe('wasm tier (metered): CPU cap in the host thread', () => {
  for (const name of ['c', 'rust', 'as']) {
    test(`${name}: a finite loop answers; an endless one is PLUGBAY_TIMEOUT at its deadline, then a fresh sandbox answers`, async () => {
      const instance = await start(name); // the default mode
      assert.equal(await call(instance, 'spin', 1_000_000), 1_000_000);
      const t0 = performance.now();
      const err = await failure(call(instance, 'spin', 1e15, 150));
      const took = performance.now() - t0;
      assert.equal(err.code, 'PLUGBAY_TIMEOUT');
      assert.equal(err.details?.rule, 'deadline');
      assert.equal(err.details?.deadline, 'function');
      assert.ok(took >= 140 && took < 150 + slackMs, `took ${took} ms`);
      assert.deepEqual(await call(instance, 'echo', 'alive'), 'alive');
      assert.deepEqual(stats(instance), { ...stats(instance), instantiations: 2, workerSpawns: 0 });
      assert.equal(instance.state, 'ready');
    });
  }

  test('endless loops of every kind: a bare br, a host call per round, a 64 KiB fill per round', async () => {
    const corpus = await start('corpus');
    const m = await start('meter');
    for (const [instance, fn] of [
      [corpus, 'loop'],
      [m, 'spin_host'],
      [m, 'spin_fill'],
    ] as const) {
      const t0 = performance.now();
      assert.equal((await failure(call(instance, fn, null, 100))).code, 'PLUGBAY_TIMEOUT', fn);
      assert.ok(performance.now() - t0 < 100 + slackMs, `${fn} took ${performance.now() - t0} ms`);
    }
    assert.equal(await call(m, 'deep', null), undefined);
  });

  test('host calls through call_indirect (no static charge) still stop at the deadline: every host call checks it', async () => {
    // each round a 64 KiB var_set (a copy in JS, far more than its few units of fuel) reached through the table
    const instance = await startModule(
      wat(`(module
        (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
        (import "extism:host/env" "store_u8" (func $store (param i64 i32)))
        (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
        (memory (export "memory") 1)
        (type $vs (func (param i64 i64)))
        (table 1 funcref) (elem (i32.const 0) $var_set)
        (func (export "go") (result i32) (local $k i64) (local $v i64)
          (local.set $k (call $alloc (i64.const 1))) (call $store (local.get $k) (i32.const 97))
          (local.set $v (call $alloc (i64.const 65536)))
          (loop $l (call_indirect (type $vs) (local.get $k) (local.get $v) (i32.const 0)) (br $l))
          (i32.const 0)))`),
    );
    const t0 = performance.now();
    assert.equal((await failure(call(instance, 'go', null, 100))).code, 'PLUGBAY_TIMEOUT');
    assert.ok(performance.now() - t0 < 100 + slackMs, `took ${performance.now() - t0} ms`);
  });

  test('a loop of memory.grow (about a ms per page, one unit of fuel) stops at the deadline', async () => {
    const instance = await startModule(
      wat(`(module (memory (export "memory") 1)
        (func (export "go") (result i32) (loop $l (drop (memory.grow (i32.const 1))) (br $l)) (i32.const 0)))`),
    );
    const t0 = performance.now();
    assert.equal((await failure(call(instance, 'go', null, 100))).code, 'PLUGBAY_TIMEOUT');
    assert.ok(performance.now() - t0 < 100 + slackMs, `took ${performance.now() - t0} ms`);
  });

  test('a guest that catches the timeout (catch_all) and returns still fails PLUGBAY_TIMEOUT, and the next call runs', async () => {
    const mod = wabt.parseWat(
      'catch.wat',
      `(module (memory (export "memory") 1)
        (func (export "go") (result i32) (try (do (loop $l (br $l))) (catch_all)) (i32.const 0))
        (func (export "ok") (result i32) (i32.const 0)))`,
      { exceptions: true },
    );
    const bytes = mod.toBinary({}).buffer;
    mod.destroy();
    const instance = await startModule(bytes);
    assert.equal((await failure(call(instance, 'go', null, 50))).code, 'PLUGBAY_TIMEOUT');
    assert.equal(await call(instance, 'ok', null), undefined);
    assert.equal(stats(instance).instantiations, 2); // the guest's state after the caught timeout is not kept
  });

  test("a loop of the kernel's alloc (unmetered wasm that grows the kernel memory) stops at the deadline", async () => {
    const instance = await startModule(
      wat(`(module (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
        (memory (export "memory") 1) (type $a (func (param i64) (result i64)))
        (table 1 funcref) (elem (i32.const 0) $alloc)
        (func (export "go") (result i32)
          (loop $l (drop (call_indirect (type $a) (i64.const 65536) (i32.const 0))) (br $l)) (i32.const 0)))`),
    );
    // a fresh kernel memory each round (the sandbox is rebuilt after a timeout): its growth is slow from the 2nd on
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      assert.equal((await failure(call(instance, 'go', null, 50))).code, 'PLUGBAY_TIMEOUT');
      assert.ok(performance.now() - t0 < 50 + slackMs, `round ${i} took ${performance.now() - t0} ms`);
    }
  });

  test("a caller's deadline shorter than the function's own traps the call too, reported as the caller's", async () => {
    const instance = await start('corpus');
    const err = await failure(
      callTier(instance, 'loop', null, testCall({ timeoutMs: 50, ownTimeoutMs: 5000 })),
    );
    assert.equal(err.code, 'PLUGBAY_TIMEOUT');
    assert.equal(err.details?.deadline, 'caller');
  });

  test('deep recursion answers; endless recursion overflows the stack (PLUGBAY_PLUGIN_CRASHED) and the next call runs', async () => {
    const instance = await start('meter');
    assert.equal(await call(instance, 'deep', null), undefined); // 5 000 frames, each charged at entry
    const err = await failure(call(instance, 'endless', null));
    assert.equal(err.code, 'PLUGBAY_PLUGIN_CRASHED');
    assert.equal(await call(instance, 'deep', null), undefined);
    assert.equal(stats(instance).instantiations, 2);
  });

  test("a module exporting names like the meter's runs; one importing from plugbay:meter is refused at load", async () => {
    const m = await start('meter'); // exports a global "refill" and a function "plugbay_meter"
    assert.deepEqual([...m.exportedFunctions].sort(), [
      'deep',
      'endless',
      'plugbay_meter',
      'spin_fill',
      'spin_host',
    ]);
    assert.equal(await call(m, 'plugbay_meter', null), undefined);

    const plugin = pluginOf(
      wat(
        `(module (import "${METER_MODULE}" "${METER_REFILL}" (func (result i32))) (memory (export "memory") 1))`,
      ),
    );
    const err = await failure(createWasmTier().load(plugin, loadOptions()));
    assert.equal(err.code, 'PLUGBAY_LOAD_FAILED');
    assert.equal(err.details?.rule, 'wasm-module');
    // unmetered, it is an import this host does not provide
    const inWorker = await failure(createWasmTier({ run: 'worker' }).load(plugin, loadOptions()));
    assert.equal(inWorker.details?.rule, 'imports');
  });
});

describe('wasm tier: run mode from the manifest (wasm.run)', () => {
  test('"worker" runs in a worker whatever the tier default; "metered" stays in the host thread', async () => {
    const w = await start('corpus', {}, { wasm: { run: 'worker' } });
    assert.equal(stats(w).workerSpawns, 1);
    const m = await start('corpus', { run: 'worker' }, { wasm: { run: 'metered' } });
    assert.equal(stats(m).workerSpawns, 0);
    assert.equal((await failure(call(m, 'loop', null, 50))).code, 'PLUGBAY_TIMEOUT');
  });

  test('"host-thread" (no CPU cap) only when the operator runs the tier uncapped', async () => {
    const p = wasmPlugin(fixture('corpus'), { wasm: { run: 'host-thread' } });
    cleanups.push(p.cleanup);
    const err = await failure(createWasmTier().load(p.plugin, loadOptions()));
    assert.equal(err.code, 'PLUGBAY_LOAD_FAILED');
    assert.deepEqual(err.details, { field: 'wasm.run', rule: 'host-thread-not-allowed' });
    const ok = await start('corpus', { run: 'host-thread' }, { wasm: { run: 'host-thread' } });
    assert.deepEqual(await call(ok, 'echo', 1), 1);
  });

  test('wasm.run is a wasm field: refused in a node manifest, and unknown modes are refused', () => {
    const base = { name: 'x', version: '1.0.0', entry: 'a', functions: {} };
    const node = validateManifest({ ...base, runtime: 'node', wasm: { run: 'worker' } });
    assert.ok(node.problems.some((p) => p.field === 'wasm' && p.rule === 'runtime'));
    const bad = validateManifest({ ...base, runtime: 'wasm', wasm: { run: 'fast' } });
    assert.ok(bad.problems.length > 0);
  });
});
