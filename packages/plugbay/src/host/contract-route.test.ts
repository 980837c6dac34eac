// Contracts at load, seen through the router: a version that does not fit the contract it claims is never loaded,
// so no route can send calls to it — a route naming it falls back instead of serving a wrong version.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import type { ContractSnapshot } from '../contract/snapshot.js';
import { MemoryStateStore } from '../store/memory.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { createInlineTier } from '../tiers/index.js';
import { createHost } from './host.js';

const echo = (
  manifest().functions as { echo: { input: Record<string, unknown>; output: Record<string, unknown> } }
).echo;
const contract: ContractSnapshot = { name: 'echoing', version: '1.0.0', functions: { echo } };

/** greeter@1.0.0 fits the contract; greeter@1.1.0 claims it but requires an input field the contract never sends. */
async function twoVersions(t: Parameters<typeof tempDir>[0]) {
  const root = await tempDir(t);
  const source = (version: string) =>
    `export default { name: 'greeter', version: '${version}', functions: { echo: { input: {}, output: {}, handler: (i) => ({ ...i, version: '${version}' }) } } };`;
  await writePlugin(root, 'greeter@1.0.0', {
    manifest: manifest({ name: 'greeter', implements: { echoing: '^1.0.0' } }),
    files: { 'index.mjs': source('1.0.0') },
  });
  await writePlugin(root, 'greeter@1.1.0', {
    manifest: manifest({
      name: 'greeter',
      version: '1.1.0',
      implements: { echoing: '^1.0.0' },
      functions: { echo: { ...echo, input: { ...echo.input, required: ['text', 'lang'] } } },
    }),
    files: { 'index.mjs': source('1.1.0') },
  });
  return root;
}

function host(t: Parameters<typeof tempDir>[0], store?: MemoryStateStore) {
  const h = createHost({
    logger: pino({ level: 'silent' }),
    tiers: { inline: createInlineTier() },
    tierFor: () => 'inline',
    contracts: [contract],
    ...(store ? { store } : {}),
  });
  t.after(() => h.close());
  return h;
}

test('a route whose stable fails its contract falls back: the rejected version is not loaded, the fallback arm answers', async (t) => {
  // The route was stored before 1.1.0 arrived (e.g. a gateway restarting with its state): stable 1.1.0.
  const store = new MemoryStateStore();
  t.after(() => store.close());
  store.commit({
    route: { plugin: 'greeter', route: { stable: '1.1.0', fallback: ['1.0.0'] } },
    audit: { actor: 'test', action: 'route', plugin: 'greeter' },
  });
  const h = host(t, store);
  const report = await h.loadDirectory(await twoVersions(t));

  assert.deepEqual(
    report.loaded.map((v) => v.version),
    ['1.0.0'],
  );
  const refused = report.diagnostics.find((d) => d.version === '1.1.0');
  assert.equal(refused?.code, 'PLUGBAY_CONTRACT_MISMATCH');
  const { differences = [] } = (refused?.details ?? {}) as {
    differences?: { rule: string; function: string }[];
  };
  assert.ok(differences.some((d) => d.function === 'echo' && d.rule.startsWith('input.')));

  const answer = await h.callDetailed('greeter', 'echo', { text: 'hi' });
  assert.deepEqual(
    { version: answer.version, arm: answer.arm, output: answer.output },
    { version: '1.0.0', arm: 'fallback', output: { text: 'hi', version: '1.0.0' } },
  );
});

test('activating or routing to a version that fails its contract is refused; the route and the calls stay on the good one', async (t) => {
  const h = host(t);
  await h.loadDirectory(await twoVersions(t));
  await h.setRoute('greeter', { stable: '1.0.0' });

  // activate() tries to load 1.1.0 again (the host knows its directory): the contract check refuses it first.
  await assert.rejects(h.activate('greeter', '1.1.0'), { code: 'PLUGBAY_CONTRACT_MISMATCH' });
  // A route naming it is a conflict: it is not loaded.
  await assert.rejects(h.setRoute('greeter', { stable: '1.1.0' }), { code: 'PLUGBAY_VERSION_NOT_LOADED' });

  assert.deepEqual(h.route('greeter'), { stable: '1.0.0' });
  const answer = await h.callDetailed('greeter', 'echo', { text: 'hi' });
  assert.deepEqual([answer.version, answer.arm], ['1.0.0', 'stable']);
  assert.deepEqual(
    h.versions().map((v) => v.version),
    ['1.0.0'],
  );
});
