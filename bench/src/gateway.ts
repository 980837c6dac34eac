// `node bench/dist/gateway.js`: requests/s of the gateway's POST /v1/call on an inline plugin beside a bare fastify
// route that returns the same JSON, in the same run (DESIGN.md target: ≥ 70 %). The load generator (autocannon)
// runs in its own process so it does not share the servers' event loop; rounds alternate bare/gateway.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Fastify from 'fastify';
import { pino } from 'pino';
import { createHost } from 'plugbay';
// Relative until the installed `plugbay` (a workspace link) exports createGateway in every checkout; then: 'plugbay'.
import { createGateway } from '../../packages/plugbay/dist/gateway/server.js';
import { table } from './harness.js';

const quick = process.env.BENCH_QUICK === '1';
const seconds = quick ? 1 : 5;
const rounds = quick ? 1 : 3;
const connections = 32;
const autocannon = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

// The same plugin as the bare route, written as a hand-made manifest so the bench needs no build step.
const dir = await mkdtemp(join(tmpdir(), 'plugbay-bench-gw-'));
const pluginDir = join(dir, 'greeter');
await mkdir(pluginDir);
const schema = (p: string) => ({ type: 'object', properties: { [p]: { type: 'string' } }, required: [p] });
await writeFile(
  join(pluginDir, 'plugin.json'),
  JSON.stringify({
    name: 'greeter',
    version: '1.0.0',
    runtime: 'node',
    entry: 'index.mjs',
    functions: { greet: { input: schema('name'), output: schema('message') } },
  }),
);
await writeFile(
  join(pluginDir, 'index.mjs'),
  `export default { name: 'greeter', version: '1.0.0', functions: { greet: { handler: ({ name }) => ({ message: 'Hello, ' + name + '!' }) } } };\n`,
);

const bare = Fastify();
bare.post('/v1/call/greeter/greet', async (request) => ({
  message: `Hello, ${(request.body as { name: string }).name}!`,
}));
await bare.listen({ port: 0, host: '127.0.0.1' });
const barePort = (bare.server.address() as { port: number }).port;

const host = createHost({ logger: pino({ level: 'silent' }), tierFor: () => 'inline' });
await host.loadDirectory(dir);
const gateway = createGateway({ host, port: 0 });
const { port: gatewayPort } = await gateway.listen();

// Async: the servers answer from this process's event loop while autocannon runs.
// Also measures this process's CPU time per request: on a busy machine requests/s swing with the neighbours,
// CPU µs per request much less.
async function load(port: number): Promise<{ rps: number; p99: number; non2xx: number; cpuUs: number }> {
  const cpu = process.cpuUsage();
  const { stdout: out } = await promisify(execFile)(process.execPath, [
    autocannon,
    '-j',
    '-c',
    String(connections),
    '-d',
    String(seconds),
    '-m',
    'POST',
    '-H',
    'content-type=application/json',
    '-b',
    '{"name":"Ada"}',
    `http://127.0.0.1:${port}/v1/call/greeter/greet`,
  ]);
  const used = process.cpuUsage(cpu);
  const r = JSON.parse(out) as {
    requests: { average: number; total: number };
    latency: { p99: number };
    non2xx: number;
  };
  const cpuUs = (used.user + used.system) / Math.max(1, r.requests.total);
  return { rps: r.requests.average, p99: r.latency.p99, non2xx: r.non2xx, cpuUs };
}

const rows: (string | number)[][] = [];
const ratios: number[] = [];
const cpuRatios: number[] = [];
await load(barePort); // warm-up, not counted
await load(gatewayPort);
for (let i = 0; i < rounds; i++) {
  const b = await load(barePort);
  const g = await load(gatewayPort);
  ratios.push(g.rps / b.rps);
  cpuRatios.push(b.cpuUs / g.cpuUs);
  rows.push([
    String(i + 1),
    b.rps,
    g.rps,
    g.rps / b.rps,
    b.cpuUs,
    g.cpuUs,
    b.cpuUs / g.cpuUs,
    b.p99,
    g.p99,
    g.non2xx,
  ]);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]?.toFixed(2);
console.log(
  `## Gateway: POST /v1/call (inline plugin) vs bare fastify, ${connections} connections, ${seconds}s rounds\n`,
);
console.log(
  table(
    [
      'round',
      'bare req/s',
      'gateway req/s',
      'ratio',
      'bare CPU µs/req',
      'gateway CPU µs/req',
      'CPU ratio',
      'bare p99 ms',
      'gateway p99 ms',
      'gateway non-2xx',
    ],
    rows,
  ),
);
console.log(
  `\nmedian req/s ratio ${median(ratios)}, median CPU ratio (bare/gateway) ${median(cpuRatios)} (target ≥ 0.70)`,
);

await gateway.close();
await host.close();
await bare.close();
await rm(dir, { recursive: true, force: true });
