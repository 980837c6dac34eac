/**
 * WASI preview 1 with every capability denied unless granted: no args, only the declared environment variables,
 * explicit clocks and randomness, no sockets, and a filesystem made only of declared mounts. Not node:wasi — it
 * lets a symlink inside a preopen escape; here every path is resolved lexically inside its mount (`..` cannot climb
 * out, absolute paths are refused) and then by realpath, which must stay inside the mount's real root.
 * Files are opened by their resolved real path with O_NOFOLLOW. Remaining gap: a symlink swapped in between the
 * check and the open of a *parent* directory (a TOCTOU race by someone with write access to the host directory).
 */
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { unchangedPath } from '../../core/real-path.js';
import { ProcExit } from './errors.js';

export interface WasiMount {
  /** Host directory (must exist). */
  host: string;
  /** Where the guest sees it, e.g. `/data`. */
  guest: string;
  readOnly: boolean;
}

export interface WasiOptions {
  args: readonly string[];
  env: Readonly<Record<string, string>>;
  mounts: readonly WasiMount[];
  /** `real`, or a fixed time (ms since epoch) every clock reports. */
  clock: 'real' | { fixedMs: number };
  /** `real` (crypto), or a seed for a deterministic stream. */
  random: 'real' | { seed: number };
  stdout(line: string): void;
  stderr(line: string): void;
  /** When set, stdout/stderr bytes go here as written, instead of line by line to stdout()/stderr(). */
  output?(fd: 1 | 2, bytes: Uint8Array): void;
}

// errno values of WASI preview 1
const E = {
  SUCCESS: 0,
  ACCES: 2,
  BADF: 8,
  EXIST: 20,
  FAULT: 21,
  INVAL: 28,
  IO: 29,
  ISDIR: 31,
  LOOP: 32,
  NAMETOOLONG: 37,
  NOENT: 44,
  NOSYS: 52,
  NOTDIR: 54,
  NOTEMPTY: 55,
  PERM: 63,
  ROFS: 69,
  SPIPE: 70,
  NOTCAPABLE: 76,
} as const;

const nodeErrno: Record<string, number> = {
  ENOENT: E.NOENT,
  EEXIST: E.EXIST,
  ENOTDIR: E.NOTDIR,
  EISDIR: E.ISDIR,
  ENOTEMPTY: E.NOTEMPTY,
  EACCES: E.ACCES,
  EPERM: E.PERM,
  ELOOP: E.LOOP,
  EBADF: E.BADF,
  EINVAL: E.INVAL,
  ENAMETOOLONG: E.NAMETOOLONG,
  EROFS: E.ROFS,
};

const FILETYPE = { CHAR: 2, DIR: 3, FILE: 4, SYMLINK: 7 } as const;
const RIGHT_FD_READ = 1n << 1n;
const RIGHT_FD_WRITE = 1n << 6n;
const ALL_RIGHTS = (1n << 29n) - 1n;
const O_CREAT = 1;
const O_DIRECTORY = 2;
const O_EXCL = 4;
const O_TRUNC = 8;
const FDFLAG_APPEND = 1;

class WasiError extends Error {
  constructor(readonly errno: number) {
    super(`wasi errno ${errno}`);
  }
}

interface Mount {
  root: string; // real path
  guest: string;
  readOnly: boolean;
}
type Entry =
  | { kind: 'stdio'; which: 0 | 1 | 2 }
  | { kind: 'dir'; real: string; mount: Mount; preopen: string | undefined }
  | {
      kind: 'file';
      fd: number;
      real: string;
      mount: Mount;
      pos: number;
      append: boolean;
      readable: boolean;
      writable: boolean;
    };

export class Wasi {
  readonly #o: WasiOptions;
  readonly #fds = new Map<number, Entry>();
  #mem: WebAssembly.Memory | undefined;
  #view: DataView | undefined;
  #u8: Uint8Array | undefined;
  readonly #lines = { 1: '', 2: '' } as Record<1 | 2, string>;
  readonly #decoder = new TextDecoder();
  #seed: number;

  constructor(options: WasiOptions) {
    this.#o = options;
    this.#fds.set(0, { kind: 'stdio', which: 0 });
    this.#fds.set(1, { kind: 'stdio', which: 1 });
    this.#fds.set(2, { kind: 'stdio', which: 2 });
    let fd = 3;
    for (const [i, m] of options.mounts.entries()) {
      // Each (re)instantiation: the granted real path, unless a symlink was swapped into it since (path-changed).
      const root = unchangedPath(m.host, `permissions.fs.mounts.${i}`);
      const mount: Mount = { root, guest: m.guest, readOnly: m.readOnly };
      this.#fds.set(fd++, { kind: 'dir', real: mount.root, mount, preopen: m.guest });
    }
    this.#seed = options.random === 'real' ? 0 : options.random.seed >>> 0;
  }

  /** The names of the WASI preview 1 functions implemented here, read off the table imports() serves. */
  static functionNames(): string[] {
    const idle = new Wasi({
      args: [],
      env: {},
      mounts: [],
      clock: 'real',
      random: 'real',
      stdout: () => {},
      stderr: () => {},
    });
    return Object.keys(idle.#functions());
  }

  bind(memory: WebAssembly.Memory): void {
    this.#mem = memory;
  }

  /** Writes out partial stdout/stderr lines. */
  flush(): void {
    for (const fd of [1, 2] as const) {
      if (this.#lines[fd] !== '') {
        this.#emit(fd, this.#lines[fd]);
        this.#lines[fd] = '';
      }
    }
  }

  /** Functions for every WASI import the module declares; anything not implemented answers ENOSYS. */
  imports(declared: WebAssembly.ModuleImportDescriptor[]): WebAssembly.ModuleImports {
    const impl = this.#functions();
    const out: WebAssembly.ModuleImports = {};
    for (const d of declared) {
      if (d.module !== 'wasi_snapshot_preview1' || d.kind !== 'function') continue;
      const f = Object.hasOwn(impl, d.name) ? impl[d.name] : undefined;
      if (f === undefined) {
        out[d.name] = () => E.NOSYS;
        continue;
      }
      if (d.name === 'proc_exit') {
        out[d.name] = f;
        continue;
      }
      // errno-returning calls: WasiError and Node fs errors become errno values.
      out[d.name] = (...args: unknown[]) => {
        try {
          return (f as (...a: unknown[]) => number)(...args);
        } catch (err) {
          if (err instanceof WasiError) return err.errno;
          if (err instanceof RangeError) return E.FAULT;
          const code = (err as { code?: string }).code;
          return (code !== undefined && nodeErrno[code]) || E.IO;
        }
      };
    }
    return out;
  }

  #functions(): Record<string, (...args: never[]) => unknown> {
    const o = this.#o;
    const args = o.args.map((a) => Buffer.from(`${a}\0`));
    const env = Object.entries(o.env).map(([k, v]) => Buffer.from(`${k}=${v}\0`));
    const writeList = (list: Buffer[], ptrs: number, buf: number) => {
      const v = this.#dv();
      const u8 = this.#bytes();
      let at = buf;
      list.forEach((item, i) => {
        v.setUint32(ptrs + i * 4, at, true);
        u8.set(item, at);
        at += item.length;
      });
      return E.SUCCESS;
    };
    const sizes = (list: Buffer[], countPtr: number, sizePtr: number) => {
      const v = this.#dv();
      v.setUint32(countPtr, list.length, true);
      v.setUint32(
        sizePtr,
        list.reduce((n, b) => n + b.length, 0),
        true,
      );
      return E.SUCCESS;
    };
    return {
      args_sizes_get: (c: number, s: number) => sizes(args, c, s),
      args_get: (p: number, b: number) => writeList(args, p, b),
      environ_sizes_get: (c: number, s: number) => sizes(env, c, s),
      environ_get: (p: number, b: number) => writeList(env, p, b),
      clock_res_get: (_id: number, ptr: number) => {
        this.#dv().setBigUint64(ptr, 1000n, true);
        return E.SUCCESS;
      },
      clock_time_get: (id: number, _precision: bigint, ptr: number) => {
        this.#dv().setBigUint64(ptr, this.#now(id), true);
        return E.SUCCESS;
      },
      random_get: (buf: number, len: number) => {
        const target = this.#bytes().subarray(buf, buf + len);
        if (target.length !== len) return E.FAULT;
        if (o.random === 'real') randomFillSync(target);
        else for (let i = 0; i < len; i++) target[i] = this.#nextRandom() & 0xff;
        return E.SUCCESS;
      },
      proc_exit: (code: number) => {
        this.flush();
        throw new ProcExit(code);
      },
      sched_yield: () => E.SUCCESS,
      fd_write: (fd: number, iovs: number, n: number, written: number) => {
        const e = this.#entry(fd);
        let total = 0;
        for (const chunk of this.#iovecs(iovs, n)) total += this.#write(e, chunk, undefined);
        this.#dv().setUint32(written, total, true);
        return E.SUCCESS;
      },
      fd_pwrite: (fd: number, iovs: number, n: number, offset: bigint, written: number) => {
        const e = this.#file(fd);
        let total = 0;
        for (const chunk of this.#iovecs(iovs, n)) total += this.#write(e, chunk, Number(offset) + total);
        this.#dv().setUint32(written, total, true);
        return E.SUCCESS;
      },
      fd_read: (fd: number, iovs: number, n: number, read: number) => {
        const e = this.#entry(fd);
        let total = 0;
        if (e.kind === 'file') {
          if (!e.readable) throw new WasiError(E.BADF);
          for (const chunk of this.#iovecs(iovs, n)) {
            const got = fs.readSync(e.fd, chunk, 0, chunk.length, e.pos);
            e.pos += got;
            total += got;
            if (got < chunk.length) break;
          }
        } else if (e.kind !== 'stdio') {
          throw new WasiError(E.ISDIR);
        }
        this.#dv().setUint32(read, total, true);
        return E.SUCCESS;
      },
      fd_pread: (fd: number, iovs: number, n: number, offset: bigint, read: number) => {
        const e = this.#file(fd);
        if (!e.readable) throw new WasiError(E.BADF);
        let total = 0;
        for (const chunk of this.#iovecs(iovs, n)) {
          const got = fs.readSync(e.fd, chunk, 0, chunk.length, Number(offset) + total);
          total += got;
          if (got < chunk.length) break;
        }
        this.#dv().setUint32(read, total, true);
        return E.SUCCESS;
      },
      fd_seek: (fd: number, offset: bigint, whence: number, newOffset: number) => {
        const e = this.#file(fd);
        const base =
          whence === 0 ? 0 : whence === 1 ? e.pos : whence === 2 ? fs.fstatSync(e.fd).size : Number.NaN;
        const next = base + Number(offset);
        if (!Number.isFinite(next) || next < 0) throw new WasiError(E.INVAL);
        e.pos = next;
        this.#dv().setBigUint64(newOffset, BigInt(next), true);
        return E.SUCCESS;
      },
      fd_tell: (fd: number, ptr: number) => {
        this.#dv().setBigUint64(ptr, BigInt(this.#file(fd).pos), true);
        return E.SUCCESS;
      },
      fd_close: (fd: number) => {
        const e = this.#entry(fd);
        if (e.kind === 'file') fs.closeSync(e.fd);
        this.#fds.delete(fd);
        return E.SUCCESS;
      },
      fd_sync: (fd: number) => {
        this.#file(fd);
        return E.SUCCESS;
      },
      fd_datasync: (fd: number) => {
        this.#file(fd);
        return E.SUCCESS;
      },
      fd_advise: () => E.SUCCESS,
      fd_fdstat_get: (fd: number, ptr: number) => {
        const e = this.#entry(fd);
        const v = this.#dv();
        const type = e.kind === 'stdio' ? FILETYPE.CHAR : e.kind === 'dir' ? FILETYPE.DIR : FILETYPE.FILE;
        v.setUint8(ptr, type);
        v.setUint16(ptr + 2, e.kind === 'file' && e.append ? FDFLAG_APPEND : 0, true);
        const rights = e.kind !== 'stdio' && e.mount.readOnly ? ALL_RIGHTS & ~RIGHT_FD_WRITE : ALL_RIGHTS;
        v.setBigUint64(ptr + 8, rights, true);
        v.setBigUint64(ptr + 16, rights, true);
        return E.SUCCESS;
      },
      fd_fdstat_set_flags: (fd: number, flags: number) => {
        const e = this.#entry(fd);
        if (e.kind === 'file') e.append = (flags & FDFLAG_APPEND) !== 0;
        return E.SUCCESS;
      },
      fd_prestat_get: (fd: number, ptr: number) => {
        const e = this.#fds.get(fd);
        if (e === undefined || e.kind !== 'dir' || e.preopen === undefined) return E.BADF;
        const v = this.#dv();
        v.setUint8(ptr, 0);
        v.setUint32(ptr + 4, Buffer.byteLength(e.preopen), true);
        return E.SUCCESS;
      },
      fd_prestat_dir_name: (fd: number, ptr: number, len: number) => {
        const e = this.#fds.get(fd);
        if (e === undefined || e.kind !== 'dir' || e.preopen === undefined) return E.BADF;
        this.#bytes().set(Buffer.from(e.preopen).subarray(0, len), ptr);
        return E.SUCCESS;
      },
      fd_filestat_get: (fd: number, ptr: number) => {
        const e = this.#entry(fd);
        const st =
          e.kind === 'file' ? fs.fstatSync(e.fd) : e.kind === 'dir' ? fs.statSync(e.real) : undefined;
        this.#writeStat(ptr, st);
        return E.SUCCESS;
      },
      fd_filestat_set_size: (fd: number, size: bigint) => {
        const e = this.#file(fd);
        if (!e.writable) throw new WasiError(E.BADF);
        fs.ftruncateSync(e.fd, Number(size));
        return E.SUCCESS;
      },
      fd_readdir: (fd: number, buf: number, len: number, cookie: bigint, used: number) => {
        const e = this.#entry(fd);
        if (e.kind !== 'dir') throw new WasiError(E.NOTDIR);
        const entries = fs
          .readdirSync(e.real, { withFileTypes: true })
          .sort((a, b) => (a.name < b.name ? -1 : 1));
        const u8 = this.#bytes();
        const v = this.#dv();
        let at = 0;
        for (let i = Number(cookie); i < entries.length && at < len; i++) {
          const d = entries[i]!;
          const name = Buffer.from(d.name);
          const head = Buffer.alloc(24);
          head.writeBigUInt64LE(BigInt(i + 1), 0);
          head.writeBigUInt64LE(0n, 8);
          head.writeUInt32LE(name.length, 16);
          head.writeUInt8(
            d.isDirectory() ? FILETYPE.DIR : d.isSymbolicLink() ? FILETYPE.SYMLINK : FILETYPE.FILE,
            20,
          );
          const record = Buffer.concat([head, name]);
          const n = Math.min(record.length, len - at);
          u8.set(record.subarray(0, n), buf + at);
          at += n;
        }
        v.setUint32(used, at, true);
        return E.SUCCESS;
      },
      path_filestat_get: (fd: number, _flags: number, p: number, n: number, ptr: number) => {
        const target = this.#resolve(fd, this.#string(p, n), 'target');
        this.#writeStat(ptr, fs.statSync(target.real));
        return E.SUCCESS;
      },
      path_open: (
        dirfd: number,
        _dirflags: number,
        p: number,
        n: number,
        oflags: number,
        rightsBase: bigint,
        _rightsInheriting: bigint,
        fdflags: number,
        fdPtr: number,
      ) => {
        const writable = (rightsBase & RIGHT_FD_WRITE) !== 0n;
        const readable = (rightsBase & RIGHT_FD_READ) !== 0n || !writable;
        const creating = (oflags & (O_CREAT | O_TRUNC)) !== 0;
        const guestPath = this.#string(p, n);
        const exists = this.#exists(dirfd, guestPath);
        const target = this.#resolve(dirfd, guestPath, exists ? 'target' : 'entry');
        if (target.mount.readOnly && (writable || creating)) throw new WasiError(E.ROFS);
        let entry: Entry;
        const st = exists ? fs.statSync(target.real) : undefined;
        if (st?.isDirectory()) {
          if (writable) throw new WasiError(E.ISDIR);
          entry = { kind: 'dir', real: target.real, mount: target.mount, preopen: undefined };
        } else {
          if (oflags & O_DIRECTORY) throw new WasiError(exists ? E.NOTDIR : E.NOENT);
          const c = fs.constants;
          let flags = (writable ? (readable ? c.O_RDWR : c.O_WRONLY) : c.O_RDONLY) | c.O_NOFOLLOW;
          if (oflags & O_CREAT) flags |= c.O_CREAT;
          if (oflags & O_EXCL) flags |= c.O_EXCL;
          if (oflags & O_TRUNC) flags |= c.O_TRUNC;
          const osfd = fs.openSync(target.real, flags, 0o644);
          entry = {
            kind: 'file',
            fd: osfd,
            real: target.real,
            mount: target.mount,
            pos: 0,
            append: (fdflags & FDFLAG_APPEND) !== 0,
            readable,
            writable,
          };
        }
        const fd = this.#nextFd();
        this.#fds.set(fd, entry);
        this.#dv().setUint32(fdPtr, fd, true);
        return E.SUCCESS;
      },
      path_create_directory: (fd: number, p: number, n: number) => {
        fs.mkdirSync(this.#writableEntry(fd, this.#string(p, n)));
        return E.SUCCESS;
      },
      path_unlink_file: (fd: number, p: number, n: number) => {
        fs.unlinkSync(this.#writableEntry(fd, this.#string(p, n)));
        return E.SUCCESS;
      },
      path_remove_directory: (fd: number, p: number, n: number) => {
        fs.rmdirSync(this.#writableEntry(fd, this.#string(p, n)));
        return E.SUCCESS;
      },
      path_rename: (fd: number, p: number, n: number, fd2: number, p2: number, n2: number) => {
        fs.renameSync(
          this.#writableEntry(fd, this.#string(p, n)),
          this.#writableEntry(fd2, this.#string(p2, n2)),
        );
        return E.SUCCESS;
      },
      // Links could point anywhere: creating them is refused, reading them is not offered.
      path_symlink: () => E.NOTCAPABLE,
      path_link: () => E.NOTCAPABLE,
      path_readlink: () => E.NOTCAPABLE,
      sock_accept: () => E.NOTCAPABLE,
      sock_recv: () => E.NOTCAPABLE,
      sock_send: () => E.NOTCAPABLE,
      sock_shutdown: () => E.NOTCAPABLE,
    };
  }

  #now(id: number): bigint {
    const c = this.#o.clock;
    if (c !== 'real') return BigInt(Math.trunc(c.fixedMs)) * 1_000_000n;
    // 0 = realtime; 1 = monotonic; 2, 3 = process/thread CPU time (approximated by the monotonic clock)
    return id === 0
      ? BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6))
      : process.hrtime.bigint();
  }

  /** mulberry32: a small deterministic stream for seeded randomness (not cryptographic, by request). */
  #nextRandom(): number {
    this.#seed = (this.#seed + 0x6d2b79f5) >>> 0;
    let t = this.#seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  #write(e: Entry, chunk: Uint8Array, at: number | undefined): number {
    if (e.kind === 'stdio') {
      if (e.which === 0) throw new WasiError(E.BADF);
      if (this.#o.output !== undefined) {
        this.#o.output(e.which, chunk);
        return chunk.length;
      }
      const text = this.#lines[e.which] + this.#decoder.decode(chunk);
      const parts = text.split('\n');
      this.#lines[e.which] = parts.pop() ?? '';
      for (const line of parts) this.#emit(e.which, line);
      return chunk.length;
    }
    if (e.kind !== 'file') throw new WasiError(E.ISDIR);
    if (!e.writable) throw new WasiError(E.BADF);
    if (at !== undefined) return fs.writeSync(e.fd, chunk, 0, chunk.length, at);
    const pos = e.append ? fs.fstatSync(e.fd).size : e.pos;
    const n = fs.writeSync(e.fd, chunk, 0, chunk.length, pos);
    e.pos = pos + n;
    return n;
  }

  #emit(fd: 1 | 2, line: string): void {
    if (fd === 1) this.#o.stdout(line);
    else this.#o.stderr(line);
  }

  #exists(dirfd: number, guestPath: string): boolean {
    try {
      this.#resolve(dirfd, guestPath, 'target');
      return true;
    } catch (err) {
      if (err instanceof WasiError && err.errno === E.NOENT) return false;
      throw err;
    }
  }

  #writableEntry(fd: number, guestPath: string): string {
    const r = this.#resolve(fd, guestPath, 'entry');
    if (r.mount.readOnly) throw new WasiError(E.ROFS);
    return r.real;
  }

  /**
   * Turns a guest path relative to directory `dirfd` into a host path inside the same mount. `target` follows the
   * final component (it must exist); `entry` names the final component itself (its parent must exist).
   */
  #resolve(dirfd: number, guestPath: string, mode: 'target' | 'entry'): { real: string; mount: Mount } {
    const dir = this.#entry(dirfd);
    if (dir.kind !== 'dir') throw new WasiError(dir.kind === 'file' ? E.NOTDIR : E.BADF);
    if (guestPath.includes('\0')) throw new WasiError(E.INVAL);
    if (guestPath.startsWith('/')) throw new WasiError(E.NOTCAPABLE);
    const mount = dir.mount;
    const stack = path
      .relative(mount.root, dir.real)
      .split(path.sep)
      .filter((s) => s !== '');
    for (const seg of guestPath.split('/')) {
      if (seg === '' || seg === '.') continue;
      if (seg === '..') {
        if (stack.length === 0) throw new WasiError(E.NOTCAPABLE);
        stack.pop();
      } else {
        stack.push(seg);
      }
    }
    const lexical = path.join(mount.root, ...stack);
    if (mode === 'entry') {
      if (stack.length === 0) throw new WasiError(E.PERM); // the mount root itself
      const parent = this.#contained(mount, path.dirname(lexical));
      return { real: path.join(parent, path.basename(lexical)), mount };
    }
    return { real: this.#contained(mount, lexical), mount };
  }

  /** realpath of `p`, which must lie inside the mount (symlinks pointing out are refused). */
  #contained(mount: Mount, p: string): string {
    let real: string;
    try {
      real = fs.realpathSync(p);
    } catch (err) {
      const code = (err as { code?: string }).code;
      throw new WasiError((code !== undefined && nodeErrno[code]) || E.IO);
    }
    if (real !== mount.root && !real.startsWith(mount.root + path.sep)) throw new WasiError(E.NOTCAPABLE);
    return real;
  }

  #entry(fd: number): Entry {
    const e = this.#fds.get(fd);
    if (e === undefined) throw new WasiError(E.BADF);
    return e;
  }

  #file(fd: number): Extract<Entry, { kind: 'file' }> {
    const e = this.#entry(fd);
    if (e.kind !== 'file') throw new WasiError(e.kind === 'dir' ? E.ISDIR : E.SPIPE);
    return e;
  }

  #nextFd(): number {
    let fd = 3;
    while (this.#fds.has(fd)) fd++;
    return fd;
  }

  #writeStat(ptr: number, st: fs.Stats | undefined): void {
    const v = this.#dv();
    for (let i = 0; i < 64; i += 8) v.setBigUint64(ptr + i, 0n, true);
    if (st === undefined) {
      v.setUint8(ptr + 16, FILETYPE.CHAR);
      return;
    }
    v.setBigUint64(ptr + 8, BigInt(st.ino), true);
    v.setUint8(ptr + 16, st.isDirectory() ? FILETYPE.DIR : FILETYPE.FILE);
    v.setBigUint64(ptr + 24, BigInt(st.nlink), true);
    v.setBigUint64(ptr + 32, BigInt(st.size), true);
    v.setBigUint64(ptr + 40, BigInt(Math.trunc(st.atimeMs)) * 1_000_000n, true);
    v.setBigUint64(ptr + 48, BigInt(Math.trunc(st.mtimeMs)) * 1_000_000n, true);
    v.setBigUint64(ptr + 56, BigInt(Math.trunc(st.ctimeMs)) * 1_000_000n, true);
  }

  #iovecs(ptr: number, n: number): Uint8Array[] {
    const v = this.#dv();
    const u8 = this.#bytes();
    const out: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const buf = v.getUint32(ptr + i * 8, true);
      const len = v.getUint32(ptr + i * 8 + 4, true);
      if (buf + len > u8.length) throw new WasiError(E.FAULT);
      out.push(u8.subarray(buf, buf + len));
    }
    return out;
  }

  #string(ptr: number, len: number): string {
    const u8 = this.#bytes();
    if (ptr + len > u8.length) throw new WasiError(E.FAULT);
    return this.#decoder.decode(u8.subarray(ptr, ptr + len));
  }

  #bytes(): Uint8Array {
    const buffer = this.#memory().buffer;
    if (this.#u8?.buffer !== buffer) this.#u8 = new Uint8Array(buffer);
    return this.#u8;
  }

  #dv(): DataView {
    const buffer = this.#memory().buffer;
    if (this.#view?.buffer !== buffer) this.#view = new DataView(buffer);
    return this.#view;
  }

  #memory(): WebAssembly.Memory {
    if (this.#mem === undefined) throw new WasiError(E.FAULT);
    return this.#mem;
  }

  /** Closes the host files the guest left open. */
  close(): void {
    for (const e of this.#fds.values()) if (e.kind === 'file') fs.closeSync(e.fd);
    this.#fds.clear();
  }
}
