// The fleet side of `plugbay serve`: on PostgreSQL, this gateway's heartbeat (a row in plugbay.gateways, upserted
// every --heartbeat-ms with the route revision it serves) and the `GET /v1/fleet` report built from every row.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { type FleetMember, type FleetReport, soloFleet } from '../../gateway/fleet.js';
import type { PostgresStateStore } from '../../store/postgres.js';
import type { SqliteStateStore } from '../../store/sqlite.js';
import { UsageError } from '../io.js';
import { msOption, reachable } from './serve-rollout.js';

/** Default of --heartbeat-ms: Kong's db_update_frequency. A gateway is stale after 3 intervals without one. */
export const DEFAULT_HEARTBEAT_MS = 5000;
/** Missed heartbeats after which a gateway is reported stale. */
export const STALE_AFTER_INTERVALS = 3;

/** --heartbeat-ms, checked. */
export function heartbeatOf(values: { 'heartbeat-ms'?: string }): number {
  const ms = msOption('heartbeat-ms', values['heartbeat-ms']) ?? DEFAULT_HEARTBEAT_MS;
  if (ms < 50) throw new UsageError('--heartbeat-ms must be ≥ 50');
  return ms;
}

export interface Fleet {
  report: () => FleetReport;
  /** Sends the first heartbeat now (call once the gateway listens) and then every interval. */
  start(listen: string): void;
  stop(): void;
}

export function startFleet(
  store: SqliteStateStore | PostgresStateStore,
  intervalMs: number,
  logger: Logger,
): Fleet {
  let listen = '';
  if (store.kind !== 'postgres') {
    return {
      report: soloFleet(store.kind, () => listen),
      start(address) {
        listen = address;
      },
      stop() {},
    };
  }
  const self = {
    id: `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    hostName: hostname(),
    pid: process.pid,
    started: new Date().toISOString(),
    intervalMs,
  };
  let timer: NodeJS.Timeout | undefined;
  let failing = false;
  let stopped = false;
  const beat = () => {
    // The store blocks this thread until PostgreSQL answers: probe without blocking first (as the reconcile does).
    void reachable(store.location).then((ok) => {
      if (stopped) return;
      try {
        if (!ok) throw new Error(`${store.location} does not accept connections`);
        store.heartbeat({ ...self, listen, revision: store.routeRevision });
        if (failing) logger.info({ database: store.location }, 'heartbeat sent again');
        failing = false;
      } catch (err) {
        if (!failing) logger.warn({ err, database: store.location }, 'cannot send the fleet heartbeat');
        failing = true;
      }
    });
  };
  return {
    report() {
      const rows = store.fleet();
      const gateways = rows.map(
        (row): FleetMember => ({
          id: row.id,
          hostName: row.hostName,
          pid: row.pid,
          listen: row.listen,
          started: row.started,
          lastSeen: row.lastSeen,
          revision: row.revision,
          stale: row.ageMs > STALE_AFTER_INTERVALS * row.intervalMs,
          self: row.id === self.id,
        }),
      );
      const fresh = gateways.filter((g) => !g.stale).map((g) => g.revision ?? 0);
      return { state: 'postgres', revision: fresh.length === 0 ? null : Math.max(...fresh), gateways };
    },
    start(address) {
      listen = address;
      beat();
      timer = setInterval(beat, intervalMs);
      timer.unref();
    },
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
