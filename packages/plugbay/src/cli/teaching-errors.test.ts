// The messages a new plugin author meets first (issue #18, "errors that teach"): each one names what is wrong and
// what to do instead, in one place, with the exit code a script can rely on. The real CLI in a child process.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { validateManifest } from '../core/manifest.js';
import { createHost } from '../host/host.js';
import { exitOf, linkNodeModules, runPlugbay, servePlugbay } from '../test-support/cli.js';
import { manifest, pluginSource, tempDir, writePlugin } from '../test-support/plugins.js';

test('an unknown flag: one line naming it, the closest known flag, exit 2', async () => {
  const res = await runPlugbay(['check', 'plugins', '--keyrng', 'keys']);
  assert.equal(res.code, 2);
  assert.equal(
    res.stderr,
    'plugbay check: unknown option --keyrng (did you mean --keyring?); see plugbay check --help\n',
  );

  const far = await runPlugbay(['serve', '--zzzzzz']);
  assert.equal(far.code, 2);
  assert.equal(far.stderr, 'plugbay serve: unknown option --zzzzzz; see plugbay serve --help\n');

  const missing = await runPlugbay(['serve', '--port']);
  assert.equal(missing.code, 2);
  assert.equal(
    missing.stderr,
    'plugbay serve: --port needs a value (--port <value>); see plugbay serve --help\n',
  );
});

test('plugbay new --lang python: the languages it makes, no tier "undefined", exit 2', async (t) => {
  const dir = await tempDir(t);
  const res = await runPlugbay(['new', 'hello', '--lang', 'python', '--dir', dir]);
  assert.equal(res.code, 2);
  assert.match(res.stderr, /lang "python" is not one plugbay new makes: use ts, assemblyscript, c, rust, go/);
  assert.doesNotMatch(res.stderr, /undefined/);
  const typo = await runPlugbay(['new', 'hello', '--lang', 'rusty', '--dir', dir]);
  assert.match(typo.stderr, /\(did you mean "rust"\?\)/);
});

test('a manifest typo: the field once, and "did you mean" for a property or an enum value', async (t) => {
  const broken = validateManifest({ ...manifest(), runtime: undefined, runtim: 'node' });
  assert.ok('problems' in broken);
  assert.deepEqual(
    broken.problems.find((p) => p.field === 'runtim'),
    {
      field: 'runtim',
      rule: 'additionalProperties',
      message: 'is not allowed here (did you mean "runtime"?)',
    },
  );
  const nested = validateManifest({ ...manifest(), permissions: { memoryMB: 64 } });
  assert.ok('problems' in nested);
  assert.match(nested.problems[0]!.message, /did you mean "memoryMb"\?/);
  const value = validateManifest({ ...manifest(), runtime: 'nod' });
  assert.ok('problems' in value);
  assert.match(value.problems[0]!.message, /did you mean "node"\?/);

  // The check table: FIELD says the field, MESSAGE does not say it again.
  const root = await tempDir(t);
  const { runtime: _, ...rest } = manifest();
  await writePlugin(root, 'typo', { manifest: { ...rest, runtim: 'node' }, files: { 'index.mjs': '' } });
  const res = await runPlugbay(['check', root]);
  assert.equal(res.code, 1);
  assert.match(res.stdout, /runtim +additionalProperties +is not allowed here \(did you mean "runtime"\?\)/);
  assert.doesNotMatch(res.stdout, /runtime: is required|runtim: is not allowed/);
});

test('plugbay check <one plugin folder> checks that plugin; serve says what to pass instead (exit 2)', async (t) => {
  const root = await tempDir(t);
  const dir = await writePlugin(root, 'echo', {
    manifest: manifest(),
    files: { 'index.mjs': pluginSource('echo', '1.0.0', { echo: '(input) => input' }) },
  });
  const ok = await runPlugbay(['check', dir]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /^echo +1\.0\.0 +node +ok /m);
  assert.match(ok.stdout, /1 plugin\(s\) ok, 0 rejected/);

  const broken = await writePlugin(root, 'broken', { manifest: { ...manifest(), name: 'Broken!' } });
  const rejected = await runPlugbay(['check', broken]);
  assert.equal(rejected.code, 1);
  assert.match(rejected.stdout, /0 plugin\(s\) ok, 1 rejected/);

  const empty = join(root, 'empty');
  await mkdir(empty);
  const none = await runPlugbay(['check', empty]);
  assert.match(none.stdout, /takes a folder of plugin folders, or one plugin folder with its plugin\.json/);

  const serve = await runPlugbay(['serve', dir, '--port', '0', '--state', join(root, 'state.db')]);
  assert.equal(serve.code, 2);
  assert.equal(
    serve.stderr,
    `plugbay serve: ${dir} is one plugin's folder (it has plugin.json); serve the folder that holds your plugins: plugbay serve ${root}; see plugbay serve --help\n`,
  );
});

test('plugbay sign of an unbuilt TypeScript plugin: "run plugbay build first", not ENOENT', async (t) => {
  const root = await tempDir(t);
  const keys = await runPlugbay(['keygen', '--out', join(root, 'me')]);
  assert.equal(keys.code, 0, keys.stderr);
  const made = await runPlugbay(['new', 'fresh', '--lang', 'ts', '--dir', root]);
  assert.equal(made.code, 0, made.stderr);
  const res = await runPlugbay(['sign', join(root, 'fresh'), '--key', join(root, 'me.key')]);
  assert.equal(res.code, 2);
  assert.match(res.stderr, /has no plugin\.json yet: run plugbay build first/);
  assert.doesNotMatch(res.stderr, /ENOENT/);

  // Built once, then dist/ removed: the entry is what is missing.
  await writePlugin(root, 'stale', {
    manifest: { ...manifest({ name: 'stale', entry: 'dist/plugin.js' }) },
    files: { 'src/index.ts': 'export {};\n' },
  });
  const stale = await runPlugbay(['sign', join(root, 'stale'), '--key', join(root, 'me.key')]);
  assert.equal(stale.code, 2);
  assert.match(stale.stderr, /its entry dist\/plugin\.js is missing: run plugbay build first/);
});

test('a TypeScript plugin that throws at import: its file, line and the original message (build and load)', async (t) => {
  const project = await tempDir(t);
  await linkNodeModules(project);
  const source = [
    "import { definePlugin, Type } from '@plugbay/sdk';",
    '',
    "const settings = process.env.PLUGBAY_TEST_BUILDING ? {} : JSON.parse('{bad');",
    '',
    'export default definePlugin({',
    "  name: 'boom',",
    "  version: '1.0.0',",
    '  functions: {',
    '    echo: { input: Type.Any(), output: Type.Any(), handler: (input) => ({ input, settings }) },',
    '  },',
    '});',
    '',
  ].join('\n');
  const dir = await writePlugin(join(project, 'plugins'), 'boom', { files: { 'src/index.ts': source } });
  const failed = await runPlugbay(['build', dir]);
  assert.equal(failed.code, 1);
  assert.match(
    failed.stderr,
    /PLUGBAY_LOAD_FAILED: at src\/index\.ts:3:\d+, importing the plugin threw SyntaxError: Expected property name or '\}' in JSON at position 1/,
  );

  // Built clean, then loaded where the import throws: the thread worker and the process child say where.
  const built = await runPlugbay(['build', dir], { env: { PLUGBAY_TEST_BUILDING: '1' } });
  assert.equal(built.code, 0, built.stderr);
  for (const tier of ['thread', 'process'] as const) {
    const host = createHost({ logger: pino({ level: 'silent' }), tierFor: () => tier });
    t.after(() => host.close());
    const report = await host.loadDirectory(join(project, 'plugins'));
    const problem = report.diagnostics.find((d) => d.severity === 'error');
    // The process tier knows only that its child died before the handshake; the child's last words say why.
    const code = tier === 'thread' ? 'PLUGBAY_LOAD_FAILED' : 'PLUGBAY_START_FAILED';
    assert.equal(problem?.code, code, `${tier}: ${problem?.message}`);
    assert.match(
      problem.message,
      /at src\/index\.ts:3:\d+, importing the plugin threw SyntaxError: Expected property name/,
      tier,
    );
  }
});

test('plugbay serve with every plugin rejected says so on stdout, and /readyz answers 503 "failed" with why', async (t) => {
  const root = await tempDir(t);
  const plugins = join(root, 'plugins');
  await writePlugin(plugins, 'typo', {
    manifest: { ...manifest(), runtim: 'node' },
    files: { 'index.mjs': '' },
  });
  const { child, url } = await servePlugbay(t, plugins, ['--dev'], join(root, 'state.db'));
  let stdout = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  const ready = await fetch(`${url}/readyz`);
  assert.equal(ready.status, 503);
  assert.deepEqual(await ready.json(), {
    status: 'failed',
    reason: 'no plugin loaded: every plugin was rejected (the gateway log says why)',
    rejected: [{ plugin: 'echo', code: 'PLUGBAY_MANIFEST_INVALID' }],
  });
  child.kill('SIGTERM');
  assert.equal(await exitOf(child), 0);
  assert.match(stdout, /^plugbay serve: no plugin loaded: every plugin below \S+ was rejected/m);
  assert.match(
    stdout,
    /^ {2}typo: PLUGBAY_MANIFEST_INVALID: runtim: is not allowed here \(did you mean "runtime"\?\)/m,
  );

  // Nothing to load is not a failure: an empty plugins folder is ready.
  const empty = join(root, 'empty');
  await mkdir(empty);
  const idle = await servePlugbay(t, empty, ['--dev'], join(root, 'state2.db'));
  assert.equal((await fetch(`${idle.url}/readyz`)).status, 200);
  idle.child.kill('SIGTERM');
  assert.equal(await exitOf(idle.child), 0);
});

test('plugbay build typechecks a plugin with a tsconfig.json (its own tsc), --no-typecheck skips; the scaffold brings typescript', async (t) => {
  const project = await tempDir(t);
  await linkNodeModules(project);
  const made = await runPlugbay(['new', 'typed', '--lang', 'ts', '--dir', project]);
  assert.equal(made.code, 0, made.stderr);
  const dir = join(project, 'typed');
  const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>;
  };
  assert.ok(pkg.devDependencies.typescript, 'the TS scaffold has typescript as a devDependency');
  const clean = await runPlugbay(['build', dir]);
  assert.equal(clean.code, 0, clean.stderr);
  assert.match(clean.stdout, /built +typed@0\.1\.0 +\S+ +\(typechecked\)/);

  const source = await readFile(join(dir, 'src/index.ts'), 'utf8');
  await writeFile(join(dir, 'src/index.ts'), `const wrong: number = 'text';\nvoid wrong;\n${source}`);
  const failed = await runPlugbay(['build', dir]);
  assert.equal(failed.code, 1);
  assert.match(
    failed.stderr,
    /PLUGBAY_LOAD_FAILED: type errors \(tsc --noEmit.*src\/index\.ts\(1,7\): error TS2322/,
  );
  const skipped = await runPlugbay(['build', dir, '--no-typecheck']);
  assert.equal(skipped.code, 0, skipped.stderr);
  assert.doesNotMatch(skipped.stdout, /typechecked/);
});
