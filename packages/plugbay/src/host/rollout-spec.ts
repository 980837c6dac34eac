// The shape of a progressive rollout: what an operator asks for (RolloutSpec), checked at once into what the
// engine runs and the store keeps (RolloutRecord), with every decision taken on the way (Decision).
import { PlugbayError } from '../core/errors.js';
import { defaultThresholds, type RolloutThresholds, type WindowStats } from './canary-analysis.js';
import { type CheckSpec, checkCheckSpec, maxChecks } from './rollout-checks.js';

export type { CheckSpec } from './rollout-checks.js';

/** What `POST /v1/admin/rollouts` and `host.rollouts.start` take. */
export interface RolloutSpec {
  plugin: string;
  /** The canary version; must be loaded. */
  version: string;
  /** The version the canary is compared with. Default: the plugin's current stable. */
  stable?: string | undefined;
  /** Canary weights in percent, increasing, ending at 100. Default [1, 5, 25, 50, 100]. */
  steps?: number[] | undefined;
  /** How long each step lasts before it is judged. Default 30 000 ms. */
  intervalMs?: number | undefined;
  /** The same as text: `500ms`, `30s`, `2m` (when intervalMs is not given). */
  interval?: string | undefined;
  thresholds?: Partial<RolloutThresholds> | undefined;
  /** Custom checks judged at the end of each step (rollout-checks.ts). */
  checks?: CheckSpec[] | undefined;
}

/**
 * Where a rollout is. running: stepping on its timer; paused: held at its step by an operator; promoted: the
 * canary is the stable; rolled-back: a judgement failed and stable has all traffic again; aborted: an operator
 * ended it (stable has all traffic).
 */
export type RolloutState = 'running' | 'paused' | 'promoted' | 'rolled-back' | 'aborted';

export type DecisionVerdict = 'start' | 'pass' | 'fail' | 'wait' | 'promote' | 'abort' | 'pause' | 'resume';

export interface CheckOutcome {
  name: string;
  ok: boolean;
  value?: number | undefined;
  reason: string;
}

/** One decision, with the evidence it was taken on. */
export interface Decision {
  /** Epoch ms. */
  at: number;
  /** Index in `steps`. */
  step: number;
  /** Canary weight (percent) at the time. */
  weight: number;
  verdict: DecisionVerdict;
  reason: string;
  /** Who: `rollout` (the engine) or the operator's actor. */
  actor: string;
  canary: WindowStats;
  stable: WindowStats;
  /** Canary error rate minus stable's, percentage points; canary p99 / stable p99. */
  errorRateIncrease?: number | undefined;
  p99Ratio?: number | undefined;
  /** The canary's lower confidence bound of p99 (ms): what the p99 rule compares with the stable's p99. */
  p99Bounds?: { canaryP99LowMs?: number | undefined; stableP99HighMs?: number | undefined } | undefined;
  checks?: CheckOutcome[] | undefined;
}

export interface RolloutRecord {
  plugin: string;
  version: string;
  stable: string;
  steps: number[];
  intervalMs: number;
  thresholds: RolloutThresholds;
  checks: CheckSpec[];
  stepIndex: number;
  state: RolloutState;
  /** Epoch ms the current step started (its window's start). */
  stepStartedAt: number;
  /** Epoch ms the current step is judged (its start + intervalMs, later when it waited for evidence). */
  stepEndsAt?: number | undefined;
  history: Decision[];
  /** ISO 8601 times; updatedAt is the store's compare-and-set token. */
  createdAt: string;
  updatedAt: string;
}

/** The states a rollout is still in progress in (one per plugin at a time). */
export const activeStates: ReadonlySet<RolloutState> = new Set(['running', 'paused']);

/** Parses `500ms`, `30s`, `2m`, `1h` (or a bare number of ms) into ms; undefined when it is none of those. */
export function parseInterval(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim());
  if (m === null) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}

function invalid(field: string, rule: string, message: string): PlugbayError {
  return new PlugbayError('PLUGBAY_INVALID_ARGUMENT', `rollout ${field} ${message}`, {
    details: { field, rule },
  });
}

/** The smallest interval: shorter steps judge too few calls to mean anything. */
export const minIntervalMs = 100;

/** Checks a spec and fills in the defaults (everything but `stable`, which the engine resolves). */
export function normaliseSpec(spec: RolloutSpec): Omit<
  RolloutRecord,
  'stable' | 'stepIndex' | 'state' | 'stepStartedAt' | 'stepEndsAt' | 'history' | 'createdAt' | 'updatedAt'
> & {
  stable: string | undefined;
} {
  if (typeof spec !== 'object' || spec === null) throw invalid('(root)', 'type', 'must be an object');
  for (const field of ['plugin', 'version'] as const) {
    if (typeof spec[field] !== 'string' || spec[field] === '')
      throw invalid(field, 'non-empty-string', 'must be a non-empty string');
  }
  if (spec.stable !== undefined && (typeof spec.stable !== 'string' || spec.stable === ''))
    throw invalid('stable', 'non-empty-string', 'must be a non-empty string');
  if (spec.stable === spec.version) throw invalid('stable', 'differs', 'must differ from version');
  const steps = spec.steps ?? [1, 5, 25, 50, 100];
  if (!Array.isArray(steps) || steps.length === 0)
    throw invalid('steps', 'type', 'must be a non-empty array of percents');
  steps.forEach((s, i) => {
    if (!Number.isInteger(s) || s < 1 || s > 100)
      throw invalid(`steps.${i}`, 'range', `must be an integer from 1 to 100, got ${s}`);
    if (i > 0 && s <= steps[i - 1]!)
      throw invalid(`steps.${i}`, 'increasing', 'must be greater than the step before');
  });
  if (steps.at(-1) !== 100) throw invalid('steps', 'ends-at-100', 'must end at 100 (the promotion)');
  let intervalMs = spec.intervalMs;
  if (intervalMs === undefined && spec.interval !== undefined) {
    intervalMs = typeof spec.interval === 'string' ? parseInterval(spec.interval) : undefined;
    if (intervalMs === undefined)
      throw invalid('interval', 'duration', 'must be a duration such as 500ms, 30s or 2m');
  }
  intervalMs ??= 30_000;
  if (!Number.isInteger(intervalMs) || intervalMs < minIntervalMs || intervalMs > 86_400_000)
    throw invalid(
      spec.intervalMs === undefined ? 'interval' : 'intervalMs',
      'range',
      `must be from ${minIntervalMs} ms to 24 h`,
    );
  const given = spec.thresholds ?? {};
  if (typeof given !== 'object' || given === null) throw invalid('thresholds', 'type', 'must be an object');
  const thresholds = { ...defaultThresholds, ...given };
  const ranges: Record<keyof RolloutThresholds, [number, number, boolean]> = {
    maxErrorRateIncrease: [0, 100, false],
    maxP99Ratio: [1, 1000, false],
    minCalls: [1, 1_000_000, true],
    p99SlackMs: [0, 60_000, false],
    confidence: [0.5, 0.9999, false],
  };
  for (const key of Object.keys(given)) {
    if (!(key in ranges))
      throw invalid(`thresholds.${key}`, 'known', `is not a threshold (${Object.keys(ranges).join(', ')})`);
  }
  for (const [key, [min, max, integer]] of Object.entries(ranges) as [
    keyof RolloutThresholds,
    [number, number, boolean],
  ][]) {
    const v = thresholds[key];
    if (
      typeof v !== 'number' ||
      !Number.isFinite(v) ||
      v < min ||
      v > max ||
      (integer && !Number.isInteger(v))
    )
      throw invalid(
        `thresholds.${key}`,
        'range',
        `must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${v}`,
      );
  }
  const checks = spec.checks ?? [];
  if (!Array.isArray(checks)) throw invalid('checks', 'type', 'must be an array');
  if (checks.length > maxChecks)
    throw invalid('checks', 'max-items', `must have at most ${maxChecks} checks`);
  for (const [i, c] of checks.entries()) checkCheckSpec(c, `checks.${i}`);
  return {
    plugin: spec.plugin,
    version: spec.version,
    stable: spec.stable,
    steps: [...steps],
    intervalMs,
    thresholds,
    checks,
  };
}
