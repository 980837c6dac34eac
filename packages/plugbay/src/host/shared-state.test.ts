// host.refreshRoutes: two hosts on one store (as gateways on one PostgreSQL are), one changes a route, the other
// applies it when told, without writing anything itself.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { pino } from 'pino';
import { MemoryStateStore } from '../store/memory.js';
import type { StateStore } from '../store/types.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { createMemoryTier } from '../testing/memory-tier.js';
import { createHost } from './host.js';
import type { PluginHost } from './types.js';

const any = {};

async function svcHost(t: TestContext, store: StateStore, root: string): Promise<PluginHost> {
  const versions = ['1.0.0', '1.1.0'];
  const tier = createMemoryTier({
    plugins: Object.fromEntries(versions.map((v) => [`svc@${v}`, { who: () => v }])),
  });
  const h = createHost({ logger: pino({ level: 'silent' }), tiers: { thread: tier }, store });
  t.after(() => h.close());
  for (const version of versions) await h.load(`${root}/svc@${version}`);
  return h;
}

test('a route another host stored is applied by refreshRoutes, once; a deleted one returns to the default', async (t) => {
  const root = await tempDir(t);
  for (const version of ['1.0.0', '1.1.0']) {
    await writePlugin(root, `svc@${version}`, {
      manifest: manifest({ name: 'svc', version, functions: { who: { input: any, output: any } } }),
      files: { 'index.mjs': '// never run: the memory tier answers\n' },
    });
  }
  const store = new MemoryStateStore();
  t.after(() => store.close());
  const a = await svcHost(t, store, root);
  const b = await svcHost(t, store, root);
  // No route: the newest ready release answers on both.
  assert.equal(await b.call('svc', 'who', {}), '1.1.0');

  await a.setRoute('svc', { stable: '1.0.0', fallback: ['1.1.0'] });
  assert.equal(await b.call('svc', 'who', {}), '1.1.0', 'b has not been told yet');
  const audited = store.audit().length;
  assert.deepEqual(b.refreshRoutes('svc'), ['svc']);
  assert.equal(await b.call('svc', 'who', {}), '1.0.0');
  assert.deepEqual(b.route('svc'), { stable: '1.0.0', fallback: ['1.1.0'] });
  assert.deepEqual(b.refreshRoutes(), [], 'nothing changed since');
  assert.equal(store.audit().length, audited, 'refreshing writes nothing');

  store.commit({
    route: { plugin: 'svc', route: null },
    audit: { actor: 'test', action: 'route', plugin: 'svc' },
  });
  assert.deepEqual(b.refreshRoutes(), ['svc']);
  assert.equal(b.route('svc'), undefined);
  assert.equal(await b.call('svc', 'who', {}), '1.1.0');
});

test('an invalid stored route is not applied: the last good one stays', async (t) => {
  const root = await tempDir(t);
  for (const version of ['1.0.0', '1.1.0']) {
    await writePlugin(root, `svc@${version}`, {
      manifest: manifest({ name: 'svc', version, functions: { who: { input: any, output: any } } }),
      files: { 'index.mjs': '// never run: the memory tier answers\n' },
    });
  }
  const store = new MemoryStateStore();
  t.after(() => store.close());
  const b = await svcHost(t, store, root);
  await b.setRoute('svc', { stable: '1.0.0' });
  store.commit({
    route: { plugin: 'svc', route: { stable: 'not a version' } },
    audit: { actor: 'test', action: 'route', plugin: 'svc' },
  });
  assert.deepEqual(b.refreshRoutes('svc'), []);
  assert.equal(await b.call('svc', 'who', {}), '1.0.0');
});
