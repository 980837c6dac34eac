// The rollout side of `plugbay serve` (options declared in serve-options.ts): the state file (--state), the rollout
// policy (--rollout, --dev) and the directory watcher's timing. Kept apart from serve.ts so that serve only wires them in.
import { dirname, join, resolve } from 'node:path';
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

/** The host's artifact store: `artifacts/` beside the state file, so a restarted gateway reuses what it verified. */
export function artifactsDirOf(store: SqliteStateStore): string {
  return join(dirname(store.file), 'artifacts');
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
