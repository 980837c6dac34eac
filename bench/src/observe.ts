// Issue 7's benchmark. Two modes, each run by run.ts in its own process:
// - `inline` (pinned to one core): inline host.call with observability off (metrics: false, no tracer) beside the
//   default host (metrics on, tracing auto = off, logger at info), interleaved in rounds so that drift hits both.
// - `gateway`: the gateway's POST /v1/call on an inline echo plugin beside a bare fastify route returning the same
//   JSON; the servers run in a child process (`serve`), autocannon drives them from here over loopback, in
//   alternating short rounds; the figure is the median of the rounds' ratios (issue 21: target ≥ 0.85×).
// - `profile [seconds] [dir]`: the same servers under `node --cpu-prof`, loaded in turn; prints each one's top
//   self-time functions and files per request, and what the gateway adds (cpuprofile-summary.ts).
// - `series` (issue 19, pinned): the cost of the 15-minute ring (observe/series.ts) per inline call: the default
//   host beside the same host with `series: false`, interleaved in rounds (ABBA), medians of the rounds' p50s.
// The plugbay build of this repository is imported by path: the gateway is not part of the package's public API.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { pino } from 'pino';
import { createGateway } from '../../packages/plugbay/dist/gateway/server.js';
import { createHost } from '../../packages/plugbay/dist/host/host.js';
import { FnCells } from '../../packages/plugbay/dist/observe/metrics.js';
import { noSeries, SeriesRing } from '../../packages/plugbay/dist/observe/series.js';
import { compare, formatSummary, type ProfileSummary, summarise, type Window } from './cpuprofile-summary.js';
import { payload, writeEchoPlugin } from './echo-plugin.js';
import { type Sequential, sequential } from './harness.js';

const mode = process.argv[2] ?? 'inline';
const quick = process.env.BENCH_QUICK === '1';
const n = (full: number) => (quick ? Math.ceil(full / 20) : full);

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/**
 * µs per FnCells.observe with a ring minus without one, median of `rounds` paired loops. The clock value is
 * advanced by hand (the call path passes the read it already made), so only the ring's own work is timed.
 */
function isolatedRingCost(rounds: number): number {
  const plain = new FnCells('echo', noSeries);
  const ringed = new FnCells('echo', new SeriesRing());
  const loops = 2_000_000;
  const time = (cells: FnCells) => {
    let now = performance.now();
    const t0 = now;
    for (let i = 0; i < loops; i++) {
      now += 0.0005;
      cells.observe(0.00002 + (i & 15) * 0.000001, now);
    }
    return ((performance.now() - t0) * 1000) / loops;
  };
  const diffs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const a = time(plain);
    const b = time(ringed);
    diffs.push(b - a);
  }
  return median(diffs);
}

/** The round whose p50 is the median one. */
function medianRun(runs: Sequential[]): Sequential {
  return [...runs].sort((a, b) => a.p50 - b.p50)[Math.floor(runs.length / 2)]!;
}

interface AutocannonResult {
  requests: { average: number; total: number };
  /** Seconds the run really took. */
  duration: number;
  errors: number;
  non2xx: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;

if (mode === 'inline') {
  const dir = await writeEchoPlugin();
  // `info` as in production: no line per call is written at info.
  const logger = pino({ level: 'info' }, pino.destination('/dev/null'));
  const off = createHost({ logger, tierFor: () => 'inline', metrics: false, tracing: 'off' });
  const on = createHost({ logger, tierFor: () => 'inline' });
  await off.load(dir);
  await on.load(dir);
  const rounds = quick ? 2 : 5;
  const offRuns: Sequential[] = [];
  const onRuns: Sequential[] = [];
  for (let r = 0; r < rounds; r++) {
    const opts = { calls: n(400_000), batch: 1000 };
    offRuns.push(
      await sequential('inline, observability off', () => off.call('echo', 'echo', payload), opts),
    );
    onRuns.push(await sequential('inline, metrics + logs on', () => on.call('echo', 'echo', payload), opts));
  }
  const median = (runs: Sequential[]) => {
    const sorted = [...runs].sort((a, b) => a.p50 - b.p50);
    return sorted[Math.floor(sorted.length / 2)]!;
  };
  await off.close();
  await on.close();
  console.log(JSON.stringify({ results: [median(offRuns), median(onRuns)] }));
} else if (mode === 'series') {
  const dir = await writeEchoPlugin();
  const logger = pino({ level: 'info' }, pino.destination('/dev/null'));
  // Both with metrics on: the only difference is the ring. Both live in this process, so the call site feeding the
  // ring sees two recorder classes (slightly pessimistic for the ring; a real host has one).
  const without = createHost({ logger, tierFor: () => 'inline', series: false });
  const withRing = createHost({ logger, tierFor: () => 'inline' });
  await without.load(dir);
  await withRing.load(dir);
  // Many short rounds, paired: the load of a shared machine drifts slower than a round, so each round's
  // difference is mostly the ring's, and the median of the differences drops the rounds a neighbour disturbed.
  const rounds = quick ? 6 : 40;
  const opts = { calls: n(100_000), batch: 1000, warmup: 5000 };
  const offRuns: Sequential[] = [];
  const onRuns: Sequential[] = [];
  const off = () =>
    sequential('inline, metrics without the ring', () => without.call('echo', 'echo', payload), opts);
  const on = () =>
    sequential('inline, metrics with the ring', () => withRing.call('echo', 'echo', payload), opts);
  for (let r = 0; r < rounds; r++) {
    // ABBA: neither side always runs first (warm caches, GC debt of the other side).
    if (r % 2 === 0) {
      offRuns.push(await off());
      onRuns.push(await on());
    } else {
      onRuns.push(await on());
      offRuns.push(await off());
    }
  }
  const calls = withRing.window('echo', '1.0.0').calls;
  await without.close();
  await withRing.close();
  const offP50 = median(offRuns.map((r) => r.p50));
  const onP50 = median(onRuns.map((r) => r.p50));
  const addedUs = median(onRuns.map((r, i) => r.p50 - offRuns[i]!.p50));
  // The same bookkeeping alone (FnCells.observe as the call path runs it, with and without a ring), where the
  // few nanoseconds are not lost in the call's own noise.
  const isolatedUs = isolatedRingCost(quick ? 5 : 21);
  const targetUs = 0.1;
  const met = addedUs <= targetUs;
  console.log(`inline host.call without the ring: ${offP50.toFixed(3)} µs (median of ${rounds} rounds' p50)`);
  console.log(
    `inline host.call with the ring:    ${onP50.toFixed(3)} µs (ratio ${(onP50 / offP50).toFixed(3)})`,
  );
  console.log(
    `ring cost per call: ${addedUs.toFixed(3)} µs (median of the rounds' differences), target ≤ ${targetUs} µs: ${met ? 'met' : 'NOT met'}`,
  );
  console.log(`ring cost alone (FnCells.observe with vs without it): ${(isolatedUs * 1000).toFixed(1)} ns`);
  console.log(`(the ring counted ${calls} calls of the last 15 minutes)`);
  console.log(
    JSON.stringify({
      results: [medianRun(offRuns), medianRun(onRuns)],
      series: { withoutUs: offP50, withUs: onP50, addedUs, isolatedUs, ratio: onP50 / offP50, targetUs, met },
    }),
  );
} else if (mode === 'serve') {
  // The servers under test, in their own process: a bare fastify route and the gateway.
  const bare = Fastify({ logger: false });
  bare.post('/echo', async (request, reply) =>
    reply
      .type('application/json; charset=utf-8')
      .send(JSON.stringify({ text: (request.body as { text: string }).text })),
  );
  await bare.listen({ port: 0, host: '127.0.0.1' });
  const dir = await writeEchoPlugin();
  // BENCH_SERVE_DIST: the gateway of another plugbay build (a checkout's packages/plugbay/dist), as a baseline.
  const other = process.env.BENCH_SERVE_DIST;
  const make =
    other === undefined
      ? { createHost, createGateway }
      : {
          createHost: ((await import(join(other, 'host/host.js'))) as { createHost: typeof createHost })
            .createHost,
          createGateway: (
            (await import(join(other, 'gateway/server.js'))) as { createGateway: typeof createGateway }
          ).createGateway,
        };
  const host = make.createHost({ logger: pino({ level: 'warn' }), tierFor: () => 'inline' });
  await host.load(dir);
  const gateway = make.createGateway({ host, port: 0 });
  const { port } = await gateway.listen();
  const barePort = (bare.server.address() as { port: number }).port;
  console.log(JSON.stringify({ bare: barePort, gateway: port }));
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
} else if (mode === 'gateway' || mode === 'profile') {
  const require = createRequire(import.meta.url);
  const autocannon = require('autocannon') as Autocannon;
  // `profile [seconds] [dir]`: the servers under `node --cpu-prof` (cpuprofile-summary.ts reads the profile).
  const profileDir = process.argv[4] ?? join(tmpdir(), 'plugbay-gateway-profile');
  const child = spawn(
    process.execPath,
    [
      ...(mode === 'profile' ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
      fileURLToPath(import.meta.url),
      'serve',
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
  const ports = JSON.parse(chunk.toString()) as { bare: number; gateway: number };
  const urls = {
    bare: `http://127.0.0.1:${ports.bare}/echo`,
    gateway: `http://127.0.0.1:${ports.gateway}/v1/call/echo/echo`,
  };
  // BENCH_GATEWAY_BASELINE=<another build's packages/plugbay/dist>: its gateway, in a process of its own, joins
  // every round (before/after figures of one run).
  const baselineDist = mode === 'gateway' ? process.env.BENCH_GATEWAY_BASELINE : undefined;
  const baselineChild =
    baselineDist === undefined
      ? undefined
      : spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve'], {
          stdio: ['pipe', 'pipe', 'inherit'],
          env: { ...process.env, BENCH_SERVE_DIST: baselineDist },
        });
  const baselineExit = baselineChild === undefined ? undefined : once(baselineChild, 'exit');
  const baselineUrl =
    baselineChild === undefined
      ? undefined
      : `http://127.0.0.1:${(JSON.parse(((await once(baselineChild.stdout!, 'data')) as [Buffer])[0].toString()) as { gateway: number }).gateway}/v1/call/echo/echo`;
  /** Requests per second over `seconds`, 16 connections, no pipelining. */
  const hit = async (name: string, url: string, seconds: number) => {
    const r = await autocannon({
      url,
      method: 'POST',
      body: JSON.stringify(payload),
      headers: { 'content-type': 'application/json' },
      connections: 16,
      pipelining: 1,
      duration: seconds,
    });
    if (r.errors > 0 || r.non2xx > 0)
      throw new Error(`${name}: ${r.errors} errors, ${r.non2xx} non-2xx answers`);
    return { rps: r.requests.total / r.duration, total: r.requests.total };
  };
  if (mode === 'profile') {
    // Both servers under load in turn, in alternating rounds, each round's clock window kept: the one profile is
    // summarised twice (the bare route's windows, the gateway's), per request, and the difference is the gap.
    const seconds = Number(process.argv[3] ?? 12);
    const rounds = 4;
    await hit('warm-up', urls.gateway, 2);
    await hit('warm-up', urls.bare, 2);
    const windows = { bare: [] as Window[], gateway: [] as Window[] };
    const served = { bare: 0, gateway: 0 };
    const round = async (target: 'bare' | 'gateway') => {
      const fromUs = Number(process.hrtime.bigint() / 1000n);
      const r = await hit(target, urls[target], seconds / rounds);
      windows[target].push({ fromUs, toUs: Number(process.hrtime.bigint() / 1000n) });
      served[target] += r.total;
    };
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) {
        await round('bare');
        await round('gateway');
      } else {
        await round('gateway');
        await round('bare');
      }
    }
    child.stdin.end();
    await once(child, 'exit');
    const files = (await readdir(profileDir)).filter((f) => f.endsWith('.cpuprofile'));
    const newest = (
      await Promise.all(files.map(async (f) => ({ f, t: (await stat(join(profileDir, f))).mtimeMs })))
    ).sort((a, b) => b.t - a.t)[0]!.f;
    const file = join(profileDir, newest);
    const profile = JSON.parse(await readFile(file, 'utf8'));
    const bare = summarise(profile, 400, windows.bare, served.bare);
    const gateway = summarise(profile, 400, windows.gateway, served.gateway);
    const top = (s: ProfileSummary): ProfileSummary => ({
      ...s,
      functions: s.functions.slice(0, 30),
      files: s.files.slice(0, 30),
    });
    console.log(`profile: ${file}`);
    console.log(`requests: bare ${served.bare}, gateway ${served.gateway} (${rounds} rounds each)\n`);
    console.log(`## bare fastify route\n${formatSummary(top(bare))}\n`);
    console.log(`## gateway /v1/call\n${formatSummary(top(gateway))}\n`);
    console.log(`## what the gateway adds per request\n${compare(bare, gateway, 30)}\n`);
    console.log(JSON.stringify({ profile: file, served, windows, bare: top(bare), gateway: top(gateway) }));
  } else {
    // Many short rounds, bare and gateway back to back in each (ABBA: neither always runs first). The machine is
    // shared: a neighbour's burst lands on both sides of a round or spoils that round's ratio alone, and the
    // median of the rounds' ratios drops the spoiled ones.
    const rounds = quick ? 5 : 11; // odd: the median is one round's ratio
    const seconds = quick ? 1 : 2;
    await hit('warm-up', urls.gateway, seconds);
    await hit('warm-up', urls.bare, seconds);
    if (baselineUrl !== undefined) await hit('warm-up', baselineUrl, seconds);
    const bare: number[] = [];
    const gw: number[] = [];
    const base: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const steps = [
        async () => bare.push((await hit('bare fastify', urls.bare, seconds)).rps),
        async () => gw.push((await hit('gateway', urls.gateway, seconds)).rps),
        ...(baselineUrl === undefined
          ? []
          : [async () => base.push((await hit('baseline gateway', baselineUrl, seconds)).rps)]),
      ];
      if (r % 2 === 1) steps.reverse();
      for (const step of steps) await step();
    }
    child.stdin.end();
    baselineChild?.stdin?.end();
    await once(child, 'exit');
    await baselineExit;
    const ratios = gw.map((g, i) => g / bare[i]!);
    if (baselineUrl !== undefined) {
      const baseRatios = base.map((g, i) => g / bare[i]!);
      console.log(
        `baseline gateway (${baselineDist}): ${median(base).toFixed(0)} req/s, / bare ${median(baseRatios).toFixed(3)}× ` +
          `(rounds: ${baseRatios.map((x) => x.toFixed(2)).join(' ')})`,
      );
    }
    const ratio = median(ratios);
    const targetRatio = 0.85;
    const met = ratio >= targetRatio;
    console.log(
      `bare fastify route: ${median(bare).toFixed(0)} req/s (median of ${rounds} rounds of ${seconds} s)`,
    );
    console.log(`gateway /v1/call:   ${median(gw).toFixed(0)} req/s`);
    console.log(`rounds' ratios: ${ratios.map((x) => x.toFixed(2)).join(' ')}`);
    console.log(
      `gateway / bare: ${ratio.toFixed(3)}× (median of the rounds' ratios), target ≥ ${targetRatio}×: ${met ? 'met' : 'NOT met'}`,
    );
    console.log(
      JSON.stringify({
        results: [
          { name: 'bare fastify route', requestsPerSec: median(bare) },
          { name: 'gateway /v1/call (inline echo)', requestsPerSec: median(gw) },
        ],
        gateway: { ratio, ratios, rounds, seconds, target: targetRatio, met },
      }),
    );
  }
} else {
  throw new Error(`observe.ts: unknown mode "${mode}" (inline, series, serve, gateway, profile)`);
}
