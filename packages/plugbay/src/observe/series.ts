/**
 * The last 15 minutes of one function, second by second, in memory: what host.window / host.series (and through
 * them progressive rollouts and the dashboard) read. A ring of 900 one-second slots; each slot holds the calls,
 * the errors by class and a latency histogram with 8 buckets per octave from ~1 µs to 64 s, so the p50/p99 of any
 * window come from adding slots.
 *
 * The call path (FnCells.observe) pays one comparison, one bucket index and one increment: the slot is chosen once
 * per second (`#roll`, when the monotonic time passed to `record` reaches the end of the current second) and the
 * current second's histogram is a dense array; at the roll it is folded into a small sparse copy kept in the slot
 * (a busy function keeps a few hundred bytes per second, not 840). Slots are reset lazily when the ring comes
 * round to them again; reads ignore any slot whose stored second is not the one they ask for.
 */
import { endianness } from 'node:os';
import { performance } from 'node:perf_hooks';

/**
 * One version's calls over a window, from the host's 15-minute ring of one-second slots (every function summed).
 * `errors` are the version's own failures (plugin errors, crashes, timeouts, invalid outputs, other codes), not
 * the caller's (invalid input, cancelled). Latencies are of the tier call, in ms, off by less than 1/8.
 */
export interface WindowStats {
  calls: number;
  errors: number;
  /** errors / calls; 0 without calls. */
  errorRate: number;
  /** By code: PLUGBAY_PLUGIN_ERROR, PLUGBAY_PLUGIN_CRASHED, PLUGBAY_TIMEOUT, PLUGBAY_INVALID_OUTPUT, or `other`. */
  errorsByCode: Record<string, number>;
  /** Absent without calls. */
  p50Ms?: number;
  p99Ms?: number;
  /** Start (epoch ms) of the first one-second slot counted: the slots overlapping [sinceMs, untilMs). */
  fromMs: number;
  toMs: number;
}

export interface SeriesPoint {
  /** Start of the step, epoch ms (a multiple of stepMs). */
  t: number;
  calls: number;
  errors: number;
  /** Absent without calls. */
  p50Ms?: number;
  p99Ms?: number;
}

/** Points of each loaded version from `sinceMs` to now (zero-filled); a version unloaded is not listed. */
export interface SeriesReport {
  /** The host's clock when the report was made, epoch ms. */
  at: number;
  stepMs: number;
  versions: { plugin: string; version: string; points: SeriesPoint[] }[];
}

/** Who asked for an admin change and why; recorded in the audit log. */

/** 15 minutes of one-second slots. */
export const slotCount = 900;
/** The error classes a slot counts; any other failure code counts as `other`. */
export const errorClasses = [
  'PLUGBAY_PLUGIN_ERROR',
  'PLUGBAY_PLUGIN_CRASHED',
  'PLUGBAY_TIMEOUT',
  'PLUGBAY_INVALID_OUTPUT',
  'other',
] as const;
export type ErrorClass = (typeof errorClasses)[number];
const classCount = errorClasses.length;
/** Failures the caller caused: counted as calls, never as errors (the version is not worse for them). */
const callerCodes = new Set(['PLUGBAY_INVALID_INPUT', 'PLUGBAY_CANCELLED']);
const classOf = new Map<string, number>(errorClasses.map((c, i) => [c, i]));

// Histogram: bucket 0 is [0, 2^-20 s ≈ 0.95 µs), buckets 1..208 split each octave [2^e, 2^(e+1)) for e = -20..5
// into 8 equal parts (log-linear, as HdrHistogram: the width is 1/8 to 1/16 of the value), bucket 209 is ≥ 64 s.
const minExponent = -20;
const octaves = 26;
const subBits = 3;
export const bucketCount = octaves * (1 << subBits) + 2;
const overflow = bucketCount - 1;
// The index is read from the double's own bits: sign, 11 exponent bits and the top 3 mantissa bits are the top 15
// bits of its high word. No Math.log2 on the call path.
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const high = endianness() === 'LE' ? 1 : 0;
const base = (1023 + minExponent) << subBits;

/** The histogram bucket of a duration in seconds (NaN and negatives land in the overflow bucket). */
export function bucketOf(seconds: number): number {
  f64[0] = seconds;
  const i = (u32[high]! >>> (20 - subBits)) - base + 1;
  return i < 0 ? 0 : Math.min(i, overflow);
}

/** The lower bound (seconds) of a bucket; `lowerOf(i + 1)` is its upper bound. */
export function lowerOf(i: number): number {
  if (i <= 0) return 0;
  if (i >= overflow) return 2 ** (minExponent + octaves);
  const j = i - 1;
  return 2 ** (minExponent + (j >> subBits)) * (1 + (j & ((1 << subBits) - 1)) / (1 << subBits));
}

/** Reads of the two clocks the ring uses; injectable so the unit tests own time. */
export interface SeriesClock {
  /** Monotonic milliseconds (performance.now()): what the call path passes to `record`. */
  now(): number;
  /** Wall-clock epoch milliseconds (Date.now()): which second a slot is. */
  wall(): number;
}

export const systemClock: SeriesClock = { now: () => performance.now(), wall: () => Date.now() };

const empty64 = new Float64Array(0);
const empty32 = new Uint32Array(0);

/** Sums of slots: what a window or a series point is made of. */
export class Totals {
  calls = 0;
  readonly errors = new Float64Array(classCount);
  readonly hist = new Float64Array(bucketCount);

  get errorCount(): number {
    let n = 0;
    for (let c = 0; c < classCount; c++) n += this.errors[c]!;
    return n;
  }

  clear(): void {
    this.calls = 0;
    this.errors.fill(0);
    this.hist.fill(0);
  }

  /** The q-quantile in seconds (linear inside its bucket: off by less than one bucket); undefined without calls. */
  quantile(q: number): number | undefined {
    // Every call is in exactly one bucket: `calls` is the histogram's total.
    if (this.calls === 0) return undefined;
    const rank = Math.max(1, Math.ceil(q * this.calls));
    let seen = 0;
    for (let i = 0; i < bucketCount; i++) {
      const n = this.hist[i]!;
      if (n > 0 && seen + n >= rank) {
        const lower = lowerOf(i);
        if (i === overflow) return lower;
        return lower + (lowerOf(i + 1) - lower) * ((rank - seen) / n);
      }
      seen += n;
    }
    return lowerOf(overflow);
  }
}

/** The 15-minute ring of one function. Arrays are allocated at the first call: a function never called costs none. */
export class SeriesRing {
  readonly #clock: SeriesClock;
  /** Epoch second each slot holds (-1: never written). */
  #secs = empty64;
  #calls = empty32;
  /** `slot * classCount + class`. */
  #errors = empty32;
  /** Per slot, its histogram as (bucket, count) pairs; the current slot's is `#dense` until the next roll. */
  #hists: (Uint32Array | undefined)[] = [];
  readonly #dense = new Uint32Array(bucketCount);
  #slot = -1;
  #sec = -1;
  /** Monotonic ms at which the current second ends: the only thing `record` compares. */
  #until = Number.NEGATIVE_INFINITY;

  constructor(clock: SeriesClock = systemClock) {
    this.#clock = clock;
  }

  /** One call that took `seconds`, ending at monotonic `now` (the call path's own clock read). */
  record(seconds: number, now: number): void {
    if (now >= this.#until) this.#roll(now);
    this.#dense[bucketOf(seconds)]!++;
  }

  /**
   * The call just recorded failed, with this error code: counted in the same slot as the call (so no step has more
   * errors than calls). The caller's own failures (invalid input, cancelled) are not errors.
   */
  fail(code: string): void {
    if (callerCodes.has(code)) return;
    if (this.#slot < 0) this.#roll(this.#clock.now()); // no call recorded yet: not how FnCells uses it
    this.#errors[this.#slot * classCount + (classOf.get(code) ?? classCount - 1)]!++;
  }

  /** Moves to the wall clock's current second: folds the last one into its slot, resets the new one. */
  #roll(now: number): void {
    const wall = this.#clock.wall();
    const sec = Math.floor(wall / 1000);
    if (this.#secs.length === 0) {
      this.#secs = new Float64Array(slotCount).fill(-1);
      this.#calls = new Uint32Array(slotCount);
      this.#errors = new Uint32Array(slotCount * classCount);
      this.#hists = new Array<Uint32Array | undefined>(slotCount).fill(undefined);
    }
    // The wall clock went back (or this second is already current): keep the current slot.
    if (sec <= this.#sec) {
      this.#until = now + Math.min(1000, (this.#sec + 1) * 1000 - wall);
      return;
    }
    if (this.#slot >= 0) this.#fold();
    const slot = sec % slotCount;
    this.#secs[slot] = sec;
    this.#calls[slot] = 0;
    this.#errors.fill(0, slot * classCount, (slot + 1) * classCount);
    this.#hists[slot] = undefined;
    this.#slot = slot;
    this.#sec = sec;
    this.#until = now + (sec + 1) * 1000 - wall;
  }

  /** The current second's dense histogram into its slot as sparse pairs, and its call count. */
  #fold(): void {
    const dense = this.#dense;
    let used = 0;
    let calls = 0;
    for (let i = 0; i < bucketCount; i++) {
      if (dense[i] !== 0) {
        used++;
        calls += dense[i]!;
      }
    }
    const pairs = new Uint32Array(used * 2);
    let k = 0;
    for (let i = 0; i < bucketCount; i++) {
      if (dense[i] !== 0) {
        pairs[k++] = i;
        pairs[k++] = dense[i]!;
      }
    }
    this.#calls[this.#slot] = calls;
    this.#hists[this.#slot] = pairs;
    dense.fill(0);
  }

  /** Adds the slots of the epoch seconds `fromSec` to `toSec` (both included, within the last 15 min) to `into`. */
  addTo(into: Totals, fromSec: number, toSec: number): void {
    if (this.#slot < 0) return;
    const first = Math.max(fromSec, this.#sec - slotCount + 1);
    const last = Math.min(toSec, this.#sec);
    for (let s = first; s <= last; s++) {
      const slot = s % slotCount;
      if (this.#secs[slot] !== s) continue; // never written in that second, or stale
      for (let c = 0; c < classCount; c++) into.errors[c]! += this.#errors[slot * classCount + c]!;
      if (s === this.#sec) {
        const dense = this.#dense;
        for (let i = 0; i < bucketCount; i++) {
          const n = dense[i]!;
          if (n !== 0) {
            into.hist[i]! += n;
            into.calls += n;
          }
        }
        continue;
      }
      into.calls += this.#calls[slot]!;
      const pairs = this.#hists[slot];
      if (pairs === undefined) continue;
      for (let k = 0; k < pairs.length; k += 2) into.hist[pairs[k]!]! += pairs[k + 1]!;
    }
  }
}

/** What FnCells feeds: a ring, or nothing (`createHost({ series: false })`). */
export interface SeriesRecorder {
  record(seconds: number, now: number): void;
  fail(code: string): void;
  addTo(into: Totals, fromSec: number, toSec: number): void;
}

class NoSeries implements SeriesRecorder {
  record(): void {}
  fail(): void {}
  addTo(): void {}
}

/** The recorder of a host without rings. */
export const noSeries: SeriesRecorder = new NoSeries();

// ---- reads: host.window and host.series ---------------------------------------------------------------------

/** The seconds `[fromSec, toSec]` whose slots overlap `[sinceMs, untilMs)`, no older than the ring's 15 minutes. */
function secondsOf(sinceMs: number, untilMs: number, nowMs: number): [number, number] {
  const oldest = Math.floor(nowMs / 1000) - slotCount + 1;
  return [Math.max(Math.floor(sinceMs / 1000), oldest), Math.ceil(untilMs / 1000) - 1];
}

const ms = (seconds: number | undefined) => (seconds === undefined ? undefined : seconds * 1000);

/** Calls, errors and latency of a set of functions (one version's) over `[sinceMs, untilMs)`. */
export function windowOf(
  rings: Iterable<SeriesRecorder>,
  sinceMs: number,
  untilMs: number,
  nowMs: number,
): WindowStats {
  const [fromSec, toSec] = secondsOf(sinceMs, untilMs, nowMs);
  const totals = new Totals();
  for (const ring of rings) ring.addTo(totals, fromSec, toSec);
  const errors = totals.errorCount;
  const errorsByCode: Record<string, number> = {};
  for (let c = 0; c < classCount; c++) {
    const n = totals.errors[c]!;
    if (n > 0) errorsByCode[errorClasses[c]!] = n;
  }
  const stats: WindowStats = {
    calls: totals.calls,
    errors,
    errorRate: totals.calls === 0 ? 0 : errors / totals.calls,
    errorsByCode,
    fromMs: fromSec * 1000,
    toMs: Math.max(untilMs, fromSec * 1000),
  };
  const p50 = ms(totals.quantile(0.5));
  if (p50 !== undefined) {
    stats.p50Ms = p50;
    stats.p99Ms = ms(totals.quantile(0.99))!;
  }
  return stats;
}

/** One version's rings, for seriesOf. */
export interface SeriesSource {
  plugin: string;
  version: string;
  rings: Iterable<SeriesRecorder>;
}

/** Points every `stepMs` (a whole number of seconds) from `sinceMs` to `nowMs`, zero-filled, per version. */
export function seriesOf(
  sources: Iterable<SeriesSource>,
  sinceMs: number,
  stepMs: number,
  nowMs: number,
): SeriesReport {
  const [fromSec] = secondsOf(sinceMs, nowMs, nowMs);
  const stepSec = stepMs / 1000;
  const firstSec = Math.floor(fromSec / stepSec) * stepSec;
  const nowSec = Math.floor(nowMs / 1000);
  const totals = new Totals();
  const versions: SeriesReport['versions'] = [];
  for (const source of sources) {
    const rings = [...source.rings];
    const points: SeriesPoint[] = [];
    for (let t = firstSec; t <= nowSec; t += stepSec) {
      totals.clear();
      for (const ring of rings) ring.addTo(totals, t, t + stepSec - 1);
      const point: SeriesPoint = { t: t * 1000, calls: totals.calls, errors: totals.errorCount };
      const p50 = ms(totals.quantile(0.5));
      if (p50 !== undefined) {
        point.p50Ms = p50;
        point.p99Ms = ms(totals.quantile(0.99))!;
      }
      points.push(point);
    }
    versions.push({ plugin: source.plugin, version: source.version, points });
  }
  return { at: nowMs, stepMs, versions };
}

/**
 * The q-quantile (ms) of a set of functions' latencies over `[sinceMs, untilMs)`, for any q (a progressive rollout
 * asks for confidence bounds of p99, not p99 itself); undefined without calls.
 */
export function quantileOf(
  rings: Iterable<SeriesRecorder>,
  sinceMs: number,
  untilMs: number,
  nowMs: number,
  q: number,
): number | undefined {
  const [fromSec, toSec] = secondsOf(sinceMs, untilMs, nowMs);
  const totals = new Totals();
  for (const ring of rings) ring.addTo(totals, fromSec, toSec);
  return ms(totals.quantile(q));
}
