/// <reference lib="dom" />
/**
 * Small SVG time-series charts, drawn by hand: a frame, a y axis from 0 to a round top, time labels, one line per
 * series, optional threshold lines. The arithmetic is geometry.ts; this file only builds elements. Each chart is a
 * <figure> whose SVG has a title and a text summary (the latest values) for screen readers; lines differ by dash
 * pattern as well as colour.
 */
import { el, svg } from './dom.js';
import {
  formatValue,
  frame,
  linePath,
  maxOf,
  niceMax,
  pathPoints,
  type Sample,
  type Scale,
  timeTicks,
  xOf,
  yOf,
} from './geometry.js';

export interface Line {
  label: string;
  values: Sample[];
  /** Index into the palette (colour and dash). */
  style: number;
  /** A lighter line (p50 beside p99). */
  faint?: boolean;
}
export interface Threshold {
  label: string;
  value: number;
}
export interface ChartSpec {
  id: string;
  title: string;
  unit: string;
  from: number;
  to: number;
  stepMs: number;
  lines: Line[];
  thresholds?: Threshold[];
  /** The axis top, when charts side by side share one; default: a round value above every line and threshold. */
  yMax?: number;
  /** Vertical marks at moments (epoch ms): a rollout's start, its rollback. */
  markers?: { t: number; label: string }[];
}

/** Colours with at least 4.5:1 contrast on white, and a dash pattern for each (colour is never the only cue). */
export const palette = [
  { color: '#1f5fbf', dash: '' },
  { color: '#b54708', dash: '6 3' },
  { color: '#067647', dash: '2 2' },
  { color: '#6f42c1', dash: '8 3 2 3' },
  { color: '#b42318', dash: '4 4' },
  { color: '#475467', dash: '1 3' },
];

export function styleOf(i: number): { color: string; dash: string } {
  return palette[i % palette.length]!;
}

const latest = (values: Sample[]) => values.findLast((s) => s.v !== undefined)?.v;

export function chart(spec: ChartSpec): HTMLElement {
  const f = frame;
  const thresholds = spec.thresholds ?? [];
  const scale: Scale = {
    from: spec.from,
    to: spec.to,
    yMax: spec.yMax ?? niceMax(chartMax(spec)),
  };
  const titleId = `${spec.id}-title`;
  const descId = `${spec.id}-desc`;
  const summary = spec.lines
    .map((l) => {
      const v = latest(l.values);
      return `${l.label}: ${v === undefined ? 'no data' : `${formatValue(v)} ${spec.unit}`}`;
    })
    .join('; ');
  const root = svg('svg', {
    viewBox: `0 0 ${f.width} ${f.height}`,
    role: 'img',
    'aria-labelledby': `${titleId} ${descId}`,
    class: 'chart',
    id: spec.id,
  });
  root.append(
    svg('title', { id: titleId }, `${spec.title} (${spec.unit}), last ${spanText(spec.to - spec.from)}`),
    svg(
      'desc',
      { id: descId },
      thresholds.length > 0 ? `${summary}; ${thresholdText(thresholds, spec.unit)}` : summary,
    ),
  );
  const plotBottom = f.height - f.bottom;
  // Grid and y labels: 0, half, top.
  for (const v of [0, scale.yMax / 2, scale.yMax]) {
    const y = yOf(v, scale);
    root.append(
      svg('line', { x1: f.left, x2: f.width - f.right, y1: y, y2: y, class: v === 0 ? 'axis' : 'grid' }),
      svg('text', { x: f.left - 4, y: y + 3.5, 'text-anchor': 'end', class: 'tick' }, formatValue(v)),
    );
  }
  // Time labels on round steps, counted back from the end.
  const ticks = timeTicks(spec.from, spec.to);
  ticks.forEach(({ t, label }, i) => {
    const anchor = i === ticks.length - 1 ? 'end' : xOf(t, scale) - f.left < 20 ? 'start' : 'middle';
    root.append(
      svg('text', { x: xOf(t, scale), y: plotBottom + 14, 'text-anchor': anchor, class: 'tick' }, label),
    );
  });
  for (const t of thresholds) {
    const y = yOf(t.value, scale);
    root.append(
      svg('line', { x1: f.left, x2: f.width - f.right, y1: y, y2: y, class: 'threshold' }),
      svg(
        'text',
        // At the left: the right end is where the data and the rollout's marks are.
        { x: f.left + 3, y: y - 3, 'text-anchor': 'start', class: 'threshold-label' },
        t.label,
      ),
    );
  }
  let lastLabelX = Number.NEGATIVE_INFINITY;
  for (const m of spec.markers ?? []) {
    if (m.t < spec.from || m.t > spec.to) continue;
    const x = xOf(m.t, scale);
    // Marks close together (a rollback seconds after its start) keep one label: the first.
    const labelled = x - lastLabelX > 60;
    if (labelled) lastLabelX = x;
    // The label on the side with room, at the bottom (the threshold labels are at the top right).
    const right = x < f.left + (f.width - f.left - f.right) * 0.7;
    root.append(svg('line', { x1: x, x2: x, y1: f.top, y2: plotBottom, class: 'marker' }));
    if (labelled) {
      const anchor = { x: right ? x + 2 : x - 2, y: plotBottom - 3, 'text-anchor': right ? 'start' : 'end' };
      root.append(svg('text', { ...anchor, class: 'marker-label' }, m.label));
    }
  }
  for (const line of spec.lines) {
    const { color, dash } = styleOf(line.style);
    const d = linePath(line.values, scale, spec.stepMs);
    if (d === '') continue;
    root.append(
      svg('path', {
        d,
        fill: 'none',
        stroke: color,
        'stroke-width': line.faint ? 1 : 1.8,
        'stroke-opacity': line.faint ? 0.55 : 1,
        'stroke-dasharray': dash,
        'data-series': line.label,
        class: 'line',
      }),
    );
    // A short-lived line (a canary rolled back within seconds) is a few vertices: dots make it visible.
    const vertices = pathPoints(d);
    if (vertices.length <= 12)
      for (const p of vertices)
        root.append(
          svg('circle', { cx: p.x, cy: p.y, r: line.faint ? 1.5 : 2.2, fill: color, class: 'dot' }),
        );
  }
  return el('figure', { className: 'chart' }, el('figcaption', {}, `${spec.title} (${spec.unit})`), root);
}

/** The largest value a chart must show: its lines and its thresholds. */
export function chartMax(spec: Pick<ChartSpec, 'lines' | 'thresholds'>): number {
  return maxOf(
    spec.lines.map((l) => l.values),
    (spec.thresholds ?? []).map((t) => t.value),
  );
}

function spanText(ms: number): string {
  return ms >= 60_000 ? `${Math.round(ms / 60_000)} minutes` : `${Math.round(ms / 1000)} seconds`;
}

function thresholdText(thresholds: Threshold[], unit: string): string {
  return thresholds.map((t) => `${t.label} at ${formatValue(t.value)} ${unit}`).join('; ');
}

/** A legend for the lines of a group of charts: a sample of each line's stroke and its label. */
export function legend(items: { label: string; style: number }[]): HTMLElement {
  const list = el('ul', { className: 'legend' });
  for (const item of items) {
    const { color, dash } = styleOf(item.style);
    const swatch = svg(
      'svg',
      { viewBox: '0 0 24 8', width: 24, height: 8, 'aria-hidden': 'true' },
      svg('line', {
        x1: 0,
        x2: 24,
        y1: 4,
        y2: 4,
        stroke: color,
        'stroke-width': 2,
        'stroke-dasharray': dash,
      }),
    );
    list.append(el('li', {}, swatch, ` ${item.label}`));
  }
  return list;
}
