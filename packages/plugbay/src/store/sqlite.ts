import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { PlugbayError } from '../core/errors.js';
import { OptionChecker } from '../core/options.js';
import {
  type AuditRow,
  auditEntry,
  casRollout,
  checkAudit,
  checkChange,
  checkNow,
  checkRevoke,
  checkRollback,
  checkRollout,
  closedError,
  normaliseQuery,
  toJson,
} from './checks.js';
import { problemOf, sqliteCodeOf, stateUnavailable } from './errors.js';
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

// The part of better-sqlite3's API used here (the package ships no types of its own).
interface RunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}
interface Statement {
  run(...params: unknown[]): RunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}
interface Database {
  prepare(sql: string): Statement;
  exec(sql: string): void;
  pragma(sql: string, options?: { simple?: boolean }): unknown;
  transaction<A extends unknown[], R>(
    fn: (...args: A) => R,
  ): ((...args: A) => R) & { exclusive: (...args: A) => R };
  close(): void;
}
type DatabaseConstructor = new (file: string, options?: { timeout?: number }) => Database;
const BetterSqlite3 = createRequire(import.meta.url)('better-sqlite3') as DatabaseConstructor;

/**
 * Schema migrations; `PRAGMA user_version` is the number applied. Append, never edit: a file written by version N
 * of this list opens with any later one. STRICT tables make SQLite refuse values of the wrong type.
 */
const migrations: readonly string[] = [
  `CREATE TABLE routes (
     plugin TEXT PRIMARY KEY,
     route TEXT NOT NULL,
     updated TEXT NOT NULL
   ) STRICT;
   CREATE TABLE stable_history (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     plugin TEXT NOT NULL,
     version TEXT NOT NULL,
     time TEXT NOT NULL
   ) STRICT;
   CREATE INDEX stable_history_plugin ON stable_history (plugin, seq);
   CREATE TABLE audit (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     time TEXT NOT NULL,
     actor TEXT NOT NULL,
     action TEXT NOT NULL,
     plugin TEXT NOT NULL,
     version TEXT,
     reason TEXT,
     details TEXT
   ) STRICT;
   CREATE INDEX audit_plugin ON audit (plugin, id);`,
  `CREATE TABLE grants (
     plugin TEXT NOT NULL,
     capability TEXT NOT NULL,
     time TEXT NOT NULL,
     PRIMARY KEY (plugin, capability)
   ) STRICT;`,
  // 3: progressive rollouts, one record per plugin (JSON); updated_at is the compare-and-set token.
  `CREATE TABLE rollouts (
     plugin TEXT PRIMARY KEY,
     record TEXT NOT NULL,
     updated_at TEXT NOT NULL
   ) STRICT;`,
];

/** The schema version this build writes. */
export const STATE_SCHEMA_VERSION = migrations.length;

export interface SqliteStateStoreOptions extends StateStoreOptions {
  /** Path of the database file, e.g. `.plugbay/state.db`; its directory is created when missing. */
  file: string;
  /** How long to wait for another connection's lock before failing with PLUGBAY_STATE_UNAVAILABLE. Default 2 000 ms. */
  busyTimeoutMs?: number;
  /**
   * Hold the file's lock for the life of the store, so that a second gateway on the same file fails at startup
   * instead of both overwriting each other's routes. Default true.
   */
  exclusive?: boolean;
}

/**
 * The gateway's store: SQLite in WAL mode, schema migrated with `PRAGMA user_version`, every write one transaction.
 * Opening a corrupt, locked, unreadable or newer file throws PLUGBAY_STATE_UNAVAILABLE naming the file and the
 * cause; the file is never reset.
 */
export class SqliteStateStore implements StateStore {
  readonly kind = 'sqlite';
  /** Absolute path of the database file. */
  readonly file: string;
  readonly #db: Database;
  readonly #now: () => Date;
  readonly #sql: ReturnType<typeof prepare>;
  #closed = false;

  constructor(options: SqliteStateStoreOptions) {
    const { file, busyTimeoutMs, exclusive } = checkOptions(options);
    this.file = file;
    this.#now = checkNow(options.now);
    this.#db = openDatabase(file, busyTimeoutMs, exclusive);
    this.#sql = prepare(this.#db);
  }

  route(plugin: string): StoredRoute | undefined {
    const row = this.#read(() => this.#sql.getRoute.get(plugin) as { route: string } | undefined);
    return row === undefined ? undefined : (JSON.parse(row.route) as StoredRoute);
  }

  routes(): Map<string, StoredRoute> {
    const rows = this.#read(() => this.#sql.allRoutes.all() as { plugin: string; route: string }[]);
    return new Map(rows.map((r) => [r.plugin, JSON.parse(r.route) as StoredRoute]));
  }

  stable(plugin: string): string | undefined {
    return this.#read(() => this.#sql.currentStable.get(plugin) as { version: string } | undefined)?.version;
  }

  stableHistory(plugin: string): StableRecord[] {
    return this.#read(() => this.#sql.history.all(plugin) as StableRecord[]);
  }

  grants(plugin?: string): StoredGrant[] {
    return this.#read(() => this.#sql.grants.all({ plugin: plugin ?? null }) as StoredGrant[]);
  }

  audit(query?: AuditQuery): AuditEntry[] {
    this.#ensureOpen();
    const { plugin, limit, before } = normaliseQuery(query);
    const rows = this.#read(
      () => this.#sql.audit.all({ plugin: plugin ?? null, before: before ?? null, limit }) as AuditRow[],
    );
    return rows.map((r) => auditEntry(r.id, r.time, r, r.details));
  }

  rollout(plugin: string): StoredRollout | undefined {
    const row = this.#read(() => this.#sql.getRollout.get(plugin) as { record: string } | undefined);
    return row === undefined ? undefined : (JSON.parse(row.record) as StoredRollout);
  }

  rollouts(): StoredRollout[] {
    const rows = this.#read(() => this.#sql.allRollouts.all() as { record: string }[]);
    return rows.map((r) => JSON.parse(r.record) as StoredRollout);
  }

  saveRollout(
    rollout: { plugin: string } & Record<string, unknown>,
    expected: string | null,
    audit?: AuditInput,
  ): StoredRollout {
    this.#ensureOpen();
    checkRollout(rollout, expected, audit);
    return this.#write(() => {
      const now = this.#now();
      const row = this.#sql.getRollout.get(rollout.plugin) as { record: string } | undefined;
      const current = row === undefined ? undefined : (JSON.parse(row.record) as StoredRollout);
      const updatedAt = casRollout(rollout.plugin, current, expected, now);
      const json = toJson({ ...rollout, updatedAt }, 'rollout');
      this.#sql.upsertRollout.run(rollout.plugin, json, updatedAt);
      if (audit !== undefined) this.#insertAudit(audit, now.toISOString());
      return JSON.parse(json) as StoredRollout;
    });
  }

  commit(change: StateChange): AuditEntry {
    this.#ensureOpen();
    checkChange(change);
    return this.#write(() => {
      const time = this.#now().toISOString();
      const sql = this.#sql;
      if (change.route !== undefined) {
        const { plugin, route } = change.route;
        if (route === null) sql.deleteRoute.run(plugin);
        else sql.upsertRoute.run(plugin, toJson(route, 'change.route.route'), time);
      }
      if (change.activate !== undefined) {
        const { plugin, version } = change.activate;
        const current = (sql.currentStable.get(plugin) as { version: string } | undefined)?.version;
        if (current !== version) sql.pushStable.run(plugin, version, time);
      }
      if (change.rollback !== undefined) {
        const { plugin, from } = change.rollback;
        const history = (sql.history.all(plugin) as StableRecord[]).map((r) => r.version);
        checkRollback(history, from);
        sql.popStable.run(plugin, plugin);
      }
      if (change.grant !== undefined) sql.insertGrant.run(change.grant.plugin, change.grant.capability, time);
      if (change.revoke !== undefined) {
        const { changes } = sql.deleteGrant.run(change.revoke.plugin, change.revoke.capability);
        checkRevoke(changes > 0, change.revoke);
      }
      return this.#insertAudit(change.audit, time);
    });
  }

  record(entry: AuditInput): AuditEntry {
    this.#ensureOpen();
    checkAudit(entry);
    return this.#write(() => this.#insertAudit(entry, this.#now().toISOString()));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #insertAudit(input: AuditInput, time: string): AuditEntry {
    const details = input.details === undefined ? null : toJson(input.details, 'audit.details');
    const { lastInsertRowid } = this.#sql.insertAudit.run(
      time,
      input.actor,
      input.action,
      input.plugin,
      input.version ?? null,
      input.reason ?? null,
      details,
    );
    return auditEntry(Number(lastInsertRowid), time, input, details);
  }

  #ensureOpen(): void {
    if (this.#closed) throw closedError(this.kind);
  }

  #read<T>(fn: () => T): T {
    this.#ensureOpen();
    try {
      return fn();
    } catch (err) {
      throw isSqliteError(err) ? stateUnavailable(this.file, problemOf(err), 'read', err) : err;
    }
  }

  /** Runs `fn` in one transaction: it all lands, or — on any throw — none of it. */
  #write<T>(fn: () => T): T {
    this.#ensureOpen();
    try {
      return this.#db.transaction(fn).exclusive();
    } catch (err) {
      // Our own checks (PlugbayError) and bugs pass through; what SQLite says about the file is mapped.
      throw isSqliteError(err) ? stateUnavailable(this.file, problemOf(err), 'write', err) : err;
    }
  }
}

function isSqliteError(err: unknown): boolean {
  return sqliteCodeOf(err)?.startsWith('SQLITE_') === true;
}

function checkOptions(options: SqliteStateStoreOptions): {
  file: string;
  busyTimeoutMs: number;
  exclusive: boolean;
} {
  const check = new OptionChecker('SqliteStateStore');
  if (typeof options?.file !== 'string' || options.file === '')
    check.fail('file', 'must be the path of the state file');
  else if (options.file === ':memory:')
    check.fail('file', 'must be a file path; use MemoryStateStore for memory');
  check.integer('busyTimeoutMs', options?.busyTimeoutMs, 0);
  check.boolean('exclusive', options?.exclusive);
  check.done();
  const busyTimeoutMs = options.busyTimeoutMs ?? 2000;
  return { file: resolve(options.file), busyTimeoutMs, exclusive: options.exclusive ?? true };
}

function openDatabase(file: string, busyTimeoutMs: number, exclusive: boolean): Database {
  try {
    mkdirSync(dirname(file), { recursive: true });
  } catch (err) {
    throw stateUnavailable(file, problemOf(err), 'open', err);
  }
  let db: Database | undefined;
  try {
    db = new BetterSqlite3(file, { timeout: busyTimeoutMs });
    // Before the first read: in WAL mode this keeps the wal-index in process memory and the file locked to us.
    if (exclusive) db.pragma('locking_mode = EXCLUSIVE');
    // The first statements that read the file: garbage fails here with SQLITE_NOTADB, a held lock with SQLITE_BUSY.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') {
      const err = stateUnavailable(file, 'corrupt', 'open', undefined, { quickCheck: String(check) });
      db.close();
      throw err;
    }
    migrate(db, file);
    return db;
  } catch (err) {
    try {
      db?.close();
    } catch {
      // Already failing; the original error says why.
    }
    throw err instanceof PlugbayError ? err : stateUnavailable(file, problemOf(err), 'open', err);
  }
}

/** Brings the schema to STATE_SCHEMA_VERSION in one exclusive transaction (also proves no one else holds a write lock). */
function migrate(db: Database, file: string): void {
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > migrations.length) {
      throw stateUnavailable(file, 'newer-schema', 'open', undefined, {
        schemaVersion: version,
        supportedVersion: migrations.length,
      });
    }
    for (let v = version; v < migrations.length; v++) db.exec(migrations[v]!);
    if (version !== migrations.length) db.pragma(`user_version = ${migrations.length}`);
  }).exclusive();
}

function prepare(db: Database) {
  return {
    getRoute: db.prepare('SELECT route FROM routes WHERE plugin = ?'),
    allRoutes: db.prepare('SELECT plugin, route FROM routes ORDER BY plugin'),
    upsertRoute: db.prepare(
      'INSERT INTO routes (plugin, route, updated) VALUES (?, ?, ?) ON CONFLICT (plugin) DO UPDATE SET route = excluded.route, updated = excluded.updated',
    ),
    deleteRoute: db.prepare('DELETE FROM routes WHERE plugin = ?'),
    currentStable: db.prepare(
      'SELECT version FROM stable_history WHERE plugin = ? ORDER BY seq DESC LIMIT 1',
    ),
    history: db.prepare('SELECT version, time FROM stable_history WHERE plugin = ? ORDER BY seq'),
    pushStable: db.prepare('INSERT INTO stable_history (plugin, version, time) VALUES (?, ?, ?)'),
    popStable: db.prepare(
      'DELETE FROM stable_history WHERE seq = (SELECT MAX(seq) FROM stable_history WHERE plugin = ?) AND plugin = ?',
    ),
    audit: db.prepare(
      `SELECT id, time, actor, action, plugin, version, reason, details FROM audit
       WHERE (@plugin IS NULL OR plugin = @plugin) AND (@before IS NULL OR id < @before) ORDER BY id DESC LIMIT @limit`,
    ),
    grants: db.prepare(
      'SELECT plugin, capability, time FROM grants WHERE (@plugin IS NULL OR plugin = @plugin) ORDER BY plugin, capability',
    ),
    insertGrant: db.prepare(
      'INSERT INTO grants (plugin, capability, time) VALUES (?, ?, ?) ON CONFLICT (plugin, capability) DO NOTHING',
    ),
    deleteGrant: db.prepare('DELETE FROM grants WHERE plugin = ? AND capability = ?'),
    getRollout: db.prepare('SELECT record FROM rollouts WHERE plugin = ?'),
    allRollouts: db.prepare('SELECT record FROM rollouts ORDER BY plugin'),
    upsertRollout: db.prepare(
      'INSERT INTO rollouts (plugin, record, updated_at) VALUES (?, ?, ?) ON CONFLICT (plugin) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at',
    ),
    insertAudit: db.prepare(
      'INSERT INTO audit (time, actor, action, plugin, version, reason, details) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
  };
}
