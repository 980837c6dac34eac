// plugbay pack: the unit that is signed and shipped, and the host loading it like a folder.
import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { Header } from 'tar';
import { createHost } from '../host/host.js';
import { runPlugbay } from '../test-support/cli.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { createThreadTier } from '../tiers/index.js';
import { createKeyring } from '../trust/keyring.js';
import { generateKeys } from '../trust/keys.js';
import { signPlugin } from '../trust/sign.js';
import { verifyPlugin } from '../trust/verify.js';
import { packPlugin } from './pack.js';

const quiet = pino({ level: 'silent' });
const source = `export default { name: 'packed', version: '1.0.0', functions: {
  echo: { input: {}, output: {}, handler: (i) => i },
} };\n`;

/** A built plugin folder with what a developer's folder holds besides: dependencies, sources, editor litter. */
async function developerFolder(t: TestContext, overrides: Record<string, unknown> = {}) {
  const root = await tempDir(t);
  return writePlugin(root, 'packed', {
    manifest: manifest({ name: 'packed', entry: 'dist/plugin.js', ...overrides }),
    files: {
      'dist/plugin.js': source,
      'dist/package.json': '{"type":"module"}\n',
      'README.md': '# packed\n',
      'src/index.ts': 'export {};\n',
      'node_modules/dep/index.js': 'module.exports = 1;\n',
      '.editorconfig': 'root = true\n',
      'dist/plugin.js.swp': 'litter',
      'notes.txt~': 'litter',
    },
  });
}

function threadHost(t: TestContext, options: Parameters<typeof createHost>[0] = {}) {
  const host = createHost({
    logger: quiet,
    tierFor: () => 'thread',
    tiers: { thread: createThreadTier() },
    ...options,
  });
  t.after(() => host.close());
  return host;
}

test('sign signs what pack packs; the packed file is deterministic and loads (verified) like the folder', async (t) => {
  const key = generateKeys();
  const keyring = createKeyring([{ publicKey: key.publicKeyPem, trust: 'trusted' }]);
  const dir = await developerFolder(t);
  const { document } = await signPlugin(dir, { privateKey: key.privateKeyPem });
  const set = ['README.md', 'dist/package.json', 'dist/plugin.js', 'plugin.json'];
  assert.deepEqual(
    document.files.map((f) => f.path),
    set,
    'no node_modules, src/, dot-files or litter',
  );

  const out = await tempDir(t);
  const cli = await runPlugbay(['pack', dir, '--out', out]);
  assert.equal(cli.code, 0, cli.stderr);
  const file = join(out, 'packed@1.0.0.plugbay.tgz');
  assert.match(cli.stdout, /packed packed@1\.0\.0 \(5 files, signed, digest [0-9a-f]{64}\)/);
  const again = await packPlugin(dir, { out: join(await tempDir(t), 'again.plugbay.tgz') });
  assert.deepEqual(
    await readFile(again.path),
    await readFile(file),
    'the same folder packs to the same bytes',
  );
  assert.deepEqual(again.files, [...set, 'plugin.sig.json'].sort());
  const verified = await runPlugbay(['verify', file, '--keyring', await keyringDir(t, key.publicKeyPem)]);
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);

  // Served beside folders: loadDirectory (what `plugbay serve` and the watcher use) takes the packed file.
  const host = threadHost(t, { trust: { signatures: 'required', keyring } });
  const report = await host.loadDirectory(out);
  assert.deepEqual(report.diagnostics, []);
  const [v] = report.loaded;
  assert.equal(v?.trust.status, 'valid');
  assert.equal(v?.digest, again.digest);
  assert.equal(v?.dir, file);
  assert.deepEqual(await host.call('packed', 'echo', { text: 'hi' }), { text: 'hi' });
  assert.deepEqual((await readdir(join(v!.artifact, 'dist'))).sort(), ['package.json', 'plugin.js']);
});

test('declared files: only what the globs name (node_modules when a glob names it), plus manifest and entry', async (t) => {
  const dir = await developerFolder(t, { files: ['dist/*.js', 'node_modules/dep/**'] });
  const out = await tempDir(t);
  const packed = await packPlugin(dir, { out });
  assert.deepEqual(packed.files, ['dist/plugin.js', 'node_modules/dep/index.js', 'plugin.json']);
});

test('the manifest refuses files globs that leave the plugin', async (t) => {
  for (const glob of ['../x/**', '/etc/**', '!dist/**']) {
    const dir = await developerFolder(t, { files: [glob] });
    const cli = await runPlugbay(['pack', dir, '--out', await tempDir(t)]);
    assert.equal(cli.code, 2);
    assert.match(cli.stderr, /PLUGBAY_MANIFEST_INVALID.*files\[0\]/);
  }
});

/** A gzip'd tar written header by header, so that it can hold what pack never writes. */
function rawTar(entries: { path: string; type?: string; linkpath?: string; data?: string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    const block = Buffer.alloc(512);
    new Header({
      path: e.path,
      type: (e.type ?? 'File') as 'File',
      mode: 0o644,
      size: data.length,
      mtime: new Date(0),
      ...(e.linkpath === undefined ? {} : { linkpath: e.linkpath }),
    }).encode(block, 0);
    blocks.push(block, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

test('a malicious packed file is refused with PLUGBAY_ARTIFACT_INVALID and nothing is written by its paths', async (t) => {
  const plugin = JSON.stringify(manifest({ name: 'packed', entry: 'index.mjs' }));
  const cases: [string, { path: string; type?: string; linkpath?: string; data?: string }, string][] = [
    ['parent path', { path: '../escaped.mjs', data: 'x' }, 'parent-path'],
    ['nested parent path', { path: 'a/../../escaped.mjs', data: 'x' }, 'parent-path'],
    ['absolute path', { path: '/tmp/escaped.mjs', data: 'x' }, 'absolute-path'],
    ['symlink', { path: 'index.mjs', type: 'SymbolicLink', linkpath: '/etc/passwd' }, 'link'],
    ['hard link', { path: 'index.mjs', type: 'Link', linkpath: '/etc/passwd' }, 'link'],
  ];
  const root = await tempDir(t);
  const host = threadHost(t, { artifactsDir: join(root, 'artifacts') });
  for (const [name, entry, rule] of cases) {
    const file = join(root, `${rule}-${name.replaceAll(' ', '-')}.plugbay.tgz`);
    await writeFile(
      file,
      rawTar([{ path: 'plugin.json', data: plugin }, entry, { path: 'index.mjs', data: source }]),
    );
    await assert.rejects(
      host.load(file),
      (e: { code?: string; details?: { diagnostics?: { rule?: string }[] } }) => {
        assert.equal(e.code, 'PLUGBAY_ARTIFACT_INVALID', name);
        assert.equal(e.details?.diagnostics?.[0]?.rule, rule, name);
        return true;
      },
    );
  }
  await assert.rejects(stat(join(root, '..', 'escaped.mjs')), { code: 'ENOENT' });
  assert.deepEqual(host.versions(), []);
  assert.ok(host.diagnostics().every((d) => d.code === 'PLUGBAY_ARTIFACT_INVALID'));
});

async function keyringDir(t: TestContext, publicKeyPem: string): Promise<string> {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'dev.pub'), publicKeyPem);
  return dir;
}

test('verify checks the file set: a file added under node_modules/ or src/ is not part of the plugin, one at the root is', async (t) => {
  const key = generateKeys();
  const keyring = createKeyring([{ publicKey: key.publicKeyPem }]);
  const dir = await developerFolder(t);
  await signPlugin(dir, { privateKey: key.privateKeyPem });
  await writeFile(join(dir, 'node_modules', 'dep', 'evil.js'), 'changed');
  await writeFile(join(dir, 'src', 'index.ts'), 'changed');
  assert.equal((await verifyPlugin(dir, { keyring })).status, 'valid');
  await writeFile(join(dir, 'evil.js'), 'added');
  const v = await verifyPlugin(dir, { keyring });
  assert.equal(v.status, 'modified');
  assert.deepEqual(
    v.reasons.map((r) => [r.rule, r.path]),
    [['file-added', 'evil.js']],
  );
});
