// Issue 7's benchmark. Two modes, each run by run.ts in its own process:
// - `inline` (pinned to one core): inline host.call with observability off (metrics: false, no tracer) beside the
//   default host (metrics on, tracing auto = off, logger at info), interleaved in rounds so that drift hits both.
// - `gateway`: the gateway's POST /v1/call on an inline echo plugin beside a bare fastify route returning the same
//   JSON; the servers run in a child process (`serve`), autocannon drives them from here over loopback.
// The plugbay build of this repository is imported by path: the gateway is not part of the package's public API.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { pino } from 'pino';
import { createGateway } from '../../packages/plugbay/dist/gateway/server.js';
import { createHost } from '../../packages/plugbay/dist/host/host.js';
import { payload, writeEchoPlugin } from './echo-plugin.js';
import { type Sequential, sequential } from './harness.js';

const mode = process.argv[2] ?? 'inline';
const quick = process.env.BENCH_QUICK === '1';
const n = (full: number) => (quick ? Math.ceil(full / 20) : full);

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
