// Custom checks a rollout judges at the end of each step, beside the host's own error rate and p99: one small
// interface, and the obvious implementation, a PromQL query against a Prometheus server.
import { PlugbayError } from '../core/errors.js';

/** What a check knows of the step it judges. */
export interface CheckContext {
  plugin: string;
  /** The canary version. */
  version: string;
  stable: string;
  /** Canary weight in percent. */
  weight: number;
  /** The step's window, epoch ms. */
  sinceMs: number;
  untilMs: number;
  signal: AbortSignal;
}

export interface CheckResult {
  ok: boolean;
  value?: number | undefined;
  reason: string;
}

export interface RolloutCheck {
  readonly name: string;
  evaluate(ctx: CheckContext): Promise<CheckResult>;
}

/**
 * A PromQL query evaluated at the end of the step; its one value must be ≤ `max` and/or ≥ `min`. In the query,
 * `$plugin`, `$version`, `$stable` and `$window` (the step's length, e.g. `30s`, for range vectors) are replaced.
 */
export interface PromqlCheckSpec {
  type: 'promql';
  /** Shown in decisions. Default: the query. */
  name?: string | undefined;
  /** Prometheus base URL, e.g. http://127.0.0.1:9090 */
  url: string;
  query: string;
  max?: number | undefined;
  min?: number | undefined;
  /** How long the query may take. Default 5 000 ms. */
  timeoutMs?: number | undefined;
}

export type CheckSpec = PromqlCheckSpec;

/** A judgement gives its checks 30 s in all (progressive.ts): a longer timeout of one would mean nothing. */
export const maxCheckTimeoutMs = 30_000;
/** Every check is a request at each step's end, all at once: a rollout has this many at most. */
export const maxChecks = 16;

function invalid(field: string, rule: string, message: string): PlugbayError {
  return new PlugbayError('PLUGBAY_INVALID_ARGUMENT', `rollout ${field} ${message}`, {
    details: { field, rule },
  });
}

/** Throws PLUGBAY_INVALID_ARGUMENT naming the field unless `spec` is a check this build knows. */
export function checkCheckSpec(spec: unknown, field: string): asserts spec is CheckSpec {
  if (typeof spec !== 'object' || spec === null) throw invalid(field, 'type', 'must be an object');
  const s = spec as Record<string, unknown>;
  if (s.type !== 'promql') throw invalid(`${field}.type`, 'one-of', 'must be "promql"');
  // Parsed now, not at the step's end: a URL fetch() cannot use would fail every step.
  const url = typeof s.url === 'string' ? parsedUrl(s.url) : undefined;
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '')
    throw invalid(`${field}.url`, 'url', 'must be an http(s) URL with a host');
  if (url.username !== '' || url.password !== '')
    throw invalid(`${field}.url`, 'no-credentials', 'must not hold credentials (fetch refuses them)');
  if (typeof s.query !== 'string' || s.query === '')
    throw invalid(`${field}.query`, 'non-empty-string', 'must be a PromQL query');
  if (s.name !== undefined && typeof s.name !== 'string')
    throw invalid(`${field}.name`, 'type', 'must be a string');
  for (const k of ['max', 'min'] as const)
    if (s[k] !== undefined && (typeof s[k] !== 'number' || !Number.isFinite(s[k])))
      throw invalid(`${field}.${k}`, 'type', 'must be a number');
  if (s.max === undefined && s.min === undefined) throw invalid(field, 'bound', 'needs max or min');
  if (
    s.timeoutMs !== undefined &&
    (!Number.isInteger(s.timeoutMs) ||
      (s.timeoutMs as number) < 1 ||
      (s.timeoutMs as number) > maxCheckTimeoutMs)
  )
    throw invalid(`${field}.timeoutMs`, 'range', `must be an integer from 1 to ${maxCheckTimeoutMs} ms`);
}

function parsedUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

export function createCheck(spec: CheckSpec): RolloutCheck {
  return new PromqlCheck(spec);
}

class PromqlCheck implements RolloutCheck {
  readonly name: string;
  readonly #spec: PromqlCheckSpec;

  constructor(spec: PromqlCheckSpec) {
    this.#spec = spec;
    this.name = spec.name ?? spec.query;
  }

  async evaluate(ctx: CheckContext): Promise<CheckResult> {
    const { url, max, min } = this.#spec;
    const seconds = Math.max(1, Math.ceil((ctx.untilMs - ctx.sinceMs) / 1000));
    const query = this.#spec.query
      .replaceAll('$plugin', ctx.plugin)
      .replaceAll('$version', ctx.version)
      .replaceAll('$stable', ctx.stable)
      .replaceAll('$window', `${seconds}s`);
    const target = new URL('api/v1/query', url.endsWith('/') ? url : `${url}/`);
    target.searchParams.set('query', query);
    target.searchParams.set('time', String(ctx.untilMs / 1000));
    const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(this.#spec.timeoutMs ?? 5000)]);
    let body: PromResponse;
    try {
      const res = await fetch(target, { signal });
      body = (await res.json()) as PromResponse;
    } catch (err) {
      return { ok: false, reason: `Prometheus at ${url} did not answer: ${(err as Error).message}` };
    }
    if (body.status !== 'success')
      return { ok: false, reason: `Prometheus refused the query: ${body.error ?? body.status}` };
    const value = sampleOf(body.data);
    // No data is no evidence that the canary is fine: a missing metric must not let it pass.
    if (value === undefined) return { ok: false, reason: `${query} returned no single value` };
    if (max !== undefined && value > max) return { ok: false, value, reason: `${query} = ${value} > ${max}` };
    if (min !== undefined && value < min) return { ok: false, value, reason: `${query} = ${value} < ${min}` };
    return { ok: true, value, reason: `${query} = ${value}` };
  }
}

interface PromResponse {
  status: string;
  error?: string;
  data?: { resultType: string; result: unknown };
}

/** The one number of a scalar or of a one-element instant vector; undefined otherwise (NaN included). */
function sampleOf(data: PromResponse['data']): number | undefined {
  if (data === undefined) return undefined;
  let sample: unknown;
  if (data.resultType === 'scalar') sample = data.result;
  else if (data.resultType === 'vector' && Array.isArray(data.result) && data.result.length === 1)
    sample = (data.result[0] as { value?: unknown }).value;
  if (!Array.isArray(sample)) return undefined;
  const n = Number(sample[1]);
  return Number.isFinite(n) ? n : undefined;
}
