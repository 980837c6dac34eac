// The directory watcher, driven by explicit scan() calls and a test clock: no sleeps decide what settles.
import assert from 'node:assert/strict';
import { appendFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { pino } from 'pino';
import type { PlugbayError } from '../core/errors.js';
import { MemoryStateStore } from '../store/memory.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { createThreadTier } from '../tiers/index.js';
import { createHost } from './host.js';
import type { PluginHost } from './types.js';
import { createWatcher, parseRolloutPolicy, type RolloutPolicy } from './watch.js';

const quiet = pino({ level: 'silent' });
const any = {};
const settleMs = 1_000;

function svcManifest(version: string) {
  return manifest({
    name: 'svc',
    version,
    functions: { who: { input: any, output: any }, slow: { input: any, output: any } },
  });
}

function svcSource(version: string): string {
  return `export default { name: 'svc', version: '${version}', functions: {
    who: { input: {}, output: {}, handler: () => '${version}' },
    slow: { input: {}, output: {}, handler: () => new Promise((r) => setTimeout(() => r('${version}'), 150)) },
  } };\n`;
}

async function writeSvc(root: string, version: string): Promise<string> {
  return writePlugin(root, `svc@${version}`, {
    manifest: svcManifest(version),
    files: { 'index.mjs': svcSource(version) },
  });
}

/** A host on the thread tier, a watcher with a test clock and no fs.watch, and the store for its audit. */
async function setup(t: TestContext, versions: string[], policy: RolloutPolicy = { kind: 'manual' }) {
  const root = await tempDir(t);
  for (const v of versions) await writeSvc(root, v);
  const store = new MemoryStateStore();
  const host: PluginHost = createHost({
    logger: quiet,
    store,
    tierFor: () => 'thread',
    tiers: { thread: createThreadTier() },
  });
  let clock = 0;
  const watcher = createWatcher({
    host,
    dir: root,
    policy,
    settleMs,
    watch: false,
    logger: quiet,
    now: () => clock,
    audit: (e) => store.record(e),
  });
  t.after(async () => {
    await watcher.close();
    await host.close();
  });
  const report = await watcher.start();
  const advance = (ms: number) => {
    clock += ms;
  };
  const loaded = () =>
    host
      .versions()
      .map((v) => v.version)
      .sort();
  return { root, host, watcher, store, report, advance, loaded };
}

test('a slowly copied version (manifest first, then the code in parts) loads only once its files settle', async (t) => {
  const { root, watcher, advance, loaded, host } = await setup(t, ['1.0.0']);
  const dir = join(root, 'svc@1.1.0');
  await mkdir(dir);
  // Half a manifest: not JSON yet.
  const text = JSON.stringify(svcManifest('1.1.0'));
  await writeFile(join(dir, 'plugin.json'), text.slice(0, 40));
  let report = await watcher.scan();
  assert.deepEqual(report.pending, [dir]);
  await writeFile(join(dir, 'plugin.json'), text);
  advance(settleMs - 1);
  report = await watcher.scan(); // changed since the last scan: the settle time starts again
  assert.deepEqual(report.pending, [dir]);
  const source = svcSource('1.1.0');
  await writeFile(join(dir, 'index.mjs'), source.slice(0, 30));
  advance(settleMs);
  report = await watcher.scan();
  assert.deepEqual(
    report.pending,
    [dir],
    'a file still growing is not loaded, however long ago the copy began',
  );
  await appendFile(join(dir, 'index.mjs'), source.slice(30));
  advance(settleMs);
  report = await watcher.scan();
  assert.deepEqual(report.pending, [dir]);
  assert.deepEqual(loaded(), ['1.0.0']);

  advance(settleMs - 1);
  report = await watcher.scan();
  assert.deepEqual(report.pending, [dir], 'not yet settleMs since the last change');
  advance(1);
  report = await watcher.scan();
  assert.deepEqual(report.loaded, ['svc@1.1.0']);
  assert.deepEqual(report.pending, []);
  assert.deepEqual(loaded(), ['1.0.0', '1.1.0']);
  // Manual rollout: the newcomer is loaded, not routed.
  assert.equal(await host.call('svc', 'who', {}, { key: 'k' }), '1.0.0');
});

test('a settled directory that is not a plugin is reported once and retried when it changes', async (t) => {
  const { root, watcher, advance, loaded } = await setup(t, ['1.0.0']);
  const dir = join(root, 'svc@1.2.0');
  await writePlugin(root, 'svc@1.2.0', { manifest: svcManifest('1.2.0') }); // no code: entry missing
  await watcher.scan();
  advance(settleMs);
  let report = await watcher.scan();
  assert.deepEqual(report.failed, [dir]);
  advance(settleMs);
  report = await watcher.scan();
  assert.deepEqual(report.failed, [], 'unchanged: not retried');
  await writeFile(join(dir, 'index.mjs'), svcSource('1.2.0'));
  await watcher.scan();
  advance(settleMs);
  report = await watcher.scan();
  assert.deepEqual(report.loaded, ['svc@1.2.0']);
  assert.deepEqual(loaded(), ['1.0.0', '1.2.0']);
});

test('manual: the current stable is pinned first, so a higher version dropped in does not take over', async (t) => {
  const { root, host, watcher, advance, store } = await setup(t, ['1.0.0']);
  assert.equal(host.route('svc'), undefined);
  await writeSvc(root, '2.0.0');
  await watcher.scan();
  advance(settleMs);
  assert.deepEqual((await watcher.scan()).loaded, ['svc@2.0.0']);
  assert.deepEqual(host.route('svc'), { stable: '1.0.0' });
  for (let i = 0; i < 50; i++) assert.equal(await host.call('svc', 'who', {}, { key: `k${i}` }), '1.0.0');
  const pin = store.audit({ plugin: 'svc' }).find((e) => e.action === 'route');
  assert.equal(pin?.actor, 'watcher');
  assert.match(pin?.reason ?? '', /pinned the current stable 1\.0\.0/);
  assert.ok(store.audit({ plugin: 'svc' }).some((e) => e.action === 'load' && e.version === '2.0.0'));
  // It is there for an operator to activate.
  await host.activate('svc', '2.0.0');
  assert.equal(await host.call('svc', 'who', {}), '2.0.0');
});

test('activate: a new version dropped in becomes the stable and the old one is drained', async (t) => {
  const { root, host, watcher, advance, loaded, store } = await setup(
    t,
    ['1.0.0'],
    parseRolloutPolicy('activate'),
  );
  await writeSvc(root, '1.1.0');
  await watcher.scan();
  advance(settleMs);
  assert.deepEqual((await watcher.scan()).loaded, ['svc@1.1.0']);
  assert.equal(host.route('svc')?.stable, '1.1.0');
  assert.deepEqual(loaded(), ['1.1.0'], 'the previous stable was drained and released');
  assert.equal(await host.call('svc', 'who', {}), '1.1.0');
  const activation = store
    .audit({ plugin: 'svc' })
    .find((e) => e.action === 'activate' && e.version === '1.1.0');
  assert.equal(activation?.actor, 'watcher');
  // The first version of a plugin is just loaded: it answers by default.
  await writePlugin(root, 'other@1.0.0', {
    manifest: manifest({ name: 'other', version: '1.0.0', functions: { who: { input: any, output: any } } }),
    files: { 'index.mjs': svcSource('1.0.0').replace("name: 'svc'", "name: 'other'") },
  });
  await watcher.scan();
  advance(settleMs);
  assert.deepEqual((await watcher.scan()).loaded, ['other@1.0.0']);
  assert.equal(host.route('other'), undefined);
  assert.equal(await host.call('other', 'who', {}), '1.0.0');
});

test('canary:25: a new version becomes a 25 % canary beside the current stable', async (t) => {
  const { root, host, watcher, advance } = await setup(t, ['1.0.0'], parseRolloutPolicy('canary:25'));
  await writeSvc(root, '1.1.0');
  await watcher.scan();
  advance(settleMs);
  assert.deepEqual((await watcher.scan()).loaded, ['svc@1.1.0']);
  assert.deepEqual(host.route('svc'), { stable: '1.0.0', canary: { version: '1.1.0', percent: 25 } });
  let canary = 0;
  for (let i = 0; i < 400; i++)
    if ((await host.call('svc', 'who', {}, { key: `user-${i}` })) === '1.1.0') canary++;
  assert.ok(canary > 60 && canary < 140, `about a quarter of 400 keys go to the canary, got ${canary}`);
});

test('a removed version is drained: its in-flight call completes, then it is unloaded', async (t) => {
  const { root, host, watcher, loaded, store } = await setup(t, ['1.0.0', '1.1.0']);
  const inflight = host.call('svc', 'slow', {}, { version: '1.0.0' });
  assert.equal(host.versions().find((v) => v.version === '1.0.0')?.inflight, 1);
  await rm(join(root, 'svc@1.0.0'), { recursive: true });
  const report = await watcher.scan();
  assert.deepEqual(report.unloaded, ['svc@1.0.0']);
  assert.equal(await inflight, '1.0.0', 'the call in flight finished on the version being removed');
  assert.deepEqual(loaded(), ['1.1.0']);
  assert.ok(store.audit({ plugin: 'svc' }).some((e) => e.action === 'unload' && e.version === '1.0.0'));
});

test('rollout policies parse; bad ones are refused naming the rule', () => {
  assert.deepEqual(parseRolloutPolicy('canary:5'), { kind: 'canary', percent: 5 });
  assert.deepEqual(parseRolloutPolicy('manual'), { kind: 'manual' });
  for (const bad of ['canary:0', 'canary:101', 'canary:', 'canary:5.5', 'auto', '']) {
    assert.throws(() => parseRolloutPolicy(bad), { code: 'PLUGBAY_INVALID_ARGUMENT' }, bad);
  }
});

test('bad watcher options are refused together, each named', () => {
  assert.throws(
    () =>
      createWatcher({ host: {} as PluginHost, dir: '', settleMs: -1, intervalMs: 5, watch: 'yes' as never }),
    (e: PlugbayError) =>
      e.code === 'PLUGBAY_INVALID_ARGUMENT' &&
      (e.details?.problems as string[] | undefined)?.length === 5 &&
      /options\.host .*options\.dir .*options\.settleMs .*options\.intervalMs .*options\.watch/.test(
        e.message,
      ),
  );
});

test('fs.watch triggers a scan: a version dropped in is loaded without calling scan()', async (t) => {
  const root = await tempDir(t);
  await writeSvc(root, '1.0.0');
  const host = createHost({ logger: quiet, tierFor: () => 'thread', tiers: { thread: createThreadTier() } });
  const loadedLines: string[] = [];
  let onLoaded: () => void = () => {};
  const seen = new Promise<void>((resolve) => {
    onLoaded = resolve;
  });
  const logger = pino(
    { level: 'info' },
    {
      write: (line: string) => {
        const { msg } = JSON.parse(line) as { msg: string };
        if (msg.startsWith('watcher: loaded')) {
          loadedLines.push(msg);
          onLoaded();
        }
      },
    },
  );
  // A long interval: only the fs.watch trigger (and the settle re-check it schedules) can find it in time.
  const watcher = createWatcher({ host, dir: root, settleMs: 20, intervalMs: 60_000, logger });
  t.after(async () => {
    await watcher.close();
    await host.close();
  });
  await watcher.start();
  await writeSvc(root, '1.1.0');
  await seen;
  assert.deepEqual(loadedLines, ['watcher: loaded svc@1.1.0']);
  assert.deepEqual(
    host
      .versions()
      .map((v) => v.version)
      .sort(),
    ['1.0.0', '1.1.0'],
  );
});

test('node_modules and .git are not watched: a version whose node_modules keeps changing settles, loads, and stays', async (t) => {
  const { root, watcher, advance, loaded, host } = await setup(t, ['1.0.0']);
  const dir = await writeSvc(root, '1.1.0');
  const churn = async (i: number) => {
    await mkdir(join(dir, 'node_modules', 'dep'), { recursive: true });
    await writeFile(join(dir, 'node_modules', 'dep', `f${i}.js`), `${i}`);
    await mkdir(join(dir, '.git'), { recursive: true });
    await writeFile(join(dir, '.git', 'index'), `${i}`);
  };
  await churn(0);
  assert.deepEqual((await watcher.scan()).pending, [dir]);
  advance(settleMs);
  await churn(1);
  assert.deepEqual((await watcher.scan()).loaded, ['svc@1.1.0']);
  assert.deepEqual(loaded(), ['1.0.0', '1.1.0']);
  await churn(2);
  advance(settleMs);
  await watcher.scan();
  assert.deepEqual(host.diagnostics(), [], 'a node_modules change is no change of the version');
});

test('a version bump in the same folder (a rebuild) loads as a new version: activate makes it stable and unloads the old', async (t) => {
  const { root, host, watcher, advance, loaded } = await setup(t, ['1.0.0'], parseRolloutPolicy('activate'));
  const folder = join(root, 'svc@1.0.0');
  await writeFile(join(folder, 'plugin.json'), JSON.stringify(svcManifest('1.0.1')));
  await writeFile(join(folder, 'index.mjs'), svcSource('1.0.1'));
  await watcher.scan();
  advance(settleMs);
  const report = await watcher.scan();
  assert.deepEqual(report.loaded, ['svc@1.0.1']);
  assert.deepEqual(report.unloaded, ['svc@1.0.0']);
  assert.deepEqual(report.modified, []);
  assert.equal(host.route('svc')?.stable, '1.0.1');
  assert.deepEqual(loaded(), ['1.0.1']);
  assert.equal(await host.call('svc', 'who', {}), '1.0.1');
  // Its folder changes again under the same version: that is refused (versions are immutable) and reported.
  await appendFile(join(folder, 'index.mjs'), '// edited\n');
  await watcher.scan();
  advance(settleMs);
  assert.deepEqual((await watcher.scan()).modified, [folder]);
  assert.equal(await host.call('svc', 'who', {}), '1.0.1');
});

test('manual: a version bump in the same folder loads beside the pinned stable, which stays loaded', async (t) => {
  const { root, host, watcher, advance, loaded } = await setup(t, ['1.0.0']);
  const folder = join(root, 'svc@1.0.0');
  await writeFile(join(folder, 'plugin.json'), JSON.stringify(svcManifest('1.0.1')));
  await writeFile(join(folder, 'index.mjs'), svcSource('1.0.1'));
  await watcher.scan();
  advance(settleMs);
  assert.deepEqual((await watcher.scan()).loaded, ['svc@1.0.1']);
  assert.equal(host.route('svc')?.stable, '1.0.0');
  assert.deepEqual(loaded(), ['1.0.0', '1.0.1']);
  assert.equal(await host.call('svc', 'who', {}), '1.0.0');
});
