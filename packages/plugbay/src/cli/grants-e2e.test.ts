// Finding 3 of #13 through the real CLI and gateway: an unsigned wasm plugin asking for the host's /etc and $HOME
// under `plugbay serve --dev` runs only once the operator grants it (a --grants file, or `plugbay grant` against the
// running gateway); `plugbay check` shows the request and what is granted; a bad grants file is refused.
import assert from 'node:assert/strict';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, type TestContext, test } from 'node:test';
import type { Diagnostic } from '../core/types.js';
import { runPlugbay, servePlugbay } from '../test-support/cli.js';
import { tempDir, writePlugin } from '../test-support/plugins.js';
import { buildFixtures, fixture } from '../tiers/wasm/test-fixtures.js';
import type { CheckReport } from './commands/check.js';

before(() => buildFixtures());

const hostname = await readFile('/etc/hostname', 'utf8');
const finding = { fs: { mounts: [{ host: '/etc', guest: '/etc' }] }, env: ['HOME'] };

/** A plugins directory holding the finding's plugin (the C wasm fixture: read_file, get_env). */
async function plugins(t: TestContext) {
  const root = await tempDir(t);
  const dir = await writePlugin(join(root, 'plugins'), 'reader', {
    manifest: {
      name: 'reader',
      version: '1.0.0',
      runtime: 'wasm',
      entry: 'plugin.wasm',
      functions: {
        read_file: { input: { type: 'string' }, output: {} },
        get_env: { input: { type: 'string' }, output: {} },
      },
      permissions: finding,
    },
  });
  await copyFile(fixture('c'), join(dir, 'plugin.wasm'));
  const grants = join(root, 'grants.json');
  await writeFile(
    grants,
    JSON.stringify({ grants: [{ plugin: 'reader', capabilities: ['fs.write:/etc', 'env:HOME'] }] }),
  );
  return { root, plugins: join(root, 'plugins'), grants };
}

async function serve(t: TestContext, root: string, dir: string, extra: string[] = []) {
  return (await servePlugbay(t, dir, ['--dev', ...extra], join(root, 'state.db'))).url;
}

async function call(url: string, fn: string, input: string) {
  const res = await fetch(`${url}/v1/call/reader/${fn}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
  return { status: res.status, body: (await res.json()) as unknown };
}

interface PluginsReport {
  plugins: {
    name: string;
    versions: { permissions: { requested: unknown; granted: unknown } }[];
    diagnostics: Diagnostic[];
  }[];
}

test('serve --dev refuses the plugin until `plugbay grant`, which loads it; audited, listed, revocable', async (t) => {
  const { root, plugins: dir } = await plugins(t);
  const url = await serve(t, root, dir);

  const refused = await call(url, 'read_file', '/etc/hostname');
  assert.equal(refused.status, 404, JSON.stringify(refused.body));
  const report = (await (await fetch(`${url}/v1/plugins`)).json()) as PluginsReport;
  const diagnostic = report.plugins.find((p) => p.name === 'reader')?.diagnostics[0];
  assert.equal(diagnostic?.code, 'PLUGBAY_PERMISSION_DENIED');
  assert.equal(diagnostic?.field, 'permissions.fs.mounts.0');

  const first = await runPlugbay([
    'grant',
    'reader',
    'fs.write:/etc',
    '--url',
    url,
    '--reason',
    'reads its config',
  ]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /still refused reader@1\.0\.0: PLUGBAY_PERMISSION_DENIED/);
  const second = await runPlugbay(['grant', 'reader', 'env:HOME', '--url', url]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /loaded reader@1\.0\.0/);

  assert.deepEqual(await call(url, 'read_file', '/etc/hostname'), { status: 200, body: hostname });
  assert.deepEqual(await call(url, 'get_env', 'HOME'), { status: 200, body: process.env.HOME });
  const loaded = (await (await fetch(`${url}/v1/plugins`)).json()) as PluginsReport;
  assert.deepEqual(loaded.plugins.find((p) => p.name === 'reader')?.versions[0]?.permissions, {
    requested: finding,
    granted: finding,
  });

  const listed = await runPlugbay(['grants', 'reader', '--url', url]);
  assert.match(listed.stdout, /^reader\s+env:HOME\s+admin\s+\*$/m);
  assert.match(listed.stdout, /^reader\s+fs\.write:\/etc\s+admin\s+\*$/m);
  const revoked = await runPlugbay(['revoke', 'reader', 'env:HOME', '--url', url]);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.match(revoked.stdout, /unloaded reader@1\.0\.0/);
  assert.equal((await call(url, 'get_env', 'HOME')).status, 404);
  const bad = await runPlugbay(['grant', 'reader', 'fs.read:etc', '--url', url]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /PLUGBAY_INVALID_ARGUMENT[\s\S]*field: capability/);

  const audit = await runPlugbay(['audit', 'reader', '--url', url, '--json']);
  const entries = (
    JSON.parse(audit.stdout) as { entries: { action: string; actor: string; reason?: string }[] }
  ).entries;
  assert.deepEqual(
    entries
      .filter((e) => e.action === 'grant' || e.action === 'revoke')
      .map((e) => [e.action, e.actor, e.reason]),
    [
      ['revoke', 'cli', undefined],
      ['grant', 'cli', undefined],
      ['grant', 'cli', 'reads its config'],
    ],
  );
});

test('serve --dev --grants <file> loads it at once; a grants file with a bad field is a usage error naming it', async (t) => {
  const { root, plugins: dir, grants } = await plugins(t);
  const url = await serve(t, root, dir, ['--grants', grants]);
  assert.deepEqual(await call(url, 'read_file', '/etc/hostname'), { status: 200, body: hostname });

  await writeFile(grants, JSON.stringify({ grants: [{ plugin: 'reader', capabilities: ['fs.read:etc'] }] }));
  const bad = await runPlugbay(['serve', dir, '--dev', '--port', '0', '--grants', grants]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--grants .*grants\.0\.capabilities\.0 must name an absolute host path/);
});

test('plugbay check shows what the plugin asks for and what is granted, with and without --grants', async (t) => {
  const { plugins: dir, grants } = await plugins(t);
  const plain = await runPlugbay(['check', dir]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /^reader\s+1\.0\.0\s+wasm\s+warnings\s+needs fs\.write:\/etc, env:HOME\s/m);
  assert.match(
    plain.stdout,
    /^reader\s+warning\s+PLUGBAY_PERMISSION_DENIED\s+permissions\.fs\.mounts\.0\s+granted\s/m,
  );
  const json = JSON.parse((await runPlugbay(['check', dir, '--json'])).stdout) as CheckReport;
  const row = json.plugins[0]!;
  assert.deepEqual(row.permissions?.requested, finding);
  assert.deepEqual(row.permissions?.granted, { fs: { mounts: [] }, env: [] });
  assert.equal(row.permissions?.level, 'unsigned');

  const granted = await runPlugbay(['check', dir, '--grants', grants]);
  assert.equal(granted.code, 0, granted.stderr);
  assert.match(granted.stdout, /^reader\s+1\.0\.0\s+wasm\s+ok\s+granted \(unsigned\)\s/m);
});
