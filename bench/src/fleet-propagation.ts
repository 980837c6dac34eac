// Issue 17: how long a route change made through one gateway takes to be served by the others, on a real fleet:
// a throw-away PostgreSQL (Debian's binaries, initdb in a temp dir) and three `plugbay serve --state postgres://…`
// processes. 50 changes are PUT on A; each is timed until both B and C serve it (they are called back to back until
// they do). The raw boundary, same run and same server: a bare LISTEN/NOTIFY round trip between two `postgres`
// client connections (NOTIFY sent → notification received). Kong's 5 s database polling is the reference line.
// Prints a markdown table and, as the last line, a JSON result ({"skipped": reason} without PostgreSQL).
// BENCH_QUICK=1: 10 changes.
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import { startPlugbay, waitForLog } from '../../packages/plugbay/dist/test-support/cli.js';
import { manifest, writePlugin } from '../../packages/plugbay/dist/test-support/plugins.js';
import { postgresSkipReason, startTestPostgres } from '../../packages/plugbay/dist/test-support/postgres.js';
import { table } from './harness.js';

const changes = process.env.BENCH_QUICK === '1' ? 10 : 50;
/** A change not served within this long fails the run (the reconcile alone would take 10 s). */
const LIMIT_MS = 5000;
const KONG_POLL_MS = 5000;

const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};
const ms = (v: number) => Number(v.toFixed(2));

async function servedBy(url: string): Promise<string | null> {
  const res = await fetch(`${url}/v1/call/svc/who`, { method: 'POST' });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
  return res.headers.get('x-plugbay-served-by');
}

async function servedAt(url: string, version: string, since: number): Promise<number> {
  for (;;) {
    if ((await servedBy(url))?.endsWith(`@${version}`) === true) return performance.now() - since;
    if (performance.now() - since > LIMIT_MS)
      throw new Error(`${url} did not serve ${version} in ${LIMIT_MS} ms`);
  }
}

/** NOTIFY on one session → the notification on another, N times, sequentially. */
async function notifyRoundTrips(url: string, n: number): Promise<number[]> {
  const listener = postgres(url, { max: 1, onnotice: () => {} });
  const sender = postgres(url, { max: 1, onnotice: () => {} });
  try {
    let pending: ((payload: string) => void) | undefined;
    await listener.listen('bench_raw', (payload) => pending?.(payload));
    await sender`SELECT 1`;
    const samples: number[] = [];
    for (let i = -5; i < n; i++) {
      const heard = new Promise<string>((resolve) => {
        pending = resolve;
      });
      const t0 = performance.now();
      await sender`SELECT pg_notify('bench_raw', ${String(i)})`;
      if ((await heard) !== String(i)) throw new Error('notification out of order');
      if (i >= 0) samples.push(performance.now() - t0);
    }
    return samples;
  } finally {
    await listener.end({ timeout: 1 });
    await sender.end({ timeout: 1 });
  }
}

const skipped = await postgresSkipReason();
if (skipped !== undefined) {
  console.log(JSON.stringify({ skipped }));
  process.exit(0);
}

const pg = await startTestPostgres();
const dirs: string[] = [];
const children: ChildProcess[] = [];
try {
  const state = await pg.createDatabase('fleet_bench');
  const root = await mkdtemp(join(tmpdir(), 'plugbay-bench-fleet-'));
  dirs.push(root);
  for (const version of ['1.0.0', '1.1.0'])
    await writePlugin(root, `svc@${version}`, {
      manifest: manifest({ name: 'svc', version, functions: { who: { input: {}, output: {} } } }),
      files: {
        'index.mjs': `export default { name: 'svc', version: '${version}', functions: {
          who: { input: {}, output: {}, handler: () => '${version}' } } };\n`,
      },
    });
  const urls: string[] = [];
  for (let i = 0; i < 3; i++) {
    // Each gateway in its own directory: artifacts are per machine, only the state is shared.
    const cwd = await mkdtemp(join(tmpdir(), 'plugbay-bench-gw-'));
    dirs.push(cwd);
    const child = startPlugbay(['serve', root, '--port', '0', '--state', state, '--signatures', 'off'], {
      cwd,
    });
    children.push(child);
    const listening = waitForLog(child, (l) => typeof l.port === 'number');
    const ready = waitForLog(child, (l) => l.msg === 'plugbay ready');
    urls.push(`http://127.0.0.1:${(await listening).port}`);
    await ready;
  }
  const [a, b, c] = urls as [string, string, string];
  const propagation: number[] = [];
  const puts: number[] = [];
  for (let i = 0; i < changes; i++) {
    const version = i % 2 === 0 ? '1.1.0' : '1.0.0';
    const since = performance.now();
    // The other version stays as fallback, so that nothing is drained: what is timed is the change reaching B, C.
    const res = await fetch(`${a}/v1/routes/svc`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ stable: version, fallback: [version === '1.1.0' ? '1.0.0' : '1.1.0'] }),
    });
    if (res.status !== 200) throw new Error(`PUT answered ${res.status}: ${await res.text()}`);
    puts.push(performance.now() - since);
    const [onB, onC] = await Promise.all([servedAt(b, version, since), servedAt(c, version, since)]);
    propagation.push(Math.max(onB, onC));
  }
  const notify = await notifyRoundTrips(pg.url('fleet_bench'), changes);
  const result = {
    changes,
    propagationP50Ms: ms(percentile(propagation, 50)),
    propagationP99Ms: ms(percentile(propagation, 99)),
    putOnAP50Ms: ms(percentile(puts, 50)),
    notifyP50Ms: ms(percentile(notify, 50)),
    notifyP99Ms: ms(percentile(notify, 99)),
    p50VsNotify: ms(percentile(propagation, 50) / percentile(notify, 50)),
    kongPollMs: KONG_POLL_MS,
    kongVsP99: ms(KONG_POLL_MS / percentile(propagation, 99)),
  };
  console.log(
    `## Fleet propagation: route change through A → served by B and C (3 gateways, one PostgreSQL, ${changes} changes)\n`,
  );
  console.log(
    table(
      ['path', 'p50 ms', 'p99 ms'],
      [
        ['raw: LISTEN/NOTIFY round trip (two postgres sessions)', result.notifyP50Ms, result.notifyP99Ms],
        ['PUT on A (its commit included)', result.putOnAP50Ms, ms(percentile(puts, 99))],
        ['PUT on A → served by B and C', result.propagationP50Ms, result.propagationP99Ms],
        ['reference: Kong polls the database every 5 s', '≤ 5000', '≤ 5000'],
      ],
    ),
  );
  console.log('');
  console.log(
    table(
      ['measure', 'value', 'target met'],
      [
        ['propagation p50 / raw NOTIFY p50', `${result.p50VsNotify}×`, '-'],
        [
          'propagation p99 (issue: ≤ 1 s, aim ≤ 100 ms)',
          `${result.propagationP99Ms} ms`,
          result.propagationP99Ms <= 100 ? 'yes' : result.propagationP99Ms <= 1000 ? '≤ 1 s only' : 'NO',
        ],
        ['Kong 5 s poll / propagation p99', `${result.kongVsP99}×`, '-'],
      ],
    ),
  );
  console.log(JSON.stringify(result));
} finally {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await Promise.all(
    children.map((ch) =>
      ch.exitCode === null && ch.signalCode === null ? new Promise((r) => ch.once('exit', r)) : undefined,
    ),
  );
  await pg.close();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
}
