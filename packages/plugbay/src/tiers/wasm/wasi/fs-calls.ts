/**
 * The WASI preview 1 calls on files, directories and paths. Every path is walked below its directory descriptor
 * (paths.ts: no symlink is ever followed by the kernel); every call checks its descriptor's rights (rights.ts);
 * a read-only mount refuses every change with ROFS.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { E, FILETYPE, WasiError } from './errno.js';
import type { DirEntry, Entry, FdTable } from './fd-table.js';
import type { GuestMemory } from './memory.js';
import { at, type Walk, walk as walkPath, walkSteps } from './paths.js';
import { DIR_RIGHTS, FILE_RIGHTS, R } from './rights.js';

const O_CREAT = 1;
const O_DIRECTORY = 2;
const O_EXCL = 4;
const O_TRUNC = 8;
const LOOKUP_SYMLINK_FOLLOW = 1;
export const FDFLAG = { APPEND: 1, DSYNC: 2, NONBLOCK: 4, RSYNC: 8, SYNC: 16 } as const;
const FST = { ATIM: 1, ATIM_NOW: 2, MTIM: 4, MTIM_NOW: 8 } as const;

type Call = (...args: never[]) => number;

export function fsCalls(fds: FdTable, mem: GuestMemory): Record<string, Call> {
  /** A directory to change something below: ROFS first under a read-only mount, then the right. */
  const changing = (fd: number, right: bigint): DirEntry => {
    const e = fds.get(fd);
    if (e.kind === 'dir' && e.mount.readOnly) throw new WasiError(E.ROFS);
    return fds.dir(fd, right);
  };
  const walk = (dir: DirEntry, p: number, n: number, final: 'follow' | 'nofollow' | 'entry'): Walk =>
    walkPath(dir.host, dir.rel, mem.string(p, n), final);
  /** Runs `f` on the walked entry's host path and closes the walk's directory. */
  const onEntry = <T>(w: Walk, f: (hostPath: string) => T, keepSlash = false): T => {
    try {
      walkSteps.before?.(`call ${[...w.rel, w.name].join('/')}`);
      return f(at(w.dir, keepSlash && w.mustBeDir && w.name !== '.' ? `${w.name}/` : w.name));
    } finally {
      w.close();
    }
  };
  const lstatDir = (w: Walk, host: string): fs.BigIntStats => {
    const st = fs.lstatSync(host, { bigint: true });
    if (w.mustBeDir && !st.isDirectory()) throw new WasiError(E.NOTDIR);
    return st;
  };
  const osFd = (e: Entry): number | undefined =>
    e.kind === 'file' ? e.fd : e.kind === 'dir' ? e.host.fd : undefined;

  return {
    path_open: (
      dirfd: number,
      dirflags: number,
      p: number,
      n: number,
      oflags: number,
      rightsBase: bigint,
      rightsInheriting: bigint,
      fdflags: number,
      fdPtr: number,
    ) => {
      const parent = fds.get(dirfd);
      fds.room();
      const writable = (rightsBase & R.FD_WRITE) !== 0n;
      const creating = (oflags & O_CREAT) !== 0;
      const truncating = (oflags & O_TRUNC) !== 0;
      if (parent.kind === 'dir' && parent.mount.readOnly && (writable || creating || truncating)) {
        throw new WasiError(E.ROFS);
      }
      const dir = fds.dir(dirfd, R.PATH_OPEN);
      const need = (creating ? R.PATH_CREATE_FILE : 0n) | (truncating ? R.PATH_FILESTAT_SET_SIZE : 0n);
      if ((dir.rights.base & need) !== need) throw new WasiError(E.NOTCAPABLE);
      // Reading and writing are asked for explicitly: refused if not inheritable. Other rights a libc asks for
      // wholesale (Rust's std asks for every path right on a file) are trimmed to what may be inherited.
      const explicit = rightsBase & (R.FD_READ | R.FD_WRITE);
      if ((explicit & dir.rights.inheriting) !== explicit) throw new WasiError(E.NOTCAPABLE);
      const wantDir = (oflags & O_DIRECTORY) !== 0;
      if (wantDir && (creating || truncating)) throw new WasiError(E.INVAL);
      const readable = (rightsBase & (R.FD_READ | R.FD_READDIR)) !== 0n || !writable;
      const c = fs.constants;
      let flags = (writable ? (readable ? c.O_RDWR : c.O_WRONLY) : c.O_RDONLY) | c.O_NOFOLLOW;
      if (wantDir) flags |= c.O_DIRECTORY;
      if (creating) flags |= c.O_CREAT;
      if (oflags & O_EXCL) flags |= c.O_EXCL;
      if (truncating) flags |= c.O_TRUNC;
      if (fdflags & FDFLAG.NONBLOCK) flags |= c.O_NONBLOCK;
      if (fdflags & FDFLAG.SYNC) flags |= c.O_SYNC;
      if (fdflags & FDFLAG.DSYNC) flags |= c.O_DSYNC;
      const openWalked = (w: Walk) =>
        onEntry(w, (host) => fs.openSync(host, w.mustBeDir ? flags | c.O_DIRECTORY : flags, 0o666));
      // The final component is opened without following first; only a symlink there (ELOOP, or ENOTDIR under
      // O_DIRECTORY) makes a walk that reads it, when SYMLINK_FOLLOW asks for that.
      let w = walk(dir, p, n, 'nofollow');
      let osfd: number;
      try {
        osfd = openWalked(w);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (!(dirflags & LOOKUP_SYMLINK_FOLLOW) || (code !== 'ELOOP' && code !== 'ENOTDIR')) throw err;
        w = walk(dir, p, n, 'follow');
        osfd = openWalked(w);
      }
      const rel = w.name === '.' ? w.rel : [...w.rel, w.name];
      let guestFd: number;
      try {
        let entry: Entry;
        const inheriting = rightsInheriting & dir.rights.inheriting;
        if (fs.fstatSync(osfd).isDirectory()) {
          const base = rightsBase & DIR_RIGHTS & dir.rights.inheriting;
          entry = {
            kind: 'dir',
            host: { fd: osfd, hostPath: path.join(dir.mount.root, ...rel) },
            rel,
            mount: dir.mount,
            preopen: undefined,
            rights: { base, inheriting },
          };
        } else {
          const base = rightsBase & FILE_RIGHTS & dir.rights.inheriting;
          entry = {
            kind: 'file',
            fd: osfd,
            mount: dir.mount,
            pos: 0,
            flags: fdflags & 0x1f,
            rights: { base, inheriting },
          };
        }
        guestFd = fds.add(entry);
      } catch (err) {
        fs.closeSync(osfd);
        throw err;
      }
      mem.view().setUint32(fdPtr, guestFd, true);
      return E.SUCCESS;
    },
    path_filestat_get: (fd: number, flags: number, p: number, n: number, ptr: number) => {
      const w = walk(
        fds.dir(fd, R.PATH_FILESTAT_GET),
        p,
        n,
        flags & LOOKUP_SYMLINK_FOLLOW ? 'follow' : 'nofollow',
      );
      writeStat(
        mem,
        ptr,
        onEntry(w, (host) => lstatDir(w, host)),
      );
      return E.SUCCESS;
    },
    path_filestat_set_times: (
      fd: number,
      flags: number,
      p: number,
      n: number,
      atim: bigint,
      mtim: bigint,
      fst: number,
    ) => {
      const dir = changing(fd, R.PATH_FILESTAT_SET_TIMES);
      const w = walk(dir, p, n, flags & LOOKUP_SYMLINK_FOLLOW ? 'follow' : 'nofollow');
      onEntry(w, (host) => {
        const [a, m] = times(lstatDir(w, host), atim, mtim, fst);
        fs.lutimesSync(host, a, m);
      });
      return E.SUCCESS;
    },
    path_create_directory: (fd: number, p: number, n: number) => {
      const w = walk(changing(fd, R.PATH_CREATE_DIRECTORY), p, n, 'entry');
      onEntry(w, (host) => fs.mkdirSync(host), true);
      return E.SUCCESS;
    },
    path_unlink_file: (fd: number, p: number, n: number) => {
      const w = walk(changing(fd, R.PATH_UNLINK_FILE), p, n, 'entry');
      onEntry(w, (host) => fs.unlinkSync(host), true);
      return E.SUCCESS;
    },
    path_remove_directory: (fd: number, p: number, n: number) => {
      const w = walk(changing(fd, R.PATH_REMOVE_DIRECTORY), p, n, 'entry');
      onEntry(w, (host) => fs.rmdirSync(host), true);
      return E.SUCCESS;
    },
    path_rename: (fd: number, p: number, n: number, fd2: number, p2: number, n2: number) => {
      const from = walk(changing(fd, R.PATH_RENAME_SOURCE), p, n, 'entry');
      try {
        const to = walk(changing(fd2, R.PATH_RENAME_TARGET), p2, n2, 'entry');
        const source = at(from.dir, from.mustBeDir ? `${from.name}/` : from.name);
        onEntry(to, (target) => fs.renameSync(source, target), true);
      } finally {
        from.close();
      }
      return E.SUCCESS;
    },
    path_readlink: (fd: number, p: number, n: number, buf: number, len: number, usedPtr: number) => {
      const w = walk(fds.dir(fd, R.PATH_READLINK), p, n, 'nofollow');
      const text = onEntry(w, (host) => fs.readlinkSync(host, { encoding: 'buffer' }));
      const out = text.subarray(0, len); // a short buffer gets the start of the text, as readlink(2) does
      mem.bytes().set(out, buf);
      mem.view().setUint32(usedPtr, out.length, true);
      return E.SUCCESS;
    },
    // A symlink is created only if its text can never lead out of the mount, for other programs on the host that
    // follow it (plugbay never does): relative and without any `..`. A depth check is not enough: the guest can
    // later rename the link's directory upward or into another mount, hard-link the link elsewhere, or place a
    // symlink to `..` on its path (`sub/up/..`, where sub/up -> ..), and the kernel resolves `..` physically.
    path_symlink: (op: number, on: number, fd: number, p: number, n: number) => {
      const target = mem.string(op, on);
      const dir = changing(fd, R.PATH_SYMLINK);
      if (target.includes('\0')) throw new WasiError(E.INVAL); // before the walk, which holds descriptors
      if (target.startsWith('/') || target.split('/').includes('..')) throw new WasiError(E.NOTCAPABLE);
      const w = walk(dir, p, n, 'entry');
      onEntry(w, (host) => fs.symlinkSync(target, host), true);
      return E.SUCCESS;
    },
    // A hard link only inside one writable mount: a link from elsewhere would make another mount's file
    // (a read-only one's) writable here.
    path_link: (fd: number, flags: number, p: number, n: number, fd2: number, p2: number, n2: number) => {
      const fromDir = changing(fd, R.PATH_LINK_SOURCE);
      const toDir = changing(fd2, R.PATH_LINK_TARGET);
      if (fromDir.mount !== toDir.mount) throw new WasiError(E.NOTCAPABLE);
      const from = walk(fromDir, p, n, flags & LOOKUP_SYMLINK_FOLLOW ? 'follow' : 'nofollow');
      try {
        const source = at(from.dir, from.name);
        if (from.mustBeDir) lstatDir(from, source);
        const to = walk(toDir, p2, n2, 'entry');
        onEntry(to, (target) => fs.linkSync(source, target), true);
      } finally {
        from.close();
      }
      return E.SUCCESS;
    },
    fd_readdir: (fd: number, buf: number, len: number, cookie: bigint, usedPtr: number) => {
      const dir = fds.dir(fd, R.FD_READDIR);
      const names = ['.', '..', ...fs.readdirSync(at(dir.host, '.')).sort()];
      const u8 = mem.bytes();
      let used = 0;
      for (let i = Number(cookie); i < names.length && used < len; i++) {
        const name = Buffer.from(names[i]!);
        const head = Buffer.alloc(24);
        let st: fs.BigIntStats | undefined;
        try {
          // The `..` of a mount's root is outside the mount: it is reported as the root itself.
          const entry = names[i] === '..' && dir.rel.length === 0 ? '.' : names[i]!;
          st = fs.lstatSync(at(dir.host, entry), { bigint: true });
        } catch {
          st = undefined; // removed since the listing
        }
        head.writeBigUInt64LE(BigInt(i + 1), 0);
        head.writeBigUInt64LE(st?.ino ?? 0n, 8);
        head.writeUInt32LE(name.length, 16);
        head.writeUInt8(st === undefined ? FILETYPE.UNKNOWN : filetype(st), 20);
        const record = Buffer.concat([head, name]);
        const take = Math.min(record.length, len - used);
        u8.set(record.subarray(0, take), buf + used);
        used += take;
      }
      mem.view().setUint32(usedPtr, used, true);
      return E.SUCCESS;
    },
    fd_filestat_get: (fd: number, ptr: number) => {
      const os = osFd(fds.with(fd, R.FD_FILESTAT_GET));
      writeStat(mem, ptr, os === undefined ? undefined : fs.fstatSync(os, { bigint: true }));
      return E.SUCCESS;
    },
    fd_filestat_set_size: (fd: number, size: bigint) => {
      const e = fds.get(fd);
      if (e.kind === 'file' && e.mount.readOnly) throw new WasiError(E.ROFS);
      fs.ftruncateSync(fds.file(fd, R.FD_FILESTAT_SET_SIZE).fd, Number(size));
      return E.SUCCESS;
    },
    fd_filestat_set_times: (fd: number, atim: bigint, mtim: bigint, fst: number) => {
      const e = fds.get(fd);
      if (e.kind !== 'stdio' && e.mount.readOnly) throw new WasiError(E.ROFS);
      const os = osFd(fds.with(fd, R.FD_FILESTAT_SET_TIMES));
      if (os === undefined) throw new WasiError(E.BADF);
      const [a, m] = times(fs.fstatSync(os, { bigint: true }), atim, mtim, fst);
      fs.futimesSync(os, a, m);
      return E.SUCCESS;
    },
    fd_allocate: (fd: number) => {
      fds.file(fd, R.FD_ALLOCATE);
      return E.NOTSUP; // no posix_fallocate in Node; the spec's tests accept NOTSUP
    },
    fd_advise: (fd: number, _offset: bigint, _len: bigint, advice: number) => {
      fds.file(fd, R.FD_ADVISE);
      return advice > 5 ? E.INVAL : E.SUCCESS;
    },
    fd_sync: (fd: number) => {
      const os = osFd(fds.with(fd, R.FD_SYNC));
      if (os !== undefined) fs.fsyncSync(os);
      return E.SUCCESS;
    },
    fd_datasync: (fd: number) => {
      fs.fdatasyncSync(fds.file(fd, R.FD_DATASYNC).fd);
      return E.SUCCESS;
    },
  };
}

/** The access and modification times (seconds) that fstflags ask for, from the current ones otherwise. */
function times(st: fs.BigIntStats, atim: bigint, mtim: bigint, fst: number): [number, number] {
  if ((fst & FST.ATIM && fst & FST.ATIM_NOW) || (fst & FST.MTIM && fst & FST.MTIM_NOW) || fst > 15) {
    throw new WasiError(E.INVAL);
  }
  const now = Date.now() / 1000;
  const sec = (ns: bigint) => Number(ns) / 1e9;
  const a = fst & FST.ATIM_NOW ? now : fst & FST.ATIM ? sec(atim) : sec(st.atimeNs);
  const m = fst & FST.MTIM_NOW ? now : fst & FST.MTIM ? sec(mtim) : sec(st.mtimeNs);
  return [a, m];
}

function filetype(st: fs.BigIntStats): number {
  if (st.isFile()) return FILETYPE.FILE;
  if (st.isDirectory()) return FILETYPE.DIR;
  if (st.isSymbolicLink()) return FILETYPE.SYMLINK;
  if (st.isCharacterDevice()) return FILETYPE.CHAR;
  if (st.isBlockDevice()) return FILETYPE.BLOCK;
  if (st.isSocket()) return FILETYPE.SOCKET_STREAM;
  return FILETYPE.UNKNOWN;
}

/** A filestat; `undefined` is a character device (stdio). */
export function writeStat(mem: GuestMemory, ptr: number, st: fs.BigIntStats | undefined): void {
  const v = mem.view();
  for (let i = 0; i < 64; i += 8) v.setBigUint64(ptr + i, 0n, true);
  if (st === undefined) {
    v.setUint8(ptr + 16, FILETYPE.CHAR);
    return;
  }
  v.setBigUint64(ptr, st.dev, true);
  v.setBigUint64(ptr + 8, st.ino, true);
  v.setUint8(ptr + 16, filetype(st));
  v.setBigUint64(ptr + 24, st.nlink, true);
  v.setBigUint64(ptr + 32, st.size, true);
  v.setBigUint64(ptr + 40, st.atimeNs, true);
  v.setBigUint64(ptr + 48, st.mtimeNs, true);
  v.setBigUint64(ptr + 56, st.ctimeNs, true);
}
