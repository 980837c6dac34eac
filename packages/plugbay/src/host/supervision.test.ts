import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { pino } from 'pino';
import type { PlugbayError } from '../core/errors.js';
import { createGateway } from '../gateway/server.js';
import { channelNames } from '../observe/channels.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { createInlineTier, createProcessTier, createThreadTier } from '../tiers/index.js';
import { createHost } from './host.js';
import type { HostOptions, PluginHost, VersionStatus } from './types.js';

// Callers cannot break plugins: a deadline the caller chose is not the plugin's failure (no restart, no crash loop,
// no open circuit); a plugin that really overruns its own budget is stopped within a grace; a crash loop heals.

const any = {};

/** `busy` blocks its event loop for `input.ms` (a legitimate CPU-bound function); `spin` never yields. */
const source = `
import { existsSync } from 'node:fs';
// Which process answers: its pid alone does not say (each sandboxed process has its own PID namespace).
const self = process.pid + ':' + Math.random();
const block = (ms) => { const end = Date.now() + ms; while (Date.now() < end) {} };
export default { name: 'svc', version: '1.0.0',
  start(ctx) {
    // Crashes right after each start while the marker file exists: a plugin that really crash-loops.
    if (ctx.config?.marker !== undefined && existsSync(ctx.config.marker))
      setTimeout(() => { throw new Error('crash after start'); }, 0);
  },
  functions: {
    busy: { input: {}, output: {}, handler: (input) => { block(input.ms); return 'done'; } },
    spin: { input: {}, output: {}, handler: () => { for (;;) {} } },
    pid: { input: {}, output: {}, handler: () => self },
  } };`;

async function svc(t: TestContext, read: string[] = []): Promise<string> {
  const root = await tempDir(t);
  return writePlugin(root, 'svc', {
    manifest: manifest({
      name: 'svc',
      ...(read.length > 0 ? { permissions: { fs: { read } } } : {}),
      functions: {
        busy: { input: any, output: any, timeoutMs: 5000 },
        spin: { input: any, output: any, timeoutMs: 300 },
        pid: { input: any, output: any },
      },
    }),
    files: { 'index.mjs': source },
  });
}

function host(t: TestContext, options: HostOptions): PluginHost {
  const h = createHost({ logger: pino({ level: 'silent' }), ...options });
  t.after(() => h.close());
  return h;
}

/** Counts the instance exits (crashes) the host publishes while the test runs. */
function countCrashes(t: TestContext): { count: number } {
  const seen = { count: 0 };
  const onCrash = (): void => {
    seen.count++;
  };
  subscribe(channelNames.crash, onCrash);
  t.after(() => unsubscribe(channelNames.crash, onCrash));
  return seen;
}

/** Waits until `check` holds, re-checking every 10 ms; fails after `ms`. */
async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`${what}: not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function fiftyCallerTimeouts(h: PluginHost): Promise<void> {
  for (let i = 0; i < 50; i++) {
    await assert.rejects(h.call('svc', 'busy', { ms: 40 }, { timeoutMs: 1 }), { code: 'PLUGBAY_TIMEOUT' });
  }
}

test('thread tier: 50 caller-side timeouts leave the plugin ready, its circuit closed, and a normal call answers', async (t) => {
  const dir = await svc(t);
  const crashes = countCrashes(t);
  // A 10 ms grace: a worker busy for 40 ms is well past it, yet the caller's 1 ms deadline is not its budget (5 s).
  const h = host(t, {
    tiers: { thread: createThreadTier({ unresponsiveMs: 10, restart: { initialDelayMs: 1 } }) },
    tierFor: () => 'thread',
  });
  await h.load(dir);
  await fiftyCallerTimeouts(h);
  const [v] = h.versions();
  assert.deepEqual([v?.state, v?.circuit], ['ready', 'closed']);
  assert.equal(await h.call('svc', 'busy', { ms: 1 }), 'done');
  assert.equal(crashes.count, 0, 'no worker was terminated for a deadline the caller chose');
});

test('process tier: 50 caller-side timeouts leave the plugin ready, its circuit closed, and a normal call answers', async (t) => {
  const dir = await svc(t);
  const crashes = countCrashes(t);
  const h = host(t, {
    tiers: { process: createProcessTier({ unresponsiveMs: 10 }) },
    tierFor: () => 'process',
  });
  await h.load(dir);
  const pid = await h.call('svc', 'pid', {});
  await fiftyCallerTimeouts(h);
  const [v] = h.versions();
  assert.deepEqual([v?.state, v?.circuit], ['ready', 'closed']);
  assert.equal(await h.call('svc', 'busy', { ms: 1 }), 'done');
  assert.equal(await h.call('svc', 'pid', {}), pid, 'the same process still serves');
  assert.equal(crashes.count, 0);
});

test('process tier: a busy loop past its own deadline is killed within the grace and the next call is answered promptly', async (t) => {
  const dir = await svc(t);
  const crashes = countCrashes(t);
  const h = host(t, {
    tiers: { process: createProcessTier({ unresponsiveMs: 200, restart: { initialDelayMs: 1 } }) },
    tierFor: () => 'process',
  });
  await h.load(dir);
  const before = await h.call('svc', 'pid', {});
  await assert.rejects(h.call('svc', 'spin', {}), { code: 'PLUGBAY_TIMEOUT' }); // its manifest's 300 ms
  const started = Date.now();
  const after = await h.call('svc', 'pid', {});
  assert.notEqual(after, before, 'a new process answered');
  assert.equal(crashes.count, 1, 'the stuck process was killed once');
  // The kill comes at the grace (200 ms); a restart takes ~100 ms. Generous bound: the health probe took ~12 s.
  assert.ok(Date.now() - started < 5000, `next call took ${Date.now() - started} ms`);
  assert.equal(h.versions()[0]?.state, 'ready');
});

for (const tier of ['thread', 'process'] as const) {
  test(`${tier} tier: a crash-looped version comes back by itself after the cool-down, audited on entry and exit`, async (t) => {
    // Outside the plugin (it runs from a copy of its folder), readable by the plugin's own uid in the process tier.
    const markers = await tempDir(t);
    await chmod(markers, 0o755);
    const dir = await svc(t, [markers]);
    const marker = join(markers, 'crash');
    await writeFile(marker, '');
    const restart = { initialDelayMs: 1, crashloopCount: 3, coolDownMs: 200 };
    const h = host(t, {
      tiers:
        tier === 'thread'
          ? { thread: createThreadTier({ restart }) }
          : { process: createProcessTier({ restart }) },
      tierFor: () => tier,
      config: { svc: { marker } },
    });
    await h.load(dir);
    let looping: VersionStatus | undefined;
    await until('crashloop', () => {
      const v = h.versions()[0];
      if (v?.state === 'crashloop') looping = v;
      return looping !== undefined;
    });
    // The status says why: the crashes its supervisor counted, when it retries, how the instance last exited.
    assert.equal(looping?.crashloop?.crashes, 3);
    assert.ok((looping?.crashloop?.retryAt ?? 0) > Date.now() - 1000, 'retryAt is an epoch ms near now');
    assert.equal(looping?.crashloop?.lastExit?.code, 'PLUGBAY_PLUGIN_CRASHED');
    assert.ok(looping?.crashloop?.lastExit?.message);
    // nothing else can answer: the crash loop itself is the answer (502, details.state), with the retry's time
    const looped = await h.call('svc', 'pid', {}).catch((e: unknown) => e);
    assert.deepEqual(
      [(looped as PlugbayError).code, (looped as PlugbayError).details?.state],
      ['PLUGBAY_PLUGIN_CRASHED', 'crashloop'],
    );
    await rm(marker); // it stops crashing: the next half-open retry sticks
    const stoppedAt = Date.now();
    await until('recovered', () => h.versions()[0]?.state === 'ready');
    // The cool-down doubles with each crash loop in a row: at most 200 × 2^k ms, k small here; generous bound.
    assert.ok(Date.now() - stoppedAt < 5000, `recovered after ${Date.now() - stoppedAt} ms`);
    assert.equal(typeof (await h.call('svc', 'pid', {})), 'string');
    const audit = h.audit({ plugin: 'svc' }).filter((e) => e.action.startsWith('crashloop'));
    assert.deepEqual(audit.map((e) => [e.action, e.version, e.actor, e.details?.by]).reverse(), [
      ['crashloop', '1.0.0', 'host', undefined],
      ['crashloop-exit', '1.0.0', 'host', 'retry'],
    ]);
  });
}

test('activate restarts a crash-looped version at once (no cool-down wait), audited', async (t) => {
  const dir = await svc(t);
  const marker = join(dir, 'crash');
  await writeFile(marker, '');
  const h = host(t, {
    tiers: {
      thread: createThreadTier({
        restart: { initialDelayMs: 1, crashloopCount: 3, coolDownMs: 600_000 },
      }),
    },
    tierFor: () => 'thread',
    config: { svc: { marker } },
  });
  await h.load(dir);
  await until('crashloop', () => h.versions()[0]?.state === 'crashloop');
  await rm(marker);
  await h.activate('svc', '1.0.0', { reason: 'fixed the database' });
  assert.equal(h.versions()[0]?.state, 'ready');
  assert.equal(typeof (await h.call('svc', 'pid', {})), 'string');
  const exit = h.audit({ plugin: 'svc' }).find((e) => e.action === 'crashloop-exit');
  assert.equal(exit?.details?.by, 'activate');
});

test('gateway: 50 calls with x-plugbay-timeout-ms: 1 leave the version ready with its circuit closed (GET /v1/plugins)', async (t) => {
  const dir = await svc(t);
  const h = host(t, {
    tiers: { thread: createThreadTier({ unresponsiveMs: 10, restart: { initialDelayMs: 1 } }) },
    tierFor: () => 'thread',
  });
  await h.load(dir);
  const gateway = createGateway({ host: h, port: 0 });
  t.after(() => gateway.close());
  const { url } = await gateway.listen();
  for (let i = 0; i < 50; i++) {
    const res = await fetch(`${url}/v1/call/svc/busy`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-plugbay-timeout-ms': '1' },
      body: '{"ms":40}',
    });
    const body = (await res.json()) as { error: { code: string; details: { deadline: string } } };
    assert.deepEqual(
      [res.status, body.error.code, body.error.details.deadline],
      [504, 'PLUGBAY_TIMEOUT', 'caller'],
    );
  }
  const plugins = (await (await fetch(`${url}/v1/plugins`)).json()) as {
    plugins: { versions: { state: string; circuit: string }[] }[];
  };
  const [v] = plugins.plugins[0]?.versions ?? [];
  assert.deepEqual([v?.state, v?.circuit], ['ready', 'closed']);
  const ok = await fetch(`${url}/v1/call/svc/busy`, {
    method: 'POST',
    body: '{"ms":1}',
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(ok.status, 200);
});

test('an open circuit: half-open after its cool-down, re-opened for twice as long by a failed probe, closed by activate', async (t) => {
  const root = await tempDir(t);
  const dir = await writePlugin(root, 'svc', {
    manifest: manifest({ name: 'svc', functions: { answer: { input: any, output: any, timeoutMs: 20 } } }),
    files: {
      'index.mjs': `let good = false;
        export default { name: 'svc', version: '1.0.0', functions: {
          answer: { input: {}, output: {}, handler: (input) => { if (input.fix) good = true; return good ? 42 : new Promise(() => {}); } } } };`,
    },
  });
  const h = host(t, {
    tiers: { inline: createInlineTier() },
    tierFor: () => 'inline',
    circuit: { failureThreshold: 2, coolDownMs: 100, maxCoolDownMs: 150 },
  });
  await h.load(dir);
  const circuit = () => h.versions()[0]?.circuit;
  for (let i = 0; i < 2; i++) await assert.rejects(h.call('svc', 'answer', {}), { code: 'PLUGBAY_TIMEOUT' });
  assert.equal(circuit(), 'open');
  // The status says why: two failed calls in a row, the last one's error, and when it half-opens.
  const reason = h.versions()[0]?.circuitReason;
  assert.deepEqual([reason?.failures, reason?.lastError?.code], [2, 'PLUGBAY_TIMEOUT']);
  assert.ok(
    (reason?.until ?? 0) > Date.now() && (reason?.until ?? 0) <= Date.now() + 100,
    `until ${reason?.until}`,
  );
  // (GET /v1/plugins reports it too: gateway/dashboard/dashboard-rollout.test.ts reads it in the browser.)
  await assert.rejects(h.call('svc', 'answer', {}), { code: 'PLUGBAY_NO_INSTANCE' });
  await until('half-open', () => circuit() === 'closed');
  // The half-open probe fails: open again at once, for 150 ms (twice 100, capped).
  await assert.rejects(h.call('svc', 'answer', {}), { code: 'PLUGBAY_TIMEOUT' }); // its own 20 ms
  const reopened = Date.now();
  assert.equal(circuit(), 'open');
  await until('half-open again', () => circuit() === 'closed');
  assert.ok(Date.now() - reopened >= 140, `half-open after ${Date.now() - reopened} ms`);
  await assert.rejects(h.call('svc', 'answer', {}), { code: 'PLUGBAY_TIMEOUT' });
  assert.equal(circuit(), 'open');
  // The operator does not wait: activate closes it.
  await h.activate('svc', '1.0.0', { reason: 'fixed' });
  assert.equal(circuit(), 'closed');
  assert.equal(h.versions()[0]?.circuitReason, undefined);
  assert.equal(await h.call('svc', 'answer', { fix: true }), 42);
});
