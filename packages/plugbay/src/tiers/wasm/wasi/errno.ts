/** WASI preview 1 errno values, and the mapping from Node's fs error codes. */

export const E = {
  SUCCESS: 0,
  ACCES: 2,
  AGAIN: 6,
  BADF: 8,
  BUSY: 10,
  EXIST: 20,
  FAULT: 21,
  FBIG: 22,
  INVAL: 28,
  IO: 29,
  ISDIR: 31,
  LOOP: 32,
  MFILE: 33,
  MLINK: 34,
  NAMETOOLONG: 37,
  NOENT: 44,
  NOSPC: 51,
  NOSYS: 52,
  NOTDIR: 54,
  NOTEMPTY: 55,
  NOTSOCK: 57,
  NOTSUP: 58,
  OVERFLOW: 61,
  PERM: 63,
  ROFS: 69,
  SPIPE: 70,
  XDEV: 75,
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
  EBUSY: E.BUSY,
  EINVAL: E.INVAL,
  ENAMETOOLONG: E.NAMETOOLONG,
  EROFS: E.ROFS,
  EXDEV: E.XDEV,
  EMLINK: E.MLINK,
  EMFILE: E.MFILE,
  ENOSPC: E.NOSPC,
  EFBIG: E.FBIG,
  ESPIPE: E.SPIPE,
  EOVERFLOW: E.OVERFLOW,
  EAGAIN: E.AGAIN,
};

/** A WASI call's failure with its errno; the import wrapper returns it to the guest. */
export class WasiError extends Error {
  constructor(readonly errno: number) {
    super(`wasi errno ${errno}`);
  }
}

/** The errno for anything a call threw: a WasiError's own, a Node fs error's mapped one, else IO. */
export function errnoOf(err: unknown): number {
  if (err instanceof WasiError) return err.errno;
  if (err instanceof RangeError) return E.FAULT;
  const code = (err as { code?: string }).code;
  return (code !== undefined && nodeErrno[code]) || E.IO;
}

export const FILETYPE = {
  UNKNOWN: 0,
  BLOCK: 1,
  CHAR: 2,
  DIR: 3,
  FILE: 4,
  SOCKET_STREAM: 6,
  SYMLINK: 7,
} as const;
