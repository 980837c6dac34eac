import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import postgres from 'postgres';
import { postgresSkipReason, startTestPostgres, type TestPostgres } from '../test-support/postgres.js';
import { stateStoreContract } from './contract.test.shared.js';
import { PG_CHANGE_CHANNEL, PG_SCHEMA_VERSION, PostgresStateStore, pluginLockKey } from './postgres.js';
import type { StateChange } from './types.js';

const skip = await postgresSkipReason();
let server: TestPostgres;
let n = 0;
/** A fresh database on the one test server. */
const freshDatabase = () => server.createDatabase(`case_${process.pid}_${++n}`);

before(async () => {
  if (skip === undefined) server = await startTestPostgres();
});
after(async () => {
  await server?.close();
});

function errorOf(fn: () => unknown): { code: string; details: Record<string, unknown>; retryable: boolean } {
  try {
    fn();
  } catch (err) {
    return err as { code: string; details: Record<string, unknown>; retryable: boolean };
  }
  assert.fail('expected a throw');
}

const audit = (action: string, plugin = 'greeter') => ({ actor: 'test', action, plugin });

if (skip !== undefined) {
  it('PostgresStateStore', { skip }, () => {});
} else {
  stateStoreContract('PostgresStateStore', async (now) => ({
    store: new PostgresStateStore({ url: await freshDatabase(), now }),
    cleanup: async () => {},
  }));

  describe('PostgresStateStore', () => {
    it('route revision: bumped by each route write only, and seen by another store in the same read as the routes', async () => {
      const url = await freshDatabase();
      const writer = new PostgresStateStore({ url });
      const reader = new PostgresStateStore({ url });
      try {
        assert.equal(reader.routes().size, 0);
        assert.equal(reader.routeRevision, 0);
        writer.commit({ route: { plugin: 'greeter', route: { stable: '1.0.0' } }, audit: audit('route') });
        writer.commit({ activate: { plugin: 'greeter', version: '1.0.0' }, audit: audit('activate') });
        writer.commit({ grant: { plugin: 'greeter', capability: 'net' }, audit: audit('grant') });
        assert.deepEqual(reader.route('greeter'), { stable: '1.0.0' });
        assert.equal(reader.routeRevision, 1, 'an activate or a grant without a route is no route write');
        writer.commit({
          route: { plugin: 'echo', route: { stable: '2.0.0' } },
          audit: audit('route', 'echo'),
        });
        writer.commit({ route: { plugin: 'greeter', route: null }, audit: audit('route') });
        assert.deepEqual([...reader.routes().keys()], ['echo']);
        assert.equal(reader.routeRevision, 3, 'a deleted route is a route write');
        assert.equal(writer.routeRevision, 0, 'a store reports what it read, not what it wrote');
      } finally {
        writer.close();
        reader.close();
      }
    });

    it('heartbeats: one row per gateway id, upserted, with the age the database measures', async () => {
      const url = await freshDatabase();
      const a = new PostgresStateStore({ url });
      const b = new PostgresStateStore({ url });
      const started = new Date().toISOString();
      const beat = { hostName: 'h', pid: 1, listen: 'http://127.0.0.1:1', started, intervalMs: 100 };
      try {
        assert.deepEqual(a.fleet(), []);
        a.heartbeat({ ...beat, id: 'a', revision: 0 });
        b.heartbeat({ ...beat, id: 'b', revision: 0 });
        a.heartbeat({ ...beat, id: 'a', revision: 4 });
        const rows = b.fleet();
        assert.deepEqual(
          rows.map((r) => [r.id, r.revision, r.intervalMs, r.listen]),
          [
            ['a', 4, 100, 'http://127.0.0.1:1'],
            ['b', 0, 100, 'http://127.0.0.1:1'],
          ],
        );
        for (const row of rows) {
          assert.ok(row.ageMs >= 0 && Number.isFinite(row.ageMs), String(row.ageMs));
          assert.equal(row.started, started);
        }
        const sql = postgres(url, { max: 1 });
        try {
          // A gateway not heard from for a minute: its age says so (staleness is 3 intervals, serve-fleet.ts).
          await sql`UPDATE plugbay.gateways SET last_seen = now() - interval '1 minute' WHERE id = 'b'`;
        } finally {
          await sql.end();
        }
        const aged = a.fleet().find((r) => r.id === 'b')!;
        assert.ok(aged.ageMs >= 60_000, String(aged.ageMs));
      } finally {
        a.close();
        b.close();
      }
    });

    it('migrates once: a restart (and a second gateway) finds the schema at its version and keeps the state', async () => {
      const url = await freshDatabase();
      const first = new PostgresStateStore({ url });
      first.commit({ route: { plugin: 'greeter', route: { stable: '1.0.0' } }, audit: audit('route') });
      const second = new PostgresStateStore({ url });
      assert.deepEqual(second.route('greeter'), { stable: '1.0.0' });
      first.close();
      second.close();
      const reopened = new PostgresStateStore({ url });
      assert.deepEqual(reopened.route('greeter'), { stable: '1.0.0' });
      reopened.close();
      const sql = postgres(url, { max: 1 });
      try {
        const rows = await sql`SELECT version FROM plugbay.schema_migrations ORDER BY version`;
        assert.deepEqual(
          rows.map((r) => r.version),
          Array.from({ length: PG_SCHEMA_VERSION }, (_, i) => i + 1),
        );
      } finally {
        await sql.end();
      }
    });

    it('refuses a database migrated by a newer plugbay, naming both versions', async () => {
      const url = await freshDatabase();
      new PostgresStateStore({ url }).close();
      const sql = postgres(url, { max: 1 });
      await sql`INSERT INTO plugbay.schema_migrations (version) VALUES (${PG_SCHEMA_VERSION + 1})`;
      await sql.end();
      const err = errorOf(() => new PostgresStateStore({ url }));
      assert.equal(err.code, 'PLUGBAY_STATE_UNAVAILABLE');
      assert.equal(err.details.problem, 'newer-schema');
      assert.equal(err.details.schemaVersion, PG_SCHEMA_VERSION + 1);
      assert.equal(err.retryable, false);
    });

    it('an unreachable server fails at open with a retryable PLUGBAY_STATE_UNAVAILABLE, the password redacted', async () => {
      const down = await startTestPostgres();
      const url = down.url().replace('plugbay@', 'plugbay:secret@');
      await down.close();
      const err = errorOf(() => new PostgresStateStore({ url, timeoutMs: 1000 }));
      assert.equal(err.code, 'PLUGBAY_STATE_UNAVAILABLE');
      assert.equal(err.details.problem, 'unreachable');
      assert.equal(err.retryable, true);
      assert.doesNotMatch(JSON.stringify(err.details) + (err as unknown as Error).message, /secret/);
    });

    it('rejects options naming each one', () => {
      const err = errorOf(() => new PostgresStateStore({ url: 'mysql://x', timeoutMs: 0 }));
      assert.equal(err.code, 'PLUGBAY_INVALID_ARGUMENT');
      assert.deepEqual([...(err.details.options as string[])].sort(), ['timeoutMs', 'url']);
    });

    it('while the server is down a write fails with PLUGBAY_STATE_UNAVAILABLE; after it is back the store reconnects', async () => {
      const own = await startTestPostgres();
      try {
        const store = new PostgresStateStore({ url: own.url(), timeoutMs: 1000 });
        store.commit({ activate: { plugin: 'greeter', version: '1.0.0' }, audit: audit('activate') });
        await own.stop();
        const err = errorOf(() =>
          store.commit({ activate: { plugin: 'greeter', version: '2.0.0' }, audit: audit('activate') }),
        );
        assert.equal(err.code, 'PLUGBAY_STATE_UNAVAILABLE');
        assert.equal(err.details.problem, 'unreachable');
        assert.equal(err.retryable, true);
        await own.start();
        store.commit({ activate: { plugin: 'greeter', version: '2.0.0' }, audit: audit('activate') });
        assert.deepEqual(
          store.stableHistory('greeter').map((r) => r.version),
          ['1.0.0', '2.0.0'],
        );
        store.close();
      } finally {
        await own.close();
      }
    });

    it('announces each committed change on its NOTIFY channel, and nothing for a change that failed', async () => {
      const url = await freshDatabase();
      const store = new PostgresStateStore({ url });
      const listener = postgres(url, { max: 1 });
      const heard: unknown[] = [];
      let wake: () => void = () => {};
      await listener.listen(PG_CHANGE_CHANNEL, (payload) => {
        heard.push(JSON.parse(payload));
        wake();
      });
      try {
        errorOf(() =>
          store.commit({ rollback: { plugin: 'greeter', from: '1.0.0' }, audit: audit('rollback') }),
        );
        const entry = store.commit({
          route: { plugin: 'greeter', route: { stable: '1.0.0' } },
          audit: audit('route'),
        });
        if (heard.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        assert.deepEqual(heard, [{ plugin: 'greeter', id: entry.id }]);
      } finally {
        store.close();
        await listener.end();
      }
    });

    describe('writes to one plugin are serialised across connections', () => {
      /** A second admin's store in its own thread (a store blocks its thread while it waits for PostgreSQL). */
      function otherAdmin(url: string) {
        const code = `
          const { parentPort, workerData } = require('node:worker_threads');
          import(workerData.module).then(({ PostgresStateStore }) => {
            const store = new PostgresStateStore({ url: workerData.url, applicationName: 'other-admin' });
            parentPort.on('message', (change) => {
              try { parentPort.postMessage({ ok: store.commit(change) }); }
              catch (e) { parentPort.postMessage({ error: { code: e.code, details: e.details } }); }
            });
            parentPort.postMessage('open');
          });`;
        const worker = new Worker(code, {
          eval: true,
          workerData: { url, module: new URL('./postgres.js', import.meta.url).href },
        });
        return {
          opened: once(worker, 'message'),
          commit(
            change: StateChange,
          ): Promise<{ ok?: { id: number }; error?: { code: string; details: Record<string, unknown> } }> {
            worker.postMessage(change);
            return once(worker, 'message').then(([m]) => m);
          },
          close: () => worker.terminate(),
        };
      }

      /** Resolves once the other admin's session waits on an advisory lock (pg_locks: not granted). */
      async function waitingOnLock(sql: postgres.Sql): Promise<void> {
        const deadline = Date.now() + 10_000;
        for (;;) {
          const [row] = await sql`
            SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name = 'other-admin'`;
          if (row?.n === 1) return;
          if (Date.now() > deadline) assert.fail('the other admin never waited on the plugin lock');
          await new Promise((resolve) => setImmediate(resolve));
        }
      }

      it('a rollback waits for the lock of the write in progress, then fails its precondition instead of rolling back twice', async () => {
        const url = await freshDatabase();
        const store = new PostgresStateStore({ url });
        for (const version of ['1.0.0', '1.1.0', '1.2.0'])
          store.commit({ activate: { plugin: 'greeter', version }, audit: audit('activate') });
        const other = otherAdmin(url);
        const holder = postgres(url, { max: 2 });
        try {
          await other.opened;
          let answered = false;
          // Admin A's transaction: holds greeter's lock, then rolls 1.2.0 back as the store would.
          const result = await holder.begin(async (tx) => {
            await tx`SELECT pg_advisory_xact_lock(hashtextextended(${pluginLockKey('greeter')}, 0))`;
            const pending = other.commit({
              rollback: { plugin: 'greeter', from: '1.2.0' },
              audit: audit('rollback'),
            });
            void pending.then(() => {
              answered = true;
            });
            await waitingOnLock(holder);
            assert.equal(answered, false, 'the second rollback must wait for the lock');
            await tx`DELETE FROM plugbay.stable_history WHERE seq = (SELECT max(seq) FROM plugbay.stable_history WHERE plugin = 'greeter')`;
            // Wrapped: returning the promise itself would make the transaction wait for the rollback it blocks.
            return { pending };
          });
          const second = await result.pending;
          assert.equal(second.error?.code, 'PLUGBAY_INVALID_ARGUMENT');
          assert.equal(second.error?.details.rule, 'current-stable');
          assert.deepEqual(
            store.stableHistory('greeter').map((r) => r.version),
            ['1.0.0', '1.1.0'],
          );
        } finally {
          store.close();
          await other.close();
          await holder.end();
        }
      });

      it("an activate waits for the other writer, then lands on top of its change; another plugin's write does not wait", async () => {
        const url = await freshDatabase();
        const store = new PostgresStateStore({ url });
        store.commit({ activate: { plugin: 'greeter', version: '1.0.0' }, audit: audit('activate') });
        const other = otherAdmin(url);
        const holder = postgres(url, { max: 2 });
        try {
          await other.opened;
          const pending = await holder.begin(async (tx) => {
            await tx`SELECT pg_advisory_xact_lock(hashtextextended(${pluginLockKey('greeter')}, 0))`;
            // Not the same plugin: answered while greeter's lock is held.
            const echo = await other.commit({
              activate: { plugin: 'echo', version: '9.0.0' },
              audit: audit('activate', 'echo'),
            });
            assert.ok(echo.ok !== undefined);
            const activate = other.commit({
              activate: { plugin: 'greeter', version: '3.0.0' },
              audit: audit('activate'),
            });
            await waitingOnLock(holder);
            await tx`INSERT INTO plugbay.stable_history (plugin, version, time) VALUES ('greeter', '2.0.0', now())`;
            return { activate };
          });
          const landed = await pending.activate;
          assert.ok(landed.ok !== undefined, JSON.stringify(landed));
          assert.deepEqual(
            store.stableHistory('greeter').map((r) => r.version),
            ['1.0.0', '2.0.0', '3.0.0'],
          );
        } finally {
          store.close();
          await other.close();
          await holder.end();
        }
      });
    });
  });
}
