import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import type { PlugbayError } from '../core/errors.js';
import { SqliteStateStore } from '../store/sqlite.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { createInlineTier, createThreadTier } from '../tiers/index.js';
import { createHost } from './host.js';
import type { HostOptions, PluginHost } from './types.js';

const quiet = pino({ level: 'silent' });
const any = {};

/** A plugin whose every function says which version answered; `flaky` crashes its worker (thread tier). */
async function writeVersions(root: string, versions: string[], health = 'ok') {
  for (const version of versions) {
    await writePlugin(root, `svc@${version}`, {
      manifest: manifest({
        name: 'svc',
        version,
        functions: {
          who: { input: any, output: any },
          slowWho: { input: any, output: any },
          crash: { input: any, output: any, idempotent: true },
          crashOnce: { input: any, output: any },
        },
      }),
      files: {
        'index.mjs': `export default { name: 'svc', version: '${version}', functions: {
          who: { input: {}, output: {}, handler: () => '${version}' },
          slowWho: { input: {}, output: {}, handler: () => new Promise((r) => setTimeout(() => r('${version}'), 2)) },
          crash: { input: {}, output: {}, handler: () => { if ('${version}' === '2.0.0') process.exit(9); return '${version}'; } },
          crashOnce: { input: {}, output: {}, handler: () => { if ('${version}' === '2.0.0') process.exit(9); return '${version}'; } },
        },
        health: () => ({ status: '${health}' }) };`,
      },
    });
  }
}

function newHost(t: Parameters<typeof tempDir>[0], options: HostOptions = {}): PluginHost {
  const h = createHost({
    logger: quiet,
    tiers: { inline: createInlineTier(), thread: createThreadTier({ restart: { initialDelayMs: 1 } }) },
    ...options,
  });
  t.after(() => h.close());
  return h;
}

test('64 callers, 100 version switches: no failed call, each answered by the version its route revision names', async (t) => {
  const root = await tempDir(t);
  await writeVersions(root, ['1.0.0', '1.1.0']);
  const h = newHost(t, { tierFor: () => 'thread' });
  await h.loadDirectory(root);
  const stableAt = new Map<number, string>();
  const first = await h.activate('svc', '1.0.0');
  stableAt.set(first.revision, '1.0.0');

  let switching = true;
  const failures: unknown[] = [];
  const answers: { version: string; output: unknown; revision: number }[] = [];
  const caller = async (i: number) => {
    while (switching) {
      try {
        const r = await h.callDetailed('svc', 'slowWho', {}, { key: `user-${i}` });
        answers.push({ version: r.version, output: r.output, revision: r.routeRevision });
      } catch (err) {
        failures.push(err);
      }
    }
  };
  const callers = Array.from({ length: 64 }, (_, i) => caller(i));
  for (let i = 0; i < 100; i++) {
    const next = i % 2 === 0 ? '1.1.0' : '1.0.0';
    const r = await h.activate('svc', next, { drainTimeoutMs: 5000 });
    stableAt.set(r.revision, next);
  }
  switching = false;
  await Promise.all(callers);

  assert.deepEqual(failures, []);
  assert.ok(
    answers.length > 1000,
    `expected steady traffic during the switches, got ${answers.length} calls`,
  );
  for (const a of answers) {
    assert.equal(a.output, a.version, 'one version answered the whole call');
    assert.equal(
      a.version,
      stableAt.get(a.revision),
      `revision ${a.revision} routes to ${stableAt.get(a.revision)}`,
    );
  }
  assert.equal(h.versions().length, 1, 'the drained version was released');
});

test('activate then rollback, persisted: a restarted host comes back with the same route and audit log', async (t) => {
  const root = await tempDir(t);
  await writeVersions(root, ['1.0.0', '1.1.0']);
  const file = join(await tempDir(t), '.plugbay', 'state.db');
  {
    const store = new SqliteStateStore({ file });
    const h = newHost(t, { tierFor: () => 'inline', store });
    await h.loadDirectory(root);
    assert.equal(await h.call('svc', 'who', {}), '1.1.0', 'no route: the newest release answers');
    await h.activate('svc', '1.0.0', { actor: 'test', reason: 'pin' });
    assert.equal(await h.call('svc', 'who', {}), '1.0.0');
    await h.activate('svc', '1.1.0');
    const back = await h.rollback('svc', { actor: 'test' });
    assert.deepEqual([back.version, back.previous], ['1.0.0', '1.1.0']);
    assert.equal(await h.call('svc', 'who', {}), '1.0.0');
    await h.close();
    store.close();
  }
  const store = new SqliteStateStore({ file });
  t.after(() => store.close());
  const h = newHost(t, { tierFor: () => 'inline', store });
  await h.loadDirectory(root);
  assert.deepEqual(h.route('svc'), { stable: '1.0.0' });
  assert.equal(await h.call('svc', 'who', {}), '1.0.0');
  const actions = h.audit({ plugin: 'svc' }).map((e) => `${e.action} ${e.version}`);
  assert.deepEqual(actions.slice(0, 3), ['rollback 1.0.0', 'activate 1.1.0', 'activate 1.0.0']);
});

test('the first rollback returns to the version that answered by default before the first activation', async (t) => {
  const root = await tempDir(t);
  await writeVersions(root, ['1.0.0', '1.1.0']);
  const h = newHost(t, { tierFor: () => 'inline' });
  await h.loadDirectory(root);
  await h.activate('svc', '1.0.0');
  assert.equal((await h.rollback('svc')).version, '1.1.0');
  await assert.rejects(h.rollback('svc'), { code: 'PLUGBAY_INVALID_ARGUMENT' });
});

test('an unhealthy version is not activated: nothing switches, and the error says why', async (t) => {
  const root = await tempDir(t);
  await writeVersions(root, ['1.0.0']);
  await writeVersions(root, ['1.1.0'], 'failing');
  const h = newHost(t, { tierFor: () => 'inline' });
  await h.loadDirectory(root);
  await h.activate('svc', '1.0.0');
  await assert.rejects(h.activate('svc', '1.1.0'), { code: 'PLUGBAY_START_FAILED', version: '1.1.0' });
  assert.deepEqual(h.route('svc'), { stable: '1.0.0' });
  assert.equal(await h.call('svc', 'who', {}), '1.0.0');
  await assert.rejects(h.activate('svc', '9.9.9'), { code: 'PLUGBAY_VERSION_NOT_LOADED' });
});

test('bad routes are refused with the field named and change nothing', async (t) => {
  const root = await tempDir(t);
  await writeVersions(root, ['1.0.0', '1.1.0']);
  const h = newHost(t, { tierFor: () => 'inline' });
  await h.loadDirectory(root);
  await h.setRoute('svc', { stable: '1.0.0' });
  const cases: [unknown, string, string][] = [
    [{ stable: '3.0.0' }, 'PLUGBAY_VERSION_NOT_LOADED', 'stable'],
    [
      { stable: '1.0.0', canary: { version: '1.1.0', percent: 150 } },
      'PLUGBAY_INVALID_ARGUMENT',
      'canary.percent',
    ],
    [
      {
        stable: '1.0.0',
        experiments: [
          { name: 'x', variants: { A: '1.0.0', B: '1.1.0' } },
          { name: 'x', variants: { A: '1.0.0', B: '1.1.0' } },
        ],
      },
      'PLUGBAY_INVALID_ARGUMENT',
      'experiments.1.name',
    ],
    ['not an object', 'PLUGBAY_INVALID_ARGUMENT', '(root)'],
  ];
  for (const [route, code, field] of cases) {
    await assert.rejects(h.setRoute('svc', route), (e: PlugbayError) => {
      assert.equal(e.code, code);
      const problems = e.details?.problems as { field: string }[];
      assert.ok(
        problems.some((p) => p.field === field),
        `${field} in ${JSON.stringify(problems)}`,
      );
      return true;
    });
  }
  assert.deepEqual(h.route('svc'), { stable: '1.0.0' });
  assert.equal(h.audit({ plugin: 'svc' }).length, 1);
});

test('a 10 % canary takes 9–11 % of 10 000 keys, stickily; a 50/50 experiment splits within ±2', async (t) => {
  const root = await tempDir(t);
  await writeVersions(root, ['1.0.0', '1.1.0']);
  const h = newHost(t, { tierFor: () => 'inline' });
  await h.loadDirectory(root);
  await h.setRoute('svc', { stable: '1.0.0', canary: { version: '1.1.0', percent: 10 } });
  const first = new Map<string, string>();
  let canary = 0;
  for (let i = 0; i < 10_000; i++) {
    const r = await h.callDetailed('svc', 'who', {}, { key: `k${i}` });
    first.set(`k${i}`, r.version);
    if (r.arm === 'canary') canary++;
  }
  assert.ok(canary >= 900 && canary <= 1100, `canary got ${canary}`);
  for (let i = 0; i < 1000; i++)
    assert.equal(await h.call('svc', 'who', {}, { key: `k${i}` }), first.get(`k${i}`));

  await h.setRoute('svc', {
    stable: '1.0.0',
    experiments: [{ name: 'ab', variants: { A: '1.0.0', B: '1.1.0' } }],
  });
  let b = 0;
  for (let i = 0; i < 10_000; i++)
    if ((await h.callDetailed('svc', 'who', {}, { key: `k${i}` })).arm === 'experiment:ab:B') b++;
  assert.ok(b >= 4800 && b <= 5200, `variant B got ${b}`);
});

test('a version whose calls keep crashing opens its circuit and calls fall back', async (t) => {
  const root = await tempDir(t);
  await writeVersions(root, ['1.0.0', '2.0.0']);
  const h = newHost(t, { tierFor: () => 'thread', circuit: { failureThreshold: 2, coolDownMs: 60_000 } });
  await h.loadDirectory(root);
  await h.setRoute('svc', { stable: '2.0.0', fallback: ['1.0.0'] });
  for (let i = 0; i < 2; i++)
    await assert.rejects(h.call('svc', 'crashOnce', {}), { code: 'PLUGBAY_PLUGIN_CRASHED' });
  const r = await h.callDetailed('svc', 'who', {});
  assert.deepEqual([r.version, r.arm], ['1.0.0', 'fallback']);
  assert.equal(h.versions().find((v) => v.version === '2.0.0')?.circuit, 'open');
});

test('an idempotent function is retried once on the fallback when its instance dies mid-call', async (t) => {
  const root = await tempDir(t);
  await writeVersions(root, ['1.0.0', '2.0.0']);
  const h = newHost(t, { tierFor: () => 'thread' });
  await h.loadDirectory(root);
  await h.setRoute('svc', { stable: '2.0.0', fallback: ['1.0.0'] });
  const r = await h.callDetailed('svc', 'crash', {});
  assert.deepEqual([r.output, r.arm], ['1.0.0', 'fallback']);
  await assert.rejects(h.call('svc', 'crashOnce', {}), { code: 'PLUGBAY_PLUGIN_CRASHED', retryable: true });
});
