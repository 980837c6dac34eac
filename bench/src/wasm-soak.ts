/// <reference path="../../packages/plugbay/src/tiers/wasm/webassembly-types.d.ts" />
/**
 * 2 million calls on one wasm instance (the soak; the test suite runs 200k): no handle exhaustion, the
 * kernel and plugin memories stay flat, RSS stays flat. `node bench/dist/wasm-soak.js [calls] [plugin]`
 */
import { testCall } from '../../packages/plugbay/dist/tiers/test-support.js';
import { createWasmTier } from '../../packages/plugbay/dist/tiers/wasm/index.js';
import { fixture, loadOptions, wasmPlugin } from '../../packages/plugbay/dist/tiers/wasm/test-fixtures.js';

const calls = Number(process.argv[2] ?? 2_000_000);
const name = process.argv[3] ?? 'as';
const p = wasmPlugin(fixture(name), { permissions: { memoryMb: 16 } });
const instance = await createWasmTier({ run: 'host-thread' }).load(p.plugin, loadOptions());
await instance.start({ signal: new AbortController().signal, config: {} });
const stats = () => ({
  ...(instance as unknown as { stats: object }).stats,
  rssMiB: +(process.memoryUsage().rss / 2 ** 20).toFixed(1),
});
const ctx = testCall();
const input = { id: 0, text: 'soak ✓', list: [1, 2, 3] };
const t = process.hrtime.bigint();
const samples: object[] = [];
for (let i = 1; i <= calls; i++) {
  input.id = i;
  const out = (await instance.call('echo', input, ctx)) as { id: number };
  if (out.id !== i) throw new Error(`call ${i} returned ${JSON.stringify(out)}`);
  if (i % (calls / 4) === 0 || i === 10_000) samples.push({ call: i, ...stats() });
}
const seconds = Number(process.hrtime.bigint() - t) / 1e9;
ctx.settle();
await instance.destroy();
p.cleanup();
console.log(
  JSON.stringify(
    {
      plugin: name,
      calls,
      seconds: +seconds.toFixed(1),
      usPerCall: +((seconds / calls) * 1e6).toFixed(2),
      samples,
    },
    null,
    2,
  ),
);
