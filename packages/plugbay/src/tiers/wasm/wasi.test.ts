import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PlugbayError } from '../../core/errors.js';
import type { Instance } from '../../core/types.js';
import { callTier, testCall, testDeadlines } from '../test-support.js';
import { buildFixtures, fixture, loadOptions, wasmPlugin } from './test-fixtures.js';
import { createWasmTier } from './tier.js';
import { Wasi } from './wasi.js';

let root: string;
const cleanups: (() => Promise<void> | void)[] = [];

before(() => {
  buildFixtures();
  root = mkdtempSync(path.join(tmpdir(), 'plugbay-wasi-'));
  mkdirSync(path.join(root, 'data/sub'), { recursive: true });
  mkdirSync(path.join(root, 'ro'));
  writeFileSync(path.join(root, 'data/hello.txt'), 'hi from mount');
  writeFileSync(path.join(root, 'data/sub/inner.txt'), 'inner');
  writeFileSync(path.join(root, 'ro/fixed.txt'), 'read only');
  writeFileSync(path.join(root, 'secret.txt'), 'outside the mount');
  symlinkSync('/etc', path.join(root, 'data/link-to-etc'));
  symlinkSync(path.join(root, 'secret.txt'), path.join(root, 'data/link-to-secret'));
  symlinkSync('sub/inner.txt', path.join(root, 'data/link-inside'));
  process.env.PLUGBAY_TEST_VISIBLE = 'visible value';
  process.env.PLUGBAY_TEST_HIDDEN = 'hidden value';
});
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  testDeadlines.clear();
  rmSync(root, { recursive: true, force: true });
  delete process.env.PLUGBAY_TEST_VISIBLE;
  delete process.env.PLUGBAY_TEST_HIDDEN;
});

async function cPlugin(run: 'host-thread' | 'worker', clock: 'real' | { fixedMs: number } = 'real') {
  const p = wasmPlugin(fixture('c'), {
    permissions: {
      fs: {
        mounts: [
          { host: path.join(root, 'data'), guest: '/data' },
          { host: path.join(root, 'ro'), guest: '/ro', readOnly: true },
        ],
      },
      env: ['PLUGBAY_TEST_VISIBLE'],
    },
  });
  const opts = loadOptions();
  const instance = await createWasmTier({ run, clock }).load(p.plugin, opts);
  cleanups.push(p.cleanup, () => instance.destroy());
  await instance.start({ signal: new AbortController().signal, config: {} });
  return { instance, lines: opts.lines };
}

function call(instance: Instance, fn: string, input?: unknown): Promise<unknown> {
  return callTier(instance, fn, input, testCall({ timeoutMs: 10_000 }));
}

const denied = (e: unknown) => e instanceof PlugbayError && e.code === 'PLUGBAY_PLUGIN_ERROR';

for (const run of ['host-thread', 'worker'] as const) {
  describe(`WASI sandbox (${run})`, () => {
    test('reads inside a mount, through `..` that stays inside, and through a symlink that stays inside', async () => {
      const { instance } = await cPlugin(run);
      assert.equal(await call(instance, 'read_file', '/data/hello.txt'), 'hi from mount');
      assert.equal(await call(instance, 'read_file', '/data/sub/../hello.txt'), 'hi from mount');
      assert.equal(await call(instance, 'read_file', '/data/link-inside'), 'inner');
      assert.equal(await call(instance, 'read_file', '/ro/fixed.txt'), 'read only');
    });

    test('escapes are denied: `..` out of the mount, absolute host paths, symlinks pointing outside', async () => {
      const { instance } = await cPlugin(run);
      for (const p of [
        '/data/../secret.txt',
        '/data/sub/../../secret.txt',
        '/etc/passwd',
        '/data/link-to-etc/passwd',
        '/data/link-to-secret',
        path.join(root, 'secret.txt'),
      ]) {
        await assert.rejects(call(instance, 'read_file', p), denied, p);
      }
      await assert.rejects(call(instance, 'write_file', '/data/link-to-etc/plugbay-evil|x'), denied);
      assert.equal(existsSync('/etc/plugbay-evil'), false);
    });

    test('a read-only mount refuses writes; a writable mount takes them', async () => {
      const { instance } = await cPlugin(run);
      await assert.rejects(call(instance, 'write_file', '/ro/new.txt|nope'), denied);
      await assert.rejects(call(instance, 'write_file', '/ro/fixed.txt|overwrite'), denied);
      assert.equal(existsSync(path.join(root, 'ro/new.txt')), false);
      assert.equal(readFileSync(path.join(root, 'ro/fixed.txt'), 'utf8'), 'read only');
      assert.equal(await call(instance, 'write_file', `/data/out-${run}.txt|written by wasm`), true);
      assert.equal(readFileSync(path.join(root, `data/out-${run}.txt`), 'utf8'), 'written by wasm');
    });

    test('only declared environment variables are visible', async () => {
      const { instance } = await cPlugin(run);
      assert.equal(await call(instance, 'get_env', 'PLUGBAY_TEST_VISIBLE'), 'visible value');
      assert.equal(await call(instance, 'get_env', 'PLUGBAY_TEST_HIDDEN'), null);
      assert.equal(await call(instance, 'get_env', 'PATH'), null);
    });

    test('stdout and stderr become plugin log lines; a fixed clock is what the guest sees', async () => {
      const { instance, lines } = await cPlugin(run, { fixedMs: 1_700_000_000_000 });
      await call(instance, 'print');
      assert.deepEqual(lines, [
        { level: 'info', msg: 'hello from C stdout', fields: { stream: 'stdout' } },
        { level: 'warn', msg: 'hello from C stderr', fields: { stream: 'stderr' } },
      ]);
      assert.equal(await call(instance, 'now'), 1_700_000_000);
    });
  });
}

describe('Wasi path resolution, called directly', () => {
  const ENOTCAPABLE = 76;
  const EROFS = 69;
  function setup(readOnly = false) {
    const wasi = new Wasi({
      args: [],
      env: {},
      mounts: [{ host: path.join(root, 'data'), guest: '/data', readOnly }],
      clock: 'real',
      random: { seed: 1 },
      stdout: () => {},
      stderr: () => {},
    });
    const memory = new WebAssembly.Memory({ initial: 1 });
    wasi.bind(memory);
    const declared = ['path_open', 'path_filestat_get', 'path_unlink_file', 'random_get', 'path_symlink'].map(
      (name) => ({
        module: 'wasi_snapshot_preview1',
        name,
        kind: 'function' as const,
      }),
    );
    const fns = wasi.imports(declared) as Record<string, (...a: unknown[]) => number>;
    const open = (p: string, rights = 2n, oflags = 0) => {
      const bytes = Buffer.from(p);
      new Uint8Array(memory.buffer).set(bytes, 100);
      return fns.path_open!(3, 1, 100, bytes.length, oflags, rights, 0n, 0, 0);
    };
    cleanups.push(() => wasi.close());
    return { fns, open, memory };
  }

  test('absolute paths and `..` above the mount root are ENOTCAPABLE even without libc in front', () => {
    const { open } = setup();
    assert.equal(open('hello.txt'), 0);
    assert.equal(open('/etc/passwd'), ENOTCAPABLE);
    assert.equal(open('../secret.txt'), ENOTCAPABLE);
    assert.equal(open('sub/../../secret.txt'), ENOTCAPABLE);
    assert.equal(open('link-to-etc/passwd'), ENOTCAPABLE);
    assert.equal(open('link-to-etc'), ENOTCAPABLE);
  });

  test('read-only mounts refuse write rights, O_CREAT and symlink creation with EROFS', () => {
    const { open, fns } = setup(true);
    assert.equal(open('hello.txt', 2n | 64n), EROFS);
    assert.equal(open('new.txt', 2n, 1), EROFS);
    assert.equal(fns.path_symlink!(100, 3, 3, 100, 3), EROFS);
  });

  test('seeded random is deterministic', () => {
    const a = setup();
    const b = setup();
    a.fns.random_get!(0, 16);
    b.fns.random_get!(0, 16);
    assert.deepEqual(new Uint8Array(a.memory.buffer, 0, 16), new Uint8Array(b.memory.buffer, 0, 16));
    assert.notDeepEqual([...new Uint8Array(a.memory.buffer, 0, 16)], new Array(16).fill(0));
  });
});
