import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createGateway } from '../gateway/server.js';
import { createHost } from '../host/host.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { createInlineTier, createProcessTier, createThreadTier, createWasmTier } from '../tiers/index.js';
import { buildFixtures, fixture, wasmPlugin } from '../tiers/wasm/test-fixtures.js';
import { channelNames } from './channels.js';
import { obsPlugin, recordingLogger } from './test-support.js';

const run = promisify(execFile);

/** The value of one sample line, e.g. `plugbay_calls_total{...}`; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (ok) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

test('calls, errors, validation failures, route decisions and faults are counted per version', async (t) => {
  const registry = new Registry();
  const { logger } = recordingLogger();
  const host = createHost({
    registry,
    logger,
    tiers: { inline: createInlineTier() },
    tierFor: () => 'inline',
  });
  t.after(() => host.close());
  const report = await host.loadDirectory(await obsPlugin(t));
  assert.equal(report.loaded.length, 1);
  for (let i = 0; i < 3; i++) await host.call('obs', 'echo', { text: 'hi' });
  await assert.rejects(host.call('obs', 'fails', {}), { code: 'PLUGBAY_PLUGIN_ERROR' });
  await assert.rejects(host.call('obs', 'echo', {}), { code: 'PLUGBAY_INVALID_INPUT' });
  const text = await registry.metrics();
  const v = { plugin: 'obs', version: '1.0.0', tier: 'inline' };
  assert.equal(sample(text, 'plugbay_calls_total', { ...v, fn: 'echo', outcome: 'ok' }), 3);
  assert.equal(sample(text, 'plugbay_calls_total', { ...v, fn: 'fails', outcome: 'plugin_error' }), 1);
  assert.equal(sample(text, 'plugbay_call_duration_seconds_count', { ...v, fn: 'echo' }), 3);
  assert.equal(sample(text, 'plugbay_call_duration_seconds_bucket', { ...v, fn: 'echo', le: '+Inf' }), 3);
  assert.equal(sample(text, 'plugbay_validation_failures_total', { ...v, side: 'input' }), 1);
  assert.equal(sample(text, 'plugbay_route_decisions_total', { plugin: 'obs', arm: 'stable' }), 5);
  assert.equal(sample(text, 'plugbay_plugin_faults_total', v), 0);
  assert.equal(sample(text, 'plugbay_instance_state', { ...v, state: 'ready' }), 1);
  assert.equal(sample(text, 'plugbay_signature_status', { ...v, status: 'off' }), 1);
  assert.equal(sample(text, 'plugbay_inflight', v), 0);
  const stats = host.stats().find((s) => s.plugin === 'obs');
  assert.equal(stats?.calls, 4); // echo ×3 and fails (the invalid input never reached the plugin)
  assert.equal(stats?.errors, 1);
  assert.ok(stats?.p50 !== undefined && stats.p50 > 0);
});

// Inline faults are attributed in their own process (tiers/inline/attribution.test.ts): node:test's own
// uncaughtException listener would fail a test here. The thread tier shows the counting end to end.
test('thread: a throw in the plugin timer is counted as a crash and a restart of that version', async (t) => {
  const registry = new Registry();
  const host = createHost({
    registry,
    logger: recordingLogger().logger,
    tiers: { thread: createThreadTier() },
  });
  t.after(() => host.close());
  await host.loadDirectory(await obsPlugin(t));
  const restarted = new Promise((resolve) => subscribe(channelNames.restart, resolve));
  assert.equal(await host.call('obs', 'timer', {}), 'ok');
  await restarted;
  const text = await registry.metrics();
  const v = { plugin: 'obs', version: '1.0.0', tier: 'thread' };
  assert.equal(sample(text, 'plugbay_crashes_total', v), 1);
  assert.equal(sample(text, 'plugbay_restarts_total', v), 1);
  assert.deepEqual(await host.call('obs', 'echo', { text: 'again' }), { text: 'again' });
});

test('metrics: false registers nothing and calls still work', async (t) => {
  const registry = new Registry();
  const host = createHost({
    registry,
    metrics: false,
    logger: recordingLogger().logger,
    tiers: { inline: createInlineTier() },
    tierFor: () => 'inline',
  });
  t.after(() => host.close());
  await host.loadDirectory(await obsPlugin(t));
  assert.deepEqual(await host.call('obs', 'echo', { text: 'x' }), { text: 'x' });
  assert.equal(registry.getMetricsAsArray().length, 0);
  assert.deepEqual(host.stats(), []);
});

test('call channels publish start and end with the plugin, version and arm', async (t) => {
  const host = createHost({
    logger: recordingLogger().logger,
    tiers: { inline: createInlineTier() },
    tierFor: () => 'inline',
  });
  t.after(() => host.close());
  await host.loadDirectory(await obsPlugin(t));
  const seen: [string, unknown][] = [];
  const onStart = (m: unknown) => seen.push(['start', m]);
  const onEnd = (m: unknown) => seen.push(['end', m]);
  const onError = (m: unknown) => seen.push(['error', m]);
  subscribe(channelNames.callStart, onStart);
  subscribe(channelNames.callEnd, onEnd);
  subscribe(channelNames.callError, onError);
  t.after(() => {
    unsubscribe(channelNames.callStart, onStart);
    unsubscribe(channelNames.callEnd, onEnd);
    unsubscribe(channelNames.callError, onError);
  });
  await host.call('obs', 'echo', { text: 'x' });
  await assert.rejects(host.call('obs', 'fails', {}));
  assert.deepEqual(
    seen.map(([kind, m]) => [kind, (m as { fn: string }).fn, (m as { arm: string }).arm]),
    [
      ['start', 'echo', 'stable'],
      ['end', 'echo', 'stable'],
      ['start', 'fails', 'stable'],
      ['error', 'fails', 'stable'],
    ],
  );
  const end = seen[1]![1] as { plugin: string; version: string; tier: string; durationMs: number };
  assert.equal(end.plugin, 'obs');
  assert.equal(end.version, '1.0.0');
  assert.equal(end.tier, 'inline');
  assert.ok(end.durationMs >= 0);
});

test('a live gateway /metrics after traffic passes promtool check metrics', async (t) => {
  const host = createHost({
    logger: recordingLogger().logger,
    tiers: { inline: createInlineTier(), thread: createThreadTier() },
    tierFor: (p) => (p.manifest.name === 'obs' ? 'inline' : 'thread'),
  });
  t.after(() => host.close());
  await host.loadDirectory(await obsPlugin(t));
  await host.loadDirectory(await obsPlugin(t, 'obs-thread'));
  const gateway = createGateway({ host, port: 0 });
  t.after(() => gateway.close());
  const { url } = await gateway.listen();
  for (const plugin of ['obs', 'obs-thread']) {
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${url}/v1/call/${plugin}/echo`, { method: 'POST', body: '{"text":"hi"}' });
      assert.equal(res.status, 200);
    }
    assert.equal((await fetch(`${url}/v1/call/${plugin}/fails`, { method: 'POST' })).status, 502);
  }
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await res.text();
  assert.equal(
    sample(text, 'plugbay_calls_total', { plugin: 'obs-thread', tier: 'thread', fn: 'echo', outcome: 'ok' }),
    5,
  );
  const elu = sample(text, 'plugbay_instance_event_loop_utilization', {
    plugin: 'obs-thread',
    tier: 'thread',
  });
  assert.ok(
    elu !== undefined && elu >= 0 && elu <= 1,
    'the thread tier reports its worker event loop utilisation',
  );
  const file = join(await tempDir(t), 'metrics.txt');
  await writeFile(file, text);
  // promtool reads the exposition on stdin; any lint or parse problem makes it exit non-zero.
  const { stdout, stderr } = await run('sh', ['-c', `promtool check metrics < "${file}"`]).catch((err) => {
    assert.fail(`promtool check metrics failed:\n${err.stdout}\n${err.stderr}`);
  });
  assert.equal(`${stdout}${stderr}`.trim(), '');
  const stats = (await (await fetch(`${url}/v1/stats`)).json()) as {
    versions: { plugin: string; calls: number }[];
  };
  assert.equal(stats.versions.find((v) => v.plugin === 'obs')?.calls, 6);
});

test('per-instance resources: a process plugin reports RSS and CPU time, a wasm plugin its memory pages', async (t) => {
  buildFixtures();
  const registry = new Registry();
  const host = createHost({
    logger: pino({ level: 'silent' }),
    registry,
    tiers: { process: createProcessTier(), wasm: createWasmTier({ run: 'host-thread' }) },
  });
  t.after(() => host.close());
  const root = await tempDir(t);
  await host.load(
    await writePlugin(root, 'proc', {
      manifest: manifest({ name: 'proc' }),
      files: {
        'index.mjs': `export default { name: 'proc', version: '1.0.0', functions: { echo: { input: {}, output: {}, handler: (i) => i } } };`,
      },
    }),
  );
  const wasm = wasmPlugin(fixture('as'), { name: 'pages', functions: { echo: { input: {}, output: {} } } });
  t.after(() => wasm.cleanup());
  await host.load(wasm.dir);
  await host.call('proc', 'echo', { text: 'x' });
  await host.call('pages', 'echo', { a: 1 });
  const value = async (name: string, tier: string) =>
    (await registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels.tier === tier)?.value;
  assert.ok(
    ((await value('plugbay_instance_rss_bytes', 'process')) ?? 0) > 10 * 1048576,
    'a Node process holds > 10 MB',
  );
  assert.ok(((await value('plugbay_instance_cpu_seconds', 'process')) ?? -1) > 0);
  assert.ok(((await value('plugbay_instance_wasm_memory_pages', 'wasm')) ?? 0) >= 1);
});
