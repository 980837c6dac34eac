// Issue 7's benchmark. Two modes, each run by run.ts in its own process:
// - `inline` (pinned to one core): inline host.call with observability off (metrics: false, no tracer) beside the
//   default host (metrics on, tracing auto = off, logger at info), interleaved in rounds so that drift hits both.
// - `gateway`: the gateway's POST /v1/call on an inline echo plugin beside a bare fastify route returning the same
//   JSON; the servers run in a child process (`serve`), autocannon drives them from here over loopback.
// - `series` (issue 19, pinned): the cost of the 15-minute ring (observe/series.ts) per inline call: the default
//   host beside the same host with `series: false`, interleaved in rounds (ABBA), medians of the rounds' p50s.
// The plugbay build of this repository is imported by path: the gateway is not part of the package's public API.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { pino } from 'pino';
import { createGateway } from '../../packages/plugbay/dist/gateway/server.js';
import { createHost } from '../../packages/plugbay/dist/host/host.js';
import { FnCells } from '../../packages/plugbay/dist/observe/metrics.js';
import { noSeries, SeriesRing } from '../../packages/plugbay/dist/observe/series.js';
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
  const host = createHost({ logger: pino({ level: 'warn' }), tierFor: () => 'inline' });
  await host.load(dir);
  const gateway = createGateway({ host, port: 0 });
  const { port } = await gateway.listen();
  const barePort = (bare.server.address() as { port: number }).port;
  console.log(JSON.stringify({ bare: barePort, gateway: port }));
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
} else {
  const require = createRequire(import.meta.url);
  const autocannon = require('autocannon') as Autocannon;
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
  const ports = JSON.parse(chunk.toString()) as { bare: number; gateway: number };
  const duration = quick ? 1 : 4;
  const hit = async (name: string, url: string) => {
    const r = await autocannon({
      url,
      method: 'POST',
      body: JSON.stringify(payload),
      headers: { 'content-type': 'application/json' },
      connections: 16,
      pipelining: 1,
      duration,
    });
    if (r.errors > 0 || r.non2xx > 0)
      throw new Error(`${name}: ${r.errors} errors, ${r.non2xx} non-2xx answers`);
    return r.requests.average;
  };
  const bare: number[] = [];
  const gw: number[] = [];
  await hit('warm-up', `http://127.0.0.1:${ports.gateway}/v1/call/echo/echo`);
  for (let r = 0; r < 2; r++) {
    bare.push(await hit('bare fastify', `http://127.0.0.1:${ports.bare}/echo`));
    gw.push(await hit('gateway', `http://127.0.0.1:${ports.gateway}/v1/call/echo/echo`));
  }
  child.stdin.end();
  await once(child, 'exit');
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(
    JSON.stringify({
      results: [
        { name: 'bare fastify route', requestsPerSec: mean(bare) },
        { name: 'gateway /v1/call (inline echo)', requestsPerSec: mean(gw) },
      ],
    }),
  );
}
