// The PromQL check against a real Prometheus (Debian's binary) scraping a real gateway's /metrics, alone and as
// the custom check of a progressive rollout.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createGateway, type Gateway } from '../gateway/server.js';
import { HandScheduler } from '../test-support/hand-scheduler.js';
import { writeSvcVersion } from '../test-support/plugins.js';
import {
  prometheusSkipReason,
  startTestPrometheus,
  type TestPrometheus,
} from '../test-support/prometheus.js';
import { createInlineTier } from '../tiers/index.js';
import { createHost } from './host.js';
import { type CheckContext, createCheck } from './rollout-checks.js';
import type { PluginHost } from './types.js';

const skip = await prometheusSkipReason();
const quiet = pino({ level: 'silent' });

describe('PromQL rollout checks against a real Prometheus', { skip }, () => {
  let host: PluginHost;
  let gateway: Gateway;
  let prom: TestPrometheus;
  const sched = new HandScheduler();
  const calls = async (n: number, prefix: string) => {
    for (let i = 0; i < n; i++) await host.call('svc', 'who', {}, { key: `${prefix}${i}` });
  };
  const ctx = (): CheckContext => ({
    plugin: 'svc',
    version: '1.1.0',
    stable: '1.0.0',
    weight: 50,
    sinceMs: Date.now() - 10_000,
    untilMs: Date.now(),
    signal: AbortSignal.timeout(10_000),
  });

  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'plugbay-checks-'));
    await writeSvcVersion(root, '1.0.0');
    await writeSvcVersion(root, '1.1.0');
    host = createHost({
      logger: quiet,
      tierFor: () => 'inline',
      tiers: { inline: createInlineTier() },
      rolloutScheduler: sched,
    });
    await host.loadDirectory(root);
    gateway = createGateway({ host, port: 0, logger: quiet });
    const { port } = await gateway.listen();
    prom = await startTestPrometheus([`127.0.0.1:${port}`]);
  });
  after(async () => {
    await prom?.stop();
    await gateway?.close();
    await host?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('reads one value and holds it to max and min, with $plugin and $version replaced', async () => {
    await host.setRoute('svc', { stable: '1.1.0' });
    await calls(10, 'a');
    const query = 'sum(plugbay_calls_total{plugin="$plugin",version="$version"})';
    await prom.until(query.replace('$plugin', 'svc').replace('$version', '1.1.0'), (v) => v === 10);
    const ok = await createCheck({ type: 'promql', url: prom.url, query, max: 10 }).evaluate(ctx());
    assert.deepEqual({ ok: ok.ok, value: ok.value }, { ok: true, value: 10 });
    const high = await createCheck({ type: 'promql', url: prom.url, query, max: 9 }).evaluate(ctx());
    assert.equal(high.ok, false);
    assert.match(high.reason, /= 10 > 9/);
    const low = await createCheck({ type: 'promql', url: prom.url, query, min: 11 }).evaluate(ctx());
    assert.equal(low.ok, false);
  });

  it('fails closed: no data, a refused query and an unreachable server are not a pass', async () => {
    const none = await createCheck({
      type: 'promql',
      url: prom.url,
      query: 'plugbay_calls_total{plugin="nothing"}',
      max: 1,
    }).evaluate(ctx());
    assert.equal(none.ok, false);
    assert.match(none.reason, /no single value/);
    const bad = await createCheck({ type: 'promql', url: prom.url, query: 'sum(', max: 1 }).evaluate(ctx());
    assert.equal(bad.ok, false);
    assert.match(bad.reason, /refused/);
    const gone = await createCheck({
      type: 'promql',
      url: 'http://127.0.0.1:1',
      query: 'up',
      max: 1,
    }).evaluate(ctx());
    assert.equal(gone.ok, false);
    assert.match(gone.reason, /did not answer/);
  });

  it("a rollout whose check fails is rolled back at the step's judgement, the check's result in its evidence", async () => {
    await host.setRoute('svc', { stable: '1.0.0' });
    const started = await host.rollouts.start({
      plugin: 'svc',
      version: '1.1.0',
      steps: [50, 100],
      intervalMs: 100,
      thresholds: { minCalls: 5 },
      checks: [
        // The canary's failed calls: none, so this passes …
        {
          type: 'promql',
          name: 'canary errors',
          url: prom.url,
          query: 'sum(plugbay_calls_total{plugin="$plugin",version="$version",outcome!="ok"}) or vector(0)',
          max: 0,
        },
        // … and this one cannot: at most -1 calls of the stable.
        {
          type: 'promql',
          name: 'impossible',
          url: prom.url,
          query: 'sum(plugbay_calls_total{plugin="$plugin",version="$stable"})',
          max: -1,
        },
      ],
    });
    assert.equal(started.state, 'running');
    await calls(60, 'b');
    // The first timer is an early check (it never runs checks); the next one, past the interval, judges.
    while (host.rollouts.get('svc')?.state === 'running') {
      assert.equal(sched.pending.size, 1, 'a running rollout always has its next judgement pending');
      await sched.fire();
    }
    const r = host.rollouts.get('svc')!;
    assert.equal(r.state, 'rolled-back');
    const fail = r.history.at(-1)!;
    assert.equal(fail.verdict, 'fail');
    assert.match(fail.reason, /impossible/);
    assert.deepEqual(
      fail.checks?.map((c) => [c.name, c.ok]),
      [
        ['canary errors', true],
        ['impossible', false],
      ],
    );
    assert.deepEqual(host.route('svc'), { stable: '1.0.0' });
  });
});
