/**
 * The admin API's bearer token (RFC 6750): when the gateway has one, every admin route asks for
 * `authorization: Bearer <token>` and answers 401 PLUGBAY_UNAUTHORIZED without it. And the rule that makes it
 * mandatory: a gateway listening beyond loopback has a token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { onRequestHookHandler } from 'fastify';
import { PlugbayError } from '../core/errors.js';
import { httpErrorOf } from './errors.js';

/** The shortest admin token accepted: 16 characters of a random token are far past any online guessing. */
export const minAdminTokenLength = 16;

/** The rule an admin token must follow, or undefined when `token` follows it. */
export function adminTokenProblem(token: unknown): string | undefined {
  // Printable ASCII without spaces: what a header carries unchanged and a shell or file holds without quoting.
  const rule = `at least ${minAdminTokenLength} printable ASCII characters without spaces`;
  return typeof token === 'string' && new RegExp(`^[\\x21-\\x7e]{${minAdminTokenLength},}$`).test(token)
    ? undefined
    : rule;
}

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/**
 * True for an address only this machine reaches: 127.0.0.0/8, ::1, `localhost`. Wildcards (0.0.0.0, ::), other
 * addresses and other host names are beyond loopback.
 */
export function isLoopback(hostname: string): boolean {
  if (hostname.toLowerCase() === 'localhost') return true;
  const family = isIP(hostname);
  return family !== 0 && loopback.check(hostname, family === 4 ? 'ipv4' : 'ipv6');
}

/** The header a client sends the token in, and the challenge a refusal carries. */
export const adminAuthHeaders = {
  authorization: 'authorization',
  challenge: 'Bearer realm="plugbay admin API"',
} as const;

/** An onRequest hook that lets a request through only with `authorization: Bearer <token>`. */
export function requireAdminToken(token: string): onRequestHookHandler {
  const expected = digest(token);
  return (request, reply, done) => {
    const header = request.headers.authorization;
    const given = typeof header === 'string' ? /^Bearer +(\S+) *$/i.exec(header)?.[1] : undefined;
    // Compared as SHA-256 digests: timingSafeEqual needs equal lengths, and the time taken tells nothing of
    // the token, not even its length.
    if (given !== undefined && timingSafeEqual(digest(given), expected)) return done();
    const rule = 'Bearer <the admin token>';
    const err = new PlugbayError(
      'PLUGBAY_UNAUTHORIZED',
      `the admin API needs the header "authorization: ${rule}" (the token of plugbay serve --admin-token or --admin-token-file)`,
      { details: { in: 'headers', field: adminAuthHeaders.authorization, rule } },
    );
    const mapped = httpErrorOf(err);
    reply
      .code(mapped.status)
      .header('www-authenticate', adminAuthHeaders.challenge)
      .type('application/json; charset=utf-8')
      .send(mapped.body);
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
