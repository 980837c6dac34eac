/**
 * Escapes from a WASI mount, beyond the official suite (which cannot create symlinks pointing out): every
 * path-taking call through symlinks (absolute, relative, chained, to `..` and `/`), `..`, absolute paths, trailing
 * slashes, hard links, read-only mounts, and a directory swapped for a symlink at every step of a walk. Each probe
 * runs against a fresh tree and must be refused with its errno, leaving the outside folder and the read-only mount
 * unchanged (hashed before and after) and the secret out of guest memory. The same probes run against node:wasi
 * and are recorded, not asserted: the table printed is the one in docs/security-model.md.
 */
import assert from 'node:assert/strict';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { WASI } from 'node:wasi';
import { PlugbayError } from '../../core/errors.js';
import { walkSteps } from './wasi/paths.js';
import { Wasi } from './wasi.js';
import {
  buildTree,
  errno,
  Guest,
  type Probe,
  probes,
  SANDBOX,
  SECRET,
  treeHash,
  type WasiCall,
} from './wasi-escape-probes.js';

// (module (memory (export "memory") 1)): a real instance whose memory the probes use.
const memoryModule = new WebAssembly.Module(
  new Uint8Array([
    0, 97, 115, 109, 1, 0, 0, 0, 5, 3, 1, 0, 1, 7, 10, 1, 6, 109, 101, 109, 111, 114, 121, 2, 0,
  ]),
);
const temps: string[] = [];
after(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

function tree() {
  const root = mkdtempSync(path.join(tmpdir(), 'plugbay-wasi-escape-'));
  temps.push(root);
  return buildTree(root);
}

interface Runtime {
  guest: Guest;
  close(): void;
}

function plugbay(t: { mount: string; ro: string }): Runtime {
  const wasi = new Wasi({
    args: [],
    env: {},
    mounts: [
      { host: t.mount, guest: '/sandbox', readOnly: false },
      { host: t.ro, guest: '/ro', readOnly: true },
    ],
    clock: 'real',
    random: 'real',
    stdout: () => {},
    stderr: () => {},
  });
  const declared = Wasi.functionNames().map((name) => ({
    module: 'wasi_snapshot_preview1',
    name,
    kind: 'function' as const,
  }));
  const fns = wasi.imports(declared) as Record<string, WasiCall>;
  const instance = new WebAssembly.Instance(memoryModule, {});
  const memory = instance.exports.memory as WebAssembly.Memory;
  wasi.bind(memory);
  return { guest: new Guest(fns, memory), close: () => wasi.close() };
}

function nodeWasi(t: { mount: string; ro: string }): Runtime {
  const wasi = new WASI({
    version: 'preview1',
    preopens: { '/sandbox': t.mount, '/ro': t.ro },
    returnOnExit: true,
  });
  const instance = new WebAssembly.Instance(memoryModule, {});
  wasi.initialize(instance);
  const fns = wasi.wasiImport as Record<string, WasiCall>;
  return { guest: new Guest(fns, instance.exports.memory as WebAssembly.Memory), close: () => {} };
}

interface Result {
  errno: number;
  outsideChanged: boolean;
  readOnlyChanged: boolean;
  sawSecret: boolean;
}

function runProbe(p: Probe, make: (t: { mount: string; ro: string }) => Runtime): Result {
  const t = tree();
  const before = { outside: treeHash(t.outside), ro: treeHash(t.ro) };
  const rt = make(t);
  try {
    const e = p.run(rt.guest, t);
    return {
      errno: e,
      outsideChanged: treeHash(t.outside) !== before.outside,
      readOnlyChanged: treeHash(t.ro) !== before.ro,
      sawSecret: rt.guest.sawSecret(),
    };
  } finally {
    rt.close();
  }
}

const escaped = (r: Result, p: Probe) =>
  (r.errno === 0 && p.expect !== 0) || r.outsideChanged || r.readOnlyChanged || r.sawSecret;

describe('WASI escape probes', () => {
  for (const p of probes) {
    test(`plugbay: ${p.name} → errno ${p.expect}, nothing outside touched`, () => {
      const r = runProbe(p, plugbay);
      assert.deepEqual(r, {
        errno: p.expect,
        outsideChanged: false,
        readOnlyChanged: false,
        sawSecret: false,
      });
    });
  }

  test('no host descriptor is left open by a refused or completed walk', () => {
    const open = () => readdirSync('/proc/self/fd').length;
    runProbe(probes[0]!, plugbay); // warm: the first run opens the module's own descriptors, if any
    const before = open();
    for (const p of probes) runProbe(p, plugbay);
    assert.equal(open(), before);
  });

  test('node:wasi on the same probes (recorded, not asserted): the table of docs/security-model.md', (t) => {
    let through = 0;
    t.diagnostic('| probe | plugbay | node:wasi |');
    t.diagnostic('|---|---|---|');
    for (const p of probes) {
      const r = runProbe(p, nodeWasi);
      const what = [
        r.outsideChanged ? 'changed outside' : '',
        r.readOnlyChanged ? 'changed the read-only mount' : '',
        r.sawSecret ? 'read the secret' : '',
      ].filter((s) => s !== '');
      if (escaped(r, p)) through++;
      const node = escaped(r, p)
        ? `**let through** (errno ${r.errno}${what.length ? `, ${what.join(', ')}` : ''})`
        : `refused (errno ${r.errno})`;
      t.diagnostic(`| ${p.name} | refused (errno ${p.expect}) | ${node} |`);
    }
    t.diagnostic(`node:wasi let ${through} of ${probes.length} probes through`);
  });
});

/**
 * The directory-swap race, made deterministic: walkSteps.before runs before each step of a walk touches the
 * filesystem, and at step k the test renames a directory of the path away and puts a symlink to the outside folder
 * in its place, for every k of every path-taking call. Whatever step the swap lands on, nothing outside is reached.
 */
describe('WASI directory swapped for a symlink during a walk', () => {
  const ops: { name: string; run(g: Guest): number }[] = [
    { name: 'open to write', run: (g) => g.openWrite(SANDBOX, 'sub/deeper/target.txt') },
    { name: 'open to read', run: (g) => g.openRead(SANDBOX, 'sub/deeper/target.txt') },
    { name: 'fd_readdir', run: (g) => g.listDir(SANDBOX, 'sub/deeper') },
    {
      name: 'path_create_directory',
      run: (g) => g.path('path_create_directory', SANDBOX, 'sub/deeper/newdir'),
    },
    {
      name: 'path_remove_directory',
      run: (g) => g.path('path_remove_directory', SANDBOX, 'sub/deeper/empty'),
    },
    { name: 'path_unlink_file', run: (g) => g.path('path_unlink_file', SANDBOX, 'sub/deeper/target.txt') },
    {
      name: 'path_rename (source)',
      run: (g) => g.rename(SANDBOX, 'sub/deeper/target.txt', SANDBOX, 'got.txt'),
    },
    {
      name: 'path_rename (target)',
      run: (g) => g.rename(SANDBOX, 'file.txt', SANDBOX, 'sub/deeper/target.txt'),
    },
    {
      name: 'path_filestat_set_times',
      run: (g) =>
        g.pathFlags('path_filestat_set_times', SANDBOX, true, 'sub/deeper/target.txt', 0n, 0n, 1 | 4),
    },
    {
      name: 'path_readlink',
      run: (g) => g.path('path_readlink', SANDBOX, 'sub/deeper/alink', 8192, 4096, 60),
    },
    { name: 'path_symlink', run: (g) => g.symlink('target.txt', SANDBOX, 'sub/deeper/newlink') },
    {
      name: 'path_link (source)',
      run: (g) => g.link(SANDBOX, 'sub/deeper/target.txt', true, SANDBOX, 'hard'),
    },
    {
      name: 'path_link (target)',
      run: (g) => g.link(SANDBOX, 'file.txt', false, SANDBOX, 'sub/deeper/hard'),
    },
  ];

  /** The tree, plus outside/deeper shaped like mount/sub/deeper, so a kernel-followed swap would land there. */
  function raceTree() {
    const t = tree();
    for (const base of [path.join(t.mount, 'sub/deeper'), path.join(t.outside, 'deeper')]) {
      mkdirSync(path.join(base, 'empty'), { recursive: true });
      writeFileSync(path.join(base, 'target.txt'), base.startsWith(t.outside) ? SECRET : 'inside');
      symlinkSync('target.txt', path.join(base, 'alink'));
    }
    return t;
  }

  function swap(t: { mount: string; outside: string }, dir: 'sub' | 'sub/deeper') {
    const at = path.join(t.mount, dir);
    renameSync(at, `${at}-moved`);
    symlinkSync(dir === 'sub' ? t.outside : path.join(t.outside, 'deeper'), at);
  }

  test('the swap is a real attack: after it, the same path opened by the kernel reads the outside secret', () => {
    const t = raceTree();
    swap(t, 'sub');
    assert.equal(readFileSync(path.join(t.mount, 'sub/deeper/target.txt'), 'utf8'), SECRET);
  });

  for (const op of ops) {
    test(`${op.name}: a swap at any step of the walk reaches nothing outside`, () => {
      let attempts = 0;
      for (const dir of ['sub', 'sub/deeper'] as const) {
        // Count the steps of an undisturbed run, then swap at each of them in turn.
        let steps = 0;
        walkSteps.before = () => void steps++;
        const plain = raceTree();
        const rt0 = plugbay(plain);
        try {
          assert.equal(op.run(rt0.guest), 0, `${op.name} works when nothing is swapped`);
        } finally {
          rt0.close();
          walkSteps.before = undefined;
        }
        assert.ok(steps >= 2, `${op.name} walks in steps (${steps})`);
        for (let k = 0; k < steps; k++) {
          const t = raceTree();
          const before = treeHash(t.outside);
          let step = 0;
          walkSteps.before = () => {
            if (step++ === k) swap(t, dir);
          };
          const rt = plugbay(t);
          let e: number;
          try {
            e = op.run(rt.guest);
          } finally {
            walkSteps.before = undefined;
            rt.close();
          }
          attempts++;
          const where = `${op.name}, ${dir} swapped at step ${k}: errno ${e}`;
          assert.ok(step > k, `${where}: the swap happened`);
          assert.equal(treeHash(t.outside), before, `${where}: the outside folder changed`);
          assert.equal(rt.guest.sawSecret(), false, `${where}: the secret reached guest memory`);
          assert.ok([0, errno.LOOP, errno.NOTDIR, errno.NOTCAPABLE, 44].includes(e), where);
        }
      }
      assert.ok(attempts >= 4);
    });
  }
});

describe('WASI mount root swapped for a symlink between its check and its open', () => {
  for (const which of ['the mount folder', 'its parent folder'] as const) {
    test(`${which} swapped: the instance is refused with PLUGBAY_PERMISSION_DENIED (path-changed), nothing opened`, () => {
      const root = mkdtempSync(path.join(tmpdir(), 'plugbay-wasi-mount-swap-'));
      temps.push(root);
      const parent = path.join(root, 'parent');
      const mount = path.join(parent, 'mount');
      const outside = path.join(root, 'outside');
      mkdirSync(mount, { recursive: true });
      mkdirSync(path.join(outside, 'mount'), { recursive: true });
      const ro = path.join(root, 'ro');
      mkdirSync(ro);
      const swapped = which === 'the mount folder' ? mount : parent;
      walkSteps.before = (step) => {
        if (!step.startsWith('open mount')) return;
        renameSync(swapped, `${swapped}-moved`);
        symlinkSync(which === 'the mount folder' ? path.join(outside, 'mount') : outside, swapped);
        walkSteps.before = undefined;
      };
      try {
        assert.throws(
          () => plugbay({ mount, ro }),
          (err: unknown) =>
            err instanceof PlugbayError &&
            err.code === 'PLUGBAY_PERMISSION_DENIED' &&
            (err.details as { rule?: string }).rule === 'path-changed',
        );
      } finally {
        walkSteps.before = undefined;
      }
    });
  }
});
