import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { PlugbayError } from '../../core/errors.js';
import type { Instance } from '../../core/types.js';
import { callTier, reach, testCall, testDeadlines } from '../test-support.js';
import { buildFixtures, fixture, loadOptions, wasmPlugin } from './test-fixtures.js';
import { createWasmTier, type WasmTierOptions } from './tier.js';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  testDeadlines.clear();
});

async function start(
  name: string,
  tierOptions: WasmTierOptions = {},
  manifest: Record<string, unknown> = {},
  config: unknown = {},
) {
  const p = wasmPlugin(fixture(name), manifest);
  const opts = loadOptions();
  const instance = await createWasmTier(tierOptions).load(p.plugin, opts);
  cleanups.push(p.cleanup, () => instance.destroy());
  await instance.start({ signal: new AbortController().signal, config });
  return { instance, lines: opts.lines, plugin: p.plugin };
}

function call(instance: Instance, fn: string, input?: unknown, timeoutMs = 5000): Promise<unknown> {
  return callTier(instance, fn, input, testCall({ timeoutMs }));
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof PlugbayError, `expected a PlugbayError, got ${String(err)}`);
    return err.code;
  }
  assert.fail('expected the call to fail');
}

before(() => buildFixtures());

for (const run of ['metered', 'host-thread', 'worker'] as const) {
  describe(`wasm tier (${run})`, () => {
    test('echo through each toolchain keeps JSON values intact, non-ASCII included', async () => {
      const value = { text: 'héllo wörld ✓ 日本語 🎉', n: [1, 2.5, null, true], nested: { a: '' } };
      for (const name of ['corpus', 'as', 'c', 'rust']) {
        const { instance } = await start(name, { run });
        assert.deepEqual(await call(instance, 'echo', value), value, name);
        assert.equal(instance.state, 'ready');
        assert.equal(instance.tier, 'wasm');
      }
    });

    test('error_set and non-zero returns become PLUGBAY_PLUGIN_ERROR with the message; the instance keeps working', async () => {
      const corpus = (await start('corpus', { run })).instance;
      await assert.rejects(
        call(corpus, 'fail'),
        (e: PlugbayError) => e.code === 'PLUGBAY_PLUGIN_ERROR' && e.message === 'boom',
      );
      await assert.rejects(
        call(corpus, 'rc7'),
        (e: PlugbayError) => e.code === 'PLUGBAY_PLUGIN_ERROR' && e.details?.rc === 7,
      );
      const as = (await start('as', { run })).instance;
      await assert.rejects(
        call(as, 'fail'),
        (e: PlugbayError) => e.code === 'PLUGBAY_PLUGIN_ERROR' && e.message === 'as plugin failed: ünïcode',
      );
      const rust = (await start('rust', { run })).instance;
      await assert.rejects(
        call(rust, 'fail_with'),
        (e: PlugbayError) => e.message === 'rust plugin failed: ошибка',
      );
      assert.equal(await call(corpus, 'echo', 1), 1);
      assert.equal(await call(as, 'echo', 'still'), 'still');
    });

    test('a trap is PLUGBAY_PLUGIN_CRASHED and the next call runs on a fresh sandbox', async () => {
      const { instance } = await start('corpus', { run });
      for (const fn of ['trap', 'oob'])
        assert.equal(await codeOf(call(instance, fn)), 'PLUGBAY_PLUGIN_CRASHED');
      assert.deepEqual(await call(instance, 'echo', { ok: true }), { ok: true });
      const rust = (await start('rust', { run })).instance;
      assert.equal(await codeOf(call(rust, 'panic', 'x')), 'PLUGBAY_PLUGIN_CRASHED');
      assert.equal(await call(rust, 'echo', 'after panic'), 'after panic');
      assert.equal((instance as unknown as { stats: { instantiations: number } }).stats.instantiations, 3);
    });

    test('config, vars and logs follow the Extism ABI', async () => {
      const { instance, lines } = await start('as', { run }, {}, { greeting: 'hi', other: 3 });
      assert.deepEqual(await call(instance, 'greet', 'Zoë'), { greeting: 'hi', name: 'Zoë' });
      assert.equal(await call(instance, 'count'), 1);
      assert.equal(await call(instance, 'count'), 2);
      assert.equal(await call(instance, 'count'), 3);
      await call(instance, 'log');
      assert.deepEqual(lines.at(-1), { level: 'info', msg: 'hello from AssemblyScript' });
      const rust = await start('rust', { run });
      assert.deepEqual(await call(rust.instance, 'remember', 'a'), ['a']);
      assert.deepEqual(await call(rust.instance, 'remember', { b: 1 }), ['a', { b: 1 }]);
      // vars survive a crash of the sandbox, as they outlive calls
      await codeOf(call(rust.instance, 'panic'));
      assert.deepEqual(await call(rust.instance, 'remember', 3), ['a', { b: 1 }, 3]);
    });

    test('raw bytes codec: config_get, var counter, and the memory cap seen from inside (memory.grow returns -1)', async () => {
      const { instance } = await start(
        'corpus',
        { run, codec: 'bytes' },
        { permissions: { memoryMb: 2 } },
        { greeting: 'héllo' },
      );
      assert.equal(Buffer.from((await call(instance, 'config', '')) as Uint8Array).toString(), 'héllo');
      assert.deepEqual([...((await call(instance, 'count', '')) as Uint8Array)], [1]);
      assert.deepEqual([...((await call(instance, 'count', '')) as Uint8Array)], [2]);
      const pages = Buffer.from((await call(instance, 'grow', '')) as Uint8Array).readUInt32LE(0);
      assert.equal(pages, 32, 'grew to exactly the 2 MiB cap (32 pages), then memory.grow returned -1');
      assert.equal(
        Buffer.from((await call(instance, 'echo', new Uint8Array([0, 255, 7]))) as Uint8Array).toString(
          'hex',
        ),
        '00ff07',
      );
    });

    test('an output the kernel memory cannot hold fails the call (PLUGBAY_PLUGIN_ERROR), never an empty success', async () => {
      // 9 MiB in and 9 MiB out do not fit a 16 MiB kernel memory: each toolchain's alloc returns 0 for the output,
      // and the plugin sets it anyway (none of them checks). That output is lost: the call must fail.
      const text = 'x'.repeat(9 * 2 ** 20);
      for (const name of ['corpus', 'as', 'c', 'rust']) {
        const { instance } = await start(name, { run }, { permissions: { memoryMb: 16 } });
        await assert.rejects(
          call(instance, 'echo', text),
          (e: PlugbayError) =>
            e.code === 'PLUGBAY_PLUGIN_ERROR' && e.details?.rule === 'output-not-allocated',
          name,
        );
        assert.equal(await call(instance, 'echo', 'still serving'), 'still serving', name);
      }
    });

    test('kernel memory cap: a huge output fails inside the plugin, never in the host', async () => {
      const small = await start('corpus', { run, codec: 'bytes' }, { permissions: { memoryMb: 4 } });
      // 8 MiB does not fit a 4 MiB kernel memory: alloc returns 0 and the plugin returns 2
      await assert.rejects(
        call(small.instance, 'huge', ''),
        (e: PlugbayError) => e.code === 'PLUGBAY_PLUGIN_ERROR' && e.details?.rc === 2,
      );
      const big = await start('corpus', { run, codec: 'bytes' }, { permissions: { memoryMb: 16 } });
      assert.equal(((await call(big.instance, 'huge', '')) as Uint8Array).length, 8 * 1024 * 1024);
      assert.equal(
        await codeOf(call(small.instance, 'echo', new Uint8Array(5 * 1024 * 1024))),
        'PLUGBAY_INVALID_INPUT',
      );
      assert.equal(
        ((await call(small.instance, 'echo', new Uint8Array(1024 * 1024))) as Uint8Array).length,
        1024 * 1024,
      );
    });

    test('http_request is denied unless the host is in permissions.net', async () => {
      const { instance } = await start('corpus', { run });
      await assert.rejects(
        call(instance, 'http'),
        (e: PlugbayError) => e.code === 'PLUGBAY_PERMISSION_DENIED' && e.details?.host === 'example.com',
      );
      assert.deepEqual(await call(instance, 'echo', 'after'), 'after');
    });

    test('unknown functions and non-JSON output have their codes', async () => {
      const { instance } = await start('corpus', { run }, {}, { greeting: 'not json' });
      assert.equal(await codeOf(call(instance, 'config')), 'PLUGBAY_INVALID_OUTPUT');
      assert.equal(await codeOf(call(instance, 'nope')), 'PLUGBAY_UNKNOWN_FUNCTION');
      assert.equal(await codeOf(call(instance, '_initialize')), 'PLUGBAY_UNKNOWN_FUNCTION');
      // `config` returns the raw config text, which is not JSON
    });
  });
}

describe('wasm tier: loading', () => {
  test('exportedFunctions lists the plugin functions, not the toolchain exports', async () => {
    const { instance } = await start('c');
    assert.deepEqual([...instance.exportedFunctions].sort(), [
      'echo',
      'first_line',
      'get_env',
      'now',
      'print',
      'read_file',
      'sleep_ms',
      'spin',
      'trap',
      'write_file',
    ]);
  });

  test('x-sha256 is checked before compiling', async () => {
    const wasm = fixture('corpus');
    const good = createHash('sha256').update(readFileSync(wasm)).digest('hex');
    const ok = await start('corpus', {}, { 'x-sha256': good });
    assert.equal(ok.instance.state, 'ready');
    const p = wasmPlugin(wasm, { 'x-sha256': '0'.repeat(64) });
    cleanups.push(p.cleanup);
    await assert.rejects(
      createWasmTier().load(p.plugin, loadOptions()),
      (e: PlugbayError) => e.code === 'PLUGBAY_LOAD_FAILED' && e.details?.rule === 'sha256',
    );
  });

  test('a module whose minimum memory exceeds the cap, or that imports unknown host functions, is refused', async () => {
    for (const [name, manifest] of [
      ['big-min', { permissions: { memoryMb: 16 } }],
      ['user-import', {}],
    ] as const) {
      const p = wasmPlugin(fixture(name), manifest);
      cleanups.push(p.cleanup);
      await assert.rejects(
        createWasmTier().load(p.plugin, loadOptions()),
        (e: PlugbayError) => e.code === 'PLUGBAY_LOAD_FAILED',
      );
    }
    const ok = await start('big-min', {}, { permissions: { memoryMb: 64 } });
    assert.equal(ok.instance.state, 'ready');
  });

  test('a trap in _initialize fails start with PLUGBAY_START_FAILED (every mode)', async () => {
    for (const run of ['metered', 'host-thread', 'worker'] as const) {
      const p = wasmPlugin(fixture('loop-start'));
      cleanups.push(p.cleanup);
      const instance = await createWasmTier({ run }).load(p.plugin, loadOptions());
      await assert.rejects(
        instance.start({ signal: new AbortController().signal, config: {} }),
        (e: PlugbayError) => e.code === 'PLUGBAY_START_FAILED',
      );
      assert.equal(instance.state, 'failed');
    }
  });

  test('options are checked at once, naming each option', () => {
    assert.throws(
      () => createWasmTier({ run: 'fast' as never, defaultMemoryMb: 0, restart: { crashloopCount: 0 } }),
      (e: PlugbayError) =>
        e.code === 'PLUGBAY_INVALID_ARGUMENT' &&
        e.message.includes('options.run') &&
        e.message.includes('options.defaultMemoryMb') &&
        e.message.includes('options.restart.crashloopCount') &&
        (e.details?.problems as unknown[] | undefined)?.length === 3,
    );
  });
});

describe('wasm tier: CPU cap (worker)', () => {
  test('an infinite loop: the deadline terminates the worker, the call fails with the host reason, the next call succeeds', async () => {
    const { instance } = await start('corpus', { run: 'worker' });
    const states: string[] = [];
    instance.on('state', (s) => states.push(s));
    assert.equal(await codeOf(call(instance, 'loop', null, 200)), 'PLUGBAY_TIMEOUT');
    assert.deepEqual(await call(instance, 'echo', 'alive'), 'alive');
    assert.equal((instance as unknown as { stats: { workerSpawns: number } }).stats.workerSpawns, 2);
    assert.deepEqual(states, ['degraded', 'ready']);
  });

  test("a caller's deadline shorter than the function's own: the caller hears at once, the worker is ended only at the function's own", async () => {
    const { instance } = await start('corpus', { run: 'worker' });
    const spawns = () => (instance as unknown as { stats: { workerSpawns: number } }).stats.workerSpawns;
    const ctx = testCall({ timeoutMs: 20, ownTimeoutMs: 400 });
    assert.equal(await codeOf(callTier(instance, 'loop', null, ctx)), 'PLUGBAY_TIMEOUT');
    assert.equal(spawns(), 1, 'a deadline the caller chose does not end the sandbox');
    assert.equal(instance.state, 'ready');
    assert.deepEqual(await call(instance, 'echo', 'after'), 'after'); // waits for the loop's own budget
    assert.equal(spawns(), 2);
  });

  test('a worker killed again and again: restarts back off, then a crash loop refuses calls until recovered', {
    timeout: 60_000,
  }, async () => {
    const restart = { initialDelayMs: 20, maxDelayMs: 10_000, crashloopCount: 4, coolDownMs: 600_000 };
    const { instance, lines } = await start('corpus', { run: 'worker', restart });
    const states: string[] = [];
    instance.on('state', (s) => states.push(s));
    let exits = 0;
    instance.on('exit', () => exits++);
    for (let i = 0; i < 4; i++) {
      await reach(instance, 'ready'); // each overrun must reach a live worker to end it
      const ended = once(instance, 'exit'); // the caller may hear a moment before the worker is ended
      assert.equal(await codeOf(call(instance, 'loop', null, 50)), 'PLUGBAY_TIMEOUT');
      await ended;
    }
    await reach(instance, 'crashloop');
    const delays = lines.flatMap((l) => (typeof l.fields?.delayMs === 'number' ? [l.fields.delayMs] : []));
    assert.deepEqual(delays, [20, 40, 80]);
    assert.equal(exits, 4);
    await assert.rejects(
      Promise.resolve(instance.call('echo', 1, testCall({ timeoutMs: 5000 }))),
      (e: PlugbayError) => e.code === 'PLUGBAY_PLUGIN_CRASHED' && e.details?.state === 'crashloop',
    );
    assert.equal((await instance.health(new AbortController().signal)).status, 'failing');
    await instance.recover?.(); // the operator's activate: a half-open restart now, not after the cool-down
    assert.equal(instance.state, 'ready');
    assert.deepEqual(await call(instance, 'echo', 'back'), 'back');
    assert.deepEqual(states, [
      ...['degraded', 'ready', 'degraded', 'ready', 'degraded', 'ready'],
      ...['crashloop', 'degraded', 'ready'],
    ]);
  });

  test('calls queued behind a runaway call are not killed with it', async () => {
    const { instance } = await start('corpus', { run: 'worker' });
    const looping = call(instance, 'loop', null, 300);
    const queued = [call(instance, 'echo', 1), call(instance, 'echo', 2)];
    assert.equal(await codeOf(looping), 'PLUGBAY_TIMEOUT');
    assert.deepEqual(await Promise.all(queued), [1, 2]);
  });

  test('close drains queued calls; destroy fails pending calls with PLUGBAY_CLOSED', async () => {
    const a = await start('corpus', { run: 'worker' });
    const pending = [call(a.instance, 'echo', 'x'), call(a.instance, 'echo', 'y')];
    await a.instance.close({ timeoutMs: 5000 });
    assert.deepEqual(await Promise.all(pending), ['x', 'y']);
    assert.equal(a.instance.state, 'closed');
    assert.equal(await codeOf(call(a.instance, 'echo', 1)), 'PLUGBAY_CLOSED');

    const b = await start('corpus', { run: 'worker' });
    const stuck = codeOf(call(b.instance, 'loop', null, 60_000));
    await b.instance.destroy();
    assert.equal(await stuck, 'PLUGBAY_CLOSED');
  });
});
