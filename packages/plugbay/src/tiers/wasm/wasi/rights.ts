/**
 * Rights of WASI preview 1 descriptors. Each descriptor has a base set (what it may do) and an inheriting set (the
 * most a descriptor opened through it may get). A preopen gets the directory base rights and, as inheriting, the
 * directory and regular-file rights; a read-only mount drops every right that writes. path_open grants at most the
 * parent's inheriting rights, trimmed to what the opened kind can use; fd_fdstat_set_rights only narrows.
 */

export const R = {
  FD_DATASYNC: 1n << 0n,
  FD_READ: 1n << 1n,
  FD_SEEK: 1n << 2n,
  FD_FDSTAT_SET_FLAGS: 1n << 3n,
  FD_SYNC: 1n << 4n,
  FD_TELL: 1n << 5n,
  FD_WRITE: 1n << 6n,
  FD_ADVISE: 1n << 7n,
  FD_ALLOCATE: 1n << 8n,
  PATH_CREATE_DIRECTORY: 1n << 9n,
  PATH_CREATE_FILE: 1n << 10n,
  PATH_LINK_SOURCE: 1n << 11n,
  PATH_LINK_TARGET: 1n << 12n,
  PATH_OPEN: 1n << 13n,
  FD_READDIR: 1n << 14n,
  PATH_READLINK: 1n << 15n,
  PATH_RENAME_SOURCE: 1n << 16n,
  PATH_RENAME_TARGET: 1n << 17n,
  PATH_FILESTAT_GET: 1n << 18n,
  PATH_FILESTAT_SET_SIZE: 1n << 19n,
  PATH_FILESTAT_SET_TIMES: 1n << 20n,
  FD_FILESTAT_GET: 1n << 21n,
  FD_FILESTAT_SET_SIZE: 1n << 22n,
  FD_FILESTAT_SET_TIMES: 1n << 23n,
  PATH_SYMLINK: 1n << 24n,
  PATH_REMOVE_DIRECTORY: 1n << 25n,
  PATH_UNLINK_FILE: 1n << 26n,
  POLL_FD_READWRITE: 1n << 27n,
  SOCK_SHUTDOWN: 1n << 28n,
  SOCK_ACCEPT: 1n << 29n,
} as const;

const all = (...rights: bigint[]) => rights.reduce((a, b) => a | b, 0n);

/** What a directory descriptor can do. */
export const DIR_RIGHTS = all(
  R.FD_FDSTAT_SET_FLAGS,
  R.FD_SYNC,
  R.FD_ADVISE,
  R.PATH_CREATE_DIRECTORY,
  R.PATH_CREATE_FILE,
  R.PATH_LINK_SOURCE,
  R.PATH_LINK_TARGET,
  R.PATH_OPEN,
  R.FD_READDIR,
  R.PATH_READLINK,
  R.PATH_RENAME_SOURCE,
  R.PATH_RENAME_TARGET,
  R.PATH_FILESTAT_GET,
  R.PATH_FILESTAT_SET_SIZE,
  R.PATH_FILESTAT_SET_TIMES,
  R.FD_FILESTAT_GET,
  R.FD_FILESTAT_SET_TIMES,
  R.PATH_SYMLINK,
  R.PATH_REMOVE_DIRECTORY,
  R.PATH_UNLINK_FILE,
  R.POLL_FD_READWRITE,
);

/** What a regular-file descriptor can do. */
export const FILE_RIGHTS = all(
  R.FD_DATASYNC,
  R.FD_READ,
  R.FD_SEEK,
  R.FD_FDSTAT_SET_FLAGS,
  R.FD_SYNC,
  R.FD_TELL,
  R.FD_WRITE,
  R.FD_ADVISE,
  R.FD_ALLOCATE,
  R.FD_FILESTAT_GET,
  R.FD_FILESTAT_SET_SIZE,
  R.FD_FILESTAT_SET_TIMES,
  R.POLL_FD_READWRITE,
);

/** Every right that changes the filesystem: none of them is granted under a read-only mount. */
export const WRITE_RIGHTS = all(
  R.FD_DATASYNC,
  R.FD_WRITE,
  R.FD_ALLOCATE,
  R.PATH_CREATE_DIRECTORY,
  R.PATH_CREATE_FILE,
  R.PATH_LINK_SOURCE,
  R.PATH_LINK_TARGET,
  R.PATH_RENAME_SOURCE,
  R.PATH_RENAME_TARGET,
  R.PATH_FILESTAT_SET_SIZE,
  R.PATH_FILESTAT_SET_TIMES,
  R.FD_FILESTAT_SET_SIZE,
  R.FD_FILESTAT_SET_TIMES,
  R.PATH_SYMLINK,
  R.PATH_REMOVE_DIRECTORY,
  R.PATH_UNLINK_FILE,
);

const STDIO_COMMON = all(R.FD_FDSTAT_SET_FLAGS, R.FD_FILESTAT_GET, R.POLL_FD_READWRITE);
/** stdin reads (always at end of file); stdout and stderr write. Neither seeks: wasi-libc's isatty relies on it. */
export const STDIN_RIGHTS = STDIO_COMMON | R.FD_READ;
export const STDOUT_RIGHTS = STDIO_COMMON | R.FD_WRITE;

export interface Rights {
  base: bigint;
  inheriting: bigint;
}

export function preopenRights(readOnly: boolean): Rights {
  const mask = readOnly ? ~WRITE_RIGHTS : ~0n;
  return { base: DIR_RIGHTS & mask, inheriting: (DIR_RIGHTS | FILE_RIGHTS) & mask };
}
