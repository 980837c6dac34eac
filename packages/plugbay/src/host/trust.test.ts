import assert from 'node:assert/strict';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { createInlineTier, createProcessTier, createThreadTier } from '../tiers/index.js';
import { createKeyring } from '../trust/keyring.js';
import { generateKeys } from '../trust/keys.js';
import { signPlugin } from '../trust/sign.js';
import { createHost } from './host.js';
import type { HostOptions } from './types.js';

const source = (name: string) =>
  `export default { name: '${name}', version: '1.0.0', functions: { echo: { input: {}, output: {}, handler: (i) => i } }, extra: 1 };`;

async function plugin(root: string, name: string, sign?: string) {
  const dir = await writePlugin(root, name, {
    manifest: manifest({ name }),
    files: { 'index.mjs': source(name) },
  });
  if (sign !== undefined) await signPlugin(dir, { privateKey: sign });
  return dir;
}

function host(t: Parameters<typeof tempDir>[0], options: HostOptions) {
  const h = createHost({
    logger: pino({ level: 'silent' }),
    tiers: { inline: createInlineTier(), thread: createThreadTier() },
    ...options,
  });
  t.after(() => h.close());
  return h;
}

test('under signatures: required, only validly signed plugins load and each runs only in tiers its key allows', async (t) => {
  const trusted = generateKeys();
  const community = generateKeys();
  const stranger = generateKeys();
  const keyring = createKeyring([
    { publicKey: trusted.publicKeyPem, trust: 'trusted' },
    { publicKey: community.publicKeyPem, trust: 'community' },
  ]);
  const root = await tempDir(t);
  await plugin(root, 'by-trusted', trusted.privateKeyPem);
  await plugin(root, 'by-community', community.privateKeyPem);
  await plugin(root, 'by-stranger', stranger.privateKeyPem);
  await plugin(root, 'unsigned');
  const tampered = await plugin(root, 'tampered', trusted.privateKeyPem);
  await appendFile(join(tampered, 'index.mjs'), '\n// changed after signing\n');

  const h = host(t, { trust: { signatures: 'required', keyring }, tierFor: () => 'inline' });
  const report = await h.loadDirectory(root);
  assert.deepEqual(
    report.loaded.map((v) => v.plugin),
    ['by-trusted'],
  );
  const codes = Object.fromEntries(report.diagnostics.map((d) => [d.plugin, d.code]));
  assert.deepEqual(codes, {
    'by-community': 'PLUGBAY_TIER_NOT_ALLOWED',
    'by-stranger': 'PLUGBAY_SIGNATURE_INVALID',
    unsigned: 'PLUGBAY_SIGNATURE_INVALID',
    tampered: 'PLUGBAY_SIGNATURE_INVALID',
  });
  const refused = report.diagnostics.find((d) => d.plugin === 'by-community');
  assert.match(refused?.message ?? '', /inline/);
  assert.deepEqual(report.loaded[0]?.trust, { status: 'valid', level: 'trusted', keyId: trusted.keyId });
  assert.deepEqual(await h.call('by-trusted', 'echo', { text: 'hi' }), { text: 'hi' });
});

test('a community key may not use the thread tier, even when the host is told to put it there', async (t) => {
  const community = generateKeys();
  const keyring = createKeyring([{ publicKey: community.publicKeyPem }]);
  const root = await tempDir(t);
  const dir = await plugin(root, 'by-community', community.privateKeyPem);
  const h = host(t, { trust: { signatures: 'required', keyring }, tierFor: () => 'thread' });
  await assert.rejects(h.load(dir), {
    code: 'PLUGBAY_TIER_NOT_ALLOWED',
    details: {
      tier: 'thread',
      trustLevel: 'community',
      allowedTiers: ['process', 'wasm'],
      keyId: community.keyId,
    },
  });
  assert.deepEqual(h.versions(), []);
});

test('under exports: strict, a plugin exposing undeclared functions is refused', async (t) => {
  const root = await tempDir(t);
  const dir = await writePlugin(root, 'sneaky', {
    manifest: manifest({ name: 'sneaky' }),
    files: {
      'index.mjs': `export default { name: 'sneaky', version: '1.0.0', functions: {
        echo: { input: {}, output: {}, handler: (i) => i }, backdoor: { input: {}, output: {}, handler: () => 1 } } };`,
    },
  });
  const warn = host(t, { tierFor: () => 'inline' });
  assert.deepEqual((await warn.load(dir)).undeclaredExports, ['backdoor']);
  const strict = host(t, { trust: { exports: 'strict' }, tierFor: () => 'thread' });
  await assert.rejects(strict.load(dir), { code: 'PLUGBAY_EXPORTS_UNDECLARED' });
  assert.deepEqual(strict.versions(), []);
});

test('a plugin claiming a contract it breaks is refused with each difference listed', async (t) => {
  const contract = {
    name: 'echoing',
    version: '1.0.0',
    functions: {
      echo: {
        input: (manifest().functions as { echo: { input: Record<string, unknown> } }).echo.input,
        output: { type: 'object', required: ['text'] },
      },
    },
  };
  const root = await tempDir(t);
  const good = await writePlugin(root, 'good', {
    manifest: manifest({ name: 'good', implements: { echoing: '^1.0.0' } }),
    files: { 'index.mjs': source('good') },
  });
  const bad = await writePlugin(root, 'bad', {
    manifest: manifest({
      name: 'bad',
      implements: { echoing: '^1.0.0' },
      functions: { echo: { input: { type: 'object', required: ['extra'] }, output: { type: 'object' } } },
    }),
    files: { 'index.mjs': source('bad') },
  });
  const h = host(t, { contracts: [contract], tierFor: () => 'inline' });
  await h.load(good);
  await assert.rejects(h.load(bad), (e: { code: string; details?: { differences?: unknown[] } }) => {
    assert.equal(e.code, 'PLUGBAY_CONTRACT_MISMATCH');
    assert.ok((e.details?.differences?.length ?? 0) >= 2);
    return true;
  });
});

test('when the host picks the tier, an unsigned plugin under warn goes to the most isolated tier it may use', async (t) => {
  const root = await tempDir(t);
  const dir = await plugin(root, 'local');
  const h = createHost({
    logger: pino({ level: 'silent' }),
    tiers: { thread: createThreadTier(), process: createProcessTier() },
    trust: { signatures: 'warn' },
  });
  t.after(() => h.close());
  const v = await h.load(dir);
  assert.deepEqual([v.tier, v.trust.status, v.trust.level], ['process', 'unsigned', 'unsigned']);
  assert.deepEqual(await h.call('local', 'echo', { text: 'hi' }), { text: 'hi' });
});

test('a tierFor that names some plugins and leaves the rest (undefined) still lets the host place the rest by trust level', async (t) => {
  const root = await tempDir(t);
  const local = await plugin(root, 'local');
  const pinned = await plugin(root, 'pinned');
  // What `plugbay serve --inline pinned` builds.
  const tierFor = (p: { manifest: { name: string } }) =>
    p.manifest.name === 'pinned' ? 'inline' : undefined;
  const h = createHost({
    logger: pino({ level: 'silent' }),
    tiers: { inline: createInlineTier(), thread: createThreadTier(), process: createProcessTier() },
    trust: { signatures: 'warn' },
    tierFor,
  });
  t.after(() => h.close());
  const v = await h.load(local);
  assert.deepEqual([v.tier, v.trust.level], ['process', 'unsigned']);
  // The operator's choice is kept: unsigned code may not run inline, so it is refused, not moved.
  await assert.rejects(h.load(pinned), (e: { code: string; details?: { tier?: string } }) => {
    assert.deepEqual([e.code, e.details?.tier], ['PLUGBAY_TIER_NOT_ALLOWED', 'inline']);
    return true;
  });
});
