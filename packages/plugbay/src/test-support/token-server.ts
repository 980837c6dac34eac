// A registry token server for tests (the Docker token protocol distribution's `auth: token` speaks): GET
// /token?service=…&scope=repository:<name>:<actions> with Basic credentials answers a JWT (ES256, the signing
// certificate in its x5c header) granting the asked actions. The certificate comes from openssl; the registry gets
// it as its rootcertbundle.
import { execFile } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface TokenServer {
  /** The realm the registry sends clients to. */
  readonly realm: string;
  /** The PEM certificate file the registry verifies tokens with. */
  readonly certificate: string;
  readonly service: string;
  readonly issuer: string;
  /** Token requests answered (with a token or a 401). */
  readonly requests: { scope: string | null; user: string | undefined }[];
  close(): Promise<void>;
}

export async function startTokenServer(dir: string, users: Record<string, string>): Promise<TokenServer> {
  const keyPath = join(dir, 'token.key');
  const certificate = join(dir, 'token.crt');
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    keyPath,
    '-out',
    certificate,
    '-days',
    '1',
    '-subj',
    '/CN=plugbay-test-token',
  ]);
  const key = createPrivateKey(await readFile(keyPath));
  const der = new X509Certificate(await readFile(certificate)).raw.toString('base64');
  const service = 'plugbay-test-registry';
  const issuer = 'plugbay-test-issuer';
  const requests: TokenServer['requests'] = [];
  const b64url = (value: Buffer | string) => Buffer.from(value).toString('base64url');

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    const [user, password] = basic ? Buffer.from(basic[1]!, 'base64').toString('utf8').split(':') : [];
    const scope = url.searchParams.get('scope');
    requests.push({ scope, user });
    if (user === undefined || users[user] !== password) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
      return;
    }
    // scope: repository:<name>:<action,action>; granted as asked.
    const access = [];
    const m = /^repository:([^:]+):(.+)$/.exec(scope ?? '');
    if (m) access.push({ type: 'repository', name: m[1], actions: m[2]!.split(',') });
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: [der] }));
    const claims = b64url(
      JSON.stringify({
        iss: issuer,
        sub: user,
        aud: service,
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: randomBytes(8).toString('hex'),
        access,
      }),
    );
    const signature = sign('sha256', Buffer.from(`${header}.${claims}`), { key, dsaEncoding: 'ieee-p1363' });
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ token: `${header}.${claims}.${b64url(signature)}` }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    certificate,
    service,
    issuer,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
