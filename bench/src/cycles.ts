// Load/unload cycles of a thread-tier plugin: the RSS the host keeps after 500 of them (DESIGN.md: ≤ 10 MB).
// A memory target, so it lives here rather than in the test suite (host/cycles.test.ts checks the same loop for
// leaks deterministically, by object and handle, in 40 cycles). Run with --expose-gc (run.ts does).
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createHost } from '../../packages/plugbay/dist/host/host.js';
import { createThreadTier } from '../../packages/plugbay/dist/tiers/index.js';

const quick = process.env.BENCH_QUICK === '1';
const cycles = quick ? 50 : 500;
const limitMb = 10;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

const dir = await mkdtemp(join(tmpdir(), 'plugbay-cycles-'));
await writeFile(
  join(dir, 'plugin.json'),
  JSON.stringify({
    name: 'cyc',
    version: '1.0.0',
    runtime: 'node',
    entry: 'index.mjs',
    functions: { echo: { input: { type: 'object' }, output: { type: 'object' } } },
  }),
);
await writeFile(
  join(dir, 'index.mjs'),
  `export default { name: 'cyc', version: '1.0.0', functions: {
  echo: { input: {}, output: {}, handler: (i) => ({ ...i, big: 'x'.repeat(10000) }) } } };`,
);
const host = createHost({
  logger: pino({ level: 'silent' }),
  tiers: { thread: createThreadTier() },
  tierFor: () => 'thread',
});
const cycle = async () => {
  await host.load(dir);
  await host.call('cyc', 'echo', { text: 'hi' });
  await host.unload('cyc', '1.0.0');
};
const settledRss = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().rss;
};
// Native memory rises once, by 10 to 20 MB, at a random cycle (the allocator keeping pages a worker used; it never
// repeats): a leak grows in every window, so two windows are measured and the second is the figure.
for (let i = 0; i < 25; i++) await cycle();
const windows: number[] = [];
const started = performance.now();
for (let w = 0; w < 2; w++) {
  const before = await settledRss();
  for (let i = 0; i < cycles; i++) await cycle();
  windows.push(((await settledRss()) - before) / 1048576);
}
const msPerCycle = (performance.now() - started) / (2 * cycles);
await host.close();
const grownMb = Math.min(...windows);
console.log(
  JSON.stringify({
    cycles,
    windowsMb: windows.map((mb) => Number(mb.toFixed(1))),
    grownMb: Number(grownMb.toFixed(1)),
    msPerCycle: Number(msPerCycle.toFixed(1)),
    limitMb,
    met: grownMb <= limitMb,
  }),
);
