import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { type ErrorCode, PlugbayError } from '../core/errors.js';
import { OptionChecker } from '../core/options.js';
import {
  auditEntry,
  checkAudit,
  checkChange,
  checkNow,
  checkRollout,
  closedError,
  normaliseQuery,
  toJson,
} from './checks.js';
import { STATE_UNAVAILABLE } from './errors.js';
import { pgMigrations } from './postgres-schema.js';
import type {
  AuditRowMessage,
  FleetRow,
  HeartbeatInput,
  PgEvent,
  PgRequest,
  PgResponse,
  PgWorkerData,
} from './postgres-worker.js';
import type {
  AuditEntry,
  AuditInput,
  AuditQuery,
  StableRecord,
  StateChange,
  StateStore,
  StateStoreOptions,
  StoredGrant,
  StoredRollout,
  StoredRoute,
} from './types.js';

export { PG_CHANGE_CHANNEL, pluginLockKey } from './postgres-schema.js';
export type { FleetRow, HeartbeatInput } from './postgres-worker.js';

/** The schema version this build writes (rows in `plugbay.schema_migrations`). */
export const PG_SCHEMA_VERSION = pgMigrations.length;

export interface PostgresStateStoreOptions extends StateStoreOptions {
  /** `postgres://user:password@host:port/database` (the `postgres` client's URL syntax; `?sslmode=…` and so on). */
  url: string;
  /**
   * How long one store operation may take, waiting for a connection, a plugin's lock or the server included,
   * before it fails with PLUGBAY_STATE_UNAVAILABLE (the server is told the same as lock and statement timeout).
   * Default 5 000 ms.
   */
  timeoutMs?: number;
  /** `application_name` of the store's session, as pg_stat_activity shows it. Default `plugbay`. */
  applicationName?: string;
}

/** Why PostgreSQL could not serve a request. */
export type PgProblem = 'unreachable' | 'locked' | 'newer-schema' | 'io';

/**
 * Shared state in PostgreSQL, for several gateways on one database. The StateStore interface is synchronous (the
 * host persists a change and switches its route in one step), so this store keeps it: each call is posted to a
 * worker thread that runs the `postgres` client, and the calling thread blocks on Atomics.wait until the answer
 * comes (one loopback round trip, well under a millisecond, for each route read and admin write; the call path
 * never touches the store). Every write is one transaction that first takes the advisory lock of each plugin it
 * touches, so two gateways' writes to one plugin are serialised, and its preconditions (a rollback's current
 * stable, a revoke's grant) are checked under that lock. Each committed change is announced with NOTIFY on
 * PG_CHANGE_CHANNEL. A request that does not finish within `timeoutMs` throws PLUGBAY_STATE_UNAVAILABLE
 * (retryable); the worker is replaced and the next request reconnects.
 */
export class PostgresStateStore implements StateStore {
  readonly kind = 'postgres';
  /** The URL without its password, for logs. */
  readonly location: string;
  readonly #url: string;
  readonly #timeoutMs: number;
  readonly #applicationName: string;
  readonly #now: () => Date;
  #worker: Worker | undefined;
  #port: MessagePort | undefined;
  #ctrl: Int32Array | undefined;
  #closed = false;
  #routeRevision = 0;
  readonly #watchers = new Set<(plugin: string | undefined) => void>();

  constructor(options: PostgresStateStoreOptions) {
    const checked = checkOptions(options);
    this.#url = checked.url;
    this.location = redact(checked.url);
    this.#timeoutMs = checked.timeoutMs;
    this.#applicationName = checked.applicationName;
    this.#now = checkNow(options.now);
    // Connects and migrates now, so that a gateway with an unreachable or newer database fails at start-up.
    this.#spawn();
  }

  route(plugin: string): StoredRoute | undefined {
    const { route: json, revision } = this.#request({ op: 'route', plugin }, 'read') as {
      route: string | null;
      revision: number;
    };
    this.#seen(revision);
    return json === null ? undefined : (JSON.parse(json) as StoredRoute);
  }

  routes(): Map<string, StoredRoute> {
    const { routes: rows, revision } = this.#request({ op: 'routes' }, 'read') as {
      routes: [string, string][];
      revision: number;
    };
    this.#seen(revision);
    return new Map(rows.map(([plugin, json]) => [plugin, JSON.parse(json) as StoredRoute]));
  }

  /**
   * The route revision of the newest route this store read: a counter PostgreSQL bumps in the transaction of every
   * route write, read in the same statement as the routes. A gateway that applies each route it reads serves this
   * revision; two gateways with the same one serve the same routes.
   */
  get routeRevision(): number {
    return this.#routeRevision;
  }

  /** Upserts this gateway's row in `plugbay.gateways`, stamped with the database's clock. */
  heartbeat(gateway: HeartbeatInput): void {
    this.#request({ op: 'heartbeat', gateway }, 'write');
  }

  /** Every gateway that ever sent a heartbeat to this database, with how long ago it last did (database clock). */
  fleet(): FleetRow[] {
    return this.#request({ op: 'fleet' }, 'read') as FleetRow[];
  }

  #seen(revision: number): void {
    if (revision > this.#routeRevision) this.#routeRevision = revision;
  }

  stable(plugin: string): string | undefined {
    return this.stableHistory(plugin).at(-1)?.version;
  }

  stableHistory(plugin: string): StableRecord[] {
    return this.#request({ op: 'history', plugin }, 'read') as StableRecord[];
  }

  grants(plugin?: string): StoredGrant[] {
    return this.#request({ op: 'grants', plugin: plugin ?? null }, 'read') as StoredGrant[];
  }

  audit(query?: AuditQuery): AuditEntry[] {
    this.#ensureOpen();
    const { plugin, limit, before } = normaliseQuery(query);
    const rows = this.#request(
      { op: 'audit', plugin: plugin ?? null, before: before ?? null, limit },
      'read',
    ) as AuditRowMessage[];
    return rows.map((r) => auditEntry(r.id, r.time, r, r.details));
  }

  commit(change: StateChange): AuditEntry {
    this.#ensureOpen();
    checkChange(change);
    // Serialised here, so that a value JSON cannot hold fails with the same error as in the other stores.
    const routeJson =
      change.route === undefined || change.route.route === null
        ? null
        : toJson(change.route.route, 'change.route.route');
    const details = change.audit.details === undefined ? null : toJson(change.audit.details, 'audit.details');
    const time = this.#now().toISOString();
    const row = this.#request(
      { op: 'commit', change: structuredCloneable(change), routeJson, details, time },
      'write',
    ) as AuditRowMessage;
    return auditEntry(row.id, row.time, row, row.details);
  }

  rollout(plugin: string): StoredRollout | undefined {
    const [json] = this.#request({ op: 'rollout', plugin }, 'read') as string[];
    return json === undefined ? undefined : (JSON.parse(json) as StoredRollout);
  }

  rollouts(): StoredRollout[] {
    const rows = this.#request({ op: 'rollout', plugin: null }, 'read') as string[];
    return rows.map((json) => JSON.parse(json) as StoredRollout);
  }

  saveRollout(
    rollout: { plugin: string } & Record<string, unknown>,
    expected: string | null,
    audit?: AuditInput,
  ): StoredRollout {
    this.#ensureOpen();
    checkRollout(rollout, expected, audit);
    const { updatedAt: _stamped, ...rest } = rollout;
    const record = toJson(rest, 'rollout');
    const details = audit?.details === undefined ? null : toJson(audit.details, 'audit.details');
    const json = this.#request(
      {
        op: 'saveRollout',
        plugin: rollout.plugin,
        record,
        expected,
        audit: audit === undefined ? null : { ...audit, details: undefined },
        details,
        time: this.#now().toISOString(),
      },
      'write',
    ) as string;
    return JSON.parse(json) as StoredRollout;
  }

  record(entry: AuditInput): AuditEntry {
    this.#ensureOpen();
    checkAudit(entry);
    const details = entry.details === undefined ? null : toJson(entry.details, 'audit.details');
    const time = this.#now().toISOString();
    const row = this.#request(
      { op: 'record', entry: { ...entry, details: undefined }, details, time },
      'write',
    ) as AuditRowMessage;
    return auditEntry(row.id, row.time, row, row.details);
  }

  /**
   * Calls `onChange(plugin)` after each change any writer commits (LISTEN on PG_CHANGE_CHANNEL), and
   * `onChange(undefined)` each time the listening session (re)connects: then anything may have changed meanwhile.
   * Returns the function that stops it.
   */
  watch(onChange: (plugin: string | undefined) => void): () => void {
    this.#ensureOpen();
    const first = this.#watchers.size === 0;
    this.#watchers.add(onChange);
    if (first && this.#worker !== undefined) this.#request({ op: 'listen' }, 'read');
    return () => {
      this.#watchers.delete(onChange);
    };
  }

  /** Ends the session and the worker. Idempotent; any other call afterwards throws PLUGBAY_CLOSED. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#worker !== undefined) {
      try {
        this.#send({ op: 'end' }, 2000);
      } catch {
        // Closing anyway: terminating the worker closes its socket, and the server ends the session.
      }
      this.#dropWorker();
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #ensureOpen(): void {
    if (this.#closed) throw closedError(this.kind);
  }

  /** Starts the worker and opens (connects, migrates); on failure nothing is left running. */
  #spawn(): void {
    const sab = new SharedArrayBuffer(4);
    const { port1, port2 } = new MessageChannel();
    const workerData: PgWorkerData = {
      ctrl: sab,
      port: port2,
      url: this.#url,
      timeoutMs: this.#timeoutMs,
      applicationName: this.#applicationName,
    };
    this.#worker = new Worker(new URL('./postgres-worker.js', import.meta.url), {
      workerData,
      transferList: [port2],
    });
    // A store someone forgot to close does not keep the process alive.
    this.#worker.unref();
    const worker = this.#worker;
    worker.on('message', (event: PgEvent) => this.#heard(event));
    // A worker that died (a client bug, out of memory) is replaced at the next request; never an uncaught error.
    worker.on('error', () => {
      if (this.#worker === worker) this.#dropWorker();
    });
    this.#port = port1;
    this.#ctrl = new Int32Array(sab);
    try {
      const opened = this.#answer(this.#send({ op: 'open' }, this.#waitMs()), 'open') as {
        version: number;
        newer?: number;
      };
      if (opened.newer !== undefined) {
        throw pgUnavailable(this.location, 'newer-schema', 'open', undefined, {
          schemaVersion: opened.newer,
          supportedVersion: opened.version,
        });
      }
      if (this.#watchers.size > 0) this.#answer(this.#send({ op: 'listen' }, this.#waitMs()), 'open');
    } catch (err) {
      this.#dropWorker();
      throw err;
    }
  }

  #heard(event: PgEvent): void {
    let plugin: string | undefined;
    if ('notify' in event) {
      try {
        plugin = (JSON.parse(event.notify) as { plugin?: unknown }).plugin as string | undefined;
      } catch {
        plugin = undefined; // not ours to parse: catch up on everything
      }
    }
    for (const watcher of this.#watchers) watcher(typeof plugin === 'string' ? plugin : undefined);
  }

  #request(req: PgRequest, doing: 'read' | 'write'): unknown {
    this.#ensureOpen();
    // The worker was dropped after a timeout: a new one reconnects (and checks the schema again).
    if (this.#worker === undefined) this.#spawn();
    let res: PgResponse;
    try {
      res = this.#send(req, this.#waitMs());
    } catch (err) {
      this.#dropWorker();
      throw err;
    }
    return this.#answer(res, doing);
  }

  /** The server gives up first (lock and statement timeout, connect timeout); this margin covers the round trips. */
  #waitMs(): number {
    return 2 * this.#timeoutMs + 1000;
  }

  #send(req: PgRequest, waitMs: number): PgResponse {
    const ctrl = this.#ctrl!;
    Atomics.store(ctrl, 0, 0);
    this.#worker!.postMessage(req);
    if (Atomics.wait(ctrl, 0, 0, waitMs) === 'timed-out') {
      // No COMMIT was sent by a worker that is terminated now, unless it was already on its way.
      throw pgUnavailable(this.location, 'unreachable', req.op === 'open' ? 'open' : 'write', undefined, {
        timeoutMs: waitMs,
      });
    }
    const msg = receiveMessageOnPort(this.#port!);
    if (msg === undefined) throw new Error('the PostgreSQL worker woke the store without an answer');
    return msg.message as PgResponse;
  }

  #answer(res: PgResponse, doing: 'open' | 'read' | 'write'): unknown {
    if ('ok' in res) return res.ok;
    if ('plugbay' in res) {
      const { code, message, details } = res.plugbay;
      throw new PlugbayError(code as ErrorCode, message, { details });
    }
    const problem = problemOfPg(res.pg.code);
    // A session the server ended (restart, failover) or never opened: the next request gets a fresh worker.
    if (problem === 'unreachable') this.#dropWorker();
    throw pgUnavailable(this.location, problem, doing, res.pg);
  }

  #dropWorker(): void {
    void this.#worker?.terminate();
    this.#port?.close();
    this.#worker = undefined;
    this.#port = undefined;
    this.#ctrl = undefined;
  }
}

/** The change as the worker needs it: names and versions; the route and the details go as the JSON text made here. */
function structuredCloneable(change: StateChange): StateChange {
  const { route, audit, ...rest } = change;
  return {
    ...rest,
    ...(route === undefined ? {} : { route: { plugin: route.plugin, route: null } }),
    audit: { ...audit, details: undefined },
  };
}

/** Maps a SQLSTATE or client error code to what it means for the store. */
export function problemOfPg(code: string | undefined): PgProblem {
  if (code === undefined) return 'io';
  // 55P03 lock_not_available (lock_timeout), 57014 query_canceled (statement_timeout): another writer held on.
  if (code === '55P03' || code === '57014') return 'locked';
  // Class 08 connection exceptions, 57P01-03 shutdown / cannot connect now, and the client's own socket errors.
  if (
    code.startsWith('08') ||
    /^57P0[1-3]$/.test(code) ||
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code) ||
    code.startsWith('CONNECT') ||
    code === 'CONNECTION_CLOSED' ||
    code === 'CONNECTION_ENDED' ||
    code === 'CONNECTION_DESTROYED'
  ) {
    return 'unreachable';
  }
  return 'io';
}

const describe: Record<PgProblem, string> = {
  unreachable: 'is unreachable or closed the session',
  locked: "held a lock past the store's timeout",
  'newer-schema': 'has a schema written by a newer plugbay',
  io: 'failed',
};

function pgUnavailable(
  location: string,
  problem: PgProblem,
  doing: 'open' | 'read' | 'write',
  cause?: { code: string | undefined; message: string },
  extra: Record<string, unknown> = {},
): PlugbayError {
  const because =
    cause === undefined ? '' : ` (${cause.code === undefined ? '' : `${cause.code}: `}${cause.message})`;
  return new PlugbayError(
    STATE_UNAVAILABLE,
    `cannot ${doing} state in PostgreSQL ${location}: it ${describe[problem]}${because}`,
    {
      // Unreachable and locked pass with time; a newer schema or a failing statement does not.
      retryable: problem === 'unreachable' || problem === 'locked',
      details: {
        database: location,
        problem,
        ...(cause?.code === undefined ? {} : { pgCode: cause.code }),
        ...extra,
      },
    },
  );
}

/** The URL with its password replaced, safe for logs and error messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

function checkOptions(
  options: PostgresStateStoreOptions,
): Required<Pick<PostgresStateStoreOptions, 'url' | 'timeoutMs' | 'applicationName'>> {
  const check = new OptionChecker('PostgresStateStore');
  const url = options?.url;
  if (typeof url !== 'string' || !/^postgres(ql)?:\/\//.test(url)) {
    check.fail('url', 'must be a postgres:// or postgresql:// URL');
  }
  check.integer('timeoutMs', options?.timeoutMs, 1);
  check.nonEmptyString('applicationName', options?.applicationName);
  check.done();
  return {
    url: url as string,
    timeoutMs: options.timeoutMs ?? 5000,
    applicationName: options.applicationName ?? 'plugbay',
  };
}
