// Hot swap under load: p50/p99 call latency and throughput on the thread tier with 64 calls in flight, in a
// steady state and while the stable switches between two versions. Same process, same lanes, printed as ratios.
//  - warm: 100 × host.activate with both versions kept loaded (the route's fallback chain names both), so each
//    switch is health check + route flip + persist;
//  - cold: 10 × host.activate where the previous stable is drained and released, so each switch also starts a
//    new worker for the target (what a real upgrade costs).
// Each phase spans at least as many calls as the steady state, with its switches spread over them (the next one
// starts after its share of the calls, or when the last one is done if that is later): a p99 over a window a
// fifth as long as the steady one would compare noise. Target: p99 during the switches ≤ 2× steady p99, zero
// failed calls. BENCH_QUICK=1: fewer switches and calls.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { createHost } from 'plugbay';
import { payload } from './echo-plugin.js';
import { rawEchoWorker } from './harness.js';

const quick = process.env.BENCH_QUICK === '1';
const warmSwitches = quick ? 20 : 100;
const coldSwitches = quick ? 4 : 10;
const steadyCalls = quick ? 5_000 : 40_000;
const inflight = 64;
const versions = ['1.0.0', '1.1.0'] as const;

const root = await mkdtemp(join(tmpdir(), 'plugbay-bench-switch-'));
const schema = { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] };
for (const version of versions) {
  const dir = join(root, `echo@${version}`);
  await mkdir(dir);
  await writeFile(
    join(dir, 'plugin.json'),
    JSON.stringify({
      name: 'echo',
      version,
      runtime: 'node',
      entry: 'index.mjs',
      functions: { echo: { input: schema, output: schema } },
    }),
  );
  await writeFile(
    join(dir, 'index.mjs'),
    `export default { name: 'echo', version: '${version}', functions: { echo: { input: {}, output: {}, handler: (i) => ({ text: i.text }) } } };\n`,
  );
}

const host = createHost({ logger: pino({ level: 'warn' }), tierFor: () => 'thread' });
await host.loadDirectory(root);
// Both versions stay loaded for the warm switches: the fallback chain names them.
await host.setRoute('echo', { stable: versions[0], fallback: [...versions] });

interface Phase {
  name: string;
  calls: number;
  failed: number;
  p50Us: number;
  p99Us: number;
  callsPerSec: number;
}

/**
 * Runs 64 lanes of `call` until `done()` says stop; returns the latency percentiles and throughput. `onCall` sees
 * the number of calls completed so far after each one.
 */
async function run(
  name: string,
  call: () => Promise<unknown>,
  done: (completed: number) => boolean,
  onCall?: (completed: number) => void,
): Promise<Phase> {
  const samples: number[] = [];
  let failed = 0;
  const lane = async () => {
    while (!done(samples.length)) {
      const t0 = performance.now();
      try {
        await call();
      } catch {
        failed++;
      }
      samples.push((performance.now() - t0) * 1000);
      onCall?.(samples.length);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: inflight }, lane));
  const elapsed = performance.now() - start;
  samples.sort((a, b) => a - b);
  const at = (q: number) =>
    samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? Number.NaN;
  return {
    name,
    calls: samples.length,
    failed,
    p50Us: Math.round(at(0.5)),
    p99Us: Math.round(at(0.99)),
    callsPerSec: Math.round((samples.length * 1000) / elapsed),
  };
}

const ours = () => host.call('echo', 'echo', payload);
await run('warm-up', ours, (n) => n >= steadyCalls / 4);
const steady = await run('steady state', ours, (n) => n >= steadyCalls);

/** `count` steps (switches) run one after another, spread over a steady state's worth of calls by the 64 lanes. */
async function spread(
  name: string,
  call: () => Promise<unknown>,
  count: number,
  step: (i: number) => Promise<unknown>,
): Promise<Phase> {
  const every = steadyCalls / count;
  let switching = true;
  let due: { at: number; go: () => void } | undefined;
  const steps = (async () => {
    try {
      for (let i = 1; i <= count; i++) {
        await step(i);
        if (i < count) await new Promise<void>((go) => (due = { at: i * every, go }));
      }
    } finally {
      switching = false;
    }
  })();
  const phase = await run(
    name,
    call,
    (n) => !switching && n >= steadyCalls,
    (n) => {
      if (due !== undefined && n >= due.at) {
        due.go();
        due = undefined;
      }
    },
  );
  await steps;
  return phase;
}

/** `count` activations alternating the two versions. */
const underSwitches = (name: string, count: number) =>
  spread(name, ours, count, (i) => host.activate('echo', versions[i % 2]!));

const warm = await underSwitches(`during ${warmSwitches} warm switches`, warmSwitches);
await host.setRoute('echo', { stable: versions[0] });
const cold = await underSwitches(`during ${coldSwitches} cold switches`, coldSwitches);
await host.close();
await rm(root, { recursive: true, force: true });

// The raw boundary, the same way: two bare echo workers, the lanes' traffic flipped between them.
const raw = [rawEchoWorker(payload), rawEchoWorker(payload)] as const;
let current = 0;
const rawCall = () => raw[current]!.call();
await run('raw warm-up', rawCall, (n) => n >= steadyCalls / 4);
const rawSteady = await run('raw: steady state', rawCall, (n) => n >= steadyCalls);
const rawFlips = await spread(`raw: during ${warmSwitches} flips`, rawCall, warmSwitches, async () => {
  current ^= 1;
});
await Promise.all(raw.map((r) => r.worker.terminate()));

const ratio = (p: Phase, base: Phase) => ({
  name: p.name,
  p99Ratio: Number((p.p99Us / base.p99Us).toFixed(2)),
  throughputRatio: Number((p.callsPerSec / base.callsPerSec).toFixed(2)),
  failed: p.failed,
});
const result = {
  benchmark: 'switch',
  tier: 'thread',
  inflight,
  phases: [steady, warm, cold, rawSteady, rawFlips],
  ratios: [
    ...[warm, cold].map((p) => ({
      ...ratio(p, steady),
      targetMet: p.p99Us <= 2 * steady.p99Us && p.failed === 0,
    })),
    { ...ratio(rawFlips, rawSteady), targetMet: undefined },
  ],
};
console.log(JSON.stringify(result));
