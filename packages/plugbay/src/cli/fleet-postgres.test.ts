// Several `plugbay serve` processes on one real PostgreSQL (--state postgres://…): a route changed through one
// gateway is served by the others (LISTEN/NOTIFY), a routing key gets the same arm on every gateway, and the fleet
// keeps serving through a database outage.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import postgres from 'postgres';
import { PG_CHANGE_CHANNEL } from '../store/postgres-schema.js';
import { servePlugbay } from '../test-support/cli.js';
import { tempDir, writeSvcVersion } from '../test-support/plugins.js';
import { postgresSkipReason, startTestPostgres } from '../test-support/postgres.js';

const skip = await postgresSkipReason();
async function call(url: string, key?: string): Promise<{ servedBy: string | null; arm: string | null }> {
  const res = await fetch(`${url}/v1/call/svc/who`, {
    method: 'POST',
    headers: key === undefined ? {} : { 'x-plugbay-key': key },
  });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  return { servedBy: res.headers.get('x-plugbay-served-by'), arm: res.headers.get('x-plugbay-arm') };
}

async function putRoute(url: string, route: object): Promise<void> {
  const res = await fetch(`${url}/v1/routes/svc`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(route),
  });
  assert.equal(res.status, 200, await res.text());
}

/** Calls `url` until `version` answers; the time it took. Fails after 5 s (the reconcile is every 10 s: only NOTIFY gets there). */
async function servedWithin(url: string, version: string, since: number, limitMs = 5000): Promise<number> {
  for (;;) {
    const { servedBy } = await call(url);
    if (servedBy?.endsWith(`@${version}`) === true) return performance.now() - since;
    if (performance.now() - since > limitMs)
      assert.fail(`${url} still serves ${servedBy}, not ${version}, after ${limitMs} ms`);
  }
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

async function fleet(t: TestContext, size: number) {
  const pg = await startTestPostgres();
  t.after(() => pg.close());
  const state = await pg.createDatabase('fleet');
  const root = await tempDir(t);
  await writeSvcVersion(root, '1.0.0');
  await writeSvcVersion(root, '1.1.0');
  const gateways = [];
  for (let i = 0; i < size; i++) {
    // Each in its own directory: artifacts (.plugbay/artifacts) are per machine, only the state is shared.
    const cwd = await tempDir(t);
    gateways.push(await servePlugbay(t, root, ['--signatures', 'off'], state, { cwd }));
  }
  return { urls: gateways.map((g) => g.url), pg, state };
}

test('three gateways on one PostgreSQL: a route changed through A is served by B and C (50 changes)', {
  skip,
}, async (t) => {
  const [a, b, c] = (await fleet(t, 3)).urls as [string, string, string];
  const latencies: number[] = [];
  const puts: number[] = [];
  for (let i = 0; i < 50; i++) {
    const version = i % 2 === 0 ? '1.1.0' : '1.0.0';
    const since = performance.now();
    // The other version stays as fallback, so that A drains nothing: what is timed is the change reaching B and C.
    await putRoute(a, { stable: version, fallback: [version === '1.1.0' ? '1.0.0' : '1.1.0'] });
    puts.push(performance.now() - since);
    const [onB, onC] = await Promise.all([servedWithin(b, version, since), servedWithin(c, version, since)]);
    latencies.push(Math.max(onB, onC));
    assert.ok((await call(a)).servedBy?.endsWith(`@${version}`));
  }
  const sorted = [...latencies].sort((x, y) => x - y);
  const sortedPuts = [...puts].sort((x, y) => x - y);
  const ms = (v: number) => Number(v.toFixed(1));
  const figures = {
    changes: 50,
    p50: ms(percentile(sorted, 50)),
    p99: ms(percentile(sorted, 99)),
    max: ms(sorted.at(-1)!),
    // The share of it that is A's own answer to the PUT (its commit included).
    putP50: ms(percentile(sortedPuts, 50)),
    putP99: ms(percentile(sortedPuts, 99)),
  };
  t.diagnostic(`route change through A → served by B and C (ms): ${JSON.stringify(figures)}`);
  console.log(`fleet propagation (ms, PUT on A until B and C serve it): ${JSON.stringify(figures)}`);
});

test('2,000 routing keys get the same arm on every gateway of the fleet', { skip }, async (t) => {
  const { urls } = await fleet(t, 3);
  await putRoute(urls[0]!, { stable: '1.0.0', canary: { version: '1.1.0', percent: 30 } });
  for (const url of urls.slice(1)) {
    const since = performance.now();
    // The canary reached it once some key lands in it; keys below are compared, not this probe.
    for (let k = 0; ; k++) {
      const { arm } = await call(url, `probe-${k}`);
      if (arm === 'canary') break;
      if (performance.now() - since > 5000) assert.fail(`${url} never served the canary`);
    }
  }
  let canary = 0;
  for (let k = 0; k < 2000; k++) {
    const key = `user-${k}`;
    const answers = await Promise.all(urls.map((url) => call(url, key)));
    const first = answers[0]!;
    for (const other of answers.slice(1)) assert.deepEqual(other, first, key);
    if (first.arm === 'canary') canary++;
  }
  // About 30 % of the keys; the exact count is fixed by murmur3 on the keys.
  assert.ok(canary > 400 && canary < 800, String(canary));
});

/** Required by the issue: the outage lasts 30 s of load (not shortened; nothing else in the test is long). */
const OUTAGE_LOAD_MS = 30_000;
const CALLERS_PER_GATEWAY = 4;

/** Keeps `callers` calls in flight on each gateway until `ms` has passed; every call is counted, none may fail. */
async function loadAll(urls: string[], callers: number, ms: number, version: string) {
  const until = performance.now() + ms;
  const perGateway = urls.map(() => ({ calls: 0, failed: 0 }));
  const failures: string[] = [];
  await Promise.all(
    urls.flatMap((url, g) =>
      Array.from({ length: callers }, async () => {
        while (performance.now() < until) {
          perGateway[g]!.calls++;
          try {
            const res = await fetch(`${url}/v1/call/svc/who`, { method: 'POST' });
            const body = await res.text();
            const servedBy = res.headers.get('x-plugbay-served-by');
            if (res.status !== 200 || servedBy?.endsWith(`@${version}`) !== true) {
              perGateway[g]!.failed++;
              failures.push(`${url}: ${res.status} ${servedBy} ${body.slice(0, 200)}`);
            }
          } catch (err) {
            perGateway[g]!.failed++;
            failures.push(`${url}: ${String(err)}`);
          }
        }
      }),
    ),
  );
  return { perGateway, failures };
}

test('PostgreSQL stopped: three gateways serve 30 s of load with 0 failed calls on their last-known routes, admin writes answer 503 PLUGBAY_STATE_UNAVAILABLE; a change written in the database meanwhile reaches all three once it is back', {
  skip,
}, async (t) => {
  const { urls, pg, state } = await fleet(t, 3);
  const [a] = urls as [string, string, string];
  await putRoute(a, { stable: '1.1.0', fallback: ['1.0.0'] });
  for (const url of urls) await servedWithin(url, '1.1.0', performance.now());
  await pg.stop();
  const refused = await fetch(`${a}/v1/routes/svc`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ stable: '1.0.0', fallback: ['1.1.0'] }),
  });
  assert.equal(refused.status, 503);
  assert.equal(
    ((await refused.json()) as { error: { code: string } }).error.code,
    'PLUGBAY_STATE_UNAVAILABLE',
  );
  const load = await loadAll(urls, CALLERS_PER_GATEWAY, OUTAGE_LOAD_MS, '1.1.0');
  t.diagnostic(`calls per gateway during the outage: ${JSON.stringify(load.perGateway)}`);
  assert.deepEqual(load.failures.slice(0, 5), []);
  for (const { calls, failed } of load.perGateway) {
    assert.equal(failed, 0);
    assert.ok(calls > 100, `only ${calls} calls in ${OUTAGE_LOAD_MS} ms`);
  }
  for (const url of urls) {
    assert.equal((await fetch(`${url}/readyz`)).status, 200, 'ready on last-known state');
    await staleMetric(url, 1); // and says so: the metric beside the log line
  }

  await pg.start();
  // The change goes through the database itself, not a gateway: the row as the store writes it (revision bumped,
  // announced on the store's channel in the same transaction), while the gateways may still be in backoff.
  const sql = postgres(state, { max: 1, onnotice: () => {} });
  t.after(() => sql.end({ timeout: 1 }));
  await sql.begin(async (tx) => {
    const [row] = await tx`SELECT route FROM plugbay.routes WHERE plugin = 'svc'`;
    const route = { ...JSON.parse(String(row!.route)), stable: '1.0.0', fallback: ['1.1.0'] };
    await tx`UPDATE plugbay.route_revision SET revision = revision + 1`;
    await tx`UPDATE plugbay.routes SET route = ${JSON.stringify(route)}, updated = now() WHERE plugin = 'svc'`;
    await tx`SELECT pg_notify(${PG_CHANGE_CHANNEL}, ${JSON.stringify({ plugin: 'svc' })})`;
  });
  // Caught up by the listening session's reconnect or the backoff retry (at most the 10 s reconcile interval).
  const since = performance.now();
  const caughtUp = await Promise.all(urls.map((url) => servedWithin(url, '1.0.0', since, 15_000)));
  t.diagnostic(
    `database change served by each gateway after (ms): ${caughtUp.map((ms) => ms.toFixed(0)).join(', ')}`,
  );
  for (const url of urls) await staleMetric(url, 0);
});

/** Polls /metrics until `plugbay_state_stale` reads `value` (the reconcile runs at least every 10 s). */
async function staleMetric(url: string, value: 0 | 1): Promise<void> {
  const deadline = performance.now() + 15_000;
  let last = '';
  while (performance.now() < deadline) {
    const text = await (await fetch(`${url}/metrics`)).text();
    last = /^plugbay_state_stale (\S+)$/m.exec(text)?.[1] ?? 'absent';
    if (last === String(value)) return;
    await new Promise((r) => setTimeout(r, 50)); // polling a condition with a deadline, not a wait for it
  }
  assert.fail(`plugbay_state_stale on ${url} is ${last}, not ${value}`);
}
