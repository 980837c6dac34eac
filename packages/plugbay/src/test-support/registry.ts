// A real OCI registry for tests: Debian's docker-registry (the CNCF distribution server, v2.8), run directly on a
// port the kernel picks on loopback, its storage in a temp dir, stopped after the test.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { cleanup } from './cleanup.js';
import { startTokenServer, type TokenServer } from './token-server.js';

export const registryBinary = '/usr/bin/docker-registry';
export const registryAvailable = existsSync(registryBinary);

export interface TestRegistry {
  /** `127.0.0.1:<port>`: what goes after oci:// */
  readonly host: string;
  /** The storage root: blobs are under docker/registry/v2/blobs/sha256/<2 hex>/<hex>/data. */
  readonly storage: string;
  /** What the token server was asked (auth: 'token'), in order. */
  readonly tokenRequests: readonly { scope: string | null; user: string | undefined }[];
  /** The file that holds a blob's bytes. */
  blobPath(digest: string): string;
  stop(): Promise<void>;
}

/**
 * Starts a registry and waits until it listens (its "listening on" log line carries the port it got). With
 * `users`, it asks for HTTP basic auth against an htpasswd file of bcrypt entries (made by apache2-utils'
 * htpasswd, the only hash distribution accepts); with `auth: 'token'` too, it sends clients to a token server
 * (test-support/token-server.ts) that checks those users and signs the registry's bearer tokens.
 */
export async function startRegistry(
  /** A test's context (the registry stops after it), or undefined: the caller stops it (bench). */
  t: Pick<TestContext, 'after'> | undefined,
  options: { users?: Record<string, string>; auth?: 'basic' | 'token'; storage?: string } = {},
): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'plugbay-registry-'));
  const storage = options.storage ?? join(dir, 'storage');
  let auth = '';
  let tokens: TokenServer | undefined;
  if (options.users !== undefined && options.auth === 'token') {
    tokens = await startTokenServer(dir, options.users);
    auth = `auth:\n  token:\n    realm: ${tokens.realm}\n    service: ${tokens.service}\n    issuer: ${tokens.issuer}\n    rootcertbundle: ${tokens.certificate}\n`;
  } else if (options.users !== undefined) {
    const htpasswd = join(dir, 'htpasswd');
    const lines: string[] = [];
    for (const [user, password] of Object.entries(options.users)) {
      const { stdout } = await promisify(execFile)('htpasswd', ['-nbB', user, password]);
      lines.push(stdout.trim());
    }
    await writeFile(htpasswd, `${lines.join('\n')}\n`);
    auth = `auth:\n  htpasswd:\n    realm: plugbay-test\n    path: ${htpasswd}\n`;
  }
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    `version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: ${storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:0
  secret: plugbay-test
${auth}`,
  );
  const child = spawn(registryBinary, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let log = '';
  const host = await new Promise<string>((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      log += chunk;
      const m = /listening on (127\.0\.0\.1:\d+)/.exec(log);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) =>
      reject(new Error(`docker-registry exited ${code} before listening:\n${log}`)),
    );
  });
  child.stderr.resume();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    child.kill('SIGTERM');
    await exited;
    await tokens?.close();
    await rm(dir, { recursive: true, force: true });
  };
  if (t !== undefined) cleanup(t, stop);
  return {
    host,
    storage,
    tokenRequests: tokens?.requests ?? [],
    blobPath: (digest) => {
      const hex = digest.replace(/^sha256:/, '');
      return join(storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    },
    stop,
  };
}
