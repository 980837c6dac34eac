/**
 * Test support (not shipped behaviour): the escape probes of wasi-escape.test.ts. Each probe drives WASI preview 1
 * imports directly on a real instance's memory, against a fresh tree: a writable mount (`/sandbox`), a read-only
 * mount (`/ro`) and, beside them, an `outside` folder holding a secret, which symlinks in the mount point at in
 * every way (absolute, relative, chained, `..`, `/`). A probe escaped if its call succeeded where it should not,
 * if the outside folder (or the read-only mount) changed, or if the secret reached guest memory.
 */
import { createHash } from 'node:crypto';
import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';

export const SECRET = 'outside secret: must never reach the guest';
export const errno = { SUCCESS: 0, LOOP: 32, NOTDIR: 54, ROFS: 69, NOTCAPABLE: 76 } as const;
const O_CREAT = 1;
const O_DIRECTORY = 2;
const O_TRUNC = 8;
const FOLLOW = 1;
const READ = 1n << 1n;
const WRITE = 1n << 6n;
const READDIR = 1n << 14n;
/** The rights a libc asks for on a file it reads and writes (inheriting), and on a directory it lists. */
const RW = READ | WRITE | ((1n << 29n) - 1n);
const DIR = READ | READDIR;

/** The preopens every probe runs with: 3 is `/sandbox` (writable), 4 is `/ro`. */
export const SANDBOX = 3;
export const RO = 4;

export type WasiCall = (...args: (number | bigint)[]) => number;

/** What a probe may use: the imports, and memory helpers on the instance's memory. */
export class Guest {
  #next = 1024;
  constructor(
    readonly fns: Record<string, WasiCall>,
    readonly memory: WebAssembly.Memory,
  ) {}

  /** Puts a string in guest memory; returns [ptr, len]. */
  str(s: string): [number, number] {
    const bytes = Buffer.from(s);
    const ptr = this.#next;
    new Uint8Array(this.memory.buffer).set(bytes, ptr);
    this.#next += bytes.length + 8;
    return [ptr, bytes.length];
  }

  call(name: string, ...args: (number | bigint)[]): number {
    const f = this.fns[name];
    if (f === undefined) throw new Error(`no WASI import ${name}`);
    return f(...args);
  }

  u32(ptr: number): number {
    return new DataView(this.memory.buffer).getUint32(ptr, true);
  }

  /** Whether the secret is anywhere in guest memory (a read or readdir that got it). */
  sawSecret(): boolean {
    return Buffer.from(this.memory.buffer).includes(SECRET);
  }

  open(dirfd: number, p: string, o: { follow?: boolean; oflags?: number; rights?: bigint } = {}): number {
    const [ptr, len] = this.str(p);
    const e = this.call(
      'path_open',
      dirfd,
      o.follow === false ? 0 : FOLLOW,
      ptr,
      len,
      o.oflags ?? 0,
      o.rights ?? READ,
      RW,
      0,
      16,
    );
    return e;
  }

  /** Opens, then reads what it can into memory (so a leak shows in sawSecret). */
  openRead(dirfd: number, p: string, follow = true): number {
    const e = this.open(dirfd, p, { follow });
    if (e === 0) {
      const fd = this.u32(16);
      new DataView(this.memory.buffer).setUint32(32, 8192, true);
      new DataView(this.memory.buffer).setUint32(36, 4096, true);
      this.call('fd_read', fd, 32, 1, 40);
    }
    return e;
  }

  /** Opens for writing (creating and truncating), then writes a marker. */
  openWrite(dirfd: number, p: string, follow = true): number {
    const e = this.open(dirfd, p, { follow, oflags: O_CREAT | O_TRUNC, rights: READ | WRITE });
    if (e === 0) {
      const [buf, len] = this.str('planted by the guest');
      new DataView(this.memory.buffer).setUint32(48, buf, true);
      new DataView(this.memory.buffer).setUint32(52, len, true);
      this.call('fd_write', this.u32(16), 48, 1, 56);
    }
    return e;
  }

  /** Opens a directory and lists it into memory. */
  listDir(dirfd: number, p: string): number {
    const [ptr, len] = this.str(p);
    const e = this.call('path_open', dirfd, FOLLOW, ptr, len, O_DIRECTORY, DIR, RW, 0, 16);
    if (e === 0) this.call('fd_readdir', this.u32(16), 8192, 4096, 0n, 60);
    return e;
  }

  path(name: string, dirfd: number, p: string, ...rest: (number | bigint)[]): number {
    const [ptr, len] = this.str(p);
    return this.call(name, dirfd, ptr, len, ...rest);
  }

  /** For calls whose lookupflags come before the path (path_filestat_get, path_filestat_set_times). */
  pathFlags(name: string, dirfd: number, follow: boolean, p: string, ...rest: (number | bigint)[]): number {
    const [ptr, len] = this.str(p);
    return this.call(name, dirfd, follow ? FOLLOW : 0, ptr, len, ...rest);
  }

  rename(fd: number, from: string, fd2: number, to: string): number {
    const [a, al] = this.str(from);
    const [b, bl] = this.str(to);
    return this.call('path_rename', fd, a, al, fd2, b, bl);
  }

  symlink(target: string, fd: number, name: string): number {
    const [a, al] = this.str(target);
    const [b, bl] = this.str(name);
    return this.call('path_symlink', a, al, fd, b, bl);
  }

  link(fd: number, from: string, follow: boolean, fd2: number, to: string): number {
    const [a, al] = this.str(from);
    const [b, bl] = this.str(to);
    return this.call('path_link', fd, follow ? FOLLOW : 0, a, al, fd2, b, bl);
  }
}

/** Builds the tree under `root`: root/outside, root/mount (the `/sandbox` preopen), root/ro (`/ro`). */
export function buildTree(root: string): { mount: string; ro: string; outside: string } {
  const outside = path.join(root, 'outside');
  const mount = path.join(root, 'mount');
  const ro = path.join(root, 'ro');
  mkdirSync(path.join(outside, 'dir'), { recursive: true });
  mkdirSync(path.join(outside, 'empty'));
  writeFileSync(path.join(outside, 'secret.txt'), SECRET);
  writeFileSync(path.join(outside, 'dir/inner.txt'), SECRET);
  symlinkSync('secret.txt', path.join(outside, 'alink'));
  mkdirSync(path.join(mount, 'sub/deeper'), { recursive: true });
  writeFileSync(path.join(mount, 'file.txt'), 'inside');
  writeFileSync(path.join(mount, 'sub/deeper/target.txt'), 'inside');
  symlinkSync(outside, path.join(mount, 'link-out-abs'));
  symlinkSync('../outside', path.join(mount, 'link-out-rel'));
  symlinkSync(path.join(outside, 'secret.txt'), path.join(mount, 'link-secret'));
  symlinkSync('link-chain2', path.join(mount, 'link-chain1'));
  symlinkSync('sub/../link-out-rel', path.join(mount, 'link-chain2'));
  symlinkSync('..', path.join(mount, 'link-dotdot'));
  symlinkSync('/', path.join(mount, 'link-root'));
  symlinkSync('file.txt', path.join(mount, 'link-inside'));
  mkdirSync(ro);
  writeFileSync(path.join(ro, 'file.txt'), 'read only');
  mkdirSync(path.join(ro, 'dir'));
  symlinkSync('file.txt', path.join(ro, 'link'));
  return { mount, ro, outside };
}

/** A digest of everything under `dir` but access times: names, types, modes, sizes, mtimes, contents, links. */
export function treeHash(dir: string): string {
  const h = createHash('sha256');
  const visit = (p: string, rel: string) => {
    const st = lstatSync(p, { bigint: true });
    h.update(`${rel}\0${st.mode}\0${st.size}\0${st.mtimeNs}\0${st.nlink}\0`);
    if (st.isSymbolicLink()) h.update(readlinkSync(p));
    else if (st.isFile()) h.update(readFileSync(p));
    else if (st.isDirectory()) for (const n of readdirSync(p).sort()) visit(path.join(p, n), `${rel}/${n}`);
  };
  visit(dir, '.');
  return h.digest('hex');
}

export interface Probe {
  name: string;
  /** The errno plugbay must answer. */
  expect: number;
  run(g: Guest, t: { outside: string }): number;
}

const S = SANDBOX;
const read =
  (p: string, follow = true) =>
  (g: Guest) =>
    g.openRead(S, p, follow);
const write =
  (p: string, follow = true) =>
  (g: Guest) =>
    g.openWrite(S, p, follow);
const NC = errno.NOTCAPABLE;

export const probes: Probe[] = [
  { name: 'read ../outside/secret.txt', expect: NC, run: read('../outside/secret.txt') },
  { name: 'read sub/../../outside/secret.txt', expect: NC, run: read('sub/../../outside/secret.txt') },
  {
    name: 'read an absolute host path',
    expect: NC,
    run: (g, t) => g.openRead(S, path.join(t.outside, 'secret.txt')),
  },
  { name: 'read symlink (absolute) to a file outside', expect: NC, run: read('link-secret') },
  {
    name: 'read through symlink (absolute) to a dir outside',
    expect: NC,
    run: read('link-out-abs/secret.txt'),
  },
  { name: 'read through symlink (relative ../outside)', expect: NC, run: read('link-out-rel/secret.txt') },
  { name: 'read through a symlink chain leaving the mount', expect: NC, run: read('link-chain1/secret.txt') },
  { name: 'read through symlink to ..', expect: NC, run: read('link-dotdot/outside/secret.txt') },
  {
    name: 'read through symlink to /',
    expect: NC,
    run: (g, t) => g.openRead(S, `link-root${t.outside}/secret.txt`),
  },
  {
    name: 'read through symlink with a trailing slash (link-out-rel/)',
    expect: NC,
    run: (g) => g.listDir(S, 'link-out-rel/'),
  },
  {
    name: 'open symlink to a file outside without SYMLINK_FOLLOW',
    expect: errno.LOOP,
    run: read('link-secret', false),
  },
  {
    name: 'open in-mount symlink without SYMLINK_FOLLOW',
    expect: errno.LOOP,
    run: read('link-inside', false),
  },
  {
    name: 'create a file through symlink to a dir outside',
    expect: NC,
    run: write('link-out-rel/planted.txt'),
  },
  { name: 'truncate and write a file outside through a symlink', expect: NC, run: write('link-secret') },
  { name: 'create a file at ../planted.txt', expect: NC, run: write('../outside/planted.txt') },
  { name: 'open file.txt/ (trailing slash on a file)', expect: errno.NOTDIR, run: read('file.txt/') },
  {
    name: 'path_remove_directory link-out-rel/ (trailing slash on a symlink out)',
    expect: errno.NOTDIR,
    run: (g) => g.path('path_remove_directory', S, 'link-out-rel/'),
  },
  {
    name: 'path_unlink_file link-out-rel/ (trailing slash on a symlink out)',
    expect: errno.NOTDIR,
    run: (g) => g.path('path_unlink_file', S, 'link-out-rel/'),
  },
  {
    name: 'path_filestat_get link-out-abs/ without SYMLINK_FOLLOW (the slash follows)',
    expect: NC,
    run: (g) => g.pathFlags('path_filestat_get', S, false, 'link-out-abs/', 8192),
  },
  {
    name: 'fd_readdir through symlink to a dir outside',
    expect: NC,
    run: (g) => g.listDir(S, 'link-out-abs'),
  },
  { name: 'fd_readdir of ..', expect: NC, run: (g) => g.listDir(S, '..') },
  {
    name: 'path_filestat_get through symlink outside',
    expect: NC,
    run: (g) => g.pathFlags('path_filestat_get', S, true, 'link-out-rel/secret.txt', 8192),
  },
  {
    name: 'path_filestat_get of ../outside',
    expect: NC,
    run: (g) => g.pathFlags('path_filestat_get', S, false, '../outside', 8192),
  },
  {
    name: 'path_filestat_set_times following symlink outside',
    expect: NC,
    run: (g) => g.pathFlags('path_filestat_set_times', S, true, 'link-secret', 0n, 0n, 1 | 4),
  },
  {
    name: 'path_filestat_set_times through symlink to a dir outside',
    expect: NC,
    run: (g) => g.pathFlags('path_filestat_set_times', S, false, 'link-out-abs/secret.txt', 0n, 0n, 1 | 4),
  },
  {
    name: 'path_create_directory through symlink outside',
    expect: NC,
    run: (g) => g.path('path_create_directory', S, 'link-out-rel/newdir'),
  },
  {
    name: 'path_create_directory ../newdir',
    expect: NC,
    run: (g) => g.path('path_create_directory', S, '../newdir'),
  },
  {
    name: 'path_remove_directory through symlink outside',
    expect: NC,
    run: (g) => g.path('path_remove_directory', S, 'link-out-rel/empty'),
  },
  {
    name: 'path_remove_directory ../outside/empty',
    expect: NC,
    run: (g) => g.path('path_remove_directory', S, '../outside/empty'),
  },
  {
    name: 'path_unlink_file through symlink outside',
    expect: NC,
    run: (g) => g.path('path_unlink_file', S, 'link-out-abs/secret.txt'),
  },
  {
    name: 'path_unlink_file ../outside/secret.txt',
    expect: NC,
    run: (g) => g.path('path_unlink_file', S, '../outside/secret.txt'),
  },
  {
    name: 'path_rename from outside in',
    expect: NC,
    run: (g) => g.rename(S, 'link-out-rel/secret.txt', S, 'stolen.txt'),
  },
  {
    name: 'path_rename from inside out',
    expect: NC,
    run: (g) => g.rename(S, 'file.txt', S, 'link-out-rel/planted.txt'),
  },
  {
    name: 'path_rename to ../planted.txt',
    expect: NC,
    run: (g) => g.rename(S, 'file.txt', S, '../outside/planted.txt'),
  },
  {
    name: 'path_readlink of a symlink outside',
    expect: NC,
    run: (g) => g.path('path_readlink', S, 'link-out-rel/alink', 8192, 4096, 60),
  },
  {
    name: 'path_symlink with an absolute target',
    expect: NC,
    run: (g, t) => g.symlink(t.outside, S, 'evil'),
  },
  {
    name: 'path_symlink with a target climbing out',
    expect: NC,
    run: (g) => g.symlink('../outside', S, 'evil'),
  },
  {
    name: 'path_symlink placed through a symlink outside',
    expect: NC,
    run: (g) => g.symlink('x', S, 'link-out-rel/evil'),
  },
  {
    name: 'path_link of a file outside',
    expect: NC,
    run: (g) => g.link(S, '../outside/secret.txt', false, S, 'stolen'),
  },
  {
    name: 'path_link following a symlink outside, then write',
    expect: NC,
    run: (g) => {
      const e = g.link(S, 'link-secret', true, S, 'stolen');
      if (e === 0) g.openWrite(S, 'stolen');
      return e;
    },
  },
  {
    name: 'path_link placed through a symlink outside',
    expect: NC,
    run: (g) => g.link(S, 'file.txt', false, S, 'link-out-rel/planted'),
  },
  {
    name: 'path_link from the read-only mount into the writable one',
    expect: errno.ROFS,
    run: (g) => g.link(RO, 'file.txt', false, S, 'ro-file'),
  },
  { name: 'read-only mount: open for writing', expect: errno.ROFS, run: (g) => g.openWrite(RO, 'file.txt') },
  { name: 'read-only mount: create a file', expect: errno.ROFS, run: (g) => g.openWrite(RO, 'new.txt') },
  {
    name: 'read-only mount: mkdir',
    expect: errno.ROFS,
    run: (g) => g.path('path_create_directory', RO, 'newdir'),
  },
  {
    name: 'read-only mount: rmdir',
    expect: errno.ROFS,
    run: (g) => g.path('path_remove_directory', RO, 'dir'),
  },
  {
    name: 'read-only mount: unlink',
    expect: errno.ROFS,
    run: (g) => g.path('path_unlink_file', RO, 'file.txt'),
  },
  {
    name: 'read-only mount: rename',
    expect: errno.ROFS,
    run: (g) => g.rename(RO, 'file.txt', RO, 'moved.txt'),
  },
  { name: 'read-only mount: symlink', expect: errno.ROFS, run: (g) => g.symlink('file.txt', RO, 'l2') },
  { name: 'read-only mount: link', expect: errno.ROFS, run: (g) => g.link(RO, 'file.txt', false, RO, 'l3') },
  {
    name: 'read-only mount: set times',
    expect: errno.ROFS,
    run: (g) => g.pathFlags('path_filestat_set_times', RO, true, 'file.txt', 0n, 0n, 1 | 4),
  },
  {
    name: 'read-only mount: fd_filestat_set_size on a file opened to read',
    expect: errno.ROFS,
    run: (g) => {
      const e = g.open(RO, 'file.txt');
      return e === 0 ? g.call('fd_filestat_set_size', g.u32(16), 0n) : e;
    },
  },
];
