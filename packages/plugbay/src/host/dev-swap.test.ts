import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import type { PlugbayError } from '../core/errors.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { createThreadTier } from '../tiers/index.js';
import { createHost } from './host.js';
import { createWatcher } from './watch.js';

const quiet = pino({ level: 'silent' });
const any = {};

/** svc@1.0.0 whose functions answer `answer` (slowWho after a timer, so calls are in flight at each swap). */
function code(answer: string): string {
  return `export default { name: 'svc', version: '1.0.0', functions: {
    who: { input: {}, output: {}, handler: () => '${answer}' },
    slowWho: { input: {}, output: {}, handler: () => new Promise((r) => setTimeout(() => r('${answer}'), 2)) },
  } };`;
}

async function writeSvc(root: string, answer: string): Promise<string> {
  return writePlugin(root, 'svc', {
    manifest: manifest({
      name: 'svc',
      version: '1.0.0',
      functions: { who: { input: any, output: any }, slowWho: { input: any, output: any } },
    }),
    files: { 'index.mjs': code(answer) },
  });
}

function newHost(t: Parameters<typeof tempDir>[0]) {
  const h = createHost({ logger: quiet, tiers: { thread: createThreadTier() }, tierFor: () => 'thread' });
  t.after(() => h.close());
  return h;
}

test('replaceInPlace: 16 callers, 8 rebuilds of the same version swapped in: no failed call, each swap answers at once', async (t) => {
  const root = await tempDir(t);
  const dir = await writeSvc(root, 'build-0');
  const h = newHost(t);
  const first = await h.load(dir);

  let running = true;
  const failures: unknown[] = [];
  let answered = 0;
  const caller = async () => {
    while (running) {
      try {
        await h.call('svc', 'slowWho', {});
        answered++;
      } catch (err) {
        failures.push(err);
      }
    }
  };
  const callers = Array.from({ length: 16 }, () => caller());
  const digests = new Set([first.digest]);
  for (let i = 1; i <= 8; i++) {
    await writeFile(join(dir, 'index.mjs'), code(`build-${i}`));
    const swapped = await h.replaceInPlace(dir);
    assert.ok(swapped !== undefined, `rebuild ${i} was swapped in`);
    digests.add(swapped.digest);
    // The switch happened before the old instance drained: the next call is the new build's.
    assert.equal(await h.call('svc', 'who', {}), `build-${i}`);
  }
  running = false;
  await Promise.all(callers);
  assert.deepEqual(failures, []);
  assert.ok(answered > 0);
  assert.equal(digests.size, 9, 'every rebuild is other bytes under svc@1.0.0');
  const versions = h.versions().filter((v) => v.plugin === 'svc');
  assert.equal(versions.length, 1, 'one svc@1.0.0, not one per build');
  assert.equal(versions[0]?.tier, first.tier, 'the swap keeps the tier');
  assert.equal(versions[0]?.state, 'ready');
});

test('replaceInPlace: the same bytes do nothing; bytes that do not load leave the running instance serving', async (t) => {
  const root = await tempDir(t);
  const dir = await writeSvc(root, 'good');
  const h = newHost(t);
  await h.load(dir);
  assert.equal(await h.replaceInPlace(dir), undefined);

  await writeFile(join(dir, 'index.mjs'), 'export default { this is not javascript');
  await assert.rejects(h.replaceInPlace(dir), (err: PlugbayError) => err.code === 'PLUGBAY_LOAD_FAILED');
  assert.equal(await h.call('svc', 'who', {}), 'good');
  assert.equal(h.versions().filter((v) => v.plugin === 'svc').length, 1);

  const other = await tempDir(t);
  await assert.rejects(
    h.replaceInPlace(
      await writeSvc(other, 'x').then(async (d) => {
        await writeFile(
          join(d, 'plugin.json'),
          JSON.stringify(
            manifest({ name: 'nobody', version: '1.0.0', functions: { who: { input: any, output: any } } }),
          ),
        );
        return d;
      }),
    ),
    (err: PlugbayError) => err.code === 'PLUGBAY_UNKNOWN_PLUGIN',
  );
});

test('versions stay immutable without replaceInPlace: load() and a plain watcher refuse the rebuild', async (t) => {
  const root = await tempDir(t);
  const dir = await writeSvc(root, 'one');
  const h = newHost(t);
  let now = 0;
  const plain = createWatcher({ host: h, dir: root, watch: false, settleMs: 10, now: () => now });
  t.after(() => plain.close());
  await plain.start();
  await writeFile(join(dir, 'index.mjs'), code('two'));
  await assert.rejects(h.load(dir), (err: PlugbayError) => err.details?.rule === 'modified');
  await plain.scan();
  now += 100;
  const report = await plain.scan();
  assert.deepEqual(report.modified, [dir]);
  assert.deepEqual(report.replaced, []);
  assert.equal(await h.call('svc', 'who', {}), 'one');
});

test('a dev watcher (replaceInPlace) swaps a rebuilt folder once its build says it is done, without waiting to settle', async (t) => {
  const root = await tempDir(t);
  const dir = await writeSvc(root, 'one');
  const h = newHost(t);
  const now = 0; // the clock never moves: only built() makes the folder settled
  const dev = createWatcher({
    host: h,
    dir: root,
    watch: false,
    settleMs: 1000,
    now: () => now,
    replaceInPlace: true,
  });
  t.after(() => dev.close());
  await dev.start();
  await writeFile(join(dir, 'index.mjs'), code('two'));
  assert.deepEqual((await dev.scan()).replaced, []);
  assert.equal(await h.call('svc', 'who', {}), 'one');
  assert.deepEqual((await dev.built(dir)).replaced, ['svc@1.0.0']);
  assert.equal(await h.call('svc', 'who', {}), 'two');
  // Later rebuilds swap again (the folder is tracked as loaded again).
  await writeFile(join(dir, 'index.mjs'), code('three!'));
  assert.deepEqual((await dev.built(dir)).replaced, ['svc@1.0.0']);
  assert.equal(await h.call('svc', 'who', {}), 'three!');
});
