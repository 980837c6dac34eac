/**
 * Many calls on one instance: handles never run out (Extism's JS SDK fails at call 16,383 without reset()) and
 * memory stays flat. 200k calls here; bench/wasm-soak.ts runs the full 2 million.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Instance } from '../../core/types.js';
import { callTier } from '../test-support.js';
import { buildFixtures, fixture, loadOptions, wasmPlugin } from './test-fixtures.js';
import { createWasmTier } from './tier.js';

const CALLS = 200_000;
const cleanups: (() => Promise<void> | void)[] = [];
before(() => buildFixtures());
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Stats = { kernelMemoryBytes: number; pluginMemoryBytes: number; instantiations: number };

async function hostThread(name: string) {
  const p = wasmPlugin(fixture(name), { permissions: { memoryMb: 16 } });
  const instance = await createWasmTier({ run: 'host-thread' }).load(p.plugin, loadOptions());
  cleanups.push(p.cleanup, () => instance.destroy());
  await instance.start({ signal: new AbortController().signal, config: {} });
  return instance as Instance & { stats: Stats };
}

for (const name of ['as', 'rust']) {
  test(`${name}: ${CALLS} calls on one instance, each allocating handles, with flat memory`, async () => {
    const instance = await hostThread(name);
    const input = { id: 0, text: 'soak ✓ test', list: [1, 2, 3] };
    let before: Stats | undefined;
    const rssStart = process.memoryUsage().rss;
    for (let i = 1; i <= CALLS; i++) {
      input.id = i;
      const out = (await callTier(instance, 'echo', input)) as typeof input;
      if (out.id !== i) assert.fail(`call ${i} returned ${JSON.stringify(out)}`);
      if (i === 10_000) before = { ...instance.stats };
    }
    const end = instance.stats;
    assert.deepEqual(end, before, 'kernel and plugin memory did not grow; no re-instantiation');
    assert.equal(end.instantiations, 1);
    const rssGrowthMb = (process.memoryUsage().rss - rssStart) / 2 ** 20;
    assert.ok(rssGrowthMb < 64, `rss grew ${rssGrowthMb.toFixed(1)} MiB`);
  });
}

test('one call that allocates and frees a million kernel blocks does not run out', async () => {
  const p = wasmPlugin(fixture('corpus'), { permissions: { memoryMb: 2 } });
  const instance = await createWasmTier({ run: 'host-thread', codec: 'bytes' }).load(p.plugin, loadOptions());
  cleanups.push(p.cleanup, () => instance.destroy());
  await instance.start({ signal: new AbortController().signal, config: {} });
  const out = (await callTier(instance, 'churn', '')) as Uint8Array;
  assert.equal(Buffer.from(out).toString(), 'gr');
});
