// Reading a folder version into memory: only files inside it, only links that stay inside it, only so many bytes.
import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import { chmod, mkdir, readFile, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { discover } from '../host/discover.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { createKeyring } from '../trust/keyring.js';
import { generateKeys, parsePrivateKey } from '../trust/keys.js';
import { type SignatureDocument, signedBytes, signPlugin } from '../trust/sign.js';
import { verifyPlugin } from '../trust/verify.js';
import { maxVersionBytes } from './contents.js';
import { readFolder } from './read.js';
import { openArtifactStore } from './store.js';

const plugin = (files: Record<string, string> = {}) => ({
  manifest: manifest({ name: 'leak', entry: 'index.mjs' }),
  files: { 'index.mjs': 'export default {};\n', ...files },
});

/** A folder `outside/` beside the plugin folder `leak/`, holding a secret. */
async function besideOutside(t: TestContext) {
  const root = await tempDir(t);
  const outside = join(root, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'secret.txt'), 'SECRET\n');
  return { root, outside };
}

test('a directory swapped for a symlink to outside between the walk and the open is refused, not read', async (t) => {
  const { root, outside } = await besideOutside(t);
  const dir = await writePlugin(root, 'leak', plugin({ 'd/secret.txt': 'dummy\n' }));
  const swap = async (path: string) => {
    if (path !== 'd/secret.txt') return;
    await rm(join(dir, 'd'), { recursive: true });
    await symlink(outside, join(dir, 'd'));
  };
  await assert.rejects(readFolder(dir, { beforeOpen: swap }), {
    code: 'PLUGBAY_ARTIFACT_INVALID',
    details: { source: dir, rule: 'outside-folder', path: 'd/secret.txt' },
  });
});

test('the store keeps a file’s read bits without its write bits: an owner-only file stays owner-only', async (t) => {
  const dir = await writePlugin(await tempDir(t), 'modes', plugin({ 'secret.txt': 'x', 'run.sh': 'x' }));
  await chmod(join(dir, 'secret.txt'), 0o600);
  await chmod(join(dir, 'run.sh'), 0o755);
  const store = await openArtifactStore(join(await tempDir(t), 'artifacts'));
  const { dir: stored } = await store.put(await readFolder(dir));
  const mode = async (path: string) => (await stat(join(stored, path))).mode & 0o777;
  assert.equal(await mode('secret.txt'), 0o400);
  assert.equal(await mode('run.sh'), 0o555);
  assert.equal(await mode('index.mjs'), 0o444);
});

test('a symlink that is absolute or leaves the version is refused by the reader and by sign; one inside is kept', async (t) => {
  const { root, outside } = await besideOutside(t);
  const key = generateKeys();
  for (const [name, target] of [
    ['absolute', join(outside, 'secret.txt')],
    ['relative', '../outside/secret.txt'],
    ['through-dir', 'lib/../../outside/secret.txt'],
  ] as const) {
    const dir = await writePlugin(root, name, plugin({ 'lib/real.mjs': 'export {};\n' }));
    await symlink(target, join(dir, 'lib.mjs'));
    await assert.rejects(readFolder(dir), {
      code: 'PLUGBAY_ARTIFACT_INVALID',
      details: { source: dir, rule: 'symlink-outside', path: 'lib.mjs' },
    });
    await assert.rejects(signPlugin(dir, { privateKey: key.privateKeyPem }), {
      code: 'PLUGBAY_INVALID_ARGUMENT',
      details: { rule: 'symlink-outside', path: 'lib.mjs' },
    });
  }
  const inside = await writePlugin(root, 'inside', plugin({ 'lib/real.mjs': 'export {};\n' }));
  await symlink('lib/real.mjs', join(inside, 'lib.mjs'));
  await symlink('lib', join(inside, 'alias'));
  const read = await readFolder(inside);
  assert.deepEqual(read.files.get('lib.mjs'), { symlink: 'lib/real.mjs' });
  await signPlugin(inside, { privateKey: key.privateKeyPem });
});

test('a good signature over a symlink that leaves the version verifies invalid, not valid', async (t) => {
  const { root, outside } = await besideOutside(t);
  const key = generateKeys();
  const keyring = createKeyring([{ publicKey: key.publicKeyPem, trust: 'trusted' }]);
  const dir = await writePlugin(root, 'signed', plugin());
  await symlink('index.mjs', join(dir, 'lib.mjs'));
  // What an older `sign` wrote for `lib.mjs -> <outside>`: the link listed and signed as it is.
  const { path, document } = await signPlugin(dir, { privateKey: key.privateKeyPem });
  const files = document.files.map((f) =>
    f.path === 'lib.mjs' ? { path: f.path, symlink: join(outside, 'secret.txt') } : f,
  );
  const payload = { ...document, files };
  const signature = sign(null, signedBytes(payload), parsePrivateKey(key.privateKeyPem)).toString('base64');
  await writeFile(path, JSON.stringify({ ...payload, signature } satisfies SignatureDocument));
  await rm(join(dir, 'lib.mjs'));
  await symlink(join(outside, 'secret.txt'), join(dir, 'lib.mjs'));

  const verification = await verifyPlugin(dir, { keyring });
  assert.equal(verification.status, 'invalid');
  assert.deepEqual(
    verification.reasons.map((r) => [r.rule, r.path]),
    [['symlink-outside', 'lib.mjs']],
  );
  assert.match(await readFile(path, 'utf8'), /secret\.txt/);
});

test('a folder over the version limit is refused from its sizes before any body is read', async (t) => {
  const root = await tempDir(t);
  const one = await writePlugin(root, 'one-big-file', plugin());
  await writeFile(join(one, 'big.bin'), '');
  await truncate(join(one, 'big.bin'), maxVersionBytes + 1); // sparse: no disk used
  const two = await writePlugin(root, 'two-files', plugin());
  for (const name of ['a.bin', 'b.bin']) {
    await writeFile(join(two, name), '');
    await truncate(join(two, name), maxVersionBytes / 2 + 1);
  }
  const rssBefore = process.resourceUsage().maxRSS;
  await assert.rejects(readFolder(one), {
    code: 'PLUGBAY_ARTIFACT_INVALID',
    details: { source: one, rule: 'size', path: 'big.bin', limit: maxVersionBytes },
  });
  await assert.rejects(readFolder(two), {
    code: 'PLUGBAY_ARTIFACT_INVALID',
    details: { source: two, rule: 'size', limit: maxVersionBytes },
  });
  // maxRSS is in KiB: reading either body would have raised the peak by a gigabyte.
  assert.ok(process.resourceUsage().maxRSS - rssBefore < 256 * 1024, 'a body was read');
});

test('a version refused for its size or an outside symlink is a diagnostic; the others still load', async (t) => {
  const { root, outside } = await besideOutside(t);
  await writePlugin(root, 'good', { ...plugin(), manifest: manifest({ name: 'good', entry: 'index.mjs' }) });
  const big = await writePlugin(root, 'big', plugin());
  await writeFile(join(big, 'big.bin'), '');
  await truncate(join(big, 'big.bin'), maxVersionBytes + 1);
  const linked = await writePlugin(root, 'linked', plugin());
  await symlink(join(outside, 'secret.txt'), join(linked, 'lib.mjs'));
  await rm(join(outside, 'secret.txt')); // `outside/` itself is read as a plugin folder without plugin.json

  const found = await discover(root);
  assert.deepEqual(
    found.plugins.map((p) => p.id),
    ['good@1.0.0'],
  );
  const rules = found.diagnostics
    .filter((d) => d.dir === big || d.dir === linked)
    .map((d) => [d.dir, d.code, d.rule]);
  assert.deepEqual(rules, [
    [big, 'PLUGBAY_ARTIFACT_INVALID', 'size'],
    [linked, 'PLUGBAY_ARTIFACT_INVALID', 'symlink-outside'],
  ]);
});
