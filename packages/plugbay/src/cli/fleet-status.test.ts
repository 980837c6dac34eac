// GET /v1/fleet on real `plugbay serve` processes: on one real PostgreSQL the gateways see each other through their
// heartbeats, reach the same route revision after a change made through one of them, and a killed one turns
// stale; on SQLite a gateway lists itself alone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { FleetReport } from '../gateway/fleet.js';
import { runPlugbay, servePlugbay } from '../test-support/cli.js';
import { tempDir, writeSvcVersion } from '../test-support/plugins.js';
import { postgresSkipReason, startTestPostgres } from '../test-support/postgres.js';

const skip = await postgresSkipReason();
async function fleetOf(url: string): Promise<FleetReport> {
  const res = await fetch(`${url}/v1/fleet`);
  assert.equal(res.status, 200);
  return (await res.json()) as FleetReport;
}

/**
 * Asks `url` for its fleet until `accept` holds; fails with the last answer after `limitMs`. Polls (every 25 ms,
 * to spare the CPU) rather than sleeping for an interval: the heartbeats arrive when they arrive.
 */
async function fleetUntil(
  url: string,
  what: string,
  accept: (report: FleetReport) => boolean,
  limitMs = 15_000,
): Promise<FleetReport> {
  const since = performance.now();
  for (;;) {
    const report = await fleetOf(url);
    if (accept(report)) return report;
    if (performance.now() - since > limitMs)
      assert.fail(`${url}/v1/fleet: not ${what} after ${limitMs} ms: ${JSON.stringify(report)}`);
    await delay(25);
  }
}

test('three gateways on one PostgreSQL list each other, reach the same route revision, and a killed one turns stale', {
  skip,
}, async (t) => {
  const pg = await startTestPostgres();
  t.after(() => pg.close());
  const state = await pg.createDatabase('fleet_status');
  const root = await tempDir(t);
  await writeSvcVersion(root, '1.0.0');
  await writeSvcVersion(root, '1.1.0');
  const gateways = [];
  for (let i = 0; i < 3; i++) {
    const cwd = await tempDir(t);
    gateways.push(
      await servePlugbay(t, root, ['--signatures', 'off', '--heartbeat-ms', '100'], state, { cwd }),
    );
  }
  const [a, b, c] = gateways as [(typeof gateways)[0], (typeof gateways)[0], (typeof gateways)[0]];
  const urls = [a.url, b.url, c.url];
  const allFresh = (r: FleetReport) => r.gateways.length === 3 && r.gateways.every((g) => !g.stale);
  for (const url of urls) {
    const report = await fleetUntil(url, 'three fresh gateways', allFresh);
    assert.equal(report.state, 'postgres');
    assert.deepEqual(report.gateways.map((g) => g.listen).sort(), [...urls].sort());
    const self = report.gateways.filter((g) => g.self);
    assert.equal(self.length, 1);
    assert.equal(self[0]!.listen, url, 'self is the gateway that answered');
    assert.equal(new Set(report.gateways.map((g) => g.id)).size, 3);
    for (const g of report.gateways) assert.ok(g.pid > 0 && g.hostName !== '');
  }
  const before = (await fleetOf(a.url)).revision ?? 0;

  // A route change through A: every gateway reports a newer revision, the same on all three.
  const put = await fetch(`${a.url}/v1/routes/svc`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ stable: '1.1.0', fallback: ['1.0.0'] }),
  });
  assert.equal(put.status, 200, await put.text());
  const changed = await fleetUntil(
    c.url,
    'on one newer revision',
    (r) =>
      allFresh(r) &&
      r.gateways.every((g) => g.revision !== null && g.revision > before && g.revision === r.revision),
  );
  const revision = changed.revision!;
  assert.deepEqual(
    (await fleetOf(b.url)).gateways.map((g) => g.revision),
    [revision, revision, revision],
  );
  // The revision is what they serve: each gateway answers with the new route's stable.
  for (const url of urls) {
    const res = await fetch(`${url}/v1/call/svc/who`, { method: 'POST' });
    assert.equal(res.status, 200);
    assert.equal(await res.json(), '1.1.0', url);
  }

  // C killed (no goodbye): stale once 3 of its intervals pass without a heartbeat; A and B stay fresh.
  c.child.kill('SIGKILL');
  const afterKill = await fleetUntil(a.url, 'C stale', (r) =>
    r.gateways.some((g) => g.listen === c.url && g.stale),
  );
  assert.deepEqual(
    afterKill.gateways
      .filter((g) => !g.stale)
      .map((g) => g.listen)
      .sort(),
    [a.url, b.url].sort(),
  );
  assert.equal(afterKill.revision, revision, 'the fleet revision counts fresh gateways only');
});

test('on SQLite, /v1/fleet lists this gateway alone', async (t) => {
  const root = await tempDir(t);
  await writeSvcVersion(root, '1.0.0');
  const dir = await tempDir(t);
  const { url } = await servePlugbay(t, root, ['--signatures', 'off'], `${dir}/state.db`);
  const report = await fleetOf(url);
  assert.equal(report.state, 'sqlite');
  assert.equal(report.revision, null);
  assert.equal(report.gateways.length, 1);
  const [self] = report.gateways;
  assert.equal(self!.listen, url);
  assert.equal(self!.pid > 0 && self!.self && !self!.stale, true);
  assert.equal(self!.revision, null);
});

test('serve --heartbeat-ms below 50 or not a number of milliseconds is a usage error (exit 2) naming the option', async (t) => {
  const root = await tempDir(t);
  for (const value of ['10', 'soon']) {
    const bad = await runPlugbay(['serve', root, '--heartbeat-ms', value]);
    assert.equal(bad.code, 2, value);
    assert.match(bad.stderr, /--heartbeat-ms/);
  }
});
