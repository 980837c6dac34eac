/**
 * The charts' arithmetic, without the DOM (its unit test runs in Node): which points of a SeriesReport are final,
 * the merge of incremental polls into a 15-minute window, the values each chart plots, the scales and the SVG path.
 *
 * The host's ring has one slot per wall-clock second (floor(ms / 1000)); the slot of the current second is still
 * filling, so a chart that drew it would end every line in a dip towards zero. Only points that ended by the
 * report's own clock (`at`, floored to the second) are kept, and the next poll asks from the first second not kept.
 */

/** GET /v1/series (host.series): one point per step, zero-filled. */
export interface SeriesPoint {
  t: number;
  calls: number;
  errors: number;
  p50Ms?: number;
  p99Ms?: number;
}
export interface SeriesVersion {
  plugin: string;
  version: string;
  points: SeriesPoint[];
}
export interface SeriesReport {
  at: number;
  stepMs: number;
  versions: SeriesVersion[];
}

/** What the charts show: the last 15 minutes, as the ring keeps. */
export const windowMs = 15 * 60_000;

/** The end (exclusive, epoch ms) of the data that is final at `at`: the start of the second still filling. */
export function completeUntil(at: number): number {
  return Math.floor(at / 1000) * 1000;
}

/** The points of a report that covered whole, finished steps. */
export function completePoints(points: readonly SeriesPoint[], at: number, stepMs: number): SeriesPoint[] {
  const until = completeUntil(at);
  return points.filter((p) => p.t + stepMs <= until);
}

/**
 * The 15-minute window built from polls: the first asks for the whole window, each next one from the first second
 * the previous did not keep, so a poll carries a few points instead of 900 per version.
 */
export class SeriesWindow {
  /** `plugin@version` → points by time; `loaded` false once a report no longer names it. */
  readonly #points = new Map<
    string,
    {
      plugin: string;
      version: string;
      loaded: boolean;
      byT: Map<number, SeriesPoint>;
      /** The seconds still filling at the last report: kept if the version goes before they end. */
      filling: SeriesPoint[];
    }
  >();
  #until: number | undefined;
  stepMs = 1000;

  /** The `since` of the next poll (epoch ms), aligned to the ring's seconds. */
  nextSince(now: number): number {
    return this.#until ?? completeUntil(now) - windowMs;
  }

  /** The end (exclusive) of what is known; undefined before the first report. */
  get until(): number | undefined {
    return this.#until;
  }

  /**
   * Merges a report. A version it does not name was unloaded (a rolled-back canary is released at once): its
   * points stay until they leave the window, so that what led to the rollback can still be read.
   */
  merge(report: SeriesReport): void {
    const until = completeUntil(report.at);
    const from = until - windowMs;
    this.stepMs = report.stepMs;
    const named = new Set<string>();
    for (const v of report.versions) {
      const key = `${v.plugin}@${v.version}`;
      named.add(key);
      let entry = this.#points.get(key);
      if (entry === undefined) {
        entry = { plugin: v.plugin, version: v.version, loaded: true, byT: new Map(), filling: [] };
        this.#points.set(key, entry);
      }
      entry.loaded = true;
      const complete = completePoints(v.points, report.at, report.stepMs);
      for (const p of complete) entry.byT.set(p.t, p);
      entry.filling = v.points.slice(complete.length).filter((p) => p.calls > 0);
    }
    for (const [key, entry] of this.#points) {
      if (!named.has(key) && entry.loaded) {
        // Unloaded since: the seconds it was filling are all it will ever have (the host dropped its ring).
        entry.loaded = false;
        for (const p of entry.filling) entry.byT.set(p.t, p);
        entry.filling = [];
      }
      for (const t of entry.byT.keys()) if (t < from) entry.byT.delete(t);
      if (!entry.loaded && entry.byT.size === 0) this.#points.delete(key);
    }
    this.#until = until;
  }

  /** Every version, its points sorted by time; `loaded` false for one unloaded since. */
  versions(): (SeriesVersion & { loaded: boolean })[] {
    return [...this.#points.values()].map((e) => ({
      plugin: e.plugin,
      version: e.version,
      loaded: e.loaded,
      points: [...e.byT.values()].sort((a, b) => a.t - b.t),
    }));
  }
}

/** Time labels for a chart's x axis: at most 4, on round steps, counted back from the end ("−5 min", "now"). */
export function timeTicks(from: number, to: number): { t: number; label: string }[] {
  const span = to - from;
  const steps = [10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000];
  const step = steps.find((s) => span / s <= 3.01) ?? 900_000;
  const ticks: { t: number; label: string }[] = [];
  for (let back = 0; back <= span + 1; back += step) {
    const label =
      back === 0 ? 'now' : back % 60_000 === 0 ? `−${back / 60_000} min` : `−${Math.round(back / 1000)} s`;
    ticks.push({ t: to - back, label });
  }
  return ticks.reverse();
}

/** One plotted value; undefined is a gap (no call in that step: no rate, no latency). */
export interface Sample {
  t: number;
  v: number | undefined;
}

export type Metric = 'callsPerSecond' | 'errorRatePercent' | 'p50Ms' | 'p99Ms';

/** The values a chart plots for one metric. Calls per second is 0 when nothing was called; the others are gaps. */
export function samples(points: readonly SeriesPoint[], metric: Metric, stepMs: number): Sample[] {
  return points.map((p) => {
    switch (metric) {
      case 'callsPerSecond':
        return { t: p.t, v: p.calls / (stepMs / 1000) };
      case 'errorRatePercent':
        return { t: p.t, v: p.calls === 0 ? undefined : (100 * p.errors) / p.calls };
      default:
        return { t: p.t, v: p.calls === 0 ? undefined : p[metric] };
    }
  });
}

/** The smallest 1, 2 or 5 × 10^k at or above `max` (an axis top a person reads at a glance); 1 for nothing. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * power >= max * (1 - 1e-12)) return m * power;
  return 10 * power;
}

/** The plot area inside the SVG's viewBox (left margin for the y labels, bottom for the time labels). */
export interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export const frame: Frame = { width: 320, height: 130, left: 44, right: 8, top: 10, bottom: 20 };

export interface Scale {
  from: number;
  to: number;
  yMax: number;
}

export function xOf(t: number, s: Scale, f: Frame = frame): number {
  return f.left + ((t - s.from) / (s.to - s.from)) * (f.width - f.left - f.right);
}

export function yOf(v: number, s: Scale, f: Frame = frame): number {
  const h = f.height - f.top - f.bottom;
  return f.top + h - (Math.min(v, s.yMax) / s.yMax) * h;
}

const round = (x: number) => Math.round(x * 10) / 10;

/**
 * The SVG path of a line: `M x y L x y …`, a new `M` after each gap; a lone point between gaps is a dot-sized
 * segment so that it still shows. Points outside [from, to) are left out. A point stands at the middle of its step.
 */
export function linePath(values: readonly Sample[], s: Scale, stepMs: number, f: Frame = frame): string {
  const parts: string[] = [];
  let open = false;
  let lastX = 0;
  let lastY = 0;
  let run = 0;
  for (const { t, v } of values) {
    if (t < s.from || t >= s.to || v === undefined) {
      if (open && run === 1) parts.push(`L${round(lastX + 0.5)} ${round(lastY)}`);
      open = false;
      continue;
    }
    const x = round(xOf(t + stepMs / 2, s, f));
    const y = round(yOf(v, s, f));
    parts.push(`${open ? 'L' : 'M'}${x} ${y}`);
    run = open ? run + 1 : 1;
    open = true;
    lastX = x;
    lastY = y;
  }
  if (open && run === 1) parts.push(`L${round(lastX + 0.5)} ${round(lastY)}`);
  return parts.join(' ');
}

/** The (x, y) pairs of a path built by linePath (what a test or the browser test reads back). */
export function pathPoints(d: string): { x: number; y: number }[] {
  return [...d.matchAll(/[ML](-?[\d.]+) (-?[\d.]+)/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]) }));
}

/** The largest value of some lines (for the shared y scale), thresholds included. */
export function maxOf(lines: readonly (readonly Sample[])[], extra: readonly number[] = []): number {
  let max = 0;
  for (const line of lines) for (const { v } of line) if (v !== undefined && v > max) max = v;
  for (const v of extra) if (v > max) max = v;
  return max;
}

/** A short label for an axis value: 1.2k, 35, 0.5, 2 ms. */
export function formatValue(v: number): string {
  if (v >= 10_000) return `${Math.round(v / 1000)}k`;
  if (v >= 1000) return `${(v / 1000).toFixed(1).replace(/\.0$/, '')}k`;
  if (v >= 10 || Number.isInteger(v)) return String(Math.round(v));
  if (v >= 1) return v.toFixed(1).replace(/\.0$/, '');
  return v.toPrecision(2).replace(/0+$/, '').replace(/\.$/, '');
}
