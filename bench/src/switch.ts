// Hot swap under load: p50/p99 call latency and throughput on the thread tier with 64 calls in flight, in a
// steady state and while the stable switches between two versions, beside the raw boundary (two bare echo workers
// whose traffic is flipped between them) measured the same way. Same process, same lanes, printed as ratios.
//  - warm: 100 × host.activate with both versions kept loaded (the route's fallback chain names both), so each
//    switch is health check + warm-up of the incoming version + route flip + persist;
//  - cold: 10 × host.activate where the previous stable is drained and released, so each switch also starts a
//    new worker for the target (what a real upgrade costs). Run once, after the rounds.
// The machine is shared, so the figures are ratios from interleaved rounds (ours then raw, raw then ours, …):
// each round measures a steady state and the switches of both, and the medians of the per-round ratios are the
// result, with their spread. Each switching phase spans as many calls as the steady state, with its switches
// spread over them (the next one starts after its share of the calls, or when the last one is done if that is
// later). Targets (issue 21): warm p99 ratio ≤ 1.2 × the raw flips' ratio, throughput ≥ 0.9 × steady, zero
// failed calls. Main-thread garbage collections are counted per phase (perf_hooks 'gc' entries).
// BENCH_QUICK=1: fewer rounds, switches and calls. BENCH_ROUNDS=n overrides the number of rounds.
// Profile: BENCH_MARKS=1 node --trace-gc-nvp dist/switch.js, then bench/gc-phases.mjs sums the log by phase.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, PerformanceObserver, performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { createHost } from 'plugbay';
import { payload } from './echo-plugin.js';
import { rawEchoWorker } from './harness.js';

const quick = process.env.BENCH_QUICK === '1';
// 15 rounds: single rounds' throughput ratios span 0.6–1.3 on this shared machine (with no switch at all, too), and
// the median of 7 moved by ±0.06 between runs of one build.
const rounds = Number(process.env.BENCH_ROUNDS ?? (quick ? 2 : 15));
const warmSwitches = quick ? 20 : 100;
const coldSwitches = quick ? 4 : 10;
const steadyCalls = quick ? 5_000 : 40_000;
const inflight = 64;
const versions = ['1.0.0', '1.1.0'] as const;
/** BENCH_MARKS=1: a `# phase start/end: name` line on stdout around each phase, to cut a --trace-gc log by. */
const marks = process.env.BENCH_MARKS === '1';

/** Every main-thread GC of the run: attributed to the phase whose window holds its start. */
const gcs: { start: number; ms: number; minor: boolean }[] = [];
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
    gcs.push({ start: e.startTime, ms: e.duration, minor: kind === constants.NODE_PERFORMANCE_GC_MINOR });
  }
});
gcObserver.observe({ entryTypes: ['gc'] });

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
  /** Main-thread scavenges in the phase: count, summed and longest pause (ms). */
  scavenges: number;
  scavengeMs: number;
  maxScavengeMs: number;
  /** Main-thread mark-compacts and other full collections in the phase. */
  majorGcs: number;
  window: [number, number];
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
  if (marks) console.log(`# phase start: ${name}`);
  const start = performance.now();
  await Promise.all(Array.from({ length: inflight }, lane));
  const end = performance.now();
  if (marks) console.log(`# phase end: ${name}`);
  samples.sort((a, b) => a - b);
  const at = (q: number) =>
    samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? Number.NaN;
  return {
    name,
    calls: samples.length,
    failed,
    p50Us: Math.round(at(0.5)),
    p99Us: Math.round(at(0.99)),
    callsPerSec: Math.round((samples.length * 1000) / (end - start)),
    scavenges: 0,
    scavengeMs: 0,
    maxScavengeMs: 0,
    majorGcs: 0,
    window: [start, end],
  };
}

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

const ours = () => host.call('echo', 'echo', payload);
let activations = 0;
/** `count` activations alternating the two versions (continuing where the last phase left off). */
const underSwitches = (name: string, count: number) =>
  spread(name, ours, count, () => host.activate('echo', versions[++activations % 2]!));

const raw = [rawEchoWorker(payload), rawEchoWorker(payload)] as const;
let current = 0;
const rawCall = () => raw[current]!.call();

await run('warm-up', ours, (n) => n >= steadyCalls / 4);
await run('raw warm-up', rawCall, (n) => n >= steadyCalls / 4);

interface Round {
  steady: Phase;
  warm: Phase;
  rawSteady: Phase;
  rawFlips: Phase;
}
const measured: Round[] = [];
for (let r = 0; r < rounds; r++) {
  const oursFirst = r % 2 === 0;
  const round: Partial<Round> = {};
  for (const side of oursFirst ? ['ours', 'raw'] : ['raw', 'ours']) {
    if (side === 'ours') {
      round.steady = await run('steady state', ours, (n) => n >= steadyCalls);
      round.warm = await underSwitches(`during ${warmSwitches} warm switches`, warmSwitches);
    } else {
      round.rawSteady = await run('raw: steady state', rawCall, (n) => n >= steadyCalls);
      round.rawFlips = await spread(`raw: during ${warmSwitches} flips`, rawCall, warmSwitches, async () => {
        current ^= 1;
      });
    }
  }
  measured.push(round as Round);
}
await Promise.all(raw.map((r) => r.worker.terminate()));

await host.setRoute('echo', { stable: versions[activations % 2] });
const cold = await underSwitches(`during ${coldSwitches} cold switches`, coldSwitches);
const coldSteady = measured.at(-1)!.steady;
await host.close();
await rm(root, { recursive: true, force: true });

// GC entries arrive asynchronously: let the observer deliver the last ones, then attribute them.
await new Promise((resolve) => setTimeout(resolve, 50));
gcObserver.disconnect();
const phases = [...measured.flatMap((r) => [r.steady, r.warm, r.rawSteady, r.rawFlips]), cold];
for (const p of phases) {
  for (const gc of gcs) {
    if (gc.start < p.window[0] || gc.start >= p.window[1]) continue;
    if (gc.minor) {
      p.scavenges++;
      p.scavengeMs += gc.ms;
      p.maxScavengeMs = Math.max(p.maxScavengeMs, gc.ms);
    } else p.majorGcs++;
  }
  p.scavengeMs = Number(p.scavengeMs.toFixed(1));
  p.maxScavengeMs = Number(p.maxScavengeMs.toFixed(1));
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const two = (x: number) => Number(x.toFixed(2));
/** Median and range of a per-round figure. */
const summary = (xs: number[]) => ({
  median: two(median(xs)),
  min: two(Math.min(...xs)),
  max: two(Math.max(...xs)),
});

const warmP99 = measured.map((r) => r.warm.p99Us / r.steady.p99Us);
const rawP99 = measured.map((r) => r.rawFlips.p99Us / r.rawSteady.p99Us);
const warmThroughput = measured.map((r) => r.warm.callsPerSec / r.steady.callsPerSec);
const rawThroughput = measured.map((r) => r.rawFlips.callsPerSec / r.rawSteady.callsPerSec);
/** Per round: our warm ratio over the raw flips' ratio — the figure the target is set on. */
const vsRaw = measured.map((_, i) => warmP99[i]! / rawP99[i]!);
const failed = measured.reduce((n, r) => n + r.warm.failed + r.steady.failed, 0);
const warmSummary = {
  name: `during ${warmSwitches} warm switches`,
  p99Ratio: summary(warmP99),
  rawP99Ratio: summary(rawP99),
  p99RatioVsRaw: summary(vsRaw),
  throughputRatio: summary(warmThroughput),
  rawThroughputRatio: summary(rawThroughput),
  failed,
  targetMet: median(vsRaw) <= 1.2 && median(warmThroughput) >= 0.9 && failed === 0,
};
const gcSummary = (pick: (r: Round) => Phase) => ({
  scavengesPerRound: median(measured.map((r) => pick(r).scavenges)),
  scavengeMsPerRound: two(median(measured.map((r) => pick(r).scavengeMs))),
  maxScavengeMs: two(Math.max(...measured.map((r) => pick(r).maxScavengeMs))),
  majorGcs: measured.reduce((n, r) => n + pick(r).majorGcs, 0),
});
const result = {
  benchmark: 'switch',
  tier: 'thread',
  inflight,
  rounds,
  phases: phases.map(({ window: _, ...p }) => p),
  warm: warmSummary,
  cold: {
    name: cold.name,
    p99Ratio: two(cold.p99Us / coldSteady.p99Us),
    throughputRatio: two(cold.callsPerSec / coldSteady.callsPerSec),
    failed: cold.failed,
  },
  gc: {
    steady: gcSummary((r) => r.steady),
    warm: gcSummary((r) => r.warm),
    rawSteady: gcSummary((r) => r.rawSteady),
    rawFlips: gcSummary((r) => r.rawFlips),
  },
};
console.log(JSON.stringify(result));
