/**
 * WASI preview 1 with every capability denied unless granted: no args, only the declared environment variables,
 * explicit clocks and randomness, no sockets, and a filesystem made only of declared mounts. Not node:wasi — it
 * lets a symlink inside a preopen escape; here every path is walked one component at a time from the mount's open
 * root directory and no symlink is ever followed by the kernel (wasi/paths.ts), so `..`, absolute paths and
 * symlinks cannot leave a mount, even while someone swaps its directories. Descriptors carry preview 1 rights,
 * reported by fd_fdstat_get and checked by every call (wasi/rights.ts). The calls on files and paths are in
 * wasi/fs-calls.ts, poll_oneoff in wasi/poll.ts; this file holds the table, stdio, args, env, clocks and random.
 */
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import { pathChanged, unchangedPath } from '../../core/real-path.js';
import { ProcExit, WasmFault } from './errors.js';
import { E, errnoOf, FILETYPE, WasiError } from './wasi/errno.js';
import { type Entry, FdTable, type Mount } from './wasi/fd-table.js';
import { FDFLAG, fsCalls } from './wasi/fs-calls.js';
import { GuestMemory } from './wasi/memory.js';
import { openedPath, walkSteps } from './wasi/paths.js';
import { pollOneoff, type SleepBudget } from './wasi/poll.js';
import { preopenRights, R, STDIN_RIGHTS, STDOUT_RIGHTS } from './wasi/rights.js';

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
  /** When set (the metered mode), poll_oneoff sleeps no longer than the call's deadline. */
  sleepBudget?: SleepBudget;
}

/**
 * Opens a mount's root at each (re)instantiation: the granted real path, unless a symlink was swapped into it since
 * the grant (path-changed) — checked before the open, and after it on what the descriptor really names, so a swap
 * between the check and the open is caught too.
 */
function openMount(host: string, field: string): number {
  const root = unchangedPath(host, field);
  walkSteps.before?.(`open mount ${root}`);
  let fd: number;
  try {
    fd = fs.openSync(root, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    unchangedPath(host, field); // a symlink now: path-changed
    throw err;
  }
  const opened = openedPath(fd);
  if (opened !== undefined && opened !== root) {
    fs.closeSync(fd);
    throw pathChanged(root, opened, field);
  }
  return fd;
}

export class Wasi {
  readonly #o: WasiOptions;
  readonly #fds = new FdTable();
  readonly #mem = new GuestMemory();
  readonly #lines = { 1: '', 2: '' } as Record<1 | 2, string>;
  readonly #decoder = new TextDecoder();
  #seed: number;

  constructor(options: WasiOptions) {
    this.#o = options;
    this.#fds.set(0, { kind: 'stdio', which: 0, rights: { base: STDIN_RIGHTS, inheriting: 0n }, flags: 0 });
    this.#fds.set(1, { kind: 'stdio', which: 1, rights: { base: STDOUT_RIGHTS, inheriting: 0n }, flags: 0 });
    this.#fds.set(2, { kind: 'stdio', which: 2, rights: { base: STDOUT_RIGHTS, inheriting: 0n }, flags: 0 });
    try {
      for (const [i, m] of options.mounts.entries()) {
        const fd = openMount(m.host, `permissions.fs.mounts.${i}`);
        const mount: Mount = { root: m.host, guest: m.guest, readOnly: m.readOnly };
        this.#fds.add({
          kind: 'dir',
          host: { fd, hostPath: m.host },
          rel: [],
          mount,
          preopen: m.guest,
          rights: preopenRights(m.readOnly),
        });
      }
    } catch (err) {
      this.close();
      throw err;
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
    this.#mem.bind(memory);
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
      // errno-returning calls: WasiError and Node fs errors become errno values; a fault (a metered call past its
      // deadline) unwinds the guest.
      out[d.name] = (...args: unknown[]) => {
        try {
          return (f as (...a: unknown[]) => number)(...args);
        } catch (err) {
          if (err instanceof WasmFault) throw err;
          return errnoOf(err);
        }
      };
    }
    return out;
  }

  #functions(): Record<string, (...args: never[]) => unknown> {
    const o = this.#o;
    const fds = this.#fds;
    const mem = this.#mem;
    const args = o.args.map((a) => Buffer.from(`${a}\0`));
    const env = Object.entries(o.env).map(([k, v]) => Buffer.from(`${k}=${v}\0`));
    const writeList = (list: Buffer[], ptrs: number, buf: number) => {
      const v = mem.view();
      const u8 = mem.bytes();
      let at = buf;
      list.forEach((item, i) => {
        v.setUint32(ptrs + i * 4, at, true);
        u8.set(item, at);
        at += item.length;
      });
      return E.SUCCESS;
    };
    const sizes = (list: Buffer[], countPtr: number, sizePtr: number) => {
      const v = mem.view();
      v.setUint32(countPtr, list.length, true);
      v.setUint32(
        sizePtr,
        list.reduce((n, b) => n + b.length, 0),
        true,
      );
      return E.SUCCESS;
    };
    const notSocket = (fd: number) => {
      fds.get(fd);
      return E.NOTSOCK; // sockets are not offered: every descriptor is something else
    };
    return {
      args_sizes_get: (c: number, s: number) => sizes(args, c, s),
      args_get: (p: number, b: number) => writeList(args, p, b),
      environ_sizes_get: (c: number, s: number) => sizes(env, c, s),
      environ_get: (p: number, b: number) => writeList(env, p, b),
      clock_res_get: (id: number, ptr: number) => {
        if (id > 3) throw new WasiError(E.INVAL);
        mem.view().setBigUint64(ptr, 1000n, true);
        return E.SUCCESS;
      },
      clock_time_get: (id: number, _precision: bigint, ptr: number) => {
        if (id > 3) throw new WasiError(E.INVAL);
        mem.view().setBigUint64(ptr, this.#now(id), true);
        return E.SUCCESS;
      },
      random_get: (buf: number, len: number) => {
        const target = mem.bytes().subarray(buf, buf + len);
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
      poll_oneoff: (inPtr: number, outPtr: number, n: number, neventsPtr: number) =>
        pollOneoff(
          fds,
          mem,
          (id) => this.#now(id),
          (fd) => BigInt(fs.fstatSync(fd).size),
          inPtr,
          outPtr,
          n,
          neventsPtr,
          this.#o.sleepBudget,
        ),
      fd_write: (fd: number, iovs: number, n: number, written: number) => {
        const e = this.#io(fd, R.FD_WRITE);
        let total = 0;
        for (const chunk of mem.iovecs(iovs, n)) total += this.#write(e, chunk, undefined);
        mem.view().setUint32(written, total, true);
        return E.SUCCESS;
      },
      fd_pwrite: (fd: number, iovs: number, n: number, offset: bigint, written: number) => {
        const e = fds.file(fd, R.FD_WRITE | R.FD_SEEK);
        let total = 0;
        for (const chunk of mem.iovecs(iovs, n)) total += this.#write(e, chunk, Number(offset) + total);
        mem.view().setUint32(written, total, true);
        return E.SUCCESS;
      },
      fd_read: (fd: number, iovs: number, n: number, read: number) => {
        const e = this.#io(fd, R.FD_READ);
        let total = 0;
        if (e.kind === 'file') {
          for (const chunk of mem.iovecs(iovs, n)) {
            const got = fs.readSync(e.fd, chunk, 0, chunk.length, e.pos);
            e.pos += got;
            total += got;
            if (got < chunk.length) break;
          }
        }
        mem.view().setUint32(read, total, true);
        return E.SUCCESS;
      },
      fd_pread: (fd: number, iovs: number, n: number, offset: bigint, read: number) => {
        const e = fds.file(fd, R.FD_READ | R.FD_SEEK);
        let total = 0;
        for (const chunk of mem.iovecs(iovs, n)) {
          const got = fs.readSync(e.fd, chunk, 0, chunk.length, Number(offset) + total);
          total += got;
          if (got < chunk.length) break;
        }
        mem.view().setUint32(read, total, true);
        return E.SUCCESS;
      },
      fd_seek: (fd: number, offset: bigint, whence: number, newOffset: number) => {
        // Asking where it is (offset 0 from the current position) needs only FD_TELL.
        const e = fds.file(fd, whence === 1 && offset === 0n ? R.FD_TELL : R.FD_SEEK);
        const base =
          whence === 0 ? 0 : whence === 1 ? e.pos : whence === 2 ? fs.fstatSync(e.fd).size : Number.NaN;
        const next = base + Number(offset);
        if (!Number.isFinite(next) || next < 0) throw new WasiError(E.INVAL);
        e.pos = next;
        mem.view().setBigUint64(newOffset, BigInt(next), true);
        return E.SUCCESS;
      },
      fd_tell: (fd: number, ptr: number) => {
        mem.view().setBigUint64(ptr, BigInt(fds.file(fd, R.FD_TELL).pos), true);
        return E.SUCCESS;
      },
      fd_close: (fd: number) => {
        fds.close(fd);
        return E.SUCCESS;
      },
      fd_renumber: (from: number, to: number) => {
        fds.renumber(from, to);
        return E.SUCCESS;
      },
      fd_fdstat_get: (fd: number, ptr: number) => {
        const e = fds.get(fd);
        const v = mem.view();
        for (let i = 0; i < 24; i += 8) v.setBigUint64(ptr + i, 0n, true);
        v.setUint8(ptr, e.kind === 'stdio' ? FILETYPE.CHAR : e.kind === 'dir' ? FILETYPE.DIR : FILETYPE.FILE);
        v.setUint16(ptr + 2, e.kind === 'dir' ? 0 : e.flags, true);
        v.setBigUint64(ptr + 8, e.rights.base, true);
        v.setBigUint64(ptr + 16, e.rights.inheriting, true);
        return E.SUCCESS;
      },
      fd_fdstat_set_flags: (fd: number, flags: number) => {
        const e = fds.with(fd, R.FD_FDSTAT_SET_FLAGS);
        // APPEND and NONBLOCK can change on an open descriptor; the sync flags only at path_open.
        if (flags & ~(FDFLAG.APPEND | FDFLAG.NONBLOCK)) throw new WasiError(E.NOTSUP);
        if (e.kind !== 'dir') e.flags = flags;
        return E.SUCCESS;
      },
      // Narrowing only: a right a descriptor lacks is never given back.
      fd_fdstat_set_rights: (fd: number, base: bigint, inheriting: bigint) => {
        const e = fds.get(fd);
        if ((base & ~e.rights.base) !== 0n || (inheriting & ~e.rights.inheriting) !== 0n) {
          throw new WasiError(E.NOTCAPABLE);
        }
        e.rights = { base, inheriting };
        return E.SUCCESS;
      },
      fd_prestat_get: (fd: number, ptr: number) => {
        const e = fds.get(fd);
        if (e.kind !== 'dir' || e.preopen === undefined) return E.BADF;
        const v = mem.view();
        v.setUint8(ptr, 0);
        v.setUint32(ptr + 4, Buffer.byteLength(e.preopen), true);
        return E.SUCCESS;
      },
      fd_prestat_dir_name: (fd: number, ptr: number, len: number) => {
        const e = fds.get(fd);
        if (e.kind !== 'dir' || e.preopen === undefined) return E.BADF;
        const name = Buffer.from(e.preopen);
        if (len < name.length) return E.NAMETOOLONG;
        mem.bytes().set(name, ptr);
        return E.SUCCESS;
      },
      ...fsCalls(fds, mem),
      sock_accept: (fd: number) => notSocket(fd),
      sock_recv: (fd: number) => notSocket(fd),
      sock_send: (fd: number) => notSocket(fd),
      sock_shutdown: (fd: number) => notSocket(fd),
    };
  }

  /** A descriptor to read or write through: stdio or a file holding the right (a directory is ISDIR). */
  #io(fd: number, right: bigint): Exclude<Entry, { kind: 'dir' }> {
    const e = this.#fds.get(fd);
    if (e.kind === 'dir') throw new WasiError(E.ISDIR);
    if ((e.rights.base & right) === 0n) throw new WasiError(E.BADF);
    return e;
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

  #write(e: Exclude<Entry, { kind: 'dir' }>, chunk: Uint8Array, at: number | undefined): number {
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
    if (at !== undefined) return fs.writeSync(e.fd, chunk, 0, chunk.length, at);
    const pos = e.flags & FDFLAG.APPEND ? fs.fstatSync(e.fd).size : e.pos;
    const n = fs.writeSync(e.fd, chunk, 0, chunk.length, pos);
    e.pos = pos + n;
    return n;
  }

  #emit(fd: 1 | 2, line: string): void {
    if (fd === 1) this.#o.stdout(line);
    else this.#o.stderr(line);
  }

  /** Closes the host files and directories the guest left open. */
  close(): void {
    this.#fds.closeAll();
  }
}
