// Verified bytes are what runs: a version is read once, verified, and run from the host's content-addressed store.
import assert from 'node:assert/strict';
import { appendFile, chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { pino } from 'pino';
import type { Tier } from '../core/types.js';
import { createGateway } from '../gateway/server.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { createThreadTier } from '../tiers/index.js';
import { createKeyring } from '../trust/keyring.js';
import { generateKeys } from '../trust/keys.js';
import { signPlugin } from '../trust/sign.js';
import { createHost } from './host.js';
import type { HostOptions, PluginHost, VersionStatus } from './types.js';
import { createWatcher } from './watch.js';

const quiet = pino({ level: 'silent' });
const any = {};

/** `who` says whether code appended after signing ran; `crash` ends the worker, so the tier restarts it. */
const source = `export default { name: 'victim', version: '1.0.0', functions: {
  who: { input: {}, output: {}, handler: () => ({ tampered: globalThis.tampered ?? false }) },
  crash: { input: {}, output: {}, handler: () => process.exit(3) },
} };\n`;
const appended = '\nglobalThis.tampered = true;\n';

async function signedVictim(t: TestContext) {
  const key = generateKeys();
  const keyring = createKeyring([{ publicKey: key.publicKeyPem, trust: 'trusted' }]);
  const root = await tempDir(t);
  const dir = await writePlugin(root, 'victim@1.0.0', {
    manifest: manifest({
      name: 'victim',
      entry: 'dist/plugin.js',
      functions: { who: { input: any, output: any }, crash: { input: any, output: any } },
    }),
    files: { 'dist/plugin.js': source, 'dist/package.json': '{"type":"module"}\n' },
  });
  await signPlugin(dir, { privateKey: key.privateKeyPem });
  return { root, dir, keyring };
}

function threadHost(t: TestContext, options: HostOptions): PluginHost {
  const host = createHost({
    logger: quiet,
    tierFor: () => 'thread',
    // Ten crashes on purpose: neither the crash-loop detector nor the circuit may take the version out meanwhile.
    tiers: { thread: createThreadTier({ restart: { initialDelayMs: 1, crashloopCount: 1_000 } }) },
    circuit: { failureThreshold: 1_000 },
    ...options,
  });
  t.after(() => host.close());
  return host;
}

const digestOf = (v: VersionStatus | undefined) => v?.digest;

test('a signed plugin whose folder is appended to while served keeps running the signed bytes across 10 restarts', async (t) => {
  const { root, dir, keyring } = await signedVictim(t);
  const host = threadHost(t, { trust: { signatures: 'required', keyring } });
  let clock = 0;
  const watcher = createWatcher({
    host,
    dir: root,
    settleMs: 10,
    watch: false,
    logger: quiet,
    now: () => clock,
  });
  t.after(() => watcher.close());
  const report = await watcher.start();
  assert.equal(report.loaded.length, 1);
  const digest = digestOf(host.versions()[0]);

  await appendFile(join(dir, 'dist', 'plugin.js'), appended);
  for (let i = 0; i < 10; i++) {
    await assert.rejects(host.call('victim', 'crash', {}), { code: 'PLUGBAY_PLUGIN_CRASHED' });
    assert.deepEqual(await host.call('victim', 'who', {}), { tampered: false }, `after restart ${i + 1}`);
  }

  assert.match(String(digest), /^[0-9a-f]{64}$/, 'versions() shows the digest the version runs from');
  // The changed folder is a new candidate: verified from scratch, reported as modified, not loaded.
  await watcher.scan();
  clock += 100;
  await watcher.scan();
  assert.deepEqual(await host.call('victim', 'who', {}), { tampered: false });
  const [v] = host.versions();
  assert.equal(host.versions().length, 1);
  assert.equal(digestOf(v), digest);
  assert.deepEqual(v?.trust, { status: 'valid', level: 'trusted', keyId: v?.trust.keyId });
  assert.equal(v?.dir, dir);
  // The gateway shows the same: the digest the version runs from, and the modified candidate as a diagnostic.
  const gateway = createGateway({ host, port: 0, logger: quiet });
  t.after(() => gateway.close());
  const res = await gateway.fastify.inject({ method: 'GET', url: '/v1/plugins' });
  const [listed] = res.json().plugins;
  assert.equal(listed.versions[0].digest, digest);
  assert.equal(listed.versions[0].trust.status, 'valid');
  assert.ok(listed.diagnostics.some((d: { rule?: string }) => d.rule === 'modified'));
  const modified = host.diagnostics().filter((d) => d.dir === dir && d.rule === 'modified');
  assert.equal(modified.length, 1, JSON.stringify(host.diagnostics()));
  assert.equal(modified[0]?.plugin, 'victim');
  assert.equal(modified[0]?.details?.signature, 'modified');
  assert.equal(modified[0]?.details?.running, digest);
});

test('a file swapped between the read and the import does not run: the tier loads the verified copy', async (t) => {
  const { dir, keyring } = await signedVictim(t);
  const artifactsDir = join(await tempDir(t), 'artifacts');
  const thread = createThreadTier({ restart: { initialDelayMs: 1 } });
  // The tier is called after the host read and verified the version and before any import: swap the file there.
  const swapping: Tier = {
    kind: 'thread',
    async load(plugin, opts) {
      await writeFile(join(dir, 'dist', 'plugin.js'), `${source}${appended}`);
      return thread.load(plugin, opts);
    },
  };
  const host = threadHost(t, {
    trust: { signatures: 'required', keyring },
    artifactsDir,
    tiers: { thread: swapping },
  });
  const v = await host.load(dir);
  assert.deepEqual(await host.call('victim', 'who', {}), { tampered: false });
  await assert.rejects(host.call('victim', 'crash', {}), { code: 'PLUGBAY_PLUGIN_CRASHED' });
  assert.deepEqual(await host.call('victim', 'who', {}), { tampered: false });
  // The store's copy is the signed bytes, read-only, under the digest versions() reports.
  const stored = join(artifactsDir, String(digestOf(v)));
  assert.equal(await readFile(join(stored, 'dist', 'plugin.js'), 'utf8'), source);
  assert.equal((await stat(join(stored, 'dist', 'plugin.js'))).mode & 0o777, 0o444);
  assert.equal((await stat(stored)).mode & 0o777, 0o555);
});

test('a store copy that differs from its digest is written again from the verified bytes, never run', async (t) => {
  const { dir, keyring } = await signedVictim(t);
  const artifactsDir = join(await tempDir(t), 'artifacts');
  const first = threadHost(t, { trust: { signatures: 'required', keyring }, artifactsDir });
  const v = await first.load(dir);
  await first.close();
  const stored = join(artifactsDir, v.digest, 'dist', 'plugin.js');
  await chmod(join(artifactsDir, v.digest, 'dist'), 0o755);
  await chmod(stored, 0o644);
  await appendFile(stored, appended);

  // A gateway restarted on the same store reuses a digest directory only when it still holds those bytes.
  const second = threadHost(t, { trust: { signatures: 'required', keyring }, artifactsDir });
  const again = await second.load(dir);
  assert.equal(again.digest, v.digest);
  assert.deepEqual(await second.call('victim', 'who', {}), { tampered: false });
  assert.equal(await readFile(stored, 'utf8'), source);
});
