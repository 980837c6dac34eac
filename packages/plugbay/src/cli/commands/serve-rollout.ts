// The rollout side of `plugbay serve` (options declared in serve-options.ts): the state file (--state), the rollout
// policy (--rollout, --dev) and the directory watcher's timing. Kept apart from serve.ts so that serve only wires them in.
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Gauge } from 'prom-client';
import type { PluginHost } from '../../host/types.js';
import {
  createWatcher,
  type DirectoryWatcher,
  parseRolloutPolicy,
  type RolloutPolicy,
} from '../../host/watch.js';
import { PostgresStateStore, redact } from '../../store/postgres.js';
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

export function msOption(name: string, value: string | undefined): number | undefined {
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

/** A `--state` value that names a PostgreSQL database rather than a SQLite file. */
export const isPostgresUrl = (value: string | undefined) =>
  value !== undefined && /^postgres(ql)?:\/\//.test(value);

/**
 * Opens the state: the SQLite file, or the PostgreSQL database of a postgres:// URL. On failure logs why (the file
 * or database and the cause: corrupt, locked, unreachable …) and returns undefined, so that serve exits 1 without
 * touching the state.
 */
export function openStateStore(
  state: string | undefined,
  logger: Logger,
): SqliteStateStore | PostgresStateStore | undefined {
  if (isPostgresUrl(state)) {
    try {
      return new PostgresStateStore({ url: state as string });
    } catch (err) {
      logger.fatal({ err, database: redact(state as string) }, `cannot start: ${(err as Error).message}`);
      return undefined;
    }
  }
  const path = resolve(state ?? '.plugbay/state.db');
  try {
    return new SqliteStateStore({ file: path });
  } catch (err) {
    logger.fatal({ err, file: path }, `cannot start: ${(err as Error).message}`);
    return undefined;
  }
}

/** Where the state is, for logs: the file, or the database URL without its password. */
export function stateLocationOf(store: SqliteStateStore | PostgresStateStore): string {
  return store.kind === 'sqlite' ? store.file : store.location;
}

/**
 * This gateway's own files (never shared): the state file's folder, or with PostgreSQL `.plugbay` in the current
 * directory. The host's artifact store is `artifacts/` there, so a restarted gateway reuses what it verified, and
 * plugins pulled from registries are cached in `oci/`.
 */
export function localDirOf(store: SqliteStateStore | PostgresStateStore): string {
  return store.kind === 'sqlite' ? dirname(store.file) : resolve('.plugbay');
}

export function artifactsDirOf(store: SqliteStateStore | PostgresStateStore): string {
  return join(localDirOf(store), 'artifacts');
}

/** How often a gateway on PostgreSQL re-reads every route, in case a notification was lost. */
export const RECONCILE_INTERVAL_MS = 10_000;

/**
 * Follows a shared (PostgreSQL) state: each change another gateway commits is applied when its NOTIFY arrives,
 * everything on each (re)connect of the listening session and every RECONCILE_INTERVAL_MS. A database that is
 * away is logged (the gateway keeps serving its last-known routes) and retried at the next reconcile. Returns
 * the function that stops following.
 */
export function followSharedState(store: PostgresStateStore, host: PluginHost, logger: Logger): () => void {
  let stale = false;
  // The metric beside the log line: an operator's alert sees the outage without reading logs.
  const staleGauge = host.registry.getSingleMetric('plugbay_state_stale') as Gauge | undefined;
  let retryMs = 0;
  let retry: NodeJS.Timeout | undefined;
  let stopped = false;
  const apply = (plugin: string | undefined) => {
    if (stopped) return;
    try {
      host.refreshRoutes(plugin);
      host.rollouts.refreshFromStore(plugin);
      if (stale) logger.info({ database: store.location }, 'shared state reachable again; routes caught up');
      stale = false;
      staleGauge?.set(0);
      retryMs = 0;
    } catch (err) {
      fail(err);
    }
  };
  // The store's calls block this thread until PostgreSQL answers (up to its timeout when the network drops
  // packets): a background refresh first checks, without blocking, that the server accepts connections.
  const refresh = (plugin: string | undefined) => {
    void reachable(store.location).then((ok) =>
      ok ? apply(plugin) : fail(new Error(`${store.location} does not accept connections`)),
    );
  };
  const fail = (err: unknown) => {
    if (stopped) return;
    if (!stale)
      logger.warn(
        { err, database: store.location },
        'shared state unreachable: serving the last-known routes',
      );
    stale = true;
    staleGauge?.set(1);
    // Reconnect with backoff (250 ms, doubling, at most the reconcile interval), then catch up on everything.
    retryMs = Math.min(RECONCILE_INTERVAL_MS, retryMs === 0 ? 250 : retryMs * 2);
    clearTimeout(retry);
    retry = setTimeout(() => refresh(undefined), retryMs);
    retry.unref();
  };
  let unwatch = () => {};
  try {
    // A notification (or the listening session's reconnect) means the server is there: applied with no probe.
    unwatch = store.watch(apply);
  } catch (err) {
    logger.warn(
      { err, database: store.location },
      'cannot listen for shared state changes; reconciling only',
    );
  }
  const timer = setInterval(() => refresh(undefined), RECONCILE_INTERVAL_MS);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
    clearTimeout(retry);
    unwatch();
  };
}

export function startWatcher(options: {
  host: PluginHost;
  dir: string;
  policy: RolloutPolicy;
  store: SqliteStateStore | PostgresStateStore;
  logger: Logger;
  timing: { settleMs?: number; intervalMs?: number };
  /** serve --dev --watch: rebuilt bytes under a loaded version are swapped in place. */
  replaceInPlace?: boolean;
}): DirectoryWatcher {
  const { store, timing, ...rest } = options;
  return createWatcher({ ...rest, ...timing, audit: (entry) => store.record(entry) });
}

/** Whether the database's host accepts a TCP connection within 1 s (unix socket URLs: assumed yes). */
export function reachable(location: string): Promise<boolean> {
  let host: string;
  let port: number;
  try {
    const url = new URL(location);
    host = decodeURIComponent(url.hostname).replace(/^\[|\]$/g, '');
    port = url.port === '' ? 5432 : Number(url.port);
  } catch {
    return Promise.resolve(true);
  }
  if (host === '' || host.startsWith('/')) return Promise.resolve(true);
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}
