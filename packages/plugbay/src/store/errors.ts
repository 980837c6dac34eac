import { type ErrorCode, PlugbayError } from '../core/errors.js';

/**
 * PLUGBAY_STATE_UNAVAILABLE is new in @plugbay/sdk's registry. Until every build of the SDK has it, the code is
 * named by its string and `retryable` is passed explicitly (the constructor then never looks the code up).
 */
export const STATE_UNAVAILABLE = 'PLUGBAY_STATE_UNAVAILABLE' as ErrorCode;

/** Why the state file cannot be used. */
export type StateProblem = 'corrupt' | 'locked' | 'unreadable' | 'newer-schema' | 'io';

const describe: Record<StateProblem, string> = {
  corrupt: 'is not a valid SQLite database or is corrupt',
  locked: 'is locked by another connection or process',
  unreadable: 'cannot be opened (permissions, path, or read-only file system)',
  'newer-schema': 'was written by a newer plugbay',
  io: 'failed with an I/O error',
};

/** The error for a state file that cannot be opened or written; it names the file and the cause. */
export function stateUnavailable(
  file: string,
  problem: StateProblem,
  doing: 'open' | 'read' | 'write',
  cause?: unknown,
  extra: Record<string, unknown> = {},
): PlugbayError {
  const code = sqliteCodeOf(cause);
  const because = cause instanceof Error ? ` (${code === undefined ? '' : `${code}: `}${cause.message})` : '';
  return new PlugbayError(
    STATE_UNAVAILABLE,
    `cannot ${doing} state file ${file}: it ${describe[problem]}${because}`,
    {
      cause,
      retryable: false,
      details: { file, problem, ...(code === undefined ? {} : { sqliteCode: code }), ...extra },
    },
  );
}

export function sqliteCodeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Maps a SQLite (or file system) error code to what it means for the state file. */
export function problemOf(err: unknown): StateProblem {
  const code = sqliteCodeOf(err) ?? '';
  // NOTADB: the header is not SQLite's (garbage, another file type); CORRUPT: pages or indexes are damaged.
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) return 'corrupt';
  // BUSY: another connection holds a conflicting lock past our busy timeout; LOCKED: a conflict inside one process.
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'locked';
  if (
    code.startsWith('SQLITE_CANTOPEN') ||
    code.startsWith('SQLITE_READONLY') ||
    code === 'SQLITE_PERM' ||
    code === 'SQLITE_AUTH' ||
    code === 'EACCES' ||
    code === 'EPERM' ||
    code === 'EROFS' ||
    code === 'ENOTDIR' ||
    code === 'EEXIST'
  ) {
    return 'unreadable';
  }
  return 'io';
}
