// The rollout side of `plugbay serve`: the state file (--state), the rollout policy (--rollout, --dev) and the
// directory watcher's timing. Kept apart from serve.ts so that serve only wires them in.
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { PluginHost } from '../../host/types.js';
import {
  createWatcher,
  type DirectoryWatcher,
  parseRolloutPolicy,
  type RolloutPolicy,
} from '../../host/watch.js';
import { SqliteStateStore } from '../../store/sqlite.js';
import { UsageError } from '../io.js';

/** parseArgs options added to `plugbay serve`. */
export const rolloutOptions = {
  state: { type: 'string' },
  rollout: { type: 'string' },
  dev: { type: 'boolean' },
  'settle-ms': { type: 'string' },
  'watch-interval-ms': { type: 'string' },
} as const;

export const rolloutUsage = `Routes, stable history and the audit log persist in the --state SQLite file (default .plugbay/state.db
under the current directory; a corrupt or locked file stops startup with exit 1, it is never reset).
Admin API: GET|PUT /v1/routes/:plugin, POST /v1/plugins/:plugin/activate|rollback, GET /v1/audit.
The directory is watched: a new version dropped in is loaded once its files stop changing for --settle-ms
(default 500; rescan every --watch-interval-ms, default 2000), then handled by --rollout: manual (default:
loaded, not routed), activate (made stable), canary:<percent> (a canary of that share). A removed version is
drained. --dev: a development gateway (rollout activate unless --rollout is given).`;

/** --rollout, or `activate` under --dev, or `manual`. */
export function rolloutOf(value: string | undefined, dev: boolean): RolloutPolicy {
  if (value === undefined) return { kind: dev ? 'activate' : 'manual' };
  try {
    return parseRolloutPolicy(value);
  } catch (err) {
    throw new UsageError(`--${(err as Error).message}`);
  }
}

function msOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) > 3_600_000) {
    throw new UsageError(`--${name} must be an integer number of milliseconds, got "${value}"`);
  }
  return Number(value);
}

export function watchTimingOf(values: { 'settle-ms'?: string; 'watch-interval-ms'?: string }): {
  settleMs?: number;
  intervalMs?: number;
} {
  const settleMs = msOption('settle-ms', values['settle-ms']);
  const intervalMs = msOption('watch-interval-ms', values['watch-interval-ms']);
  if (intervalMs !== undefined && intervalMs < 10) throw new UsageError('--watch-interval-ms must be ≥ 10');
  return {
    ...(settleMs === undefined ? {} : { settleMs }),
    ...(intervalMs === undefined ? {} : { intervalMs }),
  };
}

/**
 * Opens the SQLite state file; on failure logs why (the file and the cause: corrupt, locked …) and returns
 * undefined, so that serve exits 1 without touching the file.
 */
export function openStateStore(file: string | undefined, logger: Logger): SqliteStateStore | undefined {
  const path = resolve(file ?? '.plugbay/state.db');
  try {
    return new SqliteStateStore({ file: path });
  } catch (err) {
    logger.fatal({ err, file: path }, `cannot start: ${(err as Error).message}`);
    return undefined;
  }
}

export function startWatcher(options: {
  host: PluginHost;
  dir: string;
  policy: RolloutPolicy;
  store: SqliteStateStore;
  logger: Logger;
  timing: { settleMs?: number; intervalMs?: number };
}): DirectoryWatcher {
  const { store, timing, ...rest } = options;
  return createWatcher({ ...rest, ...timing, audit: (entry) => store.record(entry) });
}
