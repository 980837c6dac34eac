import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { validateManifest } from '../core/manifest.js';
import { hostVersion } from '../core/version.js';
import { discover } from '../host/discover.js';
import { exitOf, linkNodeModules, outputLines, runPlugbay, startPlugbay } from '../test-support/cli.js';
import { tempDir, writePlugin } from '../test-support/plugins.js';
import { buildPlugin, buildPlugins } from './build.js';

const calcSource = `import { Type, definePlugin } from '@plugbay/sdk';

export default definePlugin({
  name: 'calc',
  version: '2.3.4',
  description: 'Adds numbers.',
  permissions: { memoryMb: 64 },
  config: Type.Object({ precision: Type.Optional(Type.Integer({ minimum: 0 })) }),
  implements: { math: '^1.0.0' },
  functions: {
    add: {
      description: 'a + b',
      input: Type.Object({ a: Type.Number(), b: Type.Number() }),
      output: Type.Object({ sum: Type.Number() }),
      timeoutMs: 500,
      idempotent: true,
      examples: [{ input: { a: 1, b: 2 }, output: { sum: 3 } }],
      handler: ({ a, b }) => ({ sum: a + b }),
    },
  },
  start() {
    // A timer left running at import/start time must not keep the build's child process alive.
    setInterval(() => {}, 1000);
  },
});
setInterval(() => {}, 1000);
`;

/** A temp `plugins/` folder whose parent has node_modules (as a plugin author's project would). */
async function pluginsDir(t: TestContext): Promise<string> {
  const project = await tempDir(t);
  await linkNodeModules(project);
  const plugins = join(project, 'plugins');
  await mkdir(plugins);
  return plugins;
}

test('build bundles a TS plugin into a self-contained dist/plugin.js and a valid plugin.json', async (t) => {
  const root = await pluginsDir(t);
  const dir = await writePlugin(root, 'calc', { files: { 'src/index.ts': calcSource } });

  const built = await buildPlugin(dir);
  const text = await readFile(join(dir, 'plugin.json'), 'utf8');
  const manifest = JSON.parse(text);
  assert.deepEqual(built.manifest, manifest);
  assert.deepEqual(validateManifest(manifest).problems, []);
  const [major, minor] = hostVersion.split('.');
  assert.deepEqual(manifest, {
    name: 'calc',
    version: '2.3.4',
    description: 'Adds numbers.',
    runtime: 'node',
    entry: 'dist/plugin.js',
    files: ['dist/plugin.js', 'dist/package.json'],
    engines: { plugbay: `^${major}.${minor}`, node: '>=20' },
    implements: { math: '^1.0.0' },
    functions: {
      add: {
        description: 'a + b',
        input: {
          type: 'object',
          required: ['a', 'b'],
          properties: { a: { type: 'number' }, b: { type: 'number' } },
        },
        output: { type: 'object', required: ['sum'], properties: { sum: { type: 'number' } } },
        timeoutMs: 500,
        idempotent: true,
        examples: [{ input: { a: 1, b: 2 }, output: { sum: 3 } }],
      },
    },
    permissions: { memoryMb: 64 },
    config: { type: 'object', properties: { precision: { type: 'integer', minimum: 0 } } },
  });

  // Self-contained: no import of the SDK or TypeBox is left for the host to resolve.
  const bundle = await readFile(join(dir, 'dist/plugin.js'), 'utf8');
  assert.doesNotMatch(bundle, /from\s*["'](@plugbay\/sdk|@sinclair\/typebox)/);
  // It runs where no node_modules exist (in a child: its top-level timer would keep this process alive).
  const bare = await tempDir(t);
  await cp(join(dir, 'dist'), bare, { recursive: true });
  const script = `const m = await import(${JSON.stringify(pathToFileURL(join(bare, 'plugin.js')).href)});
    console.log(m.default.name); process.exit(0);`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(run.stdout.trim(), 'calc', run.stderr);

  // Discovery accepts what build wrote.
  const found = await discover(root);
  assert.deepEqual(found.diagnostics, []);
  assert.deepEqual(
    found.plugins.map((p) => p.id),
    ['calc@2.3.4'],
  );

  // Rebuilding gives the same bytes.
  const before = { manifest: text, bundle, mtime: (await stat(join(dir, 'plugin.json'))).mtimeMs };
  await buildPlugin(dir);
  assert.equal(await readFile(join(dir, 'plugin.json'), 'utf8'), before.manifest);
  assert.equal(await readFile(join(dir, 'dist/plugin.js'), 'utf8'), before.bundle);
});

test('engines set in the definition win over the defaults', async (t) => {
  const root = await pluginsDir(t);
  const source = `import { Type, definePlugin } from '@plugbay/sdk';
export default definePlugin({
  name: 'pinned', version: '1.0.0', engines: { plugbay: '>=0.1.0', node: '>=20.10' },
  functions: { f: { input: Type.Null(), output: Type.Null(), handler: () => null } },
});
`;
  const dir = await writePlugin(root, 'pinned', { files: { 'src/index.ts': source } });
  const { manifest } = await buildPlugin(dir);
  assert.deepEqual(manifest.engines, { plugbay: '>=0.1.0', node: '>=20.10' });
});

test('a directory of plugins: TS plugins are built, other folders skipped, failures reported', async (t) => {
  const root = await pluginsDir(t);
  await writePlugin(root, 'calc', { files: { 'src/index.ts': calcSource } });
  await writePlugin(root, 'handwritten', { manifest: { name: 'x' } });
  await writePlugin(root, 'no-default', { files: { 'src/index.ts': 'export const x = 1;\n' } });
  await writePlugin(root, 'syntax', { files: { 'src/index.ts': 'export default {\n' } });
  const bad = `import { Type, definePlugin } from '@plugbay/sdk';
export default definePlugin({ name: 'Not Valid', version: '1.0.0',
  functions: { f: { input: Type.Null(), output: Type.Null(), handler: () => null } } });
`;
  await writePlugin(root, 'bad-name', { files: { 'src/index.ts': bad } });

  const outcomes = await buildPlugins(root);
  const byDir = Object.fromEntries(outcomes.map((o) => [o.dir.slice(root.length + 1), o]));
  assert.deepEqual(Object.keys(byDir).sort(), ['bad-name', 'calc', 'handwritten', 'no-default', 'syntax']);
  assert.equal(byDir.calc?.status, 'built');
  assert.equal(byDir.handwritten?.status, 'skipped');
  const codeOf = (name: string) => {
    const o = byDir[name];
    assert.equal(o?.status, 'failed', name);
    return o.status === 'failed' ? o.error.code : undefined;
  };
  assert.equal(codeOf('no-default'), 'PLUGBAY_LOAD_FAILED');
  assert.equal(codeOf('syntax'), 'PLUGBAY_LOAD_FAILED');
  assert.equal(codeOf('bad-name'), 'PLUGBAY_MANIFEST_INVALID');
  // An invalid manifest is never written.
  await assert.rejects(stat(join(root, 'bad-name', 'plugin.json')), { code: 'ENOENT' });
});

test('plugbay build: exit 0 when built, 1 on a failed build or nothing to build, 2 on bad usage', async (t) => {
  const root = await pluginsDir(t);
  const dir = await writePlugin(root, 'calc', { files: { 'src/index.ts': calcSource } });

  const ok = await runPlugbay(['build', dir]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /built\s+calc@2\.3\.4/);

  const empty = await tempDir(t);
  assert.equal((await runPlugbay(['build', empty])).code, 1);

  await writePlugin(root, 'broken', { files: { 'src/index.ts': 'export default {\n' } });
  const failed = await runPlugbay(['build', root]);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /PLUGBAY_LOAD_FAILED/);

  const usage = await runPlugbay(['build', '--nope']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /unknown option --nope; see plugbay build --help/);
});

test('plugbay build --watch: a save rebuilds the bundle and plugin.json; a broken save is reported and the next one builds', async (t) => {
  const project = await tempDir(t);
  await linkNodeModules(project);
  const source = (version: string, body = "'v'") =>
    `import { definePlugin, Type } from '@plugbay/sdk';\nexport default definePlugin({ name: 'live', version: '${version}', functions: { v: { input: Type.Any(), output: Type.Any(), handler: () => ${body} } } });\n`;
  const dir = await writePlugin(project, 'live', { files: { 'src/index.ts': source('1.0.0') } });
  const child = startPlugbay(['build', dir, '--watch'], { cwd: project });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const lines = outputLines(child);
  assert.match(await lines.next(/^built /), /^built +live@1\.0\.0/);
  await writeFile(join(dir, 'src/index.ts'), source('1.0.1'));
  assert.match(await lines.next(/^built /), /^built +live@1\.0\.1/);
  assert.equal(
    (JSON.parse(await readFile(join(dir, 'plugin.json'), 'utf8')) as { version: string }).version,
    '1.0.1',
  );
  await writeFile(join(dir, 'src/index.ts'), source('1.0.2', "'unterminated"));
  assert.match(await lines.next(/^failed /), /PLUGBAY_LOAD_FAILED: bundling .* failed: src\/index\.ts:2: /);
  await writeFile(join(dir, 'src/index.ts'), source('1.0.2'));
  assert.match(await lines.next(/^built /), /^built +live@1\.0\.2/);
  child.kill('SIGINT');
  assert.equal(await exitOf(child), 0);
});
