/** The guest's descriptor table: stdio, directories (preopens and opened ones) and files, each with its rights. */
import * as fs from 'node:fs';
import { E, WasiError } from './errno.js';
import type { HostDir } from './paths.js';
import { R, type Rights } from './rights.js';

export interface Mount {
  /** Real host path of the mount's root. */
  root: string;
  guest: string;
  readOnly: boolean;
}

export type Entry =
  | { kind: 'stdio'; which: 0 | 1 | 2; rights: Rights; flags: number }
  | {
      kind: 'dir';
      host: HostDir;
      /** Components from the mount root to it, as opened (stale if the guest renames it since). */
      rel: string[];
      mount: Mount;
      preopen: string | undefined;
      rights: Rights;
    }
  /** `flags`: the fdflags (APPEND, NONBLOCK, ...) it was opened or set with. */
  | { kind: 'file'; fd: number; mount: Mount; pos: number; flags: number; rights: Rights };

export type FileEntry = Extract<Entry, { kind: 'file' }>;
export type DirEntry = Extract<Entry, { kind: 'dir' }>;

/**
 * The most descriptors a guest may hold: host descriptors are the process's, shared with every other plugin and
 * the gateway, and a guest opening files in a loop would otherwise exhaust them (MFILE, as a process hitting its
 * limit would see).
 */
export const MAX_DESCRIPTORS = 1024;

export class FdTable {
  readonly #fds = new Map<number, Entry>();

  get(fd: number): Entry {
    const e = this.#fds.get(fd);
    if (e === undefined) throw new WasiError(E.BADF);
    return e;
  }

  /** The entry, if it holds every right in `needed` (NOTCAPABLE otherwise). */
  with(fd: number, needed: bigint): Entry {
    const e = this.get(fd);
    if ((e.rights.base & needed) !== needed) throw new WasiError(E.NOTCAPABLE);
    return e;
  }

  file(fd: number, needed: bigint): FileEntry {
    const e = this.get(fd);
    if (e.kind === 'dir') throw new WasiError(needed & (R.FD_READ | R.FD_WRITE) ? E.ISDIR : E.BADF);
    if (e.kind !== 'file') throw new WasiError(needed & (R.FD_SEEK | R.FD_TELL) ? E.SPIPE : E.BADF);
    if ((e.rights.base & needed) !== needed) throw new WasiError(E.NOTCAPABLE);
    return e;
  }

  dir(fd: number, needed: bigint): DirEntry {
    const e = this.get(fd);
    if (e.kind !== 'dir') throw new WasiError(E.NOTDIR);
    if ((e.rights.base & needed) !== needed) throw new WasiError(E.NOTCAPABLE);
    return e;
  }

  set(fd: number, e: Entry): void {
    this.#fds.set(fd, e);
  }

  /** MFILE if the table is full (checked before a host file is opened or created). */
  room(): void {
    if (this.#fds.size >= MAX_DESCRIPTORS) throw new WasiError(E.MFILE);
  }

  add(e: Entry): number {
    this.room();
    let fd = 3;
    while (this.#fds.has(fd)) fd++;
    this.#fds.set(fd, e);
    return fd;
  }

  close(fd: number): void {
    release(this.get(fd));
    this.#fds.delete(fd);
  }

  /** fd_renumber: `from` takes the number `to`, whose own descriptor is closed; both must be open. */
  renumber(from: number, to: number): void {
    const e = this.get(from);
    this.get(to);
    if (from === to) return;
    this.close(to);
    this.#fds.set(to, e);
    this.#fds.delete(from);
  }

  entries(): IterableIterator<[number, Entry]> {
    return this.#fds.entries();
  }

  closeAll(): void {
    for (const e of this.#fds.values()) release(e);
    this.#fds.clear();
  }
}

function release(e: Entry): void {
  if (e.kind === 'file') fs.closeSync(e.fd);
  else if (e.kind === 'dir') fs.closeSync(e.host.fd);
}
