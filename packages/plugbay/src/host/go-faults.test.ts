// A real go-plugin binary (examples/go-plugins/faulty) failing through the host and the gateway: what a caller and
// an operator get for a start that never hand-shakes and for a crash loop (docs/process-tier.md, choosing-a-tier.md).
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import fs from 'node:fs';
import { type TestContext, test } from 'node:test';
import { pino } from 'pino';
import type { PlugbayError } from '../core/errors.js';
import { createGateway } from '../gateway/server.js';
import { channelNames } from '../observe/channels.js';
import { MemoryStateStore } from '../store/memory.js';
import { createProcessTier } from '../tiers/index.js';
import { faultyGoPlugin, goSkip, tempRoot } from '../tiers/process/test-helpers.js';
import { createHost } from './host.js';
import type { HostOptions, PluginHost } from './types.js';
import { createWatcher } from './watch.js';

function root(t: TestContext): string {
  const dirs = tempRoot();
  fs.chmodSync(dirs.root, 0o755); // the sandboxed plugin's uid reads its folder
  t.after(() => dirs.cleanup());
  return dirs.root;
}

function host(t: TestContext, options: HostOptions): PluginHost {
  const h = createHost({ logger: pino({ level: 'silent' }), ...options });
  t.after(() => h.close());
  return h;
}

/** The messages published on `channel` while the test runs, and a way to wait for the next that matches. */
function listen(t: TestContext, channel: string) {
  const seen: Record<string, unknown>[] = [];
  const waiting: { test(m: Record<string, unknown>): boolean; resolve(): void }[] = [];
  const on = (m: unknown): void => {
    const msg = m as Record<string, unknown>;
    seen.push(msg);
    for (const w of [...waiting])
      if (w.test(msg)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve();
      }
  };
  subscribe(channel, on);
  t.after(() => unsubscribe(channel, on));
  return {
    seen,
    next: (test: (m: Record<string, unknown>) => boolean) =>
      new Promise<void>((resolve) => waiting.push({ test, resolve })),
  };
}

const crash = (h: PluginHost) => h.call('go-faulty', 'Get', { key: 'crash' }).catch((e: unknown) => e);

test('the host start timeout keeps the stray stdout and the stderr tail (tier timeout left at its default)', {
  skip: goSkip,
}, async (t) => {
  const h = host(t, { tiers: { process: createProcessTier() }, startTimeoutMs: 3000 });
  const err = (await h.load(faultyGoPlugin(root(t), 'garbage').dir).catch((e: unknown) => e)) as PlugbayError;
  assert.equal(err.code, 'PLUGBAY_START_FAILED');
  assert.equal(err.details?.rule, 'start-timeout');
  assert.equal(err.details?.timeoutMs, 3000);
  assert.deepEqual(err.details?.strayStdout, [
    'hello from a Go plugin that prints before its handshake',
    '{"not":"a handshake"}',
  ]);
  assert.deepEqual(err.details?.stderrTail, ['faulty: loading the config took a wrong turn']);
  assert.match(err.message, /did not start within 3000 ms/);
  assert.match(err.message, /2 stray stdout lines/);
});

test('a crash-looped Go plugin: 502 PLUGBAY_PLUGIN_CRASHED with details.state "crashloop", audited, activate recovers', {
  skip: goSkip,
}, async (t) => {
  const store = new MemoryStateStore();
  const h = host(t, {
    store,
    tiers: {
      process: createProcessTier({ restart: { initialDelayMs: 1, crashloopCount: 2, coolDownMs: 600_000 } }),
    },
  });
  await h.load(faultyGoPlugin(root(t), 'serve').dir);
  const loops = listen(t, channelNames.crashloop);
  const restarts = listen(t, channelNames.restart);
  const restarted = restarts.next(() => true);
  await crash(h);
  await restarted;
  const entered = loops.next((m) => m.crashloop === 'entered');
  await crash(h);
  await entered;
  assert.equal(h.versions()[0]?.state, 'crashloop');

  const gateway = createGateway({ host: h, port: 0 });
  t.after(() => gateway.close());
  const { url } = await gateway.listen();
  const res = await fetch(`${url}/v1/call/go-faulty/Get`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"key":"k"}',
  });
  const body = (await res.json()) as {
    error: {
      code: string;
      version: string;
      details: { state: string; retryInMs: number; skipped: unknown[] };
    };
  };
  assert.equal(res.status, 502);
  assert.equal(body.error.code, 'PLUGBAY_PLUGIN_CRASHED');
  assert.equal(body.error.version, '1.0.0');
  assert.equal(body.error.details.state, 'crashloop');
  assert.ok(body.error.details.retryInMs > 0 && body.error.details.retryInMs <= 600_000);
  // no route: the default (the newest release) was the choice; the entry names it and its state
  assert.deepEqual(body.error.details.skipped, [
    { arm: 'stable', version: '1.0.0', why: 'unavailable', state: 'crashloop' },
  ]);
  assert.ok(res.headers.get('retry-after') !== null, 'the caller is told to come back later');

  const audit = (await (await fetch(`${url}/v1/audit?plugin=go-faulty`)).json()) as {
    entries: { action: string; version: string; actor: string; details?: Record<string, unknown> }[];
  };
  const loop = audit.entries.find((e) => e.action === 'crashloop');
  assert.equal(loop?.version, '1.0.0');
  assert.equal(loop?.details?.code, 'PLUGBAY_PLUGIN_CRASHED');
  assert.equal(loop?.details?.crashes, 2);
  assert.equal(typeof loop?.details?.retryInMs, 'number');

  const left = loops.next((m) => m.crashloop === 'left');
  await h.activate('go-faulty', '1.0.0', { reason: 'fixed the config' });
  await left;
  assert.equal(loops.seen.at(-1)?.by, 'activate');
  const value = Buffer.from('v').toString('base64');
  assert.deepEqual(await h.call('go-faulty', 'Put', { key: 'k', value }), {});
  const exit = h.audit({ plugin: 'go-faulty' }).find((e) => e.action === 'crashloop-exit');
  assert.equal(exit?.details?.by, 'activate');
});

test('a crash-looped Go plugin comes back by itself after the cool-down: both ends audited', {
  skip: goSkip,
}, async (t) => {
  const h = host(t, {
    tiers: {
      process: createProcessTier({ restart: { initialDelayMs: 1, crashloopCount: 2, coolDownMs: 20 } }),
    },
  });
  await h.load(faultyGoPlugin(root(t), 'serve').dir);
  const loops = listen(t, channelNames.crashloop);
  const restarted = listen(t, channelNames.restart).next(() => true);
  await crash(h);
  await restarted;
  const left = loops.next((m) => m.crashloop === 'left');
  await crash(h);
  await left; // entered, then the half-open retry after 20 ms stuck
  assert.deepEqual(
    loops.seen.map((m) => [m.crashloop, m.by]),
    [
      ['entered', undefined],
      ['left', 'retry'],
    ],
  );
  assert.equal(h.versions()[0]?.state, 'ready');
  const audit = h
    .audit({ plugin: 'go-faulty' })
    .filter((e) => e.action.startsWith('crashloop'))
    .map((e) => [e.action, e.details?.by])
    .reverse();
  assert.deepEqual(audit, [
    ['crashloop', undefined],
    ['crashloop-exit', 'retry'],
  ]);
});

test('the starting set a watcher (plugbay serve) loads is audited like any later load', async (t) => {
  const dir = root(t);
  const plugin = faultyGoPlugin(dir, 'serve');
  const store = new MemoryStateStore();
  const h = host(t, { store, tiers: { process: createProcessTier() } });
  const watcher = createWatcher({
    host: h,
    dir,
    watch: false,
    logger: pino({ level: 'silent' }),
    audit: (e) => store.record(e), // as plugbay serve does (cli/commands/serve-rollout.ts)
  });
  t.after(() => watcher.close());
  const report = await watcher.start();
  assert.deepEqual(
    report.loaded.map((v) => v.plugin),
    ['go-faulty'],
  );
  const loads = h.audit({ plugin: 'go-faulty' }).filter((e) => e.action === 'load');
  assert.deepEqual(
    loads.map((e) => [e.actor, e.version, e.details?.dir]),
    [['watcher', '1.0.0', plugin.dir]],
  );
});
