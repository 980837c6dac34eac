// Node's permission model around a process plugin: each forbidden act is denied inside the handler and comes
// back as PLUGBAY_PERMISSION_DENIED attributed to the plugin; undeclared env vars are invisible.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PlugbayError } from '../../core/errors.js';
import type { ProcessInstance } from './instance.js';
import { pluginUid } from './sandbox.js';
import { call, logSink, nodePlugin, sdkEntry, tempRoot } from './test-helpers.js';
import { ProcessTier } from './tier.js';

describe('node process plugin permissions', () => {
  const dirs = tempRoot();
  const tier = new ProcessTier({ sdkEntry, socketRoot: dirs.root });
  const allowedDir = path.join(dirs.root, 'allowed');
  const secretFile = path.join(dirs.root, 'secret.txt');
  let instance: ProcessInstance;

  before(async () => {
    fs.mkdirSync(allowedDir);
    // A plugin run by a root host has uid 65534 (sandbox.ts): a granted write path must be writable by it.
    if (process.getuid?.() === 0) fs.chownSync(allowedDir, pluginUid, pluginUid);
    fs.writeFileSync(path.join(allowedDir, 'data.txt'), 'declared data');
    fs.writeFileSync(secretFile, 'not for plugins');
    process.env.PLUGBAY_TEST_DECLARED = 'visible';
    process.env.PLUGBAY_TEST_SECRET = 'hidden';
    instance = await tier.load(
      nodePlugin(dirs.root, 'perms', {
        permissions: { fs: { read: [allowedDir], write: [allowedDir] }, env: ['PLUGBAY_TEST_DECLARED'] },
      }),
      logSink().opts(),
    );
    await instance.start({ signal: new AbortController().signal, config: undefined });
  });
  after(async () => {
    delete process.env.PLUGBAY_TEST_DECLARED;
    delete process.env.PLUGBAY_TEST_SECRET;
    await tier.close();
    dirs.cleanup();
  });

  async function denied(fn: string, input: unknown = {}): Promise<PlugbayError> {
    const err = await call(instance, fn, input).catch((e: unknown) => e);
    assert.ok(err instanceof PlugbayError, `${fn} should be denied`);
    assert.equal(err.code, 'PLUGBAY_PERMISSION_DENIED', `${fn}: ${err.message}`);
    assert.equal(err.plugin, 'fixture');
    assert.equal(err.version, '1.0.0');
    return err;
  }

  it('reading /etc/passwd is denied', async () => {
    const err = await denied('readPasswd');
    assert.equal(err.details?.permission, 'FileSystemRead');
    assert.equal(err.details?.resource, '/etc/passwd');
  });

  it('reading a file outside the declared paths is denied; inside is allowed', async () => {
    await denied('readDeclared', { path: secretFile });
    assert.equal(
      await call(instance, 'readDeclared', { path: path.join(allowedDir, 'data.txt') }),
      'declared data',
    );
  });

  it('writing outside the declared paths is denied; inside is allowed', async () => {
    const err = await denied('write', { path: path.join(dirs.root, 'outside.txt') });
    assert.equal(err.details?.permission, 'FileSystemWrite');
    assert.equal(fs.existsSync(path.join(dirs.root, 'outside.txt')), false);
    assert.equal(await call(instance, 'write', { path: path.join(allowedDir, 'out.txt') }), 'written');
  });

  it('spawning a child process is denied', async () => {
    await denied('spawnChild');
  });

  it('starting a worker is denied', async () => {
    await denied('startWorker');
  });

  it('an undeclared env var is invisible; a declared one is passed', async () => {
    assert.equal(await call(instance, 'readEnv', { name: 'PLUGBAY_TEST_SECRET' }), null);
    assert.equal(await call(instance, 'readEnv', { name: 'HOME' }), null);
    assert.equal(await call(instance, 'readEnv', { name: 'PLUGBAY_TEST_DECLARED' }), 'visible');
    // the launch protocol's own variables are removed before plugin code runs
    assert.equal(await call(instance, 'readEnv', { name: 'PLUGBAY_PLUGIN_MAGIC_COOKIE' }), null);
  });

  it('childProcess: true allows spawning', async () => {
    const t = new ProcessTier({ sdkEntry, socketRoot: dirs.root });
    const i = await t.load(
      nodePlugin(dirs.root, 'spawner', { permissions: { childProcess: true } }),
      logSink().opts(),
    );
    await i.start({ signal: new AbortController().signal, config: undefined });
    assert.equal(await call(i, 'spawnChild'), 0);
    await t.close();
  });

  it('reports the layers that apply (the Node ones; isolation.test.ts checks the OS ones)', () => {
    const layers = Object.fromEntries(instance.sandbox.map((l) => [l.layer, l.applied]));
    assert.equal(layers['node-permission-model'], true);
    assert.equal(layers['max-old-space-size'], false);
    assert.equal(layers['env-allowlist'], true);
    assert.equal(layers['parent-watch'], true);
  });
});
