// Installable with no registry (issue #18): `npm run pack`'s two tarballs install together into an empty folder,
// docs/getting-started.md runs there as written (real npx, real npm install), and a TypeScript and an
// AssemblyScript plugin are scaffolded, npm-installed, built and tested, all while any registry request for
// @plugbay/* fails (its registry is a closed port). Other dependencies come from npm's cache or registry
// (--prefer-offline; CI has the registry).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { hostVersion } from '../core/version.js';
import { repoRoot } from '../test-support/cli.js';
import { tempDir } from '../test-support/plugins.js';
import { promisedLines, runGettingStarted } from './test-support.js';

const run = promisify(execFile);

const npmMissing = await run('npm', ['--version']).then(
  () => undefined,
  () => 'npm is not installed here',
);

test('npm run pack: the tarballs install into an empty folder, getting-started and the TS and AssemblyScript scaffolds work there, no registry for @plugbay/*', {
  skip: npmMissing,
  timeout: 15 * 60_000,
}, async (t) => {
  const work = await tempDir(t, 'plugbay-tarballs-');
  const packed = join(work, 'packed');
  const { stdout: packOut } = await run('node', ['scripts/pack-packages.mjs', '--out', packed], {
    cwd: repoRoot,
  });
  const tarballs = (await readdir(packed)).sort();
  assert.deepEqual(tarballs, [`plugbay-${version()}.tgz`, `plugbay-sdk-${version()}.tgz`]);
  assert.match(packOut, /npm install \S+plugbay-sdk-\S+\.tgz \S+plugbay-\S+\.tgz/);

  // A user config for every npm below: @plugbay/* only from a closed port, so any fetch of them fails.
  const npmrc = join(work, 'npmrc');
  await writeFile(
    npmrc,
    '@plugbay:registry=http://127.0.0.1:1/\nprefer-offline=true\naudit=false\nfund=false\nupdate-notifier=false\n',
  );
  const { NODE_TEST_CONTEXT: _, ...inherited } = process.env;
  const env = { ...inherited, npm_config_userconfig: npmrc };
  const npm = (args: string[], cwd: string) => run('npm', args, { cwd, env, timeout: 5 * 60_000 });

  const project = join(work, 'project');
  await mkdir(project);
  await writeFile(join(project, 'package.json'), '{ "name": "try-plugbay", "private": true }\n');
  // Install scripts off: better-sqlite3's would compile SQLite (minutes on a small machine); its binary is taken
  // from this repository's install of the same version below (what prebuild-install would have fetched).
  await npm(['install', '--ignore-scripts', ...[...tarballs].reverse().map((f) => join(packed, f))], project);
  await reuseNativeBuild(project);
  const installed = JSON.parse(await readFile(join(project, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  assert.match(installed.dependencies.plugbay ?? '', /^file:.*plugbay-[\d.]+\.tgz$/);
  assert.match(installed.dependencies['@plugbay/sdk'] ?? '', /^file:.*plugbay-sdk-[\d.]+\.tgz$/);
  const help = await run('npx', ['plugbay', '--help'], { cwd: project, env });
  assert.match(help.stdout, /^plugbay \d+\.\d+\.\d+ — a plugin host for Node\.js/);

  // The page as written: npx plugbay new, npm install, build, test, sign, serve, curl.
  const output = await runGettingStarted(project, { env, timeoutMs: 8 * 60_000 });
  for (const line of await promisedLines()) {
    assert.ok(output.includes(line), `expected "${line}" in:\n${output}`);
  }
  assert.match(output, /package\.json takes plugbay file:\.\.\/\.\.\/node_modules\/plugbay/);
  assert.match(output, /Hello, Grace!/);

  // AssemblyScript: its scaffold's npm install and npm test (asc build, then plugbay test in the wasm tier).
  const made = await run('npx', ['plugbay', 'new', 'shout', '--lang', 'assemblyscript', '--dir', 'plugins'], {
    cwd: project,
    env,
  });
  assert.match(made.stdout, /takes plugbay file:\.\.\/\.\.\/node_modules\/plugbay from this plugbay install/);
  const shout = join(project, 'plugins/shout');
  await npm(['install'], shout);
  const tested = await npm(['test'], shout);
  assert.match(tested.stdout, /every check passed/);
});

function version(): string {
  return hostVersion;
}

/** better-sqlite3's compiled binary from this repository's install, when the versions match; else a real build. */
async function reuseNativeBuild(project: string): Promise<void> {
  const pkg = 'node_modules/better-sqlite3';
  const versionOf = async (root: string) =>
    (JSON.parse(await readFile(join(root, pkg, 'package.json'), 'utf8')) as { version: string }).version;
  const binary = 'build/Release/better_sqlite3.node';
  if ((await versionOf(project)) === (await versionOf(repoRoot))) {
    await mkdir(join(project, pkg, 'build/Release'), { recursive: true });
    await copyFile(join(repoRoot, pkg, binary), join(project, pkg, binary));
  } else {
    await run('npm', ['rebuild', 'better-sqlite3'], { cwd: project, timeout: 10 * 60_000 });
  }
}
