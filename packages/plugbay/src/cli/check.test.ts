import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runPlugbay } from '../test-support/cli.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import type { CheckReport } from './commands/check.js';

const entry = { 'index.mjs': 'export default {};\n' };

test('plugbay check --json: every broken case is one rejected plugin with its diagnostic; exit 1', async (t) => {
  const root = await tempDir(t);
  const outside = await tempDir(t);
  await writeFile(join(outside, 'evil.mjs'), 'export default {};\n');

  await writePlugin(root, 'good', { manifest: manifest({ name: 'good' }), files: entry });
  await writePlugin(root, 'missing', { files: entry });
  await writePlugin(root, 'bad-json', { manifest: '{ "name": "x",', files: entry });
  await writePlugin(root, 'bad-field', { manifest: manifest({ name: 'Bad Name' }), files: entry });
  await writePlugin(root, 'dotdot', { manifest: manifest({ name: 'dotdot', entry: '../good/index.mjs' }) });
  await writePlugin(root, 'absolute', {
    manifest: manifest({ name: 'absolute', entry: join(outside, 'evil.mjs') }),
  });
  const linked = await writePlugin(root, 'symlink', {
    manifest: manifest({ name: 'symlink', entry: 'link.mjs' }),
  });
  await symlink(join(outside, 'evil.mjs'), join(linked, 'link.mjs'));
  await writePlugin(root, 'engine', {
    manifest: manifest({ name: 'engine', engines: { plugbay: '>=99.0.0' } }),
    files: entry,
  });
  await writePlugin(root, 'dup-a', { manifest: manifest({ name: 'dup' }), files: entry });
  await writePlugin(root, 'dup-b', { manifest: manifest({ name: 'dup' }), files: entry });
  // Unreadable even for root: plugin.json is a directory.
  await mkdir(join(await writePlugin(root, 'unreadable', { files: entry }), 'plugin.json'));
  await mkdir(join(root, 'empty'));

  const { code, stdout, stderr } = await runPlugbay(['check', root, '--json']);
  assert.equal(code, 1, stderr);
  const report = JSON.parse(stdout) as CheckReport;
  assert.equal(report.ok, false);

  const status = Object.fromEntries(report.plugins.map((p) => [p.dir.slice(root.length + 1), p.status]));
  assert.deepEqual(status, {
    absolute: 'rejected',
    'bad-field': 'rejected',
    'bad-json': 'rejected',
    dotdot: 'rejected',
    'dup-a': 'rejected',
    'dup-b': 'rejected',
    empty: 'rejected',
    engine: 'rejected',
    good: 'ok',
    missing: 'rejected',
    symlink: 'rejected',
    unreadable: 'rejected',
  });

  const diagnosticsOf = (folder: string) =>
    report.diagnostics.filter((d) => d.dir === join(root, folder)).map((d) => [d.code, d.field, d.rule]);
  assert.deepEqual(diagnosticsOf('missing'), [['PLUGBAY_MANIFEST_INVALID', 'plugin.json', 'readable']]);
  assert.deepEqual(diagnosticsOf('empty'), [['PLUGBAY_MANIFEST_INVALID', 'plugin.json', 'readable']]);
  assert.deepEqual(diagnosticsOf('unreadable'), [['PLUGBAY_MANIFEST_INVALID', 'plugin.json', 'readable']]);
  assert.deepEqual(diagnosticsOf('bad-json'), [['PLUGBAY_MANIFEST_INVALID', 'plugin.json', 'json']]);
  assert.deepEqual(diagnosticsOf('bad-field'), [['PLUGBAY_MANIFEST_INVALID', 'name', 'pattern']]);
  assert.deepEqual(diagnosticsOf('dotdot'), [['PLUGBAY_MANIFEST_INVALID', 'entry', 'inside-plugin-dir']]);
  assert.deepEqual(diagnosticsOf('absolute'), [['PLUGBAY_MANIFEST_INVALID', 'entry', 'inside-plugin-dir']]);
  // Any symlink leaving the version refuses it, the entry included (artifact/read.ts).
  assert.deepEqual(diagnosticsOf('symlink'), [['PLUGBAY_ARTIFACT_INVALID', undefined, 'symlink-outside']]);
  assert.deepEqual(diagnosticsOf('engine'), [
    ['PLUGBAY_ENGINE_MISMATCH', 'engines.plugbay', 'engines.plugbay'],
  ]);
  assert.deepEqual(diagnosticsOf('dup-a'), [['PLUGBAY_DUPLICATE_PLUGIN', undefined, undefined]]);
  assert.deepEqual(diagnosticsOf('dup-b'), [['PLUGBAY_DUPLICATE_PLUGIN', undefined, undefined]]);
  assert.deepEqual(diagnosticsOf('good'), []);
  const engine = report.diagnostics.find((d) => d.code === 'PLUGBAY_ENGINE_MISMATCH');
  assert.equal(engine?.details?.required, '>=99.0.0');
  assert.equal(typeof engine?.details?.actual, 'string');
});

test('plugbay check: human tables name every plugin and diagnostic; exit 0 when all pass', async (t) => {
  const root = await tempDir(t);
  await writePlugin(root, 'good', { manifest: manifest({ name: 'good' }), files: entry });
  const ok = await runPlugbay(['check', root]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(
    ok.stdout,
    /^PLUGIN\s+VERSION\s+RUNTIME\s+STATUS\s+PERMISSIONS\s+SANDBOX \(process tier\)\s+DIR$/m,
  );
  assert.match(ok.stdout, /^good\s+1\.0\.0\s+node\s+ok\s+none\s+node-permission-model \+ \S.*\s+good$/m);

  await writePlugin(root, 'bad-field', { manifest: manifest({ name: 'Bad Name' }), files: entry });
  const bad = await runPlugbay(['check', root]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /^Bad Name\s+1\.0\.0\s+-\s+rejected\s+-\s+-\s+bad-field$/m);
  assert.match(bad.stdout, /^bad-field\s+error\s+PLUGBAY_MANIFEST_INVALID\s+name\s+pattern\s+/m);
});

test('plugbay check: an empty directory has no plugins and passes; bad usage exits 2', async (t) => {
  const root = await tempDir(t);
  const empty = await runPlugbay(['check', root, '--json']);
  assert.equal(empty.code, 0, empty.stderr);
  assert.deepEqual(JSON.parse(empty.stdout), { ok: true, plugins: [], diagnostics: [] });

  const missing = await runPlugbay(['check', join(root, 'nope'), '--json']);
  assert.equal(missing.code, 1);
  assert.equal((JSON.parse(missing.stdout) as CheckReport).diagnostics[0]?.code, 'PLUGBAY_LOAD_FAILED');

  const flag = await runPlugbay(['check', '--nope']);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /unknown option --nope; see plugbay check --help/);
  const usage = await runPlugbay(['check', 'a', 'b']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /Usage: plugbay check/);
});
