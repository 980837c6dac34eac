/**
 * The PostgreSQL side of PostgresStateStore, in a worker thread: the store's thread posts one request and blocks
 * on Atomics.wait; this worker runs it with the `postgres` client, posts the answer on a MessagePort the store's
 * thread reads synchronously, and wakes it. Requests arrive one at a time (the caller is blocked meanwhile).
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import postgres from 'postgres';
import { PlugbayError } from '../core/errors.js';
import { type AuditRow, casRollout, checkRevoke, checkRollback } from './checks.js';
import { MIGRATION_LOCK, PG_CHANGE_CHANNEL, pgMigrations, pluginLockKey } from './postgres-schema.js';
import type { AuditInput, StableRecord, StateChange, StoredGrant, StoredRollout } from './types.js';

export type PgRequest =
  | { op: 'open' }
  | { op: 'route'; plugin: string }
  | { op: 'routes' }
  | { op: 'history'; plugin: string }
  | { op: 'grants'; plugin: string | null }
  | { op: 'audit'; plugin: string | null; before: number | null; limit: number }
  | { op: 'commit'; change: StateChange; routeJson: string | null; details: string | null; time: string }
  | { op: 'record'; entry: AuditInput; details: string | null; time: string }
  | { op: 'rollout'; plugin: string | null }
  | {
      op: 'saveRollout';
      plugin: string;
      /** The record without updatedAt, as JSON text (the worker stamps it under the plugin's lock). */
      record: string;
      expected: string | null;
      audit: AuditInput | null;
      details: string | null;
      time: string;
    }
  | { op: 'heartbeat'; gateway: HeartbeatInput }
  | { op: 'fleet' }
  | { op: 'listen' }
  | { op: 'end' };

/** What a gateway says of itself each heartbeat (times are the database's own clock). */
export interface HeartbeatInput {
  id: string;
  hostName: string;
  pid: number;
  listen: string;
  started: string;
  intervalMs: number;
  revision: number;
}

/** A gateway's row as the worker posts it back, with how long ago the database last heard from it. */
export interface FleetRow extends HeartbeatInput {
  lastSeen: string;
  ageMs: number;
}

/** What the worker posts on its own (not as an answer): a change heard, or the listening session (re)connected. */
export type PgEvent = { notify: string } | { listening: true };

/** An audit row as the worker posts it back. */
export type AuditRowMessage = AuditRow;

export type PgResponse =
  | { ok: unknown }
  | { plugbay: { code: string; message: string; details: Record<string, unknown> | undefined } }
  | { pg: { code: string | undefined; message: string } };

export interface PgWorkerData {
  ctrl: SharedArrayBuffer;
  port: MessagePort;
  url: string;
  timeoutMs: number;
  applicationName: string;
}

const data = workerData as PgWorkerData | null;
// Only as the store's worker (this module's types are imported elsewhere, and a worker may import the store).
if (parentPort !== null && data !== null && data.ctrl instanceof SharedArrayBuffer) {
  const ctrl = new Int32Array(data.ctrl);
  const sql = postgres(data.url, {
    max: 1,
    onnotice: () => {},
    connect_timeout: Math.max(1, Math.ceil(data.timeoutMs / 1000)),
    // The server gives up on a lock or a statement before the store's thread stops waiting for the answer.
    connection: {
      application_name: data.applicationName,
      lock_timeout: data.timeoutMs,
      statement_timeout: data.timeoutMs,
    },
  });
  const reply = (m: PgResponse) => {
    data.port.postMessage(m);
    Atomics.store(ctrl, 0, 1);
    Atomics.notify(ctrl, 0);
  };
  parentPort.on('message', (req: PgRequest) => {
    if (req.op === 'listen') {
      const post = (event: PgEvent) => parentPort?.postMessage(event);
      // The client re-listens after a lost connection and calls onlisten again: the store catches up then.
      sql
        .listen(
          PG_CHANGE_CHANNEL,
          (notify) => post({ notify }),
          () => post({ listening: true }),
        )
        .then(
          () => reply({ ok: null }),
          (err: unknown) => reply(errorMessage(err)),
        );
      return;
    }
    handle(sql, req).then(
      (ok) => reply({ ok }),
      (err: unknown) => reply(errorMessage(err)),
    );
  });
}

function errorMessage(err: unknown): PgResponse {
  if (err instanceof PlugbayError) {
    return { plugbay: { code: err.code, message: err.message, details: err.details } };
  }
  const code = (err as { code?: unknown } | null)?.code;
  return {
    pg: {
      code: typeof code === 'string' ? code : undefined,
      message: (err as Error)?.message ?? String(err),
    },
  };
}

const iso = (t: Date | string) => (t instanceof Date ? t.toISOString() : new Date(t).toISOString());

async function handle(sql: postgres.Sql, req: PgRequest): Promise<unknown> {
  switch (req.op) {
    case 'open':
      return migrate(sql);
    // Each read also returns the route revision, in the same statement (one snapshot): the routes are that revision's.
    case 'route': {
      const [row] = await sql`SELECT (SELECT route FROM plugbay.routes WHERE plugin = ${req.plugin}) AS route,
                                     (SELECT revision FROM plugbay.route_revision) AS revision`;
      return { route: row?.route ?? null, revision: Number(row?.revision ?? 0) };
    }
    case 'routes': {
      const [row] = await sql`SELECT (SELECT revision FROM plugbay.route_revision) AS revision,
                                     (SELECT coalesce(json_agg(json_build_array(plugin, route) ORDER BY plugin), '[]')
                                        FROM plugbay.routes)::text AS routes`;
      return {
        routes: JSON.parse(row?.routes ?? '[]') as [string, string][],
        revision: Number(row?.revision ?? 0),
      };
    }
    case 'heartbeat': {
      const g = req.gateway;
      await sql`INSERT INTO plugbay.gateways (id, host_name, pid, listen, started, last_seen, interval_ms, revision)
                VALUES (${g.id}, ${g.hostName}, ${g.pid}, ${g.listen}, ${g.started}, now(), ${g.intervalMs}, ${g.revision})
                ON CONFLICT (id) DO UPDATE SET host_name = excluded.host_name, pid = excluded.pid,
                  listen = excluded.listen, last_seen = now(), interval_ms = excluded.interval_ms,
                  revision = excluded.revision`;
      return null;
    }
    case 'fleet':
      return (
        await sql`SELECT id, host_name, pid, listen, started, last_seen, interval_ms, revision,
                         (extract(epoch FROM now() - last_seen) * 1000)::float8 AS age_ms
                  FROM plugbay.gateways ORDER BY started, id`
      ).map(
        (r): FleetRow => ({
          id: r.id,
          hostName: r.host_name,
          pid: r.pid,
          listen: r.listen,
          started: iso(r.started),
          lastSeen: iso(r.last_seen),
          intervalMs: r.interval_ms,
          revision: Number(r.revision),
          ageMs: Math.max(0, Number(r.age_ms)),
        }),
      );
    case 'history':
      return (
        await sql`SELECT version, time FROM plugbay.stable_history WHERE plugin = ${req.plugin} ORDER BY seq`
      ).map((r): StableRecord => ({ version: r.version, time: iso(r.time) }));
    case 'grants':
      return (
        await sql`SELECT plugin, capability, time FROM plugbay.grants
                  WHERE ${req.plugin}::text IS NULL OR plugin = ${req.plugin} ORDER BY plugin, capability`
      ).map((r): StoredGrant => ({ plugin: r.plugin, capability: r.capability, time: iso(r.time) }));
    case 'audit':
      return (
        await sql`SELECT id, time, actor, action, plugin, version, reason, details FROM plugbay.audit
                  WHERE (${req.plugin}::text IS NULL OR plugin = ${req.plugin})
                    AND (${req.before}::bigint IS NULL OR id < ${req.before})
                  ORDER BY id DESC LIMIT ${req.limit}`
      ).map(auditRow);
    case 'commit':
      return sql.begin((tx) => commit(tx, req));
    case 'record':
      return sql.begin(async (tx) => {
        await lockPlugins(tx, [req.entry.plugin]);
        return insertAudit(tx, req.entry, req.details, req.time);
      });
    case 'rollout':
      return (
        await sql`SELECT record FROM plugbay.rollouts
                  WHERE ${req.plugin}::text IS NULL OR plugin = ${req.plugin} ORDER BY plugin`
      ).map((r) => r.record as string);
    case 'saveRollout':
      return sql.begin(async (tx) => {
        await lockPlugins(tx, [req.plugin]);
        const [row] = await tx`SELECT record FROM plugbay.rollouts WHERE plugin = ${req.plugin}`;
        const current = row === undefined ? undefined : (JSON.parse(row.record as string) as StoredRollout);
        const updatedAt = casRollout(req.plugin, current, req.expected, new Date(req.time));
        const json = JSON.stringify({ ...(JSON.parse(req.record) as object), updatedAt });
        await tx`INSERT INTO plugbay.rollouts (plugin, record, updated_at) VALUES (${req.plugin}, ${json}, ${updatedAt})
                 ON CONFLICT (plugin) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at`;
        if (req.audit !== null) await insertAudit(tx, req.audit, req.details, req.time);
        else
          await tx`SELECT pg_notify(${PG_CHANGE_CHANNEL}, ${JSON.stringify({ plugin: req.plugin, rollout: updatedAt })})`;
        return json;
      });
    case 'listen':
      return null; // answered above
    case 'end':
      await sql.end({ timeout: 1 });
      return null;
  }
}

function auditRow(r: postgres.Row): AuditRowMessage {
  return {
    id: Number(r.id),
    time: iso(r.time),
    actor: r.actor,
    action: r.action,
    plugin: r.plugin,
    version: r.version,
    reason: r.reason,
    details: r.details,
  };
}

/** Applies migrations under one advisory lock, each with its row; returns the schema version. */
async function migrate(sql: postgres.Sql): Promise<{ version: number; newer?: number }> {
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtextextended(${MIGRATION_LOCK}, 0))`;
    await tx`CREATE SCHEMA IF NOT EXISTS plugbay`;
    await tx`CREATE TABLE IF NOT EXISTS plugbay.schema_migrations (
               version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())`;
    const [row] = await tx`SELECT coalesce(max(version), 0)::int AS version FROM plugbay.schema_migrations`;
    const current = (row?.version as number | undefined) ?? 0;
    if (current > pgMigrations.length) return { version: pgMigrations.length, newer: current };
    for (let v = current; v < pgMigrations.length; v++) {
      await tx.unsafe(pgMigrations[v]!);
      await tx`INSERT INTO plugbay.schema_migrations (version) VALUES (${v + 1})`;
    }
    return { version: pgMigrations.length };
  });
}

/**
 * Takes the advisory lock of every plugin the change touches, in name order (two writers locking the same two
 * plugins cannot deadlock). Held until the transaction ends: two admins' writes to one plugin never interleave.
 */
async function lockPlugins(tx: postgres.TransactionSql, plugins: readonly string[]): Promise<void> {
  for (const plugin of [...new Set(plugins)].sort()) {
    await tx`SELECT pg_advisory_xact_lock(hashtextextended(${pluginLockKey(plugin)}, 0))`;
  }
}

async function commit(
  tx: postgres.TransactionSql,
  req: Extract<PgRequest, { op: 'commit' }>,
): Promise<AuditRowMessage> {
  const { change, time } = req;
  const touched = [
    change.audit.plugin,
    change.route?.plugin,
    change.activate?.plugin,
    change.rollback?.plugin,
    change.grant?.plugin,
    change.revoke?.plugin,
  ].filter((p): p is string => p !== undefined);
  await lockPlugins(tx, touched);
  if (change.route !== undefined) {
    const { plugin } = change.route;
    await tx`UPDATE plugbay.route_revision SET revision = revision + 1`;
    if (req.routeJson === null) await tx`DELETE FROM plugbay.routes WHERE plugin = ${plugin}`;
    else
      await tx`INSERT INTO plugbay.routes (plugin, route, updated) VALUES (${plugin}, ${req.routeJson}, ${time})
               ON CONFLICT (plugin) DO UPDATE SET route = excluded.route, updated = excluded.updated`;
  }
  if (change.activate !== undefined) {
    const { plugin, version } = change.activate;
    const [top] =
      await tx`SELECT version FROM plugbay.stable_history WHERE plugin = ${plugin} ORDER BY seq DESC LIMIT 1`;
    if (top?.version !== version)
      await tx`INSERT INTO plugbay.stable_history (plugin, version, time) VALUES (${plugin}, ${version}, ${time})`;
  }
  if (change.rollback !== undefined) {
    const { plugin, from } = change.rollback;
    const history =
      await tx`SELECT seq, version FROM plugbay.stable_history WHERE plugin = ${plugin} ORDER BY seq`;
    checkRollback(
      history.map((r) => r.version as string),
      from,
    );
    await tx`DELETE FROM plugbay.stable_history WHERE seq = ${history.at(-1)!.seq}`;
  }
  if (change.grant !== undefined) {
    const { plugin, capability } = change.grant;
    await tx`INSERT INTO plugbay.grants (plugin, capability, time) VALUES (${plugin}, ${capability}, ${time})
             ON CONFLICT (plugin, capability) DO NOTHING`;
  }
  if (change.revoke !== undefined) {
    const { plugin, capability } = change.revoke;
    const gone =
      await tx`DELETE FROM plugbay.grants WHERE plugin = ${plugin} AND capability = ${capability} RETURNING 1`;
    checkRevoke(gone.length > 0, change.revoke);
  }
  return insertAudit(tx, change.audit, req.details, time);
}

/** Writes the audit entry and announces the change; NOTIFY is transactional, so listeners hear only commits. */
async function insertAudit(
  tx: postgres.TransactionSql,
  input: AuditInput,
  details: string | null,
  time: string,
): Promise<AuditRowMessage> {
  const [row] = await tx`
    INSERT INTO plugbay.audit (time, actor, action, plugin, version, reason, details)
    VALUES (${time}, ${input.actor}, ${input.action}, ${input.plugin}, ${input.version ?? null},
            ${input.reason ?? null}, ${details})
    RETURNING id, time, actor, action, plugin, version, reason, details`;
  const entry = auditRow(row!);
  await tx`SELECT pg_notify(${PG_CHANGE_CHANNEL}, ${JSON.stringify({ plugin: input.plugin, id: entry.id })})`;
  return entry;
}
