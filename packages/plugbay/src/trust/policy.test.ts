import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PlugbayError } from '../core/errors.js';
import type { TierKind } from '../core/types.js';
import { auditExports } from './audit.js';
import { newKey, tempDir, writePlugin } from './fixtures.test.shared.js';
import { createKeyring } from './keyring.js';
import { createTrustPolicy, decide } from './policy.js';
import { signPlugin } from './sign.js';
import { type Verification, verifyPlugin } from './verify.js';

const trustedKey = newKey();
const communityKey = newKey();
const revokedKey = newKey();
const keyring = createKeyring([
  { publicKey: trustedKey.publicKey, trust: 'trusted' },
  { publicKey: communityKey.publicKey },
  { publicKey: revokedKey.publicKey, revoked: true },
]);

async function verificationOf(
  kind: 'trusted' | 'community' | 'revoked' | 'unsigned' | 'modified',
): Promise<Verification> {
  await using dir = await tempDir(`policy-${kind}`);
  await writePlugin(dir.path);
  const key = {
    trusted: trustedKey,
    community: communityKey,
    revoked: revokedKey,
    unsigned: undefined,
    modified: trustedKey,
  }[kind];
  if (key) await signPlugin(dir.path, { privateKey: key.privateKey });
  if (kind === 'modified') await writeFile(join(dir.path, 'index.js'), 'changed();');
  return await verifyPlugin(dir.path, { keyring }); // await before the directory is disposed
}

const v = {
  trusted: await verificationOf('trusted'),
  community: await verificationOf('community'),
  revoked: await verificationOf('revoked'),
  unsigned: await verificationOf('unsigned'),
  modified: await verificationOf('modified'),
};

function allowedTiers(
  policy: ReturnType<typeof createTrustPolicy>,
  verification: Verification,
  name = 'greeter',
): TierKind[] {
  return (['inline', 'thread', 'process', 'wasm'] as const).filter(
    (t) => decide(policy, verification, t, name).allowed,
  );
}

describe('trust policy', () => {
  it('fixtures verify as expected', () => {
    assert.equal(v.trusted.status, 'valid');
    assert.equal(v.community.status, 'valid');
    assert.equal(v.community.trust, 'community');
    assert.equal(v.revoked.status, 'invalid');
    assert.equal(v.unsigned.status, 'unsigned');
    assert.equal(v.modified.status, 'modified');
  });

  it('defaults: only trusted runs inline or thread; community gets process/wasm, the tiers that confine', () => {
    const policy = createTrustPolicy();
    assert.deepEqual(allowedTiers(policy, v.trusted), ['inline', 'thread', 'process', 'wasm']);
    assert.deepEqual(allowedTiers(policy, v.community), ['process', 'wasm']);
  });

  it('a community key asking for inline is refused with PLUGBAY_TIER_NOT_ALLOWED and the reason', () => {
    const d = decide(createTrustPolicy(), v.community, 'inline', 'greeter');
    assert.equal(d.allowed, false);
    if (d.allowed) return;
    assert.equal(d.error.code, 'PLUGBAY_TIER_NOT_ALLOWED');
    assert.equal(d.trustLevel, 'community');
    assert.deepEqual(d.error.details, {
      tier: 'inline',
      trustLevel: 'community',
      allowedTiers: ['process', 'wasm'],
      keyId: v.community.keyId,
    });
  });

  it('required: unsigned, modified and invalid are refused with PLUGBAY_SIGNATURE_INVALID in every tier', () => {
    const policy = createTrustPolicy({ signatures: 'required' });
    for (const verification of [v.unsigned, v.modified, v.revoked]) {
      for (const tier of ['inline', 'thread', 'process', 'wasm'] as const) {
        const d = decide(policy, verification, tier, 'greeter');
        assert.equal(d.allowed, false);
        if (!d.allowed) {
          assert.equal(d.error.code, 'PLUGBAY_SIGNATURE_INVALID');
          assert.equal((d.error.details as { status: string }).status, verification.status);
        }
      }
    }
  });

  it('required + allowUnsigned: the named plugin loads at the unsigned level (process/wasm), others do not', () => {
    const policy = createTrustPolicy({ allowUnsigned: ['greeter', '@acme/*'] });
    assert.deepEqual(allowedTiers(policy, v.unsigned, 'greeter'), ['process', 'wasm']);
    assert.deepEqual(allowedTiers(policy, v.unsigned, '@acme/tool'), ['process', 'wasm']);
    assert.deepEqual(allowedTiers(policy, v.unsigned, 'other'), []);
    // allowUnsigned does not excuse a modified signature.
    assert.deepEqual(allowedTiers(policy, v.modified, 'greeter'), []);
  });

  it('warn: unsigned and modified run at the unsigned level with a warning; a revoked key is still refused', () => {
    const policy = createTrustPolicy({ signatures: 'warn' });
    assert.deepEqual(allowedTiers(policy, v.unsigned), ['process', 'wasm']);
    assert.deepEqual(allowedTiers(policy, v.modified), ['process', 'wasm']);
    const d = decide(policy, v.unsigned, 'process', 'greeter');
    assert.ok(d.allowed && d.trustLevel === 'unsigned' && d.warnings.length === 1);
    const inline = decide(policy, v.unsigned, 'inline', 'greeter');
    assert.ok(!inline.allowed && inline.error.code === 'PLUGBAY_TIER_NOT_ALLOWED');
    const revoked = decide(policy, v.revoked, 'process', 'greeter');
    assert.ok(!revoked.allowed && revoked.error.code === 'PLUGBAY_SIGNATURE_INVALID');
  });

  it('off: nothing is checked, every tier is allowed', () => {
    const policy = createTrustPolicy({ signatures: 'off' });
    assert.deepEqual(allowedTiers(policy, v.revoked), ['inline', 'thread', 'process', 'wasm']);
  });

  it('custom tiers per level replace the defaults', () => {
    const policy = createTrustPolicy({ tiers: { community: ['wasm'] } });
    assert.deepEqual(allowedTiers(policy, v.community), ['wasm']);
    assert.deepEqual(allowedTiers(policy, v.trusted), ['inline', 'thread', 'process', 'wasm']);
  });

  it('bad options are refused at once, each rule named', () => {
    assert.throws(
      () =>
        createTrustPolicy({
          signatures: 'maybe' as 'off',
          tiers: { community: ['gpu' as TierKind], root: [] } as never,
          exports: 'loud' as 'warn',
        }),
      (e) =>
        e instanceof PlugbayError &&
        e.code === 'PLUGBAY_INVALID_ARGUMENT' &&
        (e.details as { problems: string[] }).problems.length === 4,
    );
  });
});

describe('export audit', () => {
  it('lists undeclared and missing names; warn does not refuse', () => {
    const audit = auditExports({
      declared: { greet: {}, shout: {} },
      exposed: ['default', 'greet', 'debugDump', 'eval'],
      mode: 'warn',
      runtime: 'node',
    });
    assert.deepEqual(audit.undeclared, ['debugDump', 'eval']);
    assert.deepEqual(audit.missing, ['shout']);
    assert.equal(audit.error, undefined);
  });

  it('strict refuses with PLUGBAY_EXPORTS_UNDECLARED listing the names', () => {
    const audit = auditExports({
      declared: ['greet'],
      exposed: ['memory', '_initialize', 'greet', 'backdoor'],
      mode: 'strict',
      runtime: 'wasm',
      plugin: 'greeter',
      version: '1.0.0',
    });
    assert.equal(audit.error?.code, 'PLUGBAY_EXPORTS_UNDECLARED');
    assert.deepEqual(audit.error?.details?.undeclared, ['backdoor']);
    assert.equal(audit.error?.plugin, 'greeter');
    assert.equal(auditExports({ declared: ['greet'], exposed: ['greet'], mode: 'strict' }).error, undefined);
  });
});

describe('trustGate (verify + decide, as the host calls it)', () => {
  it('valid trusted → inline allowed; community → inline refused; off skips verification', async () => {
    const { trustGate } = await import('./gate.js');
    await using dir = await tempDir('gate');
    await writePlugin(dir.path);
    await signPlugin(dir.path, { privateKey: communityKey.privateKey });
    const manifest = { name: 'greeter', version: '1.0.0' };
    const { fileEntries } = await import('../artifact/contents.js');
    const { readFolder } = await import('../artifact/read.js');
    const read = await readFolder(dir.path);
    const version = { signature: read.signature, files: fileEntries(read) };
    const refused = await trustGate({
      ...version,
      manifest,
      tier: 'inline',
      policy: createTrustPolicy(),
      keyring,
    });
    assert.equal(refused.verification?.status, 'valid');
    assert.ok(!refused.decision.allowed && refused.decision.error.code === 'PLUGBAY_TIER_NOT_ALLOWED');
    const confined = await trustGate({
      ...version,
      manifest,
      tier: 'process',
      policy: createTrustPolicy(),
      keyring,
    });
    assert.equal(confined.decision.allowed, true);
    const noKeyring = await trustGate({
      ...version,
      manifest,
      tier: 'thread',
      policy: createTrustPolicy(),
    });
    assert.deepEqual(
      noKeyring.verification?.reasons.map((r) => r.rule),
      ['key-unknown'],
    );
    assert.equal(noKeyring.decision.allowed, false);
    const off = await trustGate({
      ...version,
      manifest,
      tier: 'inline',
      policy: createTrustPolicy({ signatures: 'off' }),
    });
    assert.equal(off.verification, undefined);
    assert.equal(off.decision.allowed, true);
  });
});
