/**
 * What keeps web pages out of the gateway: a page open in an operator's browser can send requests to any address
 * that browser reaches, loopback included. Two checks, both before the body is read:
 *
 * - Cross-site requests (CSRF). A request that may change something (any method but GET, HEAD and OPTIONS;
 *   `POST /v1/call` included) is refused when the browser says it comes from another site: `Sec-Fetch-Site` other
 *   than `same-origin`/`none`, or else an `Origin` whose host and port are not the `Host` the request was sent to.
 *   An allow-listed origin always passes. No `Origin` and no `Sec-Fetch-Site` is not a browser (curl, the CLI,
 *   services) and passes. This is the algorithm of Go's `net/http.CrossOriginProtection`.
 * - DNS rebinding. A page at `http://evil.example:7070` whose name is re-pointed at 127.0.0.1 is same-origin for the
 *   browser, so the first check passes it; but its requests carry `Host: evil.example:7070`. So `Host` must be an
 *   IP address, `localhost`, the listen address, or an allowed name, whatever address the gateway listens on (a
 *   wildcard or LAN address is reachable by a rebound page too). An IP address is never a rebinding: a page whose
 *   origin is an IP is served by that IP. A gateway reached by a DNS name needs that name in `allowHosts`.
 */

import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { PlugbayError } from '../core/errors.js';

/** Methods that never change anything: not subject to the cross-site check. */
const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface OriginPolicyOptions {
  /** The address the gateway listens on (a name in it is an allowed `Host`). */
  listenHostname: string;
  /** Origins (`scheme://host[:port]`, normalised by `originOf`) whose pages may send any request. */
  allowOrigins: readonly string[];
  /** Extra `Host` names (lower case, no port). */
  allowHosts: readonly string[];
}

export interface OriginPolicy {
  /** The refusal for this request, or undefined when it may go on. */
  check(method: string, headers: IncomingHttpHeaders): PlugbayError | undefined;
}

export function createOriginPolicy(options: OriginPolicyOptions): OriginPolicy {
  const listen = bare(options.listenHostname.toLowerCase());
  const hosts = new Set(['localhost', listen, ...options.allowHosts]);
  const origins = new Set(options.allowOrigins);
  // The verdict on each `Host` value seen lately: clients send the same one on every request, and the checks
  // below (lower-casing, port, IP parsing) cost about a microsecond. Bounded: emptied when full.
  const hostVerdicts = new Map<string, boolean>();
  const hostAllowed = (host: string) => {
    const name = hostnameOf(host).replace(/\.$/, ''); // `localhost.` is localhost
    return isIP(bare(name)) !== 0 || hosts.has(name);
  };
  return {
    check(method, headers) {
      const raw = headers.host;
      // No Host at all is HTTP/1.0 without one: not a browser.
      if (raw !== undefined) {
        let allowed = hostVerdicts.get(raw);
        if (allowed === undefined) {
          allowed = hostAllowed(raw.toLowerCase());
          if (hostVerdicts.size >= 64) hostVerdicts.clear();
          hostVerdicts.set(raw, allowed);
        }
        if (!allowed) {
          return refused(
            'host',
            raw.toLowerCase(),
            'an IP address, localhost, the listen address or an --allow-host name',
          );
        }
      }
      if (safeMethods.has(method)) return undefined;
      const origin = headers.origin;
      if (origin !== undefined && origins.has(originOf(origin) ?? '')) return undefined;
      // Set by the browser, never by page scripts: the most reliable signal where it exists.
      const site = headers['sec-fetch-site'];
      if (site !== undefined) {
        if (site === 'same-origin' || site === 'none') return undefined;
        return refused('sec-fetch-site', site, 'same-origin or none, unless the Origin is allowed');
      }
      if (origin === undefined) return undefined;
      if (raw !== undefined && hostOfOrigin(origin) === raw.toLowerCase()) return undefined;
      return refused('origin', origin, "the gateway's own origin (its Host) or an --allow-origin origin");
    },
  };
}

/** `scheme://host[:port]` as browsers send it in `Origin` (default port left out), or undefined if not one. */
export function originOf(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  // Only an origin: no user, path, query or fragment (a trailing slash is tolerated).
  if (
    url.username !== '' ||
    url.password !== '' ||
    url.pathname !== '/' ||
    url.search !== '' ||
    url.hash !== ''
  )
    return undefined;
  if (!/^[a-z]+:\/\/[^/]+\/?$/i.test(text)) return undefined;
  return url.origin;
}

/** A `Host` name for `allowHosts`: letters, digits, dots, dashes, underscores; no port. */
export function isHostName(text: string): boolean {
  return /^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$/i.test(text);
}

function refused(header: string, value: string, rule: string): PlugbayError {
  return new PlugbayError(
    'PLUGBAY_FORBIDDEN_ORIGIN',
    `refused: ${header} "${value}" is not allowed (expected ${rule})`,
    { details: { header, value, rule } },
  );
}

/** `example.com:7070` → `example.com`, `[::1]:7070` → `[::1]`. */
function hostnameOf(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

function hostOfOrigin(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined; // `Origin: null` (sandboxed frames, file:, cross-site redirects)
  }
}

function bare(name: string): string {
  return name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
}
