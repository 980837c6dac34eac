/// <reference lib="dom" />
/**
 * Live charts per plugin: calls/s, error rate and p50/p99 latency of each loaded version over the last 15 minutes,
 * from GET /v1/series polled with the app's refresh (each poll asks only for the seconds it does not have yet).
 */
import { api } from './api.js';
import { chart, legend } from './charts.js';
import { $, el } from './dom.js';
import { type SeriesReport, SeriesWindow, samples, windowMs } from './geometry.js';

export const seriesWindow = new SeriesWindow();

/** Polls the seconds that ended since the last poll and merges them. */
export async function pollSeries(): Promise<void> {
  const since = seriesWindow.nextSince(Date.now());
  const report = await api<SeriesReport>('GET', `/v1/series?since=${since}&step=1000`);
  seriesWindow.merge(report);
}

/** The id-safe form of a name (plugin names may hold `@` and `/`). */
export const idOf = (s: string) => s.replace(/[^A-Za-z0-9-]/g, '-');

/** The span the charts show (the ring keeps 15 minutes; a shorter one reads a recent change better). */
let spanMs = windowMs;
const spans = [
  [60_000, '1 min'],
  [5 * 60_000, '5 min'],
  [windowMs, '15 min'],
] as const;

/** The span chooser: a radio group (arrow keys move between its options). */
export function setUpSpan(): void {
  const group = el('fieldset', { className: 'span' }, el('legend', {}, 'Charts show the last'));
  for (const [ms, label] of spans) {
    const id = `span-${ms}`;
    const radio = el('input', { type: 'radio', name: 'span', id, value: String(ms), checked: ms === spanMs });
    radio.addEventListener('change', () => {
      spanMs = ms;
      $('series-span').textContent = `(last ${label})`;
      renderSeries();
    });
    group.append(el('span', {}, radio, el('label', { for: id }, label)));
  }
  $('series').before(group);
}

export function renderSeries(): void {
  const box = $('series');
  const to = seriesWindow.until;
  if (to === undefined) return;
  const from = to - spanMs;
  const stepMs = seriesWindow.stepMs;
  const byPlugin = new Map<string, ReturnType<SeriesWindow['versions']>>();
  const byVersion = (a: { version: string }, b: { version: string }) =>
    a.version.localeCompare(b.version, 'en', { numeric: true });
  for (const v of seriesWindow.versions().sort(byVersion)) {
    const list = byPlugin.get(v.plugin) ?? [];
    list.push(v);
    byPlugin.set(v.plugin, list);
  }
  const cards: HTMLElement[] = [];
  for (const [plugin, versions] of [...byPlugin].sort((a, b) => a[0].localeCompare(b[0]))) {
    const id = `series-${idOf(plugin)}`;
    // A plugin nobody called in the span gets one line, not three empty frames.
    if (!versions.some((v) => v.points.some((p) => p.t >= from && p.calls > 0))) {
      const label = spans.find(([ms]) => ms === spanMs)?.[1] ?? '';
      cards.push(
        el(
          'section',
          { className: 'card series idle', ariaLabel: `Time series of ${plugin}` },
          el('h3', {}, plugin, el('span', { className: 'muted' }, ` — no calls in the last ${label}`)),
        ),
      );
      continue;
    }
    const lines = (metric: Parameters<typeof samples>[1], faint = false) =>
      versions.map((v, i) => ({
        label: `${v.version}${metric === 'p50Ms' ? ' p50' : metric === 'p99Ms' ? ' p99' : ''}`,
        values: samples(v.points, metric, stepMs),
        style: i,
        faint,
      }));
    const common = { from, to, stepMs };
    cards.push(
      el(
        'section',
        { className: 'card series', ariaLabel: `Time series of ${plugin}` },
        el('h3', {}, plugin),
        legend(
          versions.map((v, i) => ({ label: v.loaded ? v.version : `${v.version} (unloaded)`, style: i })),
        ),
        el(
          'div',
          { className: 'charts' },
          chart({
            ...common,
            id: `${id}-rate`,
            title: 'Calls',
            unit: 'calls/s',
            lines: lines('callsPerSecond'),
          }),
          chart({
            ...common,
            id: `${id}-errors`,
            title: 'Error rate',
            unit: '%',
            lines: lines('errorRatePercent'),
          }),
          chart({
            ...common,
            id: `${id}-latency`,
            title: 'Latency p99 (p50 faint)',
            unit: 'ms',
            lines: [...lines('p99Ms'), ...lines('p50Ms', true)],
          }),
        ),
      ),
    );
  }
  if (cards.length === 0) cards.push(el('p', {}, 'No version is loaded.'));
  box.replaceChildren(...cards);
}
