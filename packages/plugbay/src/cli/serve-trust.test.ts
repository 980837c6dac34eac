// In-process tests of the trust options of `plugbay serve` and of `plugbay check --keyring` (no child process:
// the end-to-end runs are in trust-e2e.test.ts).
import assert from 'node:assert/strict';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import type { CheckedPlugin } from '../core/types.js';
import { createHost } from '../host/host.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { createInlineTier, createProcessTier, createThreadTier } from '../tiers/index.js';
import { generateKeys } from '../trust/keys.js';
import { signPlugin } from '../trust/sign.js';
import { checkCommand } from './commands/check.js';
import { serveTrust } from './commands/serve-trust.js';
import { UsageError } from './io.js';

test('serve trust options: required by default, --dev means warn, an explicit --signatures wins', async () => {
  const policy = async (values: Parameters<typeof serveTrust>[0]) =>
    (await serveTrust(values)).hostOptions.trust?.signatures;
  assert.equal(await policy({}), 'required');
  assert.equal(await policy({ dev: true }), 'warn');
  assert.equal(await policy({ dev: true, signatures: 'required' }), 'required');
  assert.equal(await policy({ signatures: 'off' }), 'off');
  const trust = (await serveTrust({ 'allow-unsigned': 'a, @acme/*', exports: 'strict' })).hostOptions.trust;
  assert.deepEqual([trust?.allowUnsigned, trust?.exports], [['a', '@acme/*'], 'strict']);
});

test('serve trust options: keyring and contract directories are read; --inline places the named plugins', async (t) => {
  const root = await tempDir(t);
  const keys = join(root, 'keys');
  const contracts = join(root, 'contracts');
  await mkdir(keys);
  await mkdir(contracts);
  const key = generateKeys();
  await writeFile(join(keys, 'ci.pub'), key.publicKeyPem);
  await writeFile(join(keys, 'broken.pub'), 'not a key');
  await writeFile(join(keys, 'keyring.json'), JSON.stringify({ keys: { ci: { trust: 'trusted' } } }));
  await writeFile(
    join(contracts, 'echoing.json'),
    JSON.stringify({ name: 'echoing', version: '1.2.0', functions: {} }),
  );
  await writeFile(join(contracts, 'notes.txt'), 'not a contract');

  const s = await serveTrust({ keyring: keys, contracts, inline: 'fast' });
  assert.equal(s.hostOptions.trust?.keyring?.lookup(key.keyId).status, 'known');
  assert.deepEqual(
    s.keyringProblems.map((p) => p.source),
    ['broken.pub'],
  );
  assert.deepEqual(s.summary.contracts, ['echoing@1.2.0']);
  const place = (name: string, runtime = 'node') =>
    s.hostOptions.tierFor?.({ manifest: { name, runtime } } as CheckedPlugin);
  // the others are left to the host, which places each in a tier its trust level allows
  assert.deepEqual([place('fast'), place('slow'), place('w', 'wasm')], ['inline', undefined, undefined]);
});

test('serve trust options: every bad value is a usage error naming the option', async (t) => {
  const root = await tempDir(t);
  await writeFile(join(root, 'bad.json'), '{"name": "x"}');
  const cases: [Parameters<typeof serveTrust>[0], RegExp][] = [
    [{ signatures: 'maybe' }, /--signatures/],
    [{ exports: 'loose' }, /--exports/],
    [{ 'allow-unsigned': 'a,' }, /--allow-unsigned/],
    [{ inline: '' }, /--inline/],
    [{ keyring: join(root, 'none') }, /keyring/],
    [{ contracts: join(root, 'none') }, /none/],
    [{ contracts: root }, /bad\.json/],
  ];
  for (const [values, message] of cases) {
    await assert.rejects(serveTrust(values), (err: Error) => {
      assert.ok(err instanceof UsageError, `${JSON.stringify(values)}: ${err}`);
      assert.match(err.message, message);
      return true;
    });
  }
});

test('plugbay check --keyring: a SIGNATURE column, one diagnostic per reason, exit 1 unless every signature is valid', async (t) => {
  const root = await tempDir(t);
  const plugins = join(root, 'plugins');
  const keys = join(root, 'keys');
  await mkdir(keys);
  const key = generateKeys();
  await writeFile(join(keys, 'me.pub'), key.publicKeyPem);
  const files = { 'index.mjs': 'export default {};\n' };
  const good = await writePlugin(plugins, 'good', { manifest: manifest({ name: 'good' }), files });
  const bad = await writePlugin(plugins, 'bad', { manifest: manifest({ name: 'bad' }), files });
  await signPlugin(good, { privateKey: key.privateKeyPem });
  await signPlugin(bad, { privateKey: key.privateKeyPem });
  await appendFile(join(bad, 'index.mjs'), '// changed\n');

  const out: string[] = [];
  const io = { out: (s: string) => out.push(s), err: (s: string) => out.push(s) };
  assert.equal(await checkCommand.run([plugins, '--keyring', keys], io), 1);
  const text = out.join('\n');
  assert.match(text, /SIGNATURE/);
  assert.match(text, new RegExp(`good +1\\.0\\.0 +node +ok +valid \\(community, ${key.keyId}\\)`));
  assert.match(text, /bad +1\.0\.0 +node +rejected +modified/);
  assert.match(text, /PLUGBAY_SIGNATURE_INVALID .*file-changed/);

  await signPlugin(bad, { privateKey: key.privateKeyPem }); // signed again after the change: valid
  assert.equal(await checkCommand.run([plugins, '--keyring', keys, '--json'], io), 0);
  assert.equal(await checkCommand.run([plugins], io), 0, 'without --keyring signatures are not checked');
  await assert.rejects(checkCommand.run([plugins, '--keyring', join(root, 'none')], io), UsageError);
});

test('--dev and --allow-unsigned run unsigned plugins at the unsigned level: process and wasm only, so a thread plugin is refused with the reason', async (t) => {
  const root = await tempDir(t);
  await writePlugin(root, 'local', {
    manifest: manifest({ name: 'local' }),
    files: { 'index.mjs': 'export default { functions: { echo: { handler: (i) => i } } };\n' },
  });
  for (const values of [{ dev: true }, { 'allow-unsigned': 'local' }]) {
    const s = await serveTrust(values);
    assert.match(s.warnings.join('\n'), /no --keyring/);
    const host = createHost({
      logger: pino({ level: 'silent' }),
      tiers: { inline: createInlineTier(), thread: createThreadTier() },
      ...s.hostOptions,
    });
    t.after(() => host.close());
    const report = await host.loadDirectory(root);
    assert.deepEqual(report.loaded, []);
    const d = report.diagnostics[0];
    assert.equal(d?.code, 'PLUGBAY_TIER_NOT_ALLOWED', JSON.stringify(values));
    assert.deepEqual((d?.details ?? {}) as object, {
      tier: 'thread',
      trustLevel: 'unsigned',
      allowedTiers: ['process', 'wasm'],
      keyId: undefined,
    });
  }
});

test('serve --dev --inline x: x goes where the operator put it, every other plugin is still placed by its trust level (an unsigned node plugin runs in process)', async (t) => {
  const root = await tempDir(t);
  for (const name of ['local', 'x']) {
    // The process tier runs the SDK's entry, which wants the whole definition.
    const files = {
      'index.mjs': `export default { name: '${name}', version: '1.0.0', functions: { echo: { input: {}, output: {}, handler: (i) => i } } };\n`,
    };
    await writePlugin(root, name, { manifest: manifest({ name }), files });
  }
  const s = await serveTrust({ dev: true, inline: 'x' });
  const host = createHost({
    logger: pino({ level: 'silent' }),
    tiers: { inline: createInlineTier(), thread: createThreadTier(), process: createProcessTier() },
    ...s.hostOptions,
  });
  t.after(() => host.close());
  const report = await host.loadDirectory(root);
  assert.deepEqual(
    report.loaded.map((v) => [v.plugin, v.tier, v.trust.level]),
    [['local', 'process', 'unsigned']],
  );
  // The operator's choice is never overridden: unsigned x may not run inline, so it is refused with the reason.
  assert.deepEqual(
    report.diagnostics.map((d) => [d.plugin, d.code, (d.details as { tier?: string } | undefined)?.tier]),
    [['x', 'PLUGBAY_TIER_NOT_ALLOWED', 'inline']],
  );
  assert.deepEqual(await host.call('local', 'echo', { text: 'hi' }), { text: 'hi' });
});
