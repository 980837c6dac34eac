// Canary analysis: is the canary as good as stable over the same window? A pure function of the two sides'
// counts and latencies, so that the rule can be tested on numbers, and the engine (progressive.ts) only asks.
//
// Error rate: a canary fails when its error rate exceeds stable's by more than `maxErrorRateIncrease` percentage
// points AND that excess is significant (one-sided two-proportion z-test at `confidence`): a handful of unlucky
// calls on a quiet step must not roll back a good version, and a 20 % failure rate on 50 calls is far past any
// doubt. Latency: the canary's p99 above `maxP99Ratio` × stable's (and above it by more than `p99SlackMs`, so that
// sub-millisecond noise on a fast plugin is no evidence), judged on confidence bounds when the engine gives them:
// the canary's lower bound of p99 (the order-statistic interval of a quantile) against the stable's p99 (or its
// upper bound when given), so that the 3rd-slowest of 300 calls landing in one scheduling hiccup of a busy
// machine is no evidence either.
// Too few canary calls (`minCalls`) is never a pass.

import type { WindowStats } from './types.js';

export type { WindowStats };

export interface RolloutThresholds {
  /** Largest accepted canary error rate minus stable's, in percentage points (1 = one point). Default 1. */
  maxErrorRateIncrease: number;
  /** Largest accepted canary p99 / stable p99. Default 1.5. */
  maxP99Ratio: number;
  /** Canary calls a step needs before it may pass (fewer: the step waits). Default 50. */
  minCalls: number;
  /** A p99 excess below this many ms is noise, whatever the ratio. Default 2. */
  p99SlackMs: number;
  /** Confidence of the error-rate test before a failure is declared (0.5–0.9999). Default 0.99. */
  confidence: number;
}

export const defaultThresholds: Readonly<RolloutThresholds> = {
  maxErrorRateIncrease: 1,
  maxP99Ratio: 1.5,
  minCalls: 50,
  p99SlackMs: 2,
  confidence: 0.99,
};

export type CanaryVerdict = 'pass' | 'fail' | 'wait';

export interface CanaryJudgement {
  verdict: CanaryVerdict;
  /** Why, in words, with the numbers. */
  reason: string;
  /** Canary error rate minus stable's, in percentage points. */
  errorRateIncrease: number;
  /** z of the excess over the threshold (positive: above it); undefined without canary calls. */
  z?: number | undefined;
  /** Canary p99 / stable p99, when both are known. */
  p99Ratio?: number | undefined;
}

/**
 * Judges canary against stable. `final`: the step's interval is over (pass or wait when nothing fails); an early
 * check (final false) only ever fails or waits, so a step is never cut short by a pass.
 */
export function judgeCanary(
  canary: WindowStats,
  stable: WindowStats,
  t: RolloutThresholds,
  final: boolean,
  bounds: P99Bounds = {},
): CanaryJudgement {
  const pc = canary.calls === 0 ? 0 : canary.errors / canary.calls;
  const ps = stable.calls === 0 ? 0 : stable.errors / stable.calls;
  const errorRateIncrease = round((pc - ps) * 100);
  const p99Ratio =
    canary.p99Ms !== undefined && stable.p99Ms !== undefined && stable.p99Ms > 0
      ? round(canary.p99Ms / stable.p99Ms)
      : undefined;
  const base = { errorRateIncrease, p99Ratio };
  if (canary.calls === 0) {
    return { ...base, verdict: 'wait', reason: `no canary calls yet (need ${t.minCalls})` };
  }
  const z = round(excessZ(canary, stable, t.maxErrorRateIncrease / 100));
  const zCrit = normalQuantile(t.confidence);
  const rates = `canary ${pct(pc)} of ${canary.calls} calls vs stable ${pct(ps)} of ${stable.calls}`;
  if (canary.calls >= t.minCalls && z > zCrit) {
    return {
      ...base,
      z,
      verdict: 'fail',
      reason: `error rate ${rates}: +${errorRateIncrease} points > ${t.maxErrorRateIncrease} (z ${z} > ${round(zCrit)})`,
    };
  }
  const low = bounds.canaryP99LowMs ?? canary.p99Ms;
  const high = bounds.stableP99HighMs ?? stable.p99Ms;
  if (
    canary.calls >= t.minCalls &&
    low !== undefined &&
    high !== undefined &&
    high > 0 &&
    low / high > t.maxP99Ratio &&
    low - high > t.p99SlackMs
  ) {
    const bounded =
      bounds.canaryP99LowMs === undefined
        ? ''
        : ` (bounds: canary ≥ ${round(low)} ms, stable ≤ ${round(high)} ms)`;
    return {
      ...base,
      z,
      verdict: 'fail',
      reason: `p99 canary ${round(canary.p99Ms!)} ms vs stable ${round(stable.p99Ms!)} ms${bounded}: ×${round(low / high)} > ×${t.maxP99Ratio}`,
    };
  }
  if (canary.calls < t.minCalls) {
    return { ...base, z, verdict: 'wait', reason: `${canary.calls} canary calls, need ${t.minCalls}` };
  }
  if (errorRateIncrease > t.maxErrorRateIncrease) {
    // Above the threshold, not yet beyond doubt: more calls decide it (the step is extended, never promoted).
    return {
      ...base,
      z,
      verdict: 'wait',
      reason: `error rate ${rates}: +${errorRateIncrease} points, not yet significant (z ${z} ≤ ${round(zCrit)})`,
    };
  }
  if (!final) return { ...base, z, verdict: 'wait', reason: `healthy so far: ${rates}` };
  const p99 =
    p99Ratio === undefined
      ? ''
      : `; p99 ${round(canary.p99Ms!)} ms vs ${round(stable.p99Ms!)} ms (×${p99Ratio})`;
  return { ...base, z, verdict: 'pass', reason: `${rates}${p99}` };
}

/** Confidence bounds of p99 the engine reads from the histograms (ms). */
export interface P99Bounds {
  /** The canary's p99 is at least this (its quantile at p99Levels(n).low). */
  canaryP99LowMs?: number | undefined;
  /** The stable's p99 is at most this (its quantile at p99Levels(n).high). */
  stableP99HighMs?: number | undefined;
}

/**
 * The quantile levels bounding p99 of n calls at `confidence` (normal approximation of the binomial count of calls
 * below the true p99): the sample quantile at `low` is below the true p99, the one at `high` above it, each with
 * that confidence. At 0.99: 300 calls give low 0.977 and high 0.9999 (clamped to [0.5, 0.9999]), 1 200 calls 0.983 and 0.997.
 */
export function p99Levels(n: number, confidence: number): { low: number; high: number } {
  if (n <= 0) return { low: 0.99, high: 0.99 };
  const spread = normalQuantile(confidence) * Math.sqrt((0.99 * 0.01) / n);
  return { low: Math.max(0.5, 0.99 - spread), high: Math.min(0.9999, 0.99 + spread) };
}

/**
 * z of (pc − ps − δ): how many standard errors the canary's excess error rate lies above δ. The variance uses
 * Agresti–Caffo's adjusted rates ((e+1)/(n+2)), so that zero errors on either side still has a spread.
 */
function excessZ(canary: WindowStats, stable: WindowStats, delta: number): number {
  const pc = canary.errors / canary.calls;
  const ps = stable.calls === 0 ? 0 : stable.errors / stable.calls;
  const ac = (canary.errors + 1) / (canary.calls + 2);
  const as = (stable.errors + 1) / (stable.calls + 2);
  const variance =
    (ac * (1 - ac)) / (canary.calls + 2) + (stable.calls === 0 ? 0 : (as * (1 - as)) / (stable.calls + 2));
  return (pc - ps - delta) / Math.sqrt(variance);
}

/** The standard normal quantile (Acklam's rational approximation; |error| < 1.2e-9 over (0, 1)). */
export function normalQuantile(p: number): number {
  const a = [
    -39.6968302866538, 220.946098424521, -275.928510446969, 138.357751867269, -30.6647980661472,
    2.50662827745924,
  ];
  const b = [-54.4760987982241, 161.585836858041, -155.698979859887, 66.8013118877197, -13.2806815528857];
  const c = [
    -0.00778489400243029, -0.322396458041136, -2.40075827716184, -2.54973253934373, 4.37466414146497,
    2.93816398269878,
  ];
  const d = [0.00778469570904146, 0.32246712907004, 2.445134137143, 3.75440866190742];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    );
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}

const round = (n: number) => Math.round(n * 1000) / 1000;
const pct = (p: number) => `${round(p * 100)} %`;
