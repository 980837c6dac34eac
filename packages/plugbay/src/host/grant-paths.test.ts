// Review finding (HIGH) on #13: grants were decided on a path's real path at load, but the tiers resolved the path
// as the manifest wrote it again at every (re)start. A symlink that pointed into the plugin's own folder at load (no
// grant needed) and at /etc after a restart gave an unsigned plugin /etc. The tiers now get the real paths that were
// decided on, and refuse a (re)start when one of them is no longer its own real path.
import assert from 'node:assert/strict';
import { mkdir, rename, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { before, type TestContext, test } from 'node:test';
import { pino } from 'pino';
import { digestOf } from '../artifact/contents.js';
import { readFolder } from '../artifact/read.js';
import { PlugbayError } from '../core/errors.js';
import { tempDir, writePlugin } from '../test-support/plugins.js';
import { createProcessTier, createWasmTier } from '../tiers/index.js';
import { buildFixtures, fixture, wasmPlugin } from '../tiers/wasm/test-fixtures.js';
import { createHost } from './host.js';
import type { HostOptions, PluginHost } from './types.js';

before(() => buildFixtures());

/** A host that loads unsigned plugins as `plugbay serve --dev` does (signatures `warn`); its log lines in `lines`. */
function devHost(t: TestContext, artifactsDir: string, options: HostOptions) {
  const lines: Record<string, unknown>[] = [];
  const stream = { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) };
  const host = createHost({
    logger: pino({ level: 'info' }, stream),
    trust: { signatures: 'warn' },
    artifactsDir,
    ...options,
  });
  t.after(() => host.close());
  return { host, lines };
}

/** Waits until `check` holds, re-checking every 10 ms; fails after `ms`. */
async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`${what}: not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Points the symlink `link` at `target` (replacing what is there). */
async function repoint(link: string, target: string): Promise<void> {
  await unlink(link);
  await symlink(target, link);
}

/** Replaces the real folder `dir` with a symlink to `target`, the way an attacker with its parent would. */
async function swapForSymlink(dir: string, target: string): Promise<void> {
  await rename(dir, `${dir}.old`);
  await symlink(target, dir);
}

const text = { type: 'string' };

function wasmFlipper(t: TestContext, mountHost: string) {
  const p = wasmPlugin(fixture('c'), {
    name: 'flipper',
    functions: { read_file: { input: text, output: {} }, trap: { input: {}, output: {} } },
    permissions: { fs: { mounts: [{ host: mountHost, guest: '/data', readOnly: true }] } },
  });
  t.after(() => p.cleanup());
  return p.dir;
}

/** The trap makes the host rebuild the instance, and with it the WASI mounts, before the next call. */
async function wasmRestart(host: PluginHost): Promise<void> {
  await assert.rejects(host.call('flipper', 'trap', {}), { code: 'PLUGBAY_PLUGIN_CRASHED' });
}

for (const run of ['host-thread', 'worker'] as const) {
  test(`wasm (${run}): a mount of a symlink into its own folder, flipped to /etc before a restart, still mounts its own folder`, async (t) => {
    const root = await tempDir(t);
    const artifacts = join(root, 'artifacts');
    const flip = join(root, 'flip');
    const dir = wasmFlipper(t, flip);
    const own = join(artifacts, digestOf(await readFolder(dir)));
    await symlink(own, flip); // at load: inside its own (stored) folder, so no grant is needed
    const { host } = devHost(t, artifacts, { tiers: { wasm: createWasmTier({ run }) } });
    const status = await host.load(dir);
    assert.match(String(await host.call('flipper', 'read_file', '/data/plugin.json')), /"flipper"/);

    await repoint(flip, '/etc');
    await wasmRestart(host);
    await assert.rejects(host.call('flipper', 'read_file', '/data/hostname'), {
      code: 'PLUGBAY_PLUGIN_ERROR',
    });
    assert.match(String(await host.call('flipper', 'read_file', '/data/plugin.json')), /"flipper"/);
    assert.deepEqual(status.permissions.requested.fs?.mounts?.[0]?.host, flip);
    assert.deepEqual(status.permissions.granted.fs?.mounts?.[0]?.host, own);
  });

  test(`wasm (${run}): a granted folder replaced by a symlink to /etc before a restart refuses the restart (path-changed)`, async (t) => {
    const root = await tempDir(t);
    const shared = join(root, 'shared');
    await mkdir(shared);
    const { host } = devHost(t, join(root, 'artifacts'), {
      tiers: { wasm: createWasmTier({ run }) },
      grants: [{ plugin: 'flipper', capabilities: [`fs.read:${shared}`] }],
    });
    await host.load(wasmFlipper(t, shared));
    await swapForSymlink(shared, '/etc');
    await wasmRestart(host);
    const err = await host.call('flipper', 'read_file', '/data/hostname').catch((e: unknown) => e);
    assert.ok(err instanceof PlugbayError, `read ${JSON.stringify(err)}`);
    assert.equal(err.code, 'PLUGBAY_PERMISSION_DENIED');
    assert.deepEqual(
      [(err.details as { field: string }).field, (err.details as { rule: string }).rule],
      ['permissions.fs.mounts.0', 'path-changed'],
    );
  });
}

async function nodeFlipper(root: string, read: string): Promise<string> {
  return writePlugin(root, 'flipper', {
    manifest: {
      name: 'flipper',
      version: '1.0.0',
      runtime: 'node',
      entry: 'index.mjs',
      functions: { read: { input: {}, output: {} }, exit: { input: {}, output: {} } },
      permissions: { fs: { read: [read] } },
    },
    files: {
      'index.mjs': `import { readFileSync } from 'node:fs';
export default { name: 'flipper', version: '1.0.0', functions: {
  read: { input: {}, output: {}, handler: ({ path }) => readFileSync(path, 'utf8') },
  exit: { input: {}, output: {}, handler: () => process.exit(1) } } };
`,
    },
  });
}

const processTier = () =>
  createProcessTier({ restart: { initialDelayMs: 1, crashloopCount: 2, coolDownMs: 600_000 } });

/** The plugin exits; the tier restarts it or gives up: the state it leaves `degraded` for (a host log line). */
async function processRestart(host: PluginHost, lines: Record<string, unknown>[]): Promise<unknown> {
  await assert.rejects(host.call('flipper', 'exit', {}), { code: 'PLUGBAY_PLUGIN_CRASHED' });
  const left = () => lines.find((l) => l.previous === 'degraded');
  await until('restarted or given up', () => left() !== undefined);
  return left()?.state;
}

test('process tier: fs.read of a symlink into its own folder, flipped to /etc before a restart, does not read /etc', async (t) => {
  const root = await tempDir(t);
  const artifacts = join(root, 'artifacts');
  const flip = join(root, 'flip');
  const dir = await nodeFlipper(await tempDir(t), flip);
  const own = join(artifacts, digestOf(await readFolder(dir)));
  await symlink(own, flip);
  const { host, lines } = devHost(t, artifacts, { tiers: { process: processTier() } });
  const status = await host.load(dir);

  await repoint(flip, '/etc');
  assert.equal(await processRestart(host, lines), 'ready');
  // Not there (bwrap binds only its own folder) or refused (Node's permission model): either way not /etc.
  for (const path of [join(flip, 'hostname'), '/etc/hostname']) {
    await assert.rejects(host.call('flipper', 'read', { path }), (err: PlugbayError) =>
      ['PLUGBAY_PLUGIN_ERROR', 'PLUGBAY_PERMISSION_DENIED'].includes(err.code),
    );
  }
  assert.match(String(await host.call('flipper', 'read', { path: join(own, 'plugin.json') })), /"flipper"/);
  assert.deepEqual(status.permissions.requested.fs?.read, [flip]);
  assert.deepEqual(status.permissions.granted.fs?.read, [own]);
});

test('process tier: a granted folder replaced by a symlink to /etc before a restart refuses the restart (path-changed)', async (t) => {
  const root = await tempDir(t);
  const shared = join(root, 'shared');
  await mkdir(shared);
  const { host, lines } = devHost(t, join(root, 'artifacts'), {
    tiers: { process: processTier() },
    grants: [{ plugin: 'flipper', capabilities: [`fs.read:${shared}`] }],
  });
  await host.load(await nodeFlipper(await tempDir(t), shared));
  await swapForSymlink(shared, '/etc');
  assert.equal(await processRestart(host, lines), 'crashloop');
  const refusal = lines.find((l) => String(l.msg).startsWith('restart failed'));
  assert.equal(refusal?.code, 'PLUGBAY_PERMISSION_DENIED', JSON.stringify(refusal));
  assert.deepEqual([refusal?.field, refusal?.rule], ['permissions.fs.read.0', 'path-changed']);
  // The refused restart leaves the version crash-looped: calls are told so (not served from /etc).
  await assert.rejects(
    host.call('flipper', 'read', { path: join(shared, 'hostname') }),
    (err: PlugbayError) => err.code === 'PLUGBAY_PLUGIN_CRASHED' && err.details?.state === 'crashloop',
  );
});
