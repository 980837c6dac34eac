import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { checkPluginDir, discover } from './discover.js';

const source = 'export default {};';

async function diagnosticsOf(t: Parameters<typeof tempDir>[0], spec: Parameters<typeof writePlugin>[2]) {
  const root = await tempDir(t);
  const dir = await writePlugin(root, 'p', spec);
  const result = await checkPluginDir(dir);
  assert.equal(result.plugin, undefined, 'a broken plugin must not be returned');
  return result.diagnostics;
}

test('a valid plugin is checked and its entry resolved inside the directory', async (t) => {
  const root = await tempDir(t);
  const dir = await writePlugin(root, 'echo@1.0.0', { manifest: manifest(), files: { 'index.mjs': source } });
  const { plugin, diagnostics } = await checkPluginDir(dir);
  assert.deepEqual(diagnostics, []);
  assert.equal(plugin?.id, 'echo@1.0.0');
  assert.equal(plugin?.entryPath, join(dir, 'index.mjs'));
});

test('missing plugin.json (an empty directory)', async (t) => {
  const [d, ...rest] = await diagnosticsOf(t, {});
  assert.equal(rest.length, 0);
  assert.equal(d?.code, 'PLUGBAY_MANIFEST_INVALID');
  assert.equal(d?.field, 'plugin.json');
  assert.equal(d?.rule, 'readable');
});

test('plugin.json that is not valid JSON', async (t) => {
  const [d] = await diagnosticsOf(t, { manifest: '{ "name": "x", ' });
  assert.equal(d?.code, 'PLUGBAY_MANIFEST_INVALID');
  assert.equal(d?.rule, 'json');
});

test('an unreadable plugin.json (a directory in its place)', async (t) => {
  const root = await tempDir(t);
  const dir = await writePlugin(root, 'p', {});
  await mkdir(join(dir, 'plugin.json'));
  const { plugin, diagnostics } = await checkPluginDir(dir);
  assert.equal(plugin, undefined);
  assert.equal(diagnostics[0]?.code, 'PLUGBAY_MANIFEST_INVALID');
  assert.equal(diagnostics[0]?.rule, 'readable');
});

const badFields: [string, Record<string, unknown>, string, string][] = [
  ['uppercase name', { name: 'Echo' }, 'name', 'pattern'],
  ['version not semver', { version: 'one' }, 'version', 'semver'],
  ['unknown runtime', { runtime: 'python' }, 'runtime', 'enum'],
  ['missing entry', { entry: undefined }, 'entry', 'required'],
  ['unknown field (a typo)', { funtions: {} }, 'funtions', 'additionalProperties'],
  [
    'bad function name',
    { functions: { 'bad-name': { input: {}, output: {} } } },
    'functions.bad-name',
    'additionalProperties',
  ],
  [
    'function input not a schema',
    { functions: { resize: { input: 'image', output: {} } } },
    'functions.resize.input',
    'json-schema',
  ],
  [
    'function output an invalid schema',
    { functions: { f: { input: {}, output: { type: 'integr' } } } },
    'functions.f.output',
    'json-schema',
  ],
  [
    'timeoutMs not positive',
    { functions: { f: { input: {}, output: {}, timeoutMs: 0 } } },
    'functions.f.timeoutMs',
    'minimum',
  ],
  [
    'function input under a $schema draft plugbay does not know',
    { functions: { f: { input: { $schema: 'https://json-schema.org/draft/2020-12/schema' }, output: {} } } },
    'functions.f.input',
    'json-schema',
  ],
  ['bad engines range', { engines: { node: 'twenty' } }, 'engines.node', 'semver-range'],
  ['bad permission memoryMb', { permissions: { memoryMb: -1 } }, 'permissions.memoryMb', 'minimum'],
  ['absolute entry', { entry: '/etc/passwd' }, 'entry', 'inside-plugin-dir'],
  ['entry with ..', { entry: '../outside.mjs' }, 'entry', 'inside-plugin-dir'],
  ['exec-only field on a node plugin', { service: 'kv.KV' }, 'service', 'runtime'],
];

for (const [what, overrides, field, rule] of badFields) {
  test(`manifest rejected: ${what} → ${field} (${rule})`, async (t) => {
    const diagnostics = await diagnosticsOf(t, {
      manifest: manifest(overrides),
      files: { 'index.mjs': source },
    });
    const d = diagnostics.find((x) => x.field === field);
    assert.ok(d, `expected a diagnostic on ${field}, got ${JSON.stringify(diagnostics)}`);
    assert.equal(d.code, 'PLUGBAY_MANIFEST_INVALID');
    assert.equal(d.rule, rule);
    assert.ok(d.message.startsWith(`${field}: `), d.message);
    assert.equal(d.severity, 'error');
  });
}

test('the message names the field and the rule, as the docs promise', async (t) => {
  const [d] = await diagnosticsOf(t, {
    manifest: manifest({ functions: { resize: { input: 42, output: {} } } }),
    files: { 'index.mjs': source },
  });
  assert.equal(d?.message, 'functions.resize.input: must be a JSON Schema object');
});

test('entry that does not exist', async (t) => {
  const [d] = await diagnosticsOf(t, { manifest: manifest({ entry: 'missing.mjs' }) });
  assert.equal(d?.field, 'entry');
  assert.equal(d?.rule, 'exists');
});

test('entry that is a symlink leaving the plugin directory', async (t) => {
  const root = await tempDir(t);
  await writeFile(join(root, 'outside.mjs'), source);
  const dir = await writePlugin(root, 'p', { manifest: manifest() });
  await symlink(join(root, 'outside.mjs'), join(dir, 'index.mjs'));
  const { plugin, diagnostics } = await checkPluginDir(dir);
  assert.equal(plugin, undefined);
  // The reader refuses any link leaving the folder, the entry's or another's (artifact/read.test.ts).
  assert.equal(diagnostics[0]?.code, 'PLUGBAY_ARTIFACT_INVALID');
  assert.equal(diagnostics[0]?.rule, 'symlink-outside');
  assert.equal(diagnostics[0]?.details?.path, 'index.mjs');
});

test('a symlink that stays inside the plugin directory is fine', async (t) => {
  const root = await tempDir(t);
  const dir = await writePlugin(root, 'p', { manifest: manifest(), files: { 'lib/real.mjs': source } });
  await symlink('lib/real.mjs', join(dir, 'index.mjs'));
  const { plugin } = await checkPluginDir(dir);
  assert.equal(plugin?.entryPath, join(dir, 'lib/real.mjs'));
});

const mismatches: [string, Record<string, unknown>, string][] = [
  ['plugbay too new', { engines: { plugbay: '>=99.0.0' } }, 'engines.plugbay'],
  ['node too old', { engines: { node: '<18' } }, 'engines.node'],
  ['other OS', { platform: { os: ['win32'] } }, 'platform.os'],
  ['excluded OS', { platform: { os: [`!${process.platform}`] } }, 'platform.os'],
  ['other CPU', { platform: { cpu: ['s390x'] } }, 'platform.cpu'],
  ['other native ABI', { platform: { abi: '1' } }, 'platform.abi'],
];

for (const [what, overrides, field] of mismatches) {
  test(`engine mismatch: ${what}`, async (t) => {
    const [d, ...rest] = await diagnosticsOf(t, {
      manifest: manifest(overrides),
      files: { 'index.mjs': source },
    });
    assert.equal(rest.length, 0);
    assert.equal(d?.code, 'PLUGBAY_ENGINE_MISMATCH');
    assert.equal(d?.field, field);
    assert.equal(typeof d?.details?.required, 'string');
    assert.equal(typeof d?.details?.actual, 'string');
  });
}

test('discover: broken plugins are reported and skipped, the rest are returned', async (t) => {
  const root = await tempDir(t);
  await writePlugin(root, 'good@1.0.0', {
    manifest: manifest({ name: 'good' }),
    files: { 'index.mjs': source },
  });
  await writePlugin(root, 'empty', {});
  await writePlugin(root, 'badjson', { manifest: '{' });
  await writePlugin(root, 'old', {
    manifest: manifest({ name: 'old', engines: { node: '<1' } }),
    files: { 'index.mjs': source },
  });
  await writePlugin(root, 'draft2020', {
    manifest: manifest({
      name: 'draft2020',
      functions: { f: { input: { $schema: 'https://json-schema.org/draft/2020-12/schema' }, output: {} } },
    }),
    files: { 'index.mjs': source },
  });
  await writeFile(join(root, 'README.md'), 'not a plugin');
  const { plugins, diagnostics } = await discover(root);
  assert.deepEqual(
    plugins.map((p) => p.id),
    ['good@1.0.0'],
  );
  assert.deepEqual(diagnostics.map((d) => d.code).sort(), [
    'PLUGBAY_ENGINE_MISMATCH',
    'PLUGBAY_MANIFEST_INVALID',
    'PLUGBAY_MANIFEST_INVALID',
    'PLUGBAY_MANIFEST_INVALID',
  ]);
});

test('discover: two directories with the same name and version are both refused, never one silently', async (t) => {
  const root = await tempDir(t);
  await writePlugin(root, 'a', { manifest: manifest(), files: { 'index.mjs': source } });
  await writePlugin(root, 'b', { manifest: manifest(), files: { 'index.mjs': source } });
  await writePlugin(root, 'c', { manifest: manifest({ version: '2.0.0' }), files: { 'index.mjs': source } });
  const { plugins, diagnostics } = await discover(root);
  assert.deepEqual(
    plugins.map((p) => p.id),
    ['echo@2.0.0'],
  );
  assert.equal(diagnostics.length, 2);
  for (const d of diagnostics) {
    assert.equal(d.code, 'PLUGBAY_DUPLICATE_PLUGIN');
    assert.equal((d.details as { dirs: string[] }).dirs.length, 2);
  }
});

test('discover: a missing root directory is one diagnostic, not a crash', async (t) => {
  const root = await tempDir(t);
  const { plugins, diagnostics } = await discover(join(root, 'nope'));
  assert.deepEqual(plugins, []);
  assert.equal(diagnostics[0]?.code, 'PLUGBAY_LOAD_FAILED');
});

test('a folder named name@version that disagrees with the manifest is a warning', async (t) => {
  const root = await tempDir(t);
  const dir = await writePlugin(root, 'echo@9.9.9', { manifest: manifest(), files: { 'index.mjs': source } });
  const { plugin, diagnostics } = await checkPluginDir(dir);
  assert.equal(plugin?.id, 'echo@1.0.0');
  assert.equal(diagnostics[0]?.severity, 'warning');
});
