// A real PostgreSQL for tests: Debian's server binaries, a cluster made by initdb in a temp directory, listening on
// a free loopback port (and a unix socket in the same directory), fsync off for speed. initdb refuses to run as
// root, so under root (CI) the server runs as `nobody` through setpriv; otherwise as the current user.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';

/** The newest installed server's bin directory (Debian: /usr/lib/postgresql/<major>/bin), or undefined. */
export async function postgresBinDir(): Promise<string | undefined> {
  const root = '/usr/lib/postgresql';
  const majors = await readdir(root).catch(() => [] as string[]);
  const newest = majors
    .filter((m) => /^\d+$/.test(m))
    .sort((a, b) => Number(b) - Number(a))
    .at(0);
  return newest === undefined ? undefined : join(root, newest, 'bin');
}

/** Why PostgreSQL tests cannot run here (for `{ skip }`), or undefined when they can. */
export async function postgresSkipReason(): Promise<string | undefined> {
  const bin = await postgresBinDir();
  return bin === undefined
    ? 'PostgreSQL server binaries are not installed (Debian package postgresql; scripts/setup.sh installs it)'
    : undefined;
}

export interface TestPostgres {
  /** `postgres://plugbay@127.0.0.1:<port>/<database>` (trust authentication on loopback). */
  url(database?: string): string;
  readonly port: number;
  /** A fresh, empty database; returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server (fast shutdown: open sessions are ended); the data directory stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops the server and removes its directory. Idempotent. */
  close(): Promise<void>;
}

const USER = 'plugbay';

/** Starts a throw-away PostgreSQL server. Callers skip with postgresSkipReason() when the binaries are absent. */
export async function startTestPostgres(): Promise<TestPostgres> {
  const bin = await postgresBinDir();
  if (bin === undefined) throw new Error((await postgresSkipReason()) ?? 'no PostgreSQL');
  const dir = await mkdtemp(join(tmpdir(), 'plugbay-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  // Under root the directory goes to nobody, who runs every server binary; setpriv keeps the environment.
  if (asRoot) await chown(dir, 65534, 65534);
  const command = (file: string, args: string[]): [string, string[]] =>
    asRoot
      ? [
          'setpriv',
          [
            '--reuid=65534',
            '--regid=65534',
            '--clear-groups',
            '--pdeathsig=SIGKILL',
            join(bin, file),
            ...args,
          ],
        ]
      : [join(bin, file), args];

  await run(...command('initdb', ['-D', data, '-U', USER, '--auth=trust', '-E', 'UTF8', '--no-sync']), dir);
  const port = await freePort();
  let server: ChildProcess | undefined;

  const start = async () => {
    const [file, args] = command('postgres', [
      '-D',
      data,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `unix_socket_directories=${dir}`,
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=60',
    ]);
    const child = spawn(file, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    server = child;
    let log = '';
    // Ready when the server says so on stderr (its log), not after a guessed delay.
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes('database system is ready to accept connections')) {
          child.stderr?.off('data', onData);
          child.stderr?.resume();
          resolve();
        }
      };
      child.stderr?.on('data', onData);
      child.once('exit', (code) =>
        reject(new Error(`postgres exited with ${code} before it was ready:\n${log}`)),
      );
    });
  };

  const stop = async () => {
    const child = server;
    server = undefined;
    if (child === undefined || child.exitCode !== null) return;
    const exited = once(child, 'exit');
    // SIGINT is PostgreSQL's fast shutdown: sessions are ended, the cluster is left consistent.
    child.kill('SIGINT');
    await exited;
  };

  await start().catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });

  const url = (database = 'postgres') => `postgres://${USER}@127.0.0.1:${port}/${database}`;
  let closed = false;
  let admin: postgres.Sql | undefined;
  return {
    url,
    port,
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      admin ??= postgres(url(), { max: 1, onnotice: () => {} });
      await admin.unsafe(`CREATE DATABASE ${name}`);
      return url(name);
    },
    stop,
    start,
    async close() {
      if (closed) return;
      closed = true;
      await admin?.end({ timeout: 1 });
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function run(file: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${file} ${args.join(' ')} exited with ${code}:\n${out}`)),
    );
  });
}

/** A loopback port nothing listens on now (the kernel picks it; the server binds it right after). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  probe.close();
  await once(probe, 'close');
  return port;
}
