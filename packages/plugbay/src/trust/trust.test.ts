import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { cp, readFile, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PlugbayError } from '../core/errors.js';
import { canonicalJson } from './canonical.js';
import { listPluginFiles, signatureFileName } from './files.js';
import { newKey, tempDir, writePlugin } from './fixtures.test.shared.js';
import { createKeyring, loadKeyring } from './keyring.js';
import { keygen, keyIdOf, parsePrivateKey, parsePublicKey } from './keys.js';
import { signPlugin } from './sign.js';
import { verifyPlugin } from './verify.js';

const alice = newKey();
const mallory = newKey();
const keyring = createKeyring([{ publicKey: alice.publicKey, trust: 'trusted', source: 'alice.pub' }]);

async function signedPlugin(prefix: string) {
  const dir = await tempDir(prefix);
  await writePlugin(dir.path);
  await signPlugin(dir.path, { privateKey: alice.privateKey });
  return dir;
}

function rules(v: { reasons: { rule: string }[] }): string[] {
  return v.reasons.map((r) => r.rule);
}

describe('keys', () => {
  it('keygen writes a 0600 private key and a public key with the same key id, and never overwrites', async () => {
    await using dir = await tempDir('keygen');
    const prefix = join(dir.path, 'alice');
    const out = await keygen(prefix);
    assert.equal((await stat(out.privatePath)).mode & 0o777, 0o600);
    const priv = parsePrivateKey(await readFile(out.privatePath));
    const pub = parsePublicKey(await readFile(out.publicPath));
    assert.match(out.keyId, /^[0-9a-f]{16}$/);
    assert.equal(keyIdOf(priv), out.keyId);
    assert.equal(keyIdOf(pub), out.keyId);
    await assert.rejects(
      keygen(prefix),
      (e) => e instanceof PlugbayError && e.code === 'PLUGBAY_INVALID_ARGUMENT',
    );
  });

  it('refuses non-Ed25519 keys and a private key in a public key file', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
      format: 'pem',
      type: 'pkcs8',
    });
    assert.throws(
      () => parsePrivateKey(rsa),
      (e) => e instanceof PlugbayError && e.code === 'PLUGBAY_INVALID_ARGUMENT',
    );
    const privPem = alice.privateKey.export({ format: 'pem', type: 'pkcs8' });
    assert.throws(
      () => parsePublicKey(privPem),
      (e) => e instanceof PlugbayError && e.code === 'PLUGBAY_INVALID_ARGUMENT',
    );
    assert.throws(
      () => parsePublicKey('garbage'),
      (e) => e instanceof PlugbayError && e.code === 'PLUGBAY_INVALID_ARGUMENT',
    );
  });
});

describe('canonical bytes', () => {
  it('do not depend on key order', () => {
    assert.equal(
      canonicalJson({ b: 1, a: [{ y: 2, x: 'é' }] }),
      canonicalJson({ a: [{ x: 'é', y: 2 }], b: 1 }),
    );
    assert.equal(canonicalJson({ b: 1, a: null }), '{"a":null,"b":1}');
  });
});

describe('sign and verify', () => {
  it('lists files sorted with "/" paths, records the symlink target, excludes the signature file', async () => {
    await using dir = await signedPlugin('list');
    const { files, problems } = await listPluginFiles(dir.path);
    assert.deepEqual(problems, []);
    assert.deepEqual(
      files.map((f) => f.path),
      ['index.js', 'lib/other.js', 'lib/util.js', 'plugin.json', 'util-link.js'],
    );
    assert.deepEqual(files[4], { path: 'util-link.js', symlink: 'lib/util.js' });
    const doc = JSON.parse(await readFile(join(dir.path, signatureFileName), 'utf8'));
    assert.equal(doc.format, 1);
    assert.equal(doc.name, 'greeter');
    assert.equal(doc.version, '1.0.0');
    assert.equal(doc.keyId, keyIdOf(alice.publicKey));
  });

  it('streams large files in chunks: hashes match a one-shot sha256 at and around the chunk size', async () => {
    await using dir = await tempDir('big');
    const sizes = [0, 1, 1024 * 1024 - 1, 1024 * 1024, 1024 * 1024 + 1, 3 * 1024 * 1024 + 17];
    const expected = new Map<string, string>();
    for (const size of sizes) {
      const bytes = randomBytes(size);
      await writeFile(join(dir.path, `f${size}`), bytes);
      expected.set(`f${size}`, createHash('sha256').update(bytes).digest('hex'));
    }
    const { files, problems } = await listPluginFiles(dir.path, { concurrency: 2 });
    assert.deepEqual(problems, []);
    for (const f of files) {
      assert.ok('sha256' in f);
      assert.equal(f.sha256, expected.get(f.path), f.path);
      assert.equal(f.size, Number(f.path.slice(1)));
    }
    assert.equal(files.length, sizes.length);
  });

  it('a freshly signed plugin is valid, with the key trust level', async () => {
    await using dir = await signedPlugin('valid');
    const v = await verifyPlugin(dir.path, { keyring });
    assert.equal(v.status, 'valid');
    assert.deepEqual(v.reasons, []);
    assert.equal(v.trust, 'trusted');
    assert.equal(v.keySource, 'alice.pub');
  });

  it('no signature file → unsigned', async () => {
    await using dir = await tempDir('unsigned');
    await writePlugin(dir.path);
    const v = await verifyPlugin(dir.path, { keyring });
    assert.equal(v.status, 'unsigned');
    assert.deepEqual(rules(v), ['signature-missing']);
  });

  it('tampered file → modified, naming the file', async () => {
    await using dir = await signedPlugin('tamper');
    await writeFile(join(dir.path, 'lib', 'util.js'), 'export const x = 2;\n'); // same size, other bytes
    const v = await verifyPlugin(dir.path, { keyring });
    assert.equal(v.status, 'modified');
    assert.deepEqual(
      v.reasons.map((r) => [r.rule, r.path]),
      [['file-changed', 'lib/util.js']],
    );
  });

  it('added file → modified', async () => {
    await using dir = await signedPlugin('added');
    await writeFile(join(dir.path, 'lib', 'evil.js'), 'process.exit(1)');
    const v = await verifyPlugin(dir.path, { keyring });
    assert.equal(v.status, 'modified');
    assert.deepEqual(
      v.reasons.map((r) => [r.rule, r.path]),
      [['file-added', 'lib/evil.js']],
    );
  });

  it('removed file → modified', async () => {
    await using dir = await signedPlugin('removed');
    await rm(join(dir.path, 'lib', 'other.js'));
    const v = await verifyPlugin(dir.path, { keyring });
    assert.equal(v.status, 'modified');
    assert.deepEqual(
      v.reasons.map((r) => [r.rule, r.path]),
      [['file-removed', 'lib/other.js']],
    );
  });

  it('symlink pointed elsewhere → modified (symlink-changed), the link is never followed', async () => {
    await using dir = await signedPlugin('swap');
    await unlink(join(dir.path, 'util-link.js'));
    await symlink('lib/other.js', join(dir.path, 'util-link.js'));
    const v = await verifyPlugin(dir.path, { keyring });
    assert.equal(v.status, 'modified');
    assert.deepEqual(
      v.reasons.map((r) => [r.rule, r.path]),
      [['symlink-changed', 'util-link.js']],
    );
  });

  it('regular file replaced by a symlink to identical content → modified', async () => {
    await using dir = await signedPlugin('swap2');
    await cp(join(dir.path, 'index.js'), join(dir.path, 'lib', 'copy.js'));
    await unlink(join(dir.path, 'index.js'));
    await symlink('lib/copy.js', join(dir.path, 'index.js'));
    await unlink(join(dir.path, 'lib', 'copy.js'));
    const v = await verifyPlugin(dir.path, { keyring });
    assert.equal(v.status, 'modified');
    assert.deepEqual(rules(v), ['symlink-changed']);
  });

  it('signed by a key not in the keyring → invalid (key-unknown)', async () => {
    await using dir = await tempDir('wrongkey');
    await writePlugin(dir.path);
    await signPlugin(dir.path, { privateKey: mallory.privateKey });
    const v = await verifyPlugin(dir.path, { keyring });
    assert.equal(v.status, 'invalid');
    assert.deepEqual(rules(v), ['key-unknown']);
    assert.equal(v.reasons[0]?.keyId, keyIdOf(mallory.publicKey));
  });

  it('key id of a keyring key but a signature by another key → invalid (signature-bad)', async () => {
    await using dir = await signedPlugin('forged');
    const path = join(dir.path, signatureFileName);
    const doc = JSON.parse(await readFile(path, 'utf8'));
    const other = await tempDir('forged-src');
    await using _o = other;
    await writePlugin(other.path);
    const forged = (await signPlugin(other.path, { privateKey: mallory.privateKey })).document;
    await writeFile(path, JSON.stringify({ ...doc, signature: forged.signature }));
    const v = await verifyPlugin(dir.path, { keyring });
    assert.equal(v.status, 'invalid');
    assert.deepEqual(rules(v), ['signature-bad']);
  });

  it('a signed field edited (file hash rewritten to match a tampered file) → invalid (signature-bad)', async () => {
    await using dir = await signedPlugin('edit');
    await writeFile(join(dir.path, 'index.js'), 'evil();\n');
    const path = join(dir.path, signatureFileName);
    const doc = JSON.parse(await readFile(path, 'utf8'));
    const { files } = await listPluginFiles(dir.path);
    await writeFile(path, JSON.stringify({ ...doc, files }));
    const v = await verifyPlugin(dir.path, { keyring });
    assert.equal(v.status, 'invalid');
    assert.deepEqual(rules(v), ['signature-bad']);
  });

  it('revoked key → invalid (key-revoked), from keyring.json by file name or by key id', async () => {
    await using dir = await signedPlugin('revoked');
    await using ring = await tempDir('ring');
    await writeFile(join(ring.path, 'alice.pub'), alice.publicPem);
    await writeFile(
      join(ring.path, 'keyring.json'),
      JSON.stringify({ keys: { 'alice.pub': { revoked: true } } }),
    );
    const v = await verifyPlugin(dir.path, { keyring: await loadKeyring(ring.path) });
    assert.equal(v.status, 'invalid');
    assert.deepEqual(rules(v), ['key-revoked']);
    // Revoked by id with the .pub already deleted: still revoked, not merely unknown.
    await rm(join(ring.path, 'alice.pub'));
    const id = keyIdOf(alice.publicKey);
    await writeFile(join(ring.path, 'keyring.json'), JSON.stringify({ keys: { [id]: { revoked: true } } }));
    const v2 = await verifyPlugin(dir.path, { keyring: await loadKeyring(ring.path) });
    assert.deepEqual(rules(v2), ['key-revoked']);
  });

  it('truncated signature file → invalid (signature-malformed)', async () => {
    await using dir = await signedPlugin('truncated');
    const path = join(dir.path, signatureFileName);
    const text = await readFile(path, 'utf8');
    for (const cut of [0, 1, Math.floor(text.length / 2), text.length - 3]) {
      await writeFile(path, text.slice(0, cut));
      const v = await verifyPlugin(dir.path, { keyring });
      assert.equal(v.status, 'invalid', `cut at ${cut}`);
      assert.deepEqual(rules(v), ['signature-malformed']);
    }
  });

  it('malformed signature files → invalid, naming the field', async () => {
    await using dir = await signedPlugin('malformed');
    const path = join(dir.path, signatureFileName);
    const doc = JSON.parse(await readFile(path, 'utf8'));
    const cases: [unknown, string, string][] = [
      [[], 'signature-malformed', '(root)'],
      [{ ...doc, format: 2 }, 'format-unsupported', 'format'],
      [{ ...doc, format: '1' }, 'signature-malformed', 'format'],
      [{ ...doc, keyId: 'ABC' }, 'signature-malformed', 'keyId'],
      [{ ...doc, signature: 'AAAA' }, 'signature-malformed', 'signature'],
      [{ ...doc, files: {} }, 'signature-malformed', 'files'],
      [{ ...doc, files: [...doc.files].reverse() }, 'signature-malformed', 'files[1].path'],
      [
        { ...doc, files: [{ path: '../etc/passwd', sha256: '0'.repeat(64), size: 1 }] },
        'signature-malformed',
        'files[0].path',
      ],
      [{ ...doc, files: [{ path: 'a', sha256: 'x', size: 1 }] }, 'signature-malformed', 'files[0].sha256'],
      [{ ...doc, extra: true }, 'signature-malformed', 'extra'],
      [{ ...doc, signedAt: 'yesterday' }, 'signature-malformed', 'signedAt'],
    ];
    for (const [content, rule, field] of cases) {
      await writeFile(path, JSON.stringify(content));
      const v = await verifyPlugin(dir.path, { keyring });
      assert.equal(v.status, 'invalid', field);
      assert.deepEqual(
        v.reasons.map((r) => [r.rule, r.field]),
        [[rule, field]],
      );
    }
  });

  it("another plugin's signature copied over → invalid (manifest-mismatch)", async () => {
    await using a = await signedPlugin('copy-a');
    await using b = await tempDir('copy-b');
    await writePlugin(b.path, 'other-plugin', '2.0.0');
    await cp(join(a.path, signatureFileName), join(b.path, signatureFileName));
    const v = await verifyPlugin(b.path, { keyring });
    assert.equal(v.status, 'invalid');
    assert.deepEqual(rules(v), ['manifest-mismatch']);
    // Same files, another version in plugin.json (a "version bump" by hand): also invalid, not just modified.
    await using c = await signedPlugin('copy-c');
    const manifest = JSON.parse(await readFile(join(c.path, 'plugin.json'), 'utf8'));
    await writeFile(join(c.path, 'plugin.json'), JSON.stringify({ ...manifest, version: '9.9.9' }));
    assert.deepEqual(rules(await verifyPlugin(c.path, { keyring })), ['manifest-mismatch']);
  });

  it('a signature file that is a symlink or a FIFO in the plugin does not hang or get followed', async () => {
    await using dir = await signedPlugin('hostile');
    const path = join(dir.path, signatureFileName);
    await cp(path, join(dir.path, '..', `${signatureFileName}-${process.pid}`));
    const outside = join(dir.path, '..', `${signatureFileName}-${process.pid}`);
    try {
      await rm(path);
      await symlink(outside, path);
      const v = await verifyPlugin(dir.path, { keyring });
      assert.equal(v.status, 'invalid');
      assert.deepEqual(rules(v), ['signature-unreadable']);
      await rm(path);
      await cp(outside, path);
    } finally {
      await rm(outside, { force: true });
    }
    execFileSync('mkfifo', [join(dir.path, 'lib', 'pipe')]);
    const v = await verifyPlugin(dir.path, { keyring });
    assert.equal(v.status, 'modified');
    assert.deepEqual(
      v.reasons.map((r) => [r.rule, r.path]),
      [['file-unsupported', 'lib/pipe']],
    );
    await assert.rejects(
      signPlugin(dir.path, { privateKey: alice.privateKey }),
      (e) => e instanceof PlugbayError && e.code === 'PLUGBAY_INVALID_ARGUMENT',
    );
  });

  it('signing refuses a broken manifest with PLUGBAY_MANIFEST_INVALID', async () => {
    await using dir = await tempDir('badmanifest');
    await writePlugin(dir.path);
    await writeFile(join(dir.path, 'plugin.json'), '{"name":"Bad Name"}');
    await assert.rejects(
      signPlugin(dir.path, { privateKey: alice.privateKey }),
      (e) => e instanceof PlugbayError && e.code === 'PLUGBAY_MANIFEST_INVALID',
    );
  });
});

describe('keyring', () => {
  it('a .pub dropped in is community; keyring.json raises it to trusted; broken .pub files are reported', async () => {
    await using ring = await tempDir('ring2');
    await writeFile(join(ring.path, 'alice.pub'), alice.publicPem);
    await writeFile(join(ring.path, 'mallory.pub'), mallory.publicPem);
    await writeFile(join(ring.path, 'junk.pub'), 'not a key');
    await writeFile(
      join(ring.path, 'keyring.json'),
      JSON.stringify({ keys: { alice: { trust: 'trusted' } } }),
    );
    const k = await loadKeyring(ring.path);
    assert.equal(k.keys.get(keyIdOf(alice.publicKey))?.trust, 'trusted');
    assert.equal(k.keys.get(keyIdOf(mallory.publicKey))?.trust, 'community');
    assert.deepEqual(
      k.problems.map((p) => p.source),
      ['junk.pub'],
    );
    assert.equal(k.lookup('0000000000000000').status, 'unknown');
  });

  it('a broken keyring.json is an error, never silently ignored (it could hold revocations)', async () => {
    await using ring = await tempDir('ring3');
    await writeFile(join(ring.path, 'alice.pub'), alice.publicPem);
    for (const text of [
      '{',
      '[]',
      '{"keys":{"alice":{"trust":"root"}}}',
      '{"keys":{"alice":{"revoked":false}}}',
    ]) {
      await writeFile(join(ring.path, 'keyring.json'), text);
      await assert.rejects(
        loadKeyring(ring.path),
        (e) => e instanceof PlugbayError && e.code === 'PLUGBAY_INVALID_ARGUMENT',
      );
    }
    await assert.rejects(
      loadKeyring(join(ring.path, 'nope')),
      (e) => e instanceof PlugbayError && e.code === 'PLUGBAY_INVALID_ARGUMENT',
    );
  });

  it('keys from PEM text and KeyObject give the same id', () => {
    assert.equal(keyIdOf(createPublicKey(alice.publicPem)), keyIdOf(alice.privateKey));
  });
});
