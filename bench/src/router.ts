// Router decision cost: selectVersion() on a compiled route vs the bare minimum decision (one murmur3 of the
// joined key and a compare) in the same run. Target: ≤ 1 µs per decision. Run pinned to one core:
//   taskset -c 0 node bench/dist/router.js
// Imports the router from the package's build until plugbay exports it publicly.
import {
  type Candidate,
  compileRoute,
  murmur3_32,
  type Selection,
  selectVersion,
} from '../../packages/plugbay/dist/host/router/index.js';

const ROUNDS = process.env.BENCH_QUICK === '1' ? 200_000 : 2_000_000;
const keys = Array.from({ length: 1024 }, (_, i) => `user-${i * 7919}`);
const candidates: Candidate[] = ['0.9.0', '1.0.0', '1.1.0', '2.0.0-beta.1'].map((version) => ({
  version,
  available: true,
}));
const route = compileRoute('greeter', {
  stable: '1.0.0',
  canary: { version: '1.1.0', percent: 10 },
  experiments: [{ name: 'color', variants: { A: '1.0.0', B: '1.1.0' }, match: { keyPrefix: 'exp-' } }],
  fallback: ['0.9.0'],
});
const noRoute = compileRoute('greeter');
const expCalls = keys.map((key) => ({ key: `exp-${key}` }));
const keyCalls = keys.map((key) => ({ key }));

function measure(fn: (i: number) => unknown): number {
  for (let i = 0; i < ROUNDS / 10; i++) fn(i);
  let sink = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < ROUNDS; i++) sink += fn(i) === undefined ? 0 : 1;
  const ns = Number(process.hrtime.bigint() - start) / ROUNDS;
  if (sink !== ROUNDS) throw new Error('a decision returned nothing');
  return ns;
}

const baseline = measure((i) =>
  (murmur3_32(`greeter:${keys[i & 1023]}`) % 100) + 1 <= 10 ? '1.1.0' : '1.0.0',
);
const cases: [string, (i: number) => Selection][] = [
  ['keyed: canary or stable', (i) => selectVersion(route, candidates, keyCalls[i & 1023]!)],
  ['keyed: experiment variant', (i) => selectVersion(route, candidates, expCalls[i & 1023]!)],
  ['no key (random spread)', () => selectVersion(route, candidates, {})],
  ['no route (highest release)', () => selectVersion(noRoute, candidates, {})],
  ['pinned exact version', () => selectVersion(route, candidates, { version: '1.0.0' })],
  ['pinned range ^1.0.0', () => selectVersion(route, candidates, { version: '^1.0.0' })],
];
const results = cases.map(([name, fn]) => {
  const ns = measure(fn);
  return {
    name,
    nsPerDecision: Math.round(ns),
    ratioToBaseline: Number((ns / baseline).toFixed(2)),
    withinTarget: ns <= 1000,
  };
});

const report = { benchmark: 'router', baselineNs: Math.round(baseline), results };
// --json: one JSON document only (run.ts reads it); otherwise the JSON and a table for people.
if (process.argv.includes('--json')) {
  console.log(JSON.stringify(report));
} else {
  console.log(JSON.stringify(report, null, 2));
  console.log('\n| decision | ns | × raw hash+compare | ≤ 1 µs |\n|---|---|---|---|');
  for (const r of results)
    console.log(
      `| ${r.name} | ${r.nsPerDecision} | ${r.ratioToBaseline} | ${r.withinTarget ? 'yes' : 'NO'} |`,
    );
}
