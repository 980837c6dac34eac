// Routing, circuits and drain on the in-memory tier (plugbay/testing createMemoryTier): the host's own logic,
// driven call by call, with no worker behind it. The controls of each instance decide what a call does.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { pino } from 'pino';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { createMemoryTier, type MemoryTier } from '../testing/memory-tier.js';
import { createHost } from './host.js';
import type { HostOptions, PluginHost } from './types.js';

const any = {};

/** A host on a memory tier where `svc@<version>.who` answers its version; one plugin folder per version. */
async function svcHost(
  t: TestContext,
  versions: string[],
  options: HostOptions = {},
): Promise<{ h: PluginHost; tier: MemoryTier }> {
  const plugins = Object.fromEntries(versions.map((v) => [`svc@${v}`, { who: () => v }]));
  const tier = createMemoryTier({ plugins });
  const h = createHost({ logger: pino({ level: 'silent' }), tiers: { thread: tier }, ...options });
  t.after(() => h.close());
  const root = await tempDir(t);
  for (const version of versions) {
    const dir = await writePlugin(root, `svc@${version}`, {
      manifest: manifest({ name: 'svc', version, functions: { who: { input: any, output: any } } }),
      files: { 'index.mjs': '// never run: the memory tier answers\n' },
    });
    await h.load(dir);
  }
  return { h, tier };
}

test('a 10 % canary takes 9–11 % of 4000 keys, stickily, and only those calls reach its instance', async (t) => {
  const { h, tier } = await svcHost(t, ['1.0.0', '1.1.0']);
  await h.setRoute('svc', { stable: '1.0.0', canary: { version: '1.1.0', percent: 10 } });
  const first = new Map<string, string>();
  for (let i = 0; i < 4000; i++) {
    const r = await h.callDetailed('svc', 'who', {}, { key: `k${i}` });
    assert.equal(r.output, r.version, 'the version the route chose answered');
    assert.equal(r.arm, r.version === '1.1.0' ? 'canary' : 'stable');
    first.set(`k${i}`, r.version);
  }
  const canary = tier.instance('svc@1.1.0').calls.length;
  assert.ok(canary >= 360 && canary <= 440, `canary got ${canary}`);
  assert.equal(tier.instance('svc@1.0.0').calls.length, 4000 - canary);
  for (let i = 0; i < 400; i++)
    assert.equal(await h.call('svc', 'who', {}, { key: `k${i}` }), first.get(`k${i}`));
});

test('a 50/50 experiment splits 4000 keys within ±2 %; a pinned version or range wins over the route', async (t) => {
  const { h, tier } = await svcHost(t, ['1.0.0', '1.1.0']);
  await h.setRoute('svc', {
    stable: '1.0.0',
    experiments: [{ name: 'ab', variants: { A: '1.0.0', B: '1.1.0' } }],
  });
  let b = 0;
  for (let i = 0; i < 4000; i++)
    if ((await h.callDetailed('svc', 'who', {}, { key: `k${i}` })).arm === 'experiment:ab:B') b++;
  assert.ok(b >= 1920 && b <= 2080, `variant B got ${b}`);
  assert.equal(tier.instance('svc@1.1.0').calls.length, b);
  // k1's arm, whichever it is, gives way to a pin
  const pins = [await h.callDetailed('svc', 'who', {}, { key: 'k1', version: '1.0.0' })];
  pins.push(await h.callDetailed('svc', 'who', {}, { key: 'k1', version: '^1.1.0' }));
  assert.deepEqual(
    pins.map((r) => `${r.output} ${r.arm}`),
    ['1.0.0 pinned', '1.1.0 pinned'],
  );
});

test('a circuit opens after its threshold of crashes, falls back, goes half-open after the cool-down, and closes on a success', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() }); // the cool-down is read from Date.now()
  const { h, tier } = await svcHost(t, ['1.0.0', '2.0.0'], {
    circuit: { failureThreshold: 2, coolDownMs: 1000, maxCoolDownMs: 1500 },
  });
  await h.setRoute('svc', { stable: '2.0.0', fallback: ['1.0.0'] });
  const v2 = tier.instance('svc@2.0.0');
  const circuit = () => h.versions().find((v) => v.version === '2.0.0')?.circuit;
  const answer = async () => {
    const r = await h.callDetailed('svc', 'who', {});
    return `${r.output} ${r.arm}`;
  };

  // The plugin's own errors are its answers, not its instance failing: they never open the circuit.
  for (let i = 0; i < 3; i++) v2.failNext();
  for (let i = 0; i < 3; i++)
    await assert.rejects(h.call('svc', 'who', {}), { code: 'PLUGBAY_PLUGIN_ERROR' });
  assert.equal(circuit(), 'closed');

  v2.crashNext();
  v2.crashNext();
  for (let i = 0; i < 2; i++)
    await assert.rejects(h.call('svc', 'who', {}), { code: 'PLUGBAY_PLUGIN_CRASHED' });
  assert.equal(circuit(), 'open');
  assert.equal(await answer(), '1.0.0 fallback');
  const callsWhileOpen = v2.calls.length;

  t.mock.timers.tick(1000); // half-open: the next call is a probe of 2.0.0, and it crashes
  assert.equal(circuit(), 'closed');
  v2.crashNext();
  await assert.rejects(h.call('svc', 'who', {}), { code: 'PLUGBAY_PLUGIN_CRASHED' });
  assert.equal(v2.calls.length, callsWhileOpen + 1, 'one probe reached the instance');
  assert.equal(circuit(), 'open', 're-opened at once, for twice the cool-down (capped at 1500 ms)');
  t.mock.timers.tick(1000);
  assert.equal(circuit(), 'open');
  assert.equal(await answer(), '1.0.0 fallback');
  t.mock.timers.tick(500);
  assert.equal(await answer(), '2.0.0 stable', 'the half-open probe succeeds: closed');
  v2.crashNext();
  await assert.rejects(h.call('svc', 'who', {}), { code: 'PLUGBAY_PLUGIN_CRASHED' });
  assert.equal(
    circuit(),
    'closed',
    'a success forgot the earlier failures: one crash is below the threshold',
  );
});

test('activate while calls are in flight: none fails, they finish on the old version, new calls go to the new one', async (t) => {
  const { h, tier } = await svcHost(t, ['1.0.0', '1.1.0']);
  await h.activate('svc', '1.0.0');
  const v1 = tier.instance('svc@1.0.0');
  const held = Array.from({ length: 5 }, () => v1.holdNext());
  const calls = held.map(() => h.callDetailed('svc', 'who', {}));
  await v1.whenInFlight(5);

  let activated = false;
  const activating = h.activate('svc', '1.1.0').then((r) => {
    activated = true;
    return r;
  });
  // Calls made from now on go to 1.0.0 until the route switched, then to 1.1.0; every one answers.
  let switched: string | undefined;
  while (switched === undefined) {
    await new Promise(setImmediate); // a turn of the event loop for the activation (answers here are microtasks)
    const r = await h.callDetailed('svc', 'who', {});
    if (r.version === '1.1.0') switched = r.output as string;
  }
  assert.equal(switched, '1.1.0');
  assert.equal(v1.inflight, 5, 'the held calls are still in flight on 1.0.0');
  assert.equal(v1.state, 'ready', 'not closed under its calls');
  assert.equal(h.versions().find((v) => v.version === '1.0.0')?.state, 'draining');
  assert.equal(activated, false, 'activate waits for the drain');

  for (const call of held) call.release();
  const answers = await Promise.all(calls);
  assert.deepEqual(
    answers.map((r) => r.output),
    ['1.0.0', '1.0.0', '1.0.0', '1.0.0', '1.0.0'],
  );
  assert.equal((await activating).version, '1.1.0');
  assert.equal(v1.state, 'closed');
  assert.deepEqual(
    h.versions().map((v) => v.version),
    ['1.1.0'],
    'the drained version was released',
  );
});

test('a drain that times out closes the old version anyway: the call it still held fails with PLUGBAY_CLOSED', async (t) => {
  const { h, tier } = await svcHost(t, ['1.0.0', '1.1.0'], { stopTimeoutMs: 1 });
  await h.activate('svc', '1.0.0');
  const v1 = tier.instance('svc@1.0.0');
  v1.hangNext();
  const stuck = h.call('svc', 'who', {});
  await v1.whenInFlight(1);
  await h.activate('svc', '1.1.0', { drainTimeoutMs: 20 });
  await assert.rejects(stuck, { code: 'PLUGBAY_CLOSED' });
  assert.equal(v1.state, 'closed');
  assert.equal(await h.call('svc', 'who', {}), '1.1.0');
});
