/**
 * The few calls of the OCI distribution API plugbay needs, over `fetch`: blob HEAD/GET, monolithic upload (POST,
 * then PUT `?digest=`), manifest GET/PUT. Auth follows the registry's `WWW-Authenticate` challenge: `Basic` with the
 * given credentials, or `Bearer` (a token from the challenge's realm, asked with those credentials when there are
 * some); the answer is reused until a 401 asks again. HTTPS always, except `insecure` on a loopback registry.
 * Every failure is PLUGBAY_REGISTRY_FAILED with the status, the rule and the registry's own error code.
 */
import { PlugbayError } from '../../core/errors.js';
import { isLoopbackRegistry } from './reference.js';

export interface RegistryCredentials {
  readonly username: string;
  readonly password: string;
}

export interface RegistryClientOptions {
  /** Plain HTTP; refused unless the registry is on loopback. Default false. */
  insecure?: boolean;
  credentials?: RegistryCredentials;
  signal?: AbortSignal;
}

/** What a registry answered, with the body read whole (manifests and plugin blobs are bounded by the caller). */
export interface RegistryResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
}

export interface RegistryClient {
  readonly registry: string;
  /** `path` below the registry root (e.g. `/v2/<repo>/blobs/<digest>`), or an absolute URL from a Location. */
  request(
    method: string,
    path: string,
    init?: { headers?: Record<string, string>; body?: Buffer; ok?: readonly number[] },
  ): Promise<RegistryResponse>;
  /** The absolute URL of a path or Location header value. */
  resolve(location: string): URL;
}

export function registryFailed(
  message: string,
  details: { rule: string; status?: number; registryCode?: string; [key: string]: unknown },
  cause?: unknown,
): PlugbayError {
  return new PlugbayError('PLUGBAY_REGISTRY_FAILED', message, {
    details,
    // A registry that did not answer, or answered 5xx/429, may answer next time.
    retryable:
      details.rule === 'unreachable' ||
      (details.status !== undefined && (details.status >= 500 || details.status === 429)),
    ...(cause === undefined ? {} : { cause }),
  });
}

export function createRegistryClient(registry: string, options: RegistryClientOptions = {}): RegistryClient {
  if (options.insecure && !isLoopbackRegistry(registry)) {
    throw new PlugbayError(
      'PLUGBAY_INVALID_ARGUMENT',
      `--insecure (plain HTTP) is allowed only for a registry on loopback, not ${registry}`,
      { details: { option: 'insecure', rule: 'loopback-only', registry } },
    );
  }
  const base = new URL(`${options.insecure ? 'http' : 'https'}://${registry}/`);
  let authorization: string | undefined;

  const resolve = (location: string) => new URL(location, base);

  async function send(method: string, url: URL, headers: Record<string, string>, body?: Buffer) {
    try {
      return await fetch(url, {
        method,
        headers: authorization === undefined ? headers : { ...headers, authorization },
        ...(body === undefined ? {} : { body }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    } catch (err) {
      throw registryFailed(
        `${method} ${url.href}: the registry did not answer: ${(err as Error).message}`,
        { rule: 'unreachable', registry },
        err,
      );
    }
  }

  async function authenticate(challenge: string | null, url: URL): Promise<boolean> {
    const parsed = parseChallenge(challenge ?? '');
    if (parsed === undefined) return false;
    const creds = options.credentials;
    if (parsed.scheme === 'basic') {
      if (creds === undefined) return false;
      authorization = basic(creds);
      return true;
    }
    const realm = parsed.params.realm;
    if (realm === undefined) return false;
    const tokenUrl = new URL(realm);
    if (tokenUrl.protocol !== 'https:' && !(options.insecure && isLoopbackRegistry(tokenUrl.host))) {
      throw registryFailed(`the token realm ${realm} is not HTTPS`, {
        rule: 'token-realm-insecure',
        registry,
      });
    }
    if (parsed.params.service !== undefined) tokenUrl.searchParams.set('service', parsed.params.service);
    if (parsed.params.scope !== undefined) tokenUrl.searchParams.set('scope', parsed.params.scope);
    const response = await fetch(tokenUrl, {
      headers: creds === undefined ? {} : { authorization: basic(creds) },
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    }).catch((err: Error) => {
      throw registryFailed(
        `token endpoint ${tokenUrl.origin}: ${err.message}`,
        { rule: 'unreachable', registry },
        err,
      );
    });
    if (!response.ok) {
      throw registryFailed(`the token endpoint for ${url.pathname} answered ${response.status}`, {
        rule: 'token-refused',
        status: response.status,
        registry,
      });
    }
    const answer = (await response.json().catch(() => ({}))) as { token?: unknown; access_token?: unknown };
    const token = typeof answer.token === 'string' ? answer.token : answer.access_token;
    if (typeof token !== 'string' || token === '') {
      throw registryFailed('the token endpoint answered without a token', {
        rule: 'token-refused',
        registry,
      });
    }
    authorization = `Bearer ${token}`;
    return true;
  }

  return {
    registry,
    resolve,
    async request(method, path, init = {}) {
      const url = resolve(path);
      const headers = init.headers ?? {};
      let response = await send(method, url, headers, init.body);
      if (response.status === 401) {
        await response.body?.cancel();
        if (await authenticate(response.headers.get('www-authenticate'), url)) {
          response = await send(method, url, headers, init.body);
        }
      }
      const body = Buffer.from(await response.arrayBuffer());
      const ok = init.ok ?? [200];
      if (!ok.includes(response.status)) {
        const registryCode = firstErrorCode(body);
        throw registryFailed(
          `${method} ${url.pathname}: the registry answered ${response.status}${registryCode === undefined ? '' : ` ${registryCode}`}`,
          {
            rule: response.status === 401 || response.status === 403 ? 'unauthorized' : 'refused',
            status: response.status,
            ...(registryCode === undefined ? {} : { registryCode }),
            registry,
            path: url.pathname,
          },
        );
      }
      return { status: response.status, headers: response.headers, body };
    },
  };
}

function basic(creds: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64')}`;
}

/** `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"` → scheme and parameters. */
export function parseChallenge(
  header: string,
): { scheme: 'basic' | 'bearer'; params: Record<string, string> } | undefined {
  const match = /^\s*(basic|bearer)\b(.*)$/i.exec(header);
  if (match === null) return undefined;
  const params: Record<string, string> = {};
  for (const m of match[2]!.matchAll(/([A-Za-z_]+)="([^"]*)"/g)) params[m[1]!.toLowerCase()] = m[2]!;
  return { scheme: match[1]!.toLowerCase() as 'basic' | 'bearer', params };
}

/** The first `errors[].code` of a distribution error body (`MANIFEST_UNKNOWN`, `BLOB_UNKNOWN`, …). */
function firstErrorCode(body: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { errors?: { code?: unknown }[] };
    const code = parsed.errors?.[0]?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}
