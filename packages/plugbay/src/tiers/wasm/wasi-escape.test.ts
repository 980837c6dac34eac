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
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
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
import { MAX_DESCRIPTORS } from './wasi/fd-table.js';
import { MAX_DEPTH, walkSteps } from './wasi/paths.js';
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

/**
 * Attacks on what the rework allowed (creating symlinks and hard links) and on descriptors. A symlink the guest
 * creates must never lead out of the mount when another program on the host follows it, whatever the guest does
 * afterwards (rename its directory, hard-link it elsewhere, put a symlink to `..` on its way).
 */
describe('WASI attacks: guest-made links that another program would follow out', () => {
  const O_CREAT = 1;
  const O_DIRECTORY = 2;
  const O_EXCL = 4;
  const DIR_RIGHTS = (1n << 13n) | (1n << 14n) | (1n << 10n) | (1n << 24n);
  const inside = (mount: string, p: string) => p === mount || p.startsWith(`${mount}/`);

  /** The symlinks below `mount` not among `baseline` (inodes) that the kernel would resolve outside it. */
  function linksOut(mount: string, baseline: Set<bigint>): string[] {
    const out: string[] = [];
    const visit = (p: string) => {
      const st = lstatSync(p, { bigint: true });
      if (st.isSymbolicLink() && !baseline.has(st.ino)) {
        const lexical = path.resolve(realpathSync.native(path.dirname(p)), readlinkSync(p));
        let real = lexical;
        try {
          real = realpathSync.native(p); // the kernel's, not Node's lexical `..`
        } catch {} // dangling: its lexical resolution is what a later file there would be
        if (!inside(mount, lexical) || !inside(mount, real)) out.push(path.relative(mount, p));
      } else if (st.isDirectory()) for (const n of readdirSync(p)) visit(path.join(p, n));
    };
    visit(mount);
    return out;
  }

  function symlinkInodes(mount: string): Set<bigint> {
    const s = new Set<bigint>();
    const visit = (p: string) => {
      const st = lstatSync(p, { bigint: true });
      if (st.isSymbolicLink()) s.add(st.ino);
      else if (st.isDirectory()) for (const n of readdirSync(p)) visit(path.join(p, n));
    };
    visit(mount);
    return s;
  }

  const attacks: { name: string; steps(g: Guest): number[] }[] = [
    {
      name: 'sub/up -> .. (depth-legal), then x -> sub/up/.. (lexically inside, physically the parent of the mount)',
      steps: (g) => [g.symlink('..', SANDBOX, 'sub/up'), g.symlink('sub/up/..', SANDBOX, 'x')],
    },
    {
      name: 'sub/deeper/l -> ../../outside/secret.txt (depth-legal), then sub/deeper renamed to the top',
      steps: (g) => [
        g.symlink('../../outside/secret.txt', SANDBOX, 'sub/deeper/l'),
        g.rename(SANDBOX, 'sub/deeper', SANDBOX, 'moved'),
      ],
    },
    {
      name: 'a descriptor on sub/deeper, sub/deeper renamed to the top, then l -> ../../outside/secret.txt through the stale descriptor',
      steps: (g) => {
        const e = g.open(SANDBOX, 'sub/deeper', { oflags: O_DIRECTORY, rights: DIR_RIGHTS });
        const fd = g.u32(16);
        return [
          e,
          g.rename(SANDBOX, 'sub/deeper', SANDBOX, 'moved'),
          g.symlink('../../outside/secret.txt', fd, 'l'),
        ];
      },
    },
    {
      name: 'sub/l -> ../outside/secret.txt (depth-legal), then hard-linked (no follow) to the top',
      steps: (g) => [
        g.symlink('../outside/secret.txt', SANDBOX, 'sub/l'),
        g.link(SANDBOX, 'sub/l', false, SANDBOX, 'l2'),
      ],
    },
    {
      name: 'link text ./.. and a//../.. and a trailing /.. (sub/x -> deeper/..//..//..)',
      steps: (g) => [
        g.symlink('./..', SANDBOX, 'dot-up'),
        g.symlink('a//../..', SANDBOX, 'slashes'),
        g.symlink('deeper/..//..//..', SANDBOX, 'sub/x'),
      ],
    },
  ];

  for (const a of attacks) {
    test(`${a.name}: refused, no guest-made link leads out, outside unchanged`, () => {
      const t = tree();
      const baseline = symlinkInodes(t.mount);
      const before = treeHash(t.outside);
      const rt = plugbay(t);
      let errnos: number[];
      try {
        errnos = a.steps(rt.guest);
      } finally {
        rt.close();
      }
      assert.deepEqual(linksOut(t.mount, baseline), [], `errnos ${errnos}`);
      assert.ok(errnos.includes(errno.NOTCAPABLE), `errnos ${errnos}`);
      assert.equal(treeHash(t.outside), before);
    });
  }

  test('overlong UTF-8 for `.` and `/` in a path or a link text is never `..` or a separator', () => {
    const t = tree();
    const before = treeHash(t.outside);
    const rt = plugbay(t);
    const g = rt.guest;
    // C0 AE is an overlong `.`, C0 AF an overlong `/`: the decoder makes them U+FFFD, a plain name.
    const raw = (at: number, hex: string) => {
      const b = Buffer.from(hex.replace(/ /g, ''), 'hex');
      new Uint8Array(g.memory.buffer).set(b, at);
      return [at, b.length] as const;
    };
    try {
      const [p, n] = raw(20000, 'C0AE C0AE C0AF 6f757473696465 2f7365637265742e747874');
      assert.equal(g.call('path_open', SANDBOX, 1, p, n, 0, 1n << 1n, 0n, 0, 16), 44); // NOENT
      const [lp, ln] = raw(21000, 'C0AE C0AE 2f 6f757473696465');
      const [np, nn] = raw(22000, '6c');
      assert.equal(g.call('path_symlink', lp, ln, SANDBOX, np, nn), 0);
      assert.equal(readlinkSync(path.join(t.mount, 'l')), '\uFFFD\uFFFD\uFFFD\uFFFD/outside');
      assert.equal(g.openRead(SANDBOX, 'l/secret.txt'), 44);
    } finally {
      rt.close();
    }
    assert.equal(treeHash(t.outside), before);
    assert.equal(rt.guest.sawSecret(), false);
  });

  test('a hard link of a directory, or of a symlink to one followed, is refused', () => {
    const t = tree();
    symlinkSync('sub', path.join(t.mount, 'link-sub'));
    const rt = plugbay(t);
    try {
      assert.equal(rt.guest.link(SANDBOX, 'sub', false, SANDBOX, 'sub2'), 63); // PERM
      assert.equal(rt.guest.link(SANDBOX, 'link-sub', true, SANDBOX, 'sub3'), 63);
      assert.equal(rt.guest.link(SANDBOX, 'sub/', false, SANDBOX, 'sub4'), 63);
    } finally {
      rt.close();
    }
    for (const n of ['sub2', 'sub3', 'sub4']) assert.equal(existsSync(path.join(t.mount, n)), false);
  });

  test('path_symlink with a NUL in its text is INVAL and leaves no host descriptor open', () => {
    const t = tree();
    const rt = plugbay(t);
    try {
      const open = () => readdirSync('/proc/self/fd').length;
      const before = open();
      for (let i = 0; i < 20; i++) assert.equal(rt.guest.symlink('a\0b', SANDBOX, 'sub/deeper/x'), 28);
      assert.equal(open(), before);
    } finally {
      rt.close();
    }
  });

  test('O_CREAT|O_EXCL and O_CREAT on a dangling symlink pointing outside create nothing there', () => {
    const t = tree();
    symlinkSync('../outside/planted.txt', path.join(t.mount, 'dangling-out'));
    symlinkSync(path.join(t.outside, 'planted.txt'), path.join(t.mount, 'dangling-abs'));
    const before = treeHash(t.outside);
    const rt = plugbay(t);
    try {
      for (const name of ['dangling-out', 'dangling-abs']) {
        for (const follow of [true, false]) {
          for (const oflags of [O_CREAT | O_EXCL, O_CREAT]) {
            const e = rt.guest.open(SANDBOX, name, { follow, oflags, rights: 1n << 6n });
            assert.notEqual(e, 0, `${name} follow=${follow} oflags=${oflags}`);
          }
        }
      }
    } finally {
      rt.close();
    }
    assert.equal(treeHash(t.outside), before);
  });

  test('path_filestat_set_times without SYMLINK_FOLLOW on a symlink out changes the link, never its target', () => {
    const t = tree();
    const before = treeHash(t.outside);
    const rt = plugbay(t);
    try {
      const e = rt.guest.pathFlags(
        'path_filestat_set_times',
        SANDBOX,
        false,
        'link-secret',
        10n ** 9n,
        10n ** 9n,
        1 | 4,
      );
      assert.equal(e, 0);
      assert.equal(lstatSync(path.join(t.mount, 'link-secret')).mtimeMs, 1000);
    } finally {
      rt.close();
    }
    assert.equal(treeHash(t.outside), before);
  });

  test('fd_renumber of a file onto the preopen: the number is no directory any more, the old one is closed', () => {
    const t = tree();
    const rt = plugbay(t);
    const g = rt.guest;
    try {
      assert.equal(g.open(SANDBOX, 'file.txt'), 0);
      const file = g.u32(16);
      assert.equal(g.call('fd_renumber', file, SANDBOX), 0);
      assert.equal(g.openRead(SANDBOX, 'file.txt'), errno.NOTDIR);
      assert.equal(g.call('fd_close', file), 8); // BADF
      assert.equal(g.call('fd_renumber', file, SANDBOX), 8);
      assert.equal(g.call('fd_close', SANDBOX), 0);
      assert.equal(g.openRead(SANDBOX, 'file.txt'), 8);
    } finally {
      rt.close();
    }
  });

  test('rights narrowed on the preopen (base and inheriting) are not regained by reopening it with wider ones', () => {
    const t = tree();
    const rt = plugbay(t);
    const g = rt.guest;
    const CREATE_FILE = 1n << 10n;
    const WRITE = 1n << 6n;
    try {
      const all = (1n << 30n) - 1n;
      assert.equal(g.call('fd_fdstat_get', SANDBOX, 200), 0);
      const stat = new DataView(g.memory.buffer);
      const [base, inheriting] = [stat.getBigUint64(208, true), stat.getBigUint64(216, true)];
      const drop = ~(CREATE_FILE | WRITE);
      assert.equal(g.call('fd_fdstat_set_rights', SANDBOX, base & drop, inheriting & drop), 0);
      const [p, n] = g.str('.');
      assert.equal(g.call('path_open', SANDBOX, 0, p, n, O_DIRECTORY, all, all, 0, 16), errno.NOTCAPABLE);
      assert.equal(g.call('path_open', SANDBOX, 0, p, n, O_DIRECTORY, all & ~WRITE, all, 0, 16), 0);
      const reopened = g.u32(16);
      assert.equal(g.open(reopened, 'new.txt', { oflags: O_CREAT }), errno.NOTCAPABLE);
      assert.equal(g.open(reopened, 'file.txt', { rights: WRITE }), errno.NOTCAPABLE);
      assert.equal(existsSync(path.join(t.mount, 'new.txt')), false);
    } finally {
      rt.close();
    }
  });

  test('poll_oneoff with 2^32-1 subscriptions is FAULT at once; fd_readdir from a huge cookie lists nothing', () => {
    const t = tree();
    const rt = plugbay(t);
    const g = rt.guest;
    try {
      assert.equal(g.call('poll_oneoff', 0, 0, 0xffffffff, 60), 21); // FAULT
      assert.equal(g.call('fd_readdir', SANDBOX, 8192, 4096, 2n ** 63n, 60), 0);
      assert.equal(g.u32(60), 0);
    } finally {
      rt.close();
    }
  });
});

describe('WASI attacks: exhausting the host process descriptors', () => {
  test(`a guest holds at most ${MAX_DESCRIPTORS} descriptors (MFILE, nothing created); the host can still open files`, () => {
    const t = tree();
    const rt = plugbay(t);
    const g = rt.guest;
    const O_CREAT = 1;
    try {
      let opened = 0;
      let e = 0;
      while (opened < MAX_DESCRIPTORS + 10) {
        e = g.open(SANDBOX, 'file.txt');
        if (e !== 0) break;
        opened++;
      }
      assert.equal(e, 33); // MFILE
      assert.equal(opened, MAX_DESCRIPTORS - 5); // stdio and the two preopens hold the rest
      assert.equal(g.open(SANDBOX, 'created.txt', { oflags: O_CREAT, rights: 1n << 6n }), 33);
      assert.equal(existsSync(path.join(t.mount, 'created.txt')), false);
      assert.equal(readFileSync(path.join(t.mount, 'file.txt'), 'utf8'), 'inside');
      assert.equal(g.call('fd_close', 5), 0);
      assert.equal(g.open(SANDBOX, 'file.txt'), 0);
    } finally {
      rt.close();
    }
  });

  test(`a walk deeper than ${MAX_DEPTH} directories is NAMETOOLONG and holds no descriptor after`, () => {
    const t = tree();
    const rt = plugbay(t);
    const g = rt.guest;
    const depth = MAX_DEPTH + 2;
    const count = () => readdirSync('/proc/self/fd').length;
    try {
      // Under PATH_MAX, so the host builds it at once; a guest can build any depth one level at a time.
      mkdirSync(path.join(t.mount, ...Array(depth).fill('d')), { recursive: true });
      const before = count();
      assert.equal(g.openRead(SANDBOX, Array(depth).fill('d').join('/')), 37); // NAMETOOLONG
      assert.equal(count(), before);
    } finally {
      rt.close();
    }
  });
});
