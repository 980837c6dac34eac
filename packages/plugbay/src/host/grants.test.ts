// Finding 3 of #13: a plugin's `permissions` are a request; the operator grants. Reproduced with the C wasm fixture
// (read_file, get_env) loaded unsigned the way `plugbay serve --dev` loads it (signatures `warn`).
import assert from 'node:assert/strict';
import { readFileSync, realpathSync } from 'node:fs';
import { copyFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { pino } from 'pino';
import { PlugbayError } from '../core/errors.js';
import { tempDir, writePlugin } from '../test-support/plugins.js';
import { createProcessTier, createWasmTier } from '../tiers/index.js';
import { buildFixtures, fixture, wasmPlugin } from '../tiers/wasm/test-fixtures.js';
import { createHost } from './host.js';
import type { HostOptions } from './types.js';
import { createWatcher } from './watch.js';

before(() => buildFixtures());

const text = { type: 'string' };
const hostname = readFileSync('/etc/hostname', 'utf8');

/** The finding's plugin: asks for the host's /etc and $HOME. */
function reader(t: Parameters<typeof tempDir>[0], permissions: object, version = '1.0.0') {
  const p = wasmPlugin(fixture('c'), {
    name: 'reader',
    version,
    functions: {
      read_file: { input: text, output: {} },
      write_file: { input: text, output: {} },
      get_env: { input: text, output: {} },
    },
    permissions,
  });
  t.after(() => p.cleanup());
  return p.dir;
}

const finding = { fs: { mounts: [{ host: '/etc', guest: '/etc' }] }, env: ['HOME'] };

function devHost(t: Parameters<typeof tempDir>[0], options: HostOptions = {}) {
  const host = createHost({
    logger: pino({ level: 'silent' }),
    tiers: { wasm: createWasmTier({ run: 'host-thread' }) },
    trust: { signatures: 'warn' },
    ...options,
  });
  t.after(() => host.close());
  return host;
}

test('an unsigned wasm plugin asking for a mount of /etc and env HOME is refused, naming each capability', async (t) => {
  const host = devHost(t);
  const err = await host.load(reader(t, finding)).catch((e: unknown) => e);
  assert.ok(err instanceof PlugbayError, String(err));
  assert.equal(err.code, 'PLUGBAY_PERMISSION_DENIED');
  assert.equal(err.plugin, 'reader');
  const details = err.details as { field: string; denied: { field: string; capability: string }[] };
  assert.equal(details.field, 'permissions.fs.mounts.0');
  assert.deepEqual(
    details.denied.map((d) => [d.field, d.capability]),
    [
      ['permissions.fs.mounts.0', 'fs.write:/etc'],
      ['permissions.env.0', 'env:HOME'],
    ],
  );
  assert.deepEqual(host.versions(), []);
  assert.equal(host.diagnostics()[0]?.code, 'PLUGBAY_PERMISSION_DENIED');
  assert.equal(host.diagnostics()[0]?.field, 'permissions.fs.mounts.0');
});

test('without a grant, what loads cannot read /etc or see HOME; its own folder it may mount', async (t) => {
  const host = devHost(t);
  const status = await host.load(
    reader(t, { fs: { mounts: [{ host: '.', guest: '/own', readOnly: true }] } }),
  );
  // Granted as the real path decided on: its own (stored) folder.
  assert.deepEqual(status.permissions.granted, {
    fs: { mounts: [{ host: realpathSync(status.artifact), guest: '/own', readOnly: true }] },
  });
  assert.match(String(await host.call('reader', 'read_file', '/own/plugin.json')), /"reader"/);
  await assert.rejects(host.call('reader', 'read_file', '/etc/hostname'), { code: 'PLUGBAY_PLUGIN_ERROR' });
  assert.equal(await host.call('reader', 'get_env', 'HOME'), null);
});

test('a write inside its own folder is refused at every level: the version runs from a read-only, verified copy', async (t) => {
  // Trusted (signatures off) gets what it asks for, but never a writable view of its stored copy: a plugin writing
  // there as the gateway's uid could change the bytes that the next load or restart runs.
  const host = devHost(t, { trust: { signatures: 'off' } });
  for (const [permissions, field] of [
    [{ fs: { mounts: [{ host: '.', guest: '/own' }] } }, 'permissions.fs.mounts.0'],
    [
      { fs: { mounts: [{ host: '.', guest: '/own', readOnly: true }], write: ['./data'] } },
      'permissions.fs.write.0',
    ],
  ] as const) {
    const err = await host.load(reader(t, permissions)).catch((e: unknown) => e);
    assert.ok(err instanceof PlugbayError, String(err));
    assert.equal(err.code, 'PLUGBAY_PERMISSION_DENIED');
    assert.equal((err.details as { rule: string }).rule, 'read-only-version');
    assert.equal((err.details as { field: string }).field, field);
  }
  assert.deepEqual(host.versions(), []);
  // A read-only view of its own folder stays possible.
  const status = await host.load(
    reader(t, { fs: { mounts: [{ host: '.', guest: '/own', readOnly: true }] } }),
  );
  assert.equal(status.state, 'ready');
  await assert.rejects(host.call('reader', 'write_file', '/own/plugin.json|{}'), {
    code: 'PLUGBAY_PLUGIN_ERROR',
  });
});

test('granted in the grants option, the same plugin loads and reads /etc/hostname and HOME', async (t) => {
  const host = devHost(t, {
    grants: [{ plugin: 'reader', versions: '^1.0.0', capabilities: ['fs.write:/etc', 'env:HOME'] }],
  });
  const status = await host.load(reader(t, finding));
  assert.equal(status.trust.level, 'unsigned');
  assert.deepEqual(status.permissions.requested, finding);
  assert.deepEqual(status.permissions.granted, finding);
  assert.equal(await host.call('reader', 'read_file', '/etc/hostname'), hostname);
  assert.equal(await host.call('reader', 'get_env', 'HOME'), process.env.HOME);
  // The rule's version range is honoured: 2.0.0 is not granted.
  await assert.rejects(host.load(reader(t, finding, '2.0.0')), { code: 'PLUGBAY_PERMISSION_DENIED' });
});

test('a read grant does not cover a writable mount; a read-only mount of /etc needs only fs.read', async (t) => {
  const host = devHost(t, { grants: [{ plugin: 'reader', capabilities: ['fs.read:/etc'] }] });
  await assert.rejects(host.load(reader(t, { fs: { mounts: [{ host: '/etc', guest: '/etc' }] } })), {
    code: 'PLUGBAY_PERMISSION_DENIED',
  });
  await host.load(reader(t, { fs: { mounts: [{ host: '/etc', guest: '/etc', readOnly: true }] } }, '1.0.1'));
  assert.equal(await host.call('reader', 'read_file', '/etc/hostname'), hostname);
});

test('host.grant() stores and audits the grant and loads again the version refused for want of it; revoke unloads it', async (t) => {
  const host = devHost(t);
  const dir = reader(t, finding);
  await assert.rejects(host.load(dir), { code: 'PLUGBAY_PERMISSION_DENIED' });
  const first = await host.grant('reader', 'fs.write:/etc', { actor: 'ops', reason: 'reads its config' });
  assert.deepEqual(first.loaded, []);
  assert.equal(first.refused[0]?.code, 'PLUGBAY_PERMISSION_DENIED');
  const second = await host.grant('reader', 'env:HOME', { actor: 'ops' });
  assert.deepEqual(
    second.loaded.map((v) => v.version),
    ['1.0.0'],
  );
  assert.equal(await host.call('reader', 'read_file', '/etc/hostname'), hostname);
  assert.deepEqual(
    host.grants('reader').map((g) => g.capability),
    ['env:HOME', 'fs.write:/etc'],
  );
  assert.deepEqual(await host.revoke('reader', 'env:HOME', { actor: 'ops' }), {
    plugin: 'reader',
    capability: 'env:HOME',
    unloaded: ['1.0.0'],
  });
  assert.deepEqual(host.versions(), []);
  assert.equal(host.diagnostics()[0]?.code, 'PLUGBAY_PERMISSION_DENIED');
  await assert.rejects(host.call('reader', 'read_file', '/etc/hostname'), { code: 'PLUGBAY_UNKNOWN_PLUGIN' });
  assert.deepEqual(
    host.grants('reader').map((g) => g.capability),
    ['fs.write:/etc'],
  );
  // Granted again, it is back.
  assert.equal((await host.grant('reader', 'env:HOME', { actor: 'ops' })).loaded.length, 1);
  assert.equal(await host.call('reader', 'read_file', '/etc/hostname'), hostname);
  const audit = host.audit({ plugin: 'reader' }).map((e) => [e.action, e.actor, e.details?.capability]);
  assert.deepEqual(audit, [
    ['grant', 'ops', 'env:HOME'],
    ['revoke', 'ops', 'env:HOME'],
    ['grant', 'ops', 'env:HOME'],
    ['grant', 'ops', 'fs.write:/etc'],
  ]);
  await assert.rejects(host.grant('reader', 'fs.write:etc'), {
    code: 'PLUGBAY_INVALID_ARGUMENT',
    details: { field: 'capability', rule: 'absolute-path' },
  });
});

test('the library default (signatures off: trusted) keeps running what the manifest asks for', async (t) => {
  const host = devHost(t, { trust: { signatures: 'off' } });
  const status = await host.load(reader(t, finding));
  assert.deepEqual(status.permissions.granted, finding);
  assert.equal(await host.call('reader', 'read_file', '/etc/hostname'), hostname);
});

test('the directory watcher tracks a version that a grant loaded: removing its folder unloads it', async (t) => {
  const root = await tempDir(t);
  const dir = await writePlugin(root, 'reader', {
    manifest: {
      name: 'reader',
      version: '1.0.0',
      runtime: 'wasm',
      entry: 'plugin.wasm',
      functions: { read_file: { input: text, output: {} } },
      permissions: finding,
    },
  });
  await copyFile(fixture('c'), join(dir, 'plugin.wasm'));
  const host = devHost(t);
  const watcher = createWatcher({ host, dir: root, watch: false, settleMs: 0 });
  t.after(() => watcher.close());
  const start = await watcher.start();
  assert.equal(start.diagnostics[0]?.code, 'PLUGBAY_PERMISSION_DENIED');
  await host.grant('reader', 'fs.write:/etc');
  assert.equal((await host.grant('reader', 'env:HOME')).loaded.length, 1);
  await rm(dir, { recursive: true });
  assert.deepEqual((await watcher.scan()).unloaded, ['reader@1.0.0']);
  assert.deepEqual(host.versions(), []);
});

test('the process tier too: an unsigned node plugin asking for env and /etc is refused, and runs with them once granted', async (t) => {
  process.env.PLUGBAY_GRANTS_TEST = 'granted value';
  t.after(() => delete process.env.PLUGBAY_GRANTS_TEST);
  const root = await tempDir(t);
  const dir = await writePlugin(root, 'peeker', {
    manifest: {
      name: 'peeker',
      version: '1.0.0',
      runtime: 'node',
      entry: 'index.mjs',
      functions: { peek: { input: {}, output: {} } },
      permissions: { env: ['PLUGBAY_GRANTS_TEST'], fs: { read: ['/etc/hostname'] } },
    },
    files: {
      'index.mjs': `import { readFileSync, realpathSync } from 'node:fs';
export default { name: 'peeker', version: '1.0.0', functions: { peek: { input: {}, output: {},
  handler: () => ({ env: process.env.PLUGBAY_GRANTS_TEST ?? null, hostname: readFileSync('/etc/hostname', 'utf8') }) } } };
`,
    },
  });
  const options = (grants: HostOptions['grants']) => ({ tiers: { process: createProcessTier() }, grants });
  const refused = await devHost(t, options([]))
    .load(dir)
    .catch((e: unknown) => e);
  assert.deepEqual((refused as PlugbayError).details?.denied, [
    {
      field: 'permissions.fs.read.0',
      capability: 'fs.read:/etc/hostname',
      message: 'permissions.fs.read.0 (/etc/hostname) needs the grant fs.read:/etc/hostname',
    },
    {
      field: 'permissions.env.0',
      capability: 'env:PLUGBAY_GRANTS_TEST',
      message: 'permissions.env.0 (PLUGBAY_GRANTS_TEST) needs the grant env:PLUGBAY_GRANTS_TEST',
    },
  ]);
  const host = devHost(
    t,
    options([{ plugin: 'peeker', capabilities: ['fs.read:/etc', 'env:PLUGBAY_GRANTS_TEST'] }]),
  );
  const status = await host.load(dir);
  assert.equal(status.tier, 'process');
  assert.deepEqual(await host.call('peeker', 'peek', {}), { env: 'granted value', hostname });
});
