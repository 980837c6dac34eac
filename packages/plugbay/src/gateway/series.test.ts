// GET /v1/series over real HTTP: the calls the gateway served show up per version, behind the admin token.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { createHost } from '../host/host.js';
import type { SeriesReport } from '../host/types.js';
import { manifest, pluginSource, tempDir, writePlugin } from '../test-support/plugins.js';
import { createThreadTier } from '../tiers/index.js';
import { createGateway } from './server.js';

const token = 'series-token-0123456789abcdef';
const any = {};

test('GET /v1/series: per-version points of the calls the gateway served, guarded like the admin reads', async (t) => {
  const root = await tempDir(t);
  for (const version of ['1.0.0', '1.1.0']) {
    await writePlugin(root, `job@${version}`, {
      manifest: manifest({
        name: 'job',
        version,
        functions: {
          run: {
            input: { type: 'object', properties: { fail: { type: 'boolean' } }, additionalProperties: false },
            output: any,
          },
        },
      }),
      files: {
        'index.mjs': pluginSource('job', version, {
          run: `(input) => { if (input.fail) throw new Error('injected'); return '${version}'; }`,
        }),
      },
    });
  }
  const host = createHost({ logger: pino({ level: 'silent' }), tiers: { thread: createThreadTier() } });
  t.after(() => host.close());
  await host.loadDirectory(root);
  const gateway = createGateway({ host, port: 0, adminToken: token });
  t.after(() => gateway.close());
  const { url } = await gateway.listen();
  const auth = { authorization: `Bearer ${token}` };
  const call = (body: unknown) =>
    fetch(`${url}/v1/call/job/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  const before = Date.now();
  for (let i = 0; i < 8; i++) assert.equal((await call({})).status, 200);
  for (let i = 0; i < 2; i++) assert.equal((await call({ fail: true })).status, 502);
  assert.equal((await call({ unknown: 1 })).status, 400); // the caller's invalid input: not the version's

  assert.equal((await fetch(`${url}/v1/series`)).status, 401);
  const res = await fetch(`${url}/v1/series?plugin=job&step=5000&since=${before - 60_000}`, {
    headers: auth,
  });
  assert.equal(res.status, 200);
  const report = (await res.json()) as SeriesReport;
  assert.equal(report.stepMs, 5000);
  assert.ok(Math.abs(report.at - Date.now()) < 5000);
  const byVersion = new Map(report.versions.map((v) => [v.version, v.points]));
  assert.deepEqual([...byVersion.keys()].sort(), ['1.0.0', '1.1.0']);
  const served = byVersion.get('1.1.0')!; // the newest release answers without a route
  assert.ok(served.length >= 12 && served.length <= 14, `${served.length} points of 5 s over a minute`);
  assert.ok(served.every((p) => p.t % 5000 === 0));
  assert.equal(
    served.reduce((n, p) => n + p.calls, 0),
    10,
  );
  assert.equal(
    served.reduce((n, p) => n + p.errors, 0),
    2,
  );
  assert.ok(served.some((p) => p.calls > 0 && (p.p50Ms ?? 0) > 0 && (p.p99Ms ?? 0) >= (p.p50Ms ?? 0)));
  assert.ok(byVersion.get('1.0.0')!.every((p) => p.calls === 0 && p.p50Ms === undefined));

  // Default: every loaded version, one point per second over 15 minutes.
  const all = (await (await fetch(`${url}/v1/series`, { headers: auth })).json()) as SeriesReport;
  assert.equal(all.stepMs, 1000);
  assert.equal(all.versions[0]?.points.length, 900);

  for (const [query, field] of [
    ['step=1500', 'step'],
    ['step=0', 'step'],
    ['since=yesterday', 'since'],
    // Digits, but past any epoch ms a Number holds exactly: refused by name, not as the host's option.
    ['since=99999999999999999999999', 'since'],
  ] as const) {
    const bad = await fetch(`${url}/v1/series?${query}`, { headers: auth });
    assert.equal(bad.status, 400, query);
    const body = (await bad.json()) as { error: { code: string; details?: { field?: string } } };
    assert.equal(body.error.code, 'PLUGBAY_INVALID_ARGUMENT', query);
    assert.equal(body.error.details?.field, field, query);
  }
});
