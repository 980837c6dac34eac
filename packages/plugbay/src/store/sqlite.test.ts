import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stateStoreContract } from './contract.test.shared.js';
import { SqliteStateStore, STATE_SCHEMA_VERSION } from './sqlite.js';

// A second, raw connection, as another process or tool would hold one.
interface RawDb {
  exec(sql: string): void;
  pragma(sql: string, options?: { simple?: boolean }): unknown;
  close(): void;
}
const RawDatabase = createRequire(import.meta.url)('better-sqlite3') as new (
  file: string,
  options?: { timeout?: number },
) => RawDb;

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'plugbay-state-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

let n = 0;
/** A path in a directory that does not exist yet (the store must create it). */
const freshFile = () => join(root, `case-${++n}`, '.plugbay', 'state.db');

stateStoreContract('SqliteStateStore', async (now) => {
  const file = freshFile();
  return {
    store: new SqliteStateStore({ file, now }),
    cleanup: () => rm(join(file, '..', '..'), { recursive: true, force: true }),
  };
});

function openError(options: ConstructorParameters<typeof SqliteStateStore>[0]) {
  try {
    new SqliteStateStore(options).close();
  } catch (err) {
    return err as { code: string; message: string; details: Record<string, unknown> };
  }
  assert.fail(`expected opening ${options.file} to fail`);
}

const audit = { actor: 'test', action: 'route', plugin: 'greeter' };

describe('SqliteStateStore', () => {
  it('creates the missing .plugbay directory, uses WAL and records the schema version', async () => {
    const file = freshFile();
    new SqliteStateStore({ file }).close();
    assert.ok((await stat(file)).isFile());
    const raw = new RawDatabase(file);
    try {
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(raw.pragma('user_version', { simple: true }), STATE_SCHEMA_VERSION);
    } finally {
      raw.close();
    }
  });

  it('survives a reopen: routes, stable history, grants and the audit log are kept, ids go on', () => {
    const file = freshFile();
    const first = new SqliteStateStore({ file });
    first.commit({
      route: { plugin: 'greeter', route: { stable: '1.0.0', canary: { version: '1.1.0', percent: 10 } } },
      activate: { plugin: 'greeter', version: '1.0.0' },
      audit: { ...audit, action: 'activate', version: '1.0.0', reason: 'manual', details: { by: 'cli' } },
    });
    first.commit({
      activate: { plugin: 'greeter', version: '1.1.0' },
      audit: { ...audit, action: 'activate' },
    });
    first.commit({
      grant: { plugin: 'greeter', capability: 'env:HOME' },
      audit: { ...audit, action: 'grant' },
    });
    const entries = first.audit();
    const grants = first.grants();
    first.close();

    const second = new SqliteStateStore({ file });
    try {
      assert.deepEqual(second.route('greeter'), {
        stable: '1.0.0',
        canary: { version: '1.1.0', percent: 10 },
      });
      assert.deepEqual(
        second.stableHistory('greeter').map((r) => r.version),
        ['1.0.0', '1.1.0'],
      );
      assert.deepEqual(second.audit(), entries);
      assert.deepEqual(second.grants(), grants);
      const next = second.record(audit);
      assert.ok(next.id > entries[0]!.id);
      second.commit({
        rollback: { plugin: 'greeter', from: '1.1.0' },
        audit: { ...audit, action: 'rollback' },
      });
      assert.equal(second.stable('greeter'), '1.0.0');
    } finally {
      second.close();
    }
  });

  it('a file of garbage is PLUGBAY_STATE_UNAVAILABLE (corrupt), naming the file, and is left as it was', async () => {
    const file = freshFile();
    await mkdir(join(file, '..'), { recursive: true });
    const garbage = Buffer.from('this is not a database, it is garbage '.repeat(200));
    await writeFile(file, garbage);
    const err = openError({ file });
    assert.equal(err.code, 'PLUGBAY_STATE_UNAVAILABLE');
    assert.equal(err.details.problem, 'corrupt');
    assert.equal(err.details.file, file);
    assert.ok(err.message.includes(file));
    assert.deepEqual(await readFile(file), garbage, 'never reset');
  });

  it('a database with damaged pages is PLUGBAY_STATE_UNAVAILABLE (corrupt)', async () => {
    const file = freshFile();
    const store = new SqliteStateStore({ file });
    for (let i = 0; i < 50; i++) store.record({ ...audit, reason: 'x'.repeat(500) });
    store.close();
    const bytes = await readFile(file);
    const pageSize = bytes.readUInt16BE(16);
    assert.ok(bytes.length >= pageSize * 4, `file has ${bytes.length} bytes`);
    // Keep page 1 (header and schema) and scribble over the b-tree pages after it.
    bytes.fill(0xa5, pageSize, bytes.length);
    await writeFile(file, bytes);
    const err = openError({ file });
    assert.equal(err.code, 'PLUGBAY_STATE_UNAVAILABLE');
    assert.equal(err.details.problem, 'corrupt');
  });

  it('a file locked by another connection (BEGIN EXCLUSIVE) is PLUGBAY_STATE_UNAVAILABLE (locked); it opens once released', () => {
    for (const existing of [false, true]) {
      const file = freshFile();
      if (existing) {
        new SqliteStateStore({ file }).close();
      } else {
        // A database some other tool made, still in rollback-journal mode.
        mkdirSync(join(file, '..'), { recursive: true });
        const plain = new RawDatabase(file);
        plain.exec('CREATE TABLE other (x INTEGER)');
        plain.close();
      }
      const other = new RawDatabase(file, { timeout: 0 });
      other.exec('BEGIN EXCLUSIVE');
      try {
        const err = openError({ file, busyTimeoutMs: 20 });
        assert.equal(err.code, 'PLUGBAY_STATE_UNAVAILABLE');
        assert.equal(err.details.problem, 'locked');
        assert.equal(err.details.file, file);
      } finally {
        other.exec('ROLLBACK');
        other.close();
      }
      const store = new SqliteStateStore({ file, busyTimeoutMs: 20 });
      store.record(audit);
      store.close();
    }
  });

  it('holds its lock: a second store on the same file fails at open instead of sharing it', () => {
    const file = freshFile();
    const first = new SqliteStateStore({ file });
    try {
      const err = openError({ file, busyTimeoutMs: 20 });
      assert.equal(err.code, 'PLUGBAY_STATE_UNAVAILABLE');
      assert.equal(err.details.problem, 'locked');
      first.record(audit);
    } finally {
      first.close();
    }
  });

  it('another process holding the store (a second gateway) makes open fail with locked', async () => {
    const file = freshFile();
    const storeUrl = new URL('./sqlite.js', import.meta.url).href;
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { SqliteStateStore } = await import(${JSON.stringify(storeUrl)});
         const store = new SqliteStateStore({ file: ${JSON.stringify(file)} });
         process.stdout.write('ready\\n');
         process.stdin.on('end', () => { store.close(); process.exit(0); });
         process.stdin.resume();`,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const exited = once(child, 'exit');
    try {
      const [line] = (await once(child.stdout!, 'data')) as [Buffer];
      assert.equal(line.toString().trim(), 'ready');
      const err = openError({ file, busyTimeoutMs: 20 });
      assert.equal(err.code, 'PLUGBAY_STATE_UNAVAILABLE');
      assert.equal(err.details.problem, 'locked');
    } finally {
      child.stdin!.end();
    }
    assert.deepEqual(await exited, [0, null]);
    new SqliteStateStore({ file }).close();
  });

  it('a file from a newer schema is refused, not downgraded', () => {
    const file = freshFile();
    new SqliteStateStore({ file }).close();
    const raw = new RawDatabase(file);
    raw.pragma(`user_version = ${STATE_SCHEMA_VERSION + 1}`);
    raw.close();
    const err = openError({ file });
    assert.equal(err.code, 'PLUGBAY_STATE_UNAVAILABLE');
    assert.equal(err.details.problem, 'newer-schema');
    const check = new RawDatabase(file);
    assert.equal(check.pragma('user_version', { simple: true }), STATE_SCHEMA_VERSION + 1);
    check.close();
  });

  it('a path it cannot open (a directory) is PLUGBAY_STATE_UNAVAILABLE (unreadable)', async () => {
    const dir = join(root, `dir-${++n}`);
    await mkdir(dir, { recursive: true });
    const err = openError({ file: dir });
    assert.equal(err.code, 'PLUGBAY_STATE_UNAVAILABLE');
    assert.equal(err.details.problem, 'unreadable');
  });

  it('a write that SQLite aborts half-way leaves nothing behind', () => {
    const file = freshFile();
    const store = new SqliteStateStore({ file });
    store.commit({ route: { plugin: 'greeter', route: { stable: '1.0.0' } }, audit });
    store.close();
    // A trigger fails the audit insert, the last statement of the transaction, after the route and history writes.
    const raw = new RawDatabase(file);
    raw.exec(`CREATE TRIGGER refuse BEFORE INSERT ON audit WHEN NEW.reason = 'refuse'
              BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END`);
    raw.close();
    const reopened = new SqliteStateStore({ file });
    try {
      const beforeAudit = reopened.audit();
      assert.throws(
        () =>
          reopened.commit({
            route: { plugin: 'greeter', route: { stable: '2.0.0' } },
            activate: { plugin: 'greeter', version: '2.0.0' },
            audit: { ...audit, reason: 'refuse' },
          }),
        (err: { code?: string; details?: { sqliteCode?: string } }) =>
          err.code === 'PLUGBAY_STATE_UNAVAILABLE' && err.details?.sqliteCode === 'SQLITE_CONSTRAINT_TRIGGER',
      );
      assert.deepEqual(reopened.route('greeter'), { stable: '1.0.0' });
      assert.deepEqual(reopened.stableHistory('greeter'), []);
      assert.deepEqual(reopened.audit(), beforeAudit);
    } finally {
      reopened.close();
    }
  });

  it('checks its options at once, naming the option', () => {
    const cases: [unknown, string][] = [
      [{}, 'options.file'],
      [{ file: '' }, 'options.file'],
      [{ file: ':memory:' }, 'options.file'],
      [{ file: freshFile(), busyTimeoutMs: -1 }, 'options.busyTimeoutMs'],
      [{ file: freshFile(), exclusive: 'yes' }, 'options.exclusive'],
      [{ file: freshFile(), now: 5 }, 'options.now'],
    ];
    for (const [options, field] of cases) {
      const err = openError(options as ConstructorParameters<typeof SqliteStateStore>[0]);
      assert.equal(err.code, 'PLUGBAY_INVALID_ARGUMENT', JSON.stringify(options));
      assert.ok(err.message.includes(`${field} `), err.message);
    }
    const all = openError({ file: ':memory:', busyTimeoutMs: -1, exclusive: 'no' as never });
    assert.equal((all.details.problems as string[]).length, 3, 'every broken option at once');
  });
});
