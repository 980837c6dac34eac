/**
 * The `extism:host/env` functions the host implements in JavaScript (the rest come from the kernel module):
 * config_get, var_get/var_set, log_*, get_log_level and http_request. They read and write the kernel memory.
 */

import { hostFunctionFault } from './errors.js';
import type { SyncHttp } from './sync-http.js';
import type { SleepBudget } from './wasi/poll.js';

/** Extism's log levels as get_log_level reports them. */
export const extismLogLevels = { trace: 0, debug: 1, info: 2, warn: 3, error: 4 } as const;
export type ExtismLogLevel = keyof typeof extismLogLevels;

/** What host functions need from the kernel. */
export interface KernelAccess {
  /** The kernel memory, current after any growth. */
  bytes(): Buffer;
  length(handle: number): number;
  alloc(n: number): number;
}

export interface HostEnvOptions {
  config: Readonly<Record<string, string>>;
  /** Shared across re-instantiations: vars outlive a crashed sandbox like they outlive a call. */
  vars: Map<string, Uint8Array>;
  maxVarBytes: number;
  /** Lowest level passed on (get_log_level reports it). */
  logLevel: ExtismLogLevel;
  log(level: ExtismLogLevel, msg: string): void;
  /** Hosts (host or host:port) the plugin may reach; empty: none. */
  net: readonly string[];
  /** Makes the blocking HTTP client (only when a request to an allowed host happens). */
  http(): SyncHttp;
  /** Per-request timeout of http_request. */
  httpTimeoutMs: number;
  /** The metered mode's call deadline: a request waits no longer, and past it the call fails PLUGBAY_TIMEOUT. */
  callBudget?: SleepBudget;
}

const decoder = new TextDecoder();

export function createHostEnv(
  kernel: KernelAccess,
  o: HostEnvOptions,
): Record<string, (...args: never[]) => unknown> {
  const minLevel = extismLogLevels[o.logLevel];
  let varBytes = 0;
  let httpStatus = 0;
  let httpHeaders: Record<string, string> | undefined;
  for (const [k, v] of o.vars) varBytes += k.length + v.length;

  const handleOf = (h: bigint, what: string): number => {
    const n = h > 0xffffffffn ? 0 : Number(h);
    if (n === 0 || kernel.length(n) === 0) {
      throw hostFunctionFault('PLUGBAY_PLUGIN_ERROR', `invalid handle ${h} for ${what}`);
    }
    return n;
  };
  const read = (handle: number): Buffer => kernel.bytes().subarray(handle, handle + kernel.length(handle));
  const readString = (h: bigint, what: string): string => decoder.decode(read(handleOf(h, what)));
  const store = (value: Uint8Array): bigint => {
    const h = kernel.alloc(value.length);
    if (h === 0) return 0n;
    kernel.bytes().set(value, h);
    return BigInt(h);
  };
  const log = (level: ExtismLogLevel) => (h: bigint) => {
    if (extismLogLevels[level] < minLevel) return;
    o.log(level, readString(h, `log_${level}`));
  };

  return {
    config_get: (h: bigint): bigint => {
      const key = readString(h, 'config key');
      const value = Object.hasOwn(o.config, key) ? o.config[key] : undefined;
      return value === undefined ? 0n : store(Buffer.from(value, 'utf8'));
    },
    var_get: (h: bigint): bigint => {
      const value = o.vars.get(readString(h, 'var key'));
      return value === undefined ? 0n : store(value);
    },
    var_set: (k: bigint, v: bigint): void => {
      const key = readString(k, 'var key');
      const old = o.vars.get(key);
      if (v === 0n) {
        if (old !== undefined) varBytes -= key.length + old.length;
        o.vars.delete(key);
        return;
      }
      const value = Uint8Array.from(read(handleOf(v, 'var value')));
      const next = varBytes - (old === undefined ? 0 : key.length + old.length) + key.length + value.length;
      if (next > o.maxVarBytes) {
        throw hostFunctionFault('PLUGBAY_PLUGIN_ERROR', `variable store is full (${o.maxVarBytes} bytes)`);
      }
      varBytes = next;
      o.vars.set(key, value);
    },
    log_trace: log('trace'),
    log_debug: log('debug'),
    log_info: log('info'),
    log_warn: log('warn'),
    log_error: log('error'),
    get_log_level: (): number => minLevel,
    http_request: (req: bigint, body: bigint): bigint => {
      let request: { url: string; method?: string; headers?: Record<string, string> };
      let url: URL;
      try {
        request = JSON.parse(readString(req, 'http request')) as typeof request;
        url = new URL(request.url);
      } catch (err) {
        throw hostFunctionFault(
          'PLUGBAY_PLUGIN_ERROR',
          `http_request: bad request: ${(err as Error).message}`,
        );
      }
      if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !hostAllowed(url, o.net)) {
        throw hostFunctionFault(
          'PLUGBAY_PERMISSION_DENIED',
          `http_request to ${url.host || url.href} denied: the host is not in the plugin's permissions.net`,
          { permission: 'net', host: url.host },
        );
      }
      const budget = o.callBudget;
      const left = budget === undefined ? o.httpTimeoutMs : Math.ceil(budget.msLeft());
      if (left <= 0) budget?.overrun();
      const res = o.http().request({
        url: url.href,
        method: request.method ?? 'GET',
        headers: request.headers ?? {},
        body: body === 0n ? undefined : Uint8Array.from(read(handleOf(body, 'http body'))),
        timeoutMs: Math.min(o.httpTimeoutMs, left),
        maxBytes: 50 * 1024 * 1024,
      });
      if ('error' in res) {
        if (budget !== undefined && budget.msLeft() <= 0) budget.overrun();
        throw hostFunctionFault('PLUGBAY_PLUGIN_ERROR', `http_request to ${url.host} failed: ${res.error}`, {
          host: url.host,
        });
      }
      httpStatus = res.status;
      httpHeaders = res.headers;
      return res.body.length === 0 ? 0n : store(res.body);
    },
    http_status_code: (): number => httpStatus,
    http_headers: (): bigint =>
      httpHeaders === undefined ? 0n : store(Buffer.from(JSON.stringify(httpHeaders))),
  };
}

/** `net` entries are `host` (any port) or `host:port`; `*.example.com` matches subdomains. */
export function hostAllowed(url: URL, net: readonly string[]): boolean {
  const host = url.hostname.toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : url.protocol === 'http:' ? '80' : '');
  return net.some((entry) => {
    const e = entry.toLowerCase();
    const colon = e.lastIndexOf(':');
    const [h, p] = colon > 0 && !e.endsWith(']') ? [e.slice(0, colon), e.slice(colon + 1)] : [e, undefined];
    if (p !== undefined && p !== port) return false;
    return h.startsWith('*.') ? host.endsWith(h.slice(1)) : host === h;
  });
}
