import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
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

async function cPlugin(
  run: 'metered' | 'host-thread' | 'worker',
  clock: 'real' | { fixedMs: number } = 'real',
) {
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

for (const run of ['metered', 'host-thread', 'worker'] as const) {
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

    test('nanosleep (poll_oneoff on a clock) sleeps and returns', async () => {
      const { instance } = await cPlugin(run);
      assert.equal(await call(instance, 'sleep_ms', 5), true);
    });

    if (run === 'metered') {
      test('a sleep in poll_oneoff past the deadline sleeps until it and fails PLUGBAY_TIMEOUT; the next call runs', async () => {
        const { instance } = await cPlugin(run);
        const t0 = performance.now();
        await assert.rejects(callTier(instance, 'sleep_ms', 600_000, testCall({ timeoutMs: 150 })), {
          code: 'PLUGBAY_TIMEOUT',
        });
        const took = performance.now() - t0;
        assert.ok(took >= 140 && took < 2000, `took ${took} ms`);
        assert.equal(await call(instance, 'echo', 'awake'), 'awake');
      });
    }

    if (run === 'worker') {
      test('a plugin asleep in poll_oneoff past its deadline is ended by it; the next call runs in a new worker', async () => {
        const { instance } = await cPlugin(run);
        const ctx = testCall({ timeoutMs: 200 });
        await assert.rejects(callTier(instance, 'sleep_ms', 600_000, ctx), { code: 'PLUGBAY_TIMEOUT' });
        assert.equal(await call(instance, 'echo', 'awake'), 'awake');
        assert.equal((instance as unknown as { stats: { workerSpawns: number } }).stats.workerSpawns, 2);
      });

      // Descriptors opened in a worker are closed by Node when it is terminated (Worker trackUnmanagedFds, on by
      // default): a plugin killed at its deadline, with its mounts and files open, leaks none of them.
      test('a worker ended at its deadline leaves none of its mount descriptors open in the host process', async () => {
        const { instance } = await cPlugin(run);
        const open = () => readdirSync('/proc/self/fd').length;
        assert.equal(await call(instance, 'echo', 'warm'), 'warm');
        const before = open();
        for (let i = 0; i < 3; i++) {
          await assert.rejects(callTier(instance, 'sleep_ms', 600_000, testCall({ timeoutMs: 100 })), {
            code: 'PLUGBAY_TIMEOUT',
          });
          assert.equal(await call(instance, 'echo', 'awake'), 'awake');
        }
        assert.equal(open(), before);
      });
    }

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

describe('Wasi descriptors, rights and the calls the suite found missing, called directly', () => {
  const E = { NOTSUP: 58, NOTDIR: 54, LOOP: 32, BADF: 8, NOTCAPABLE: 76 };
  const FD_READ = 1n << 1n;
  const FD_WRITE = 1n << 6n;
  const O_DIRECTORY = 2;
  function setup(readOnly = false) {
    const wasi = new Wasi({
      args: [],
      env: {},
      mounts: [{ host: path.join(root, 'data'), guest: '/data', readOnly }],
      clock: 'real',
      random: 'real',
      stdout: () => {},
      stderr: () => {},
      output: () => {},
    });
    const memory = new WebAssembly.Memory({ initial: 1 });
    wasi.bind(memory);
    const declared = Wasi.functionNames().map((name) => ({
      module: 'wasi_snapshot_preview1',
      name,
      kind: 'function' as const,
    }));
    const fns = wasi.imports(declared) as Record<string, (...a: unknown[]) => number>;
    cleanups.push(() => wasi.close());
    const v = () => new DataView(memory.buffer);
    const str = (s: string) => {
      const bytes = Buffer.from(s);
      new Uint8Array(memory.buffer).set(bytes, 1000);
      return [1000, bytes.length] as const;
    };
    /** [errno, fd] */
    const open = (
      p: string,
      o: { base?: bigint; inheriting?: bigint; oflags?: number; follow?: boolean } = {},
    ) => {
      const [ptr, len] = str(p);
      const e = fns.path_open!(
        3,
        o.follow === false ? 0 : 1,
        ptr,
        len,
        o.oflags ?? 0,
        o.base ?? FD_READ,
        o.inheriting ?? 0n,
        0,
        0,
      );
      return [e, v().getUint32(0, true)] as const;
    };
    /** [errno, filetype, flags, base, inheriting] */
    const fdstat = (fd: number) => {
      const e = fns.fd_fdstat_get!(fd, 64);
      return [
        e,
        v().getUint8(64),
        v().getUint16(66, true),
        v().getBigUint64(72, true),
        v().getBigUint64(80, true),
      ] as const;
    };
    const read = (fd: number) => {
      v().setUint32(200, 300, true);
      v().setUint32(204, 100, true);
      const e = fns.fd_read!(fd, 200, 1, 208);
      return [e, Buffer.from(memory.buffer, 300, v().getUint32(208, true)).toString()] as const;
    };
    return { fns, open, fdstat, read, str, v };
  }

  test('a preopen reports directory rights only, and reopening it with the rights it reported works', () => {
    const { open, fdstat } = setup();
    const [e, type, , base, inheriting] = fdstat(3);
    assert.equal(e, 0);
    assert.equal(type, 3); // directory
    assert.equal(base & (FD_READ | FD_WRITE), 0n, 'a directory reports neither FD_READ nor FD_WRITE');
    assert.equal(inheriting & FD_WRITE, FD_WRITE, 'files opened below a writable mount may be written');
    const [e2, fd] = open('.', { base, inheriting, oflags: O_DIRECTORY });
    assert.equal(e2, 0);
    assert.deepEqual(fdstat(fd).slice(0, 5), [0, 3, 0, base, inheriting]);
  });

  test('a read-only mount reports no write right; a file opened to read reports no FD_WRITE and cannot write', () => {
    assert.equal(setup(true).fdstat(3)[4] & FD_WRITE, 0n);
    const { open, fdstat, fns } = setup();
    const [e, fd] = open('hello.txt', { base: FD_READ });
    assert.equal(e, 0);
    const [, type, , base] = fdstat(fd);
    assert.equal(type, 4);
    assert.equal(base & FD_WRITE, 0n);
    assert.equal(base & FD_READ, FD_READ);
    assert.equal(fns.fd_write!(fd, 200, 0, 208), E.BADF);
  });

  test('fd_fdstat_set_rights only narrows; a dropped right is enforced', () => {
    const { open, fdstat, fns, read } = setup();
    const [, fd] = open('hello.txt', { base: FD_READ | (1n << 21n) });
    assert.equal(read(fd)[1], 'hi from mount');
    assert.equal(fns.fd_fdstat_set_rights!(fd, FD_READ | FD_WRITE, 0n), E.NOTCAPABLE, 'widening');
    assert.equal(fns.fd_fdstat_set_rights!(fd, 1n << 21n, 0n), 0, 'narrowing');
    assert.equal(fdstat(fd)[3], 1n << 21n);
    assert.equal(read(fd)[0], E.BADF);
  });

  test('fd_renumber moves a descriptor onto another number, closing what was there', () => {
    const { open, fns, read } = setup();
    const [, a] = open('hello.txt');
    const [, b] = open('sub/inner.txt');
    assert.equal(fns.fd_renumber!(a, b), 0);
    assert.equal(read(b)[1], 'hi from mount');
    assert.equal(read(a)[0], E.BADF);
    assert.equal(fns.fd_renumber!(a, b), E.BADF);
  });

  test('fd_allocate is NOTSUP; trailing slashes on a file are NOTDIR; no SYMLINK_FOLLOW does not follow', () => {
    const { open, fns, str } = setup();
    const [, fd] = open('hello.txt', { base: FD_READ | (1n << 8n) });
    assert.equal(fns.fd_allocate!(fd, 0n, 10n), E.NOTSUP);
    assert.equal(open('hello.txt/')[0], E.NOTDIR);
    assert.equal(fns.path_unlink_file!(3, ...str('hello.txt/')), E.NOTDIR);
    assert.equal(existsSync(path.join(root, 'data/hello.txt')), true);
    assert.equal(open('link-inside', { follow: false })[0], E.LOOP);
    assert.equal(open('link-inside')[0], 0);
  });

  test('poll_oneoff: a clock subscription sleeps and fires; a ready stdout write returns at once without it', () => {
    const { fns, v } = setup();
    const sub = (at: number, userdata: bigint, tag: number, fdOrClock: number, timeoutNs: bigint) => {
      for (let i = 0; i < 48; i += 8) v().setBigUint64(at + i, 0n, true);
      v().setBigUint64(at, userdata, true);
      v().setUint8(at + 8, tag);
      v().setUint32(at + 16, fdOrClock, true);
      v().setBigUint64(at + 24, timeoutNs, true);
    };
    sub(2000, 7n, 0, 1, 1_000_000n); // monotonic clock, 1 ms
    assert.equal(fns.poll_oneoff!(2000, 3000, 1, 100), 0);
    assert.equal(v().getUint32(100, true), 1);
    assert.deepEqual(
      [v().getBigUint64(3000, true), v().getUint16(3008, true), v().getUint8(3010)],
      [7n, 0, 0],
    );
    sub(2000, 8n, 2, 1, 0n); // fd_write on stdout
    sub(2048, 9n, 0, 1, 3_600_000_000_000n); // an hour: must not be waited for
    assert.equal(fns.poll_oneoff!(2000, 3000, 2, 100), 0);
    assert.equal(v().getUint32(100, true), 1);
    assert.deepEqual(
      [v().getBigUint64(3000, true), v().getUint16(3008, true), v().getUint8(3010)],
      [8n, 0, 2],
    );
    assert.equal(fns.poll_oneoff!(2000, 3000, 0, 100), 28, 'no subscriptions is EINVAL');
  });

  test('fd_filestat_set_times sets what fd_filestat_get then reads (to the microsecond Node can set)', () => {
    const { open, fns, v } = setup();
    const [, fd] = open('hello.txt', { base: FD_READ | (1n << 21n) | (1n << 23n) });
    const mtim = 1_600_000_000_123_456_000n;
    assert.equal(fns.fd_filestat_set_times!(fd, 0n, mtim, 4), 0);
    assert.equal(fns.fd_filestat_get!(fd, 400), 0);
    assert.equal(v().getBigUint64(448, true), mtim);
  });
});
