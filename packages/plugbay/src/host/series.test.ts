// host.window and host.series over a real thread-tier plugin: what progressive rollouts and the dashboard read.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { pino } from 'pino';
import { manifest, pluginSource, tempDir, writePlugin } from '../test-support/plugins.js';
import { createThreadTier } from '../tiers/index.js';
import { createHost } from './host.js';
import type { HostOptions } from './types.js';

const logger = pino({ level: 'silent' });

/** `ts@<version>`: `work` answers (after `delayMs`), throws on `fail`; `bad` breaks its output schema; `refuse` throws the caller's invalid input itself. */
async function writeTs(root: string, version: string): Promise<void> {
  const any = {};
  await writePlugin(root, `ts@${version}`, {
    manifest: manifest({
      name: 'ts',
      version,
      functions: {
        work: {
          input: {
            type: 'object',
            properties: { fail: { type: 'boolean' }, delayMs: { type: 'integer' } },
            additionalProperties: false,
          },
          output: any,
        },
        bad: { input: any, output: { type: 'string' } },
        refuse: { input: any, output: any },
      },
    }),
    files: {
      'index.mjs': pluginSource('ts', version, {
        work: `async (input) => {
          if (input.fail) throw new Error('injected failure');
          if (input.delayMs) await new Promise((r) => setTimeout(r, input.delayMs));
          return { ok: true };
        }`,
        bad: '() => 42',
        refuse: `() => { throw Object.assign(new Error('no such order'), { code: 'PLUGBAY_INVALID_INPUT' }); }`,
      }),
    },
  });
}

async function hostWith(t: TestContext, options: HostOptions = {}) {
  const root = await tempDir(t);
  await writeTs(root, '1.0.0');
  await writeTs(root, '2.0.0');
  const host = createHost({ logger, tiers: { thread: createThreadTier() }, ...options });
  t.after(() => host.close());
  const report = await host.loadDirectory(root);
  assert.equal(report.loaded.length, 2, JSON.stringify(report));
  return host;
}

test('ok and failed calls show in window and series; the caller’s invalid input does not count', async (t) => {
  const host = await hostWith(t);
  const before = Date.now();
  const v1 = { version: '1.0.0' };
  for (let i = 0; i < 10; i++) await host.call('ts', 'work', {}, v1);
  await host.call('ts', 'work', { delayMs: 200 }, v1);
  for (let i = 0; i < 2; i++)
    await assert.rejects(host.call('ts', 'work', { fail: true }, v1), { code: 'PLUGBAY_PLUGIN_ERROR' });
  await assert.rejects(host.call('ts', 'bad', {}, v1), { code: 'PLUGBAY_INVALID_OUTPUT' });
  // The caller's mistakes: refused by the input schema (never reaches the plugin) or by the plugin itself.
  for (let i = 0; i < 3; i++)
    await assert.rejects(host.call('ts', 'work', { nope: 1 }, v1), { code: 'PLUGBAY_INVALID_INPUT' });
  await assert.rejects(host.call('ts', 'refuse', {}, v1), { code: 'PLUGBAY_INVALID_INPUT' });
  await host.call('ts', 'work', {}, { version: '2.0.0' });

  const w = host.window('ts', '1.0.0');
  assert.equal(w.calls, 15, 'work ×13, bad, refuse: the schema refusals never reached the plugin');
  assert.equal(w.errors, 3);
  assert.deepEqual(w.errorsByCode, { PLUGBAY_PLUGIN_ERROR: 2, PLUGBAY_INVALID_OUTPUT: 1 });
  assert.equal(w.errorRate, 3 / 15);
  assert.ok(w.p50Ms !== undefined && w.p50Ms < 50, `p50 ${w.p50Ms} ms`);
  // The one 200 ms call is the slowest of 15: the p99 (within one bucket, 1/8).
  assert.ok(w.p99Ms !== undefined && w.p99Ms >= 200 * (7 / 8) && w.p99Ms < 400, `p99 ${w.p99Ms} ms`);
  assert.ok(w.fromMs <= before && w.toMs >= Date.now() - 1000);
  assert.equal(host.window('ts', '2.0.0').calls, 1);
  assert.equal(host.window('ts', '1.0.0', { untilMs: before - 1000 }).calls, 0, 'nothing before the calls');
  assert.deepEqual(host.window('nope', '1.0.0'), {
    ...host.window('nope', '1.0.0'),
    calls: 0,
    errors: 0,
    errorRate: 0,
    errorsByCode: {},
  });

  const report = host.series('ts');
  assert.equal(report.stepMs, 1000);
  assert.ok(Math.abs(report.at - Date.now()) < 5000);
  assert.deepEqual(report.versions.map((v) => v.version).sort(), ['1.0.0', '2.0.0']);
  const one = report.versions.find((v) => v.version === '1.0.0')!;
  assert.equal(one.points.length, 900, '15 minutes of seconds, zero-filled');
  for (let i = 1; i < one.points.length; i++) assert.equal(one.points[i]!.t - one.points[i - 1]!.t, 1000);
  assert.equal(
    one.points.reduce((n, p) => n + p.calls, 0),
    15,
  );
  assert.equal(
    one.points.reduce((n, p) => n + p.errors, 0),
    3,
  );
  const busy = one.points.filter((p) => p.calls > 0);
  assert.ok(busy.every((p) => p.p50Ms !== undefined && p.p99Ms !== undefined && p.t >= before - 1000));
  assert.ok(one.points.filter((p) => p.calls === 0).every((p) => p.p50Ms === undefined));
  assert.deepEqual(host.series('other').versions, []);
  const minute = host.series(undefined, { sinceMs: Date.now() - 60_000, stepMs: 10_000 });
  assert.ok(minute.versions.length === 2 && minute.versions[0]!.points.length <= 7);

  // A version unloaded leaves the series; its window (counters live on in the process) still answers.
  await host.unload('ts', '2.0.0');
  assert.deepEqual(
    host.series('ts').versions.map((v) => v.version),
    ['1.0.0'],
  );
  assert.equal(host.window('ts', '2.0.0').calls, 1);
});

test('window and series refuse bad ranges with PLUGBAY_INVALID_ARGUMENT naming the field', async (t) => {
  const host = await hostWith(t);
  const refused = (fn: () => unknown, option: string) =>
    assert.throws(fn, (err: { code?: string; details?: { option?: string } }) => {
      assert.equal(err.code, 'PLUGBAY_INVALID_ARGUMENT');
      assert.equal(err.details?.option, option);
      return true;
    });
  refused(() => host.window('ts', '1.0.0', { sinceMs: 2000, untilMs: 1000 }), 'sinceMs');
  refused(() => host.window('ts', '1.0.0', { sinceMs: Number.NaN }), 'sinceMs');
  refused(() => host.series('ts', { stepMs: 1500 }), 'stepMs');
  refused(() => host.series('ts', { stepMs: 0 }), 'stepMs');
  refused(() => host.series('ts', { stepMs: 3_600_000 }), 'stepMs');
});

test('series: false keeps no ring: windows are empty, calls still work', async (t) => {
  const host = await hostWith(t, { series: false });
  await host.call('ts', 'work', {}, { version: '1.0.0' });
  assert.equal(host.window('ts', '1.0.0').calls, 0);
  assert.equal(host.stats().find((s) => s.version === '1.0.0')?.calls, 1, 'the counters still count');
  assert.ok(host.series('ts').versions.every((v) => v.points.every((p) => p.calls === 0)));
});
