/// <reference lib="dom" />
/**
 * Progressive rollouts (docs/rollouts.md) on the dashboard: a form that starts one, and per plugin its rollout's
 * step and weights, its controls (pause, resume, promote now, abort), canary and stable side by side (error rate
 * and p99 from the time series, on one scale, with the thresholds the engine judges by drawn across), and its
 * decision history with the evidence of each decision. Everything goes through /v1/admin/rollouts.
 */
import { act, api } from './api.js';
import { chart, chartMax, type Line, legend } from './charts.js';

/** The palette entry of the judged windows' marks. */
const judgedStyle = 3;

import { $, el, rerender } from './dom.js';
import { formatValue, niceMax, type SeriesPoint, samples, windowMs } from './geometry.js';
import { idOf, seriesWindow } from './series.js';
import type { PluginRow, RouteBody } from './tables.js';

export interface WindowStats {
  calls: number;
  errors: number;
  /** A fraction (errors / calls). */
  errorRate: number;
  errorsByCode: Record<string, number>;
  p50Ms?: number;
  p99Ms?: number;
  fromMs: number;
  toMs: number;
}
export interface Decision {
  at: number;
  step: number;
  weight: number;
  verdict: string;
  reason: string;
  actor: string;
  canary: WindowStats;
  stable: WindowStats;
  errorRateIncrease?: number;
  p99Ratio?: number;
  checks?: { name: string; ok: boolean; value?: number; reason: string }[];
}
export interface Rollout {
  plugin: string;
  version: string;
  stable: string;
  steps: number[];
  intervalMs: number;
  thresholds: { maxErrorRateIncrease: number; maxP99Ratio: number; minCalls: number };
  stepIndex: number;
  state: 'running' | 'paused' | 'promoted' | 'rolled-back' | 'aborted';
  stepStartedAt: number;
  stepEndsAt?: number;
  history: Decision[];
  createdAt: string;
  updatedAt: string;
}

const active = (r: Rollout) => r.state === 'running' || r.state === 'paused';

export async function pollRollouts(): Promise<Rollout[]> {
  return (await api<{ rollouts: Rollout[] }>('GET', '/v1/admin/rollouts')).rollouts;
}

export function renderRollouts(
  rollouts: Rollout[],
  plugins: PluginRow[],
  routes: Map<string, RouteBody>,
): void {
  renderStartForm(plugins, routes, rollouts);
  const list = $('rollouts-list');
  const sorted = [...rollouts].sort(
    (a, b) => Number(active(b)) - Number(active(a)) || b.updatedAt.localeCompare(a.updatedAt),
  );
  rerender(list, () => {
    list.replaceChildren(...sorted.map(rolloutCard));
    if (sorted.length === 0) list.append(el('p', { className: 'muted' }, 'No rollout yet.'));
  });
}

// ---- The start form ---------------------------------------------------------------------------------------------

/** The plugins and versions the form offers now: it is rebuilt only when they change (typing is never lost). */
let formShows: string | undefined;

function renderStartForm(plugins: PluginRow[], routes: Map<string, RouteBody>, rollouts: Rollout[]): void {
  const box = $('rollout-start');
  const busy = new Set(rollouts.filter(active).map((r) => r.plugin));
  const candidates = plugins.filter((p) => p.versions.length >= 2 && !busy.has(p.name));
  const shows = candidates.map((p) => `${p.name}:${p.versions.map((v) => v.version).join(',')}`).join(' ');
  if (shows === formShows && box.childElementCount > 0) return;
  // Never while the user is choosing or typing in it (the Start button keeping the focus is no reason to wait).
  const focused = document.activeElement;
  if (focused !== null && box.contains(focused) && focused.tagName !== 'BUTTON') return;
  formShows = shows;
  if (candidates.length === 0) {
    box.replaceChildren(
      el('p', {}, 'A rollout needs a plugin with two loaded versions and none in progress.'),
    );
    return;
  }
  const field = (id: string, label: string, input: HTMLInputElement | HTMLSelectElement) => {
    input.id = id;
    return el('div', { className: 'field' }, el('label', { for: id, textContent: label }), input);
  };
  const plugin = el('select', {});
  for (const p of candidates) plugin.append(el('option', { value: p.name, textContent: p.name }));
  const version = el('select', {});
  const stable = el('select', {});
  // Canary: the newest version by default; stable: the route's, else the one before the canary.
  const fillVersions = () => {
    const p = candidates.find((c) => c.name === plugin.value);
    const versions = (p?.versions ?? []).map((v) => v.version);
    const options = () => versions.map((v) => el('option', { value: v, textContent: v }));
    version.replaceChildren(...options());
    stable.replaceChildren(...options());
    const routed = routes.get(plugin.value)?.stable;
    version.value = versions.filter((v) => v !== routed).at(-1) ?? '';
    stable.value = routed ?? versions.filter((v) => v !== version.value).at(-1) ?? '';
  };
  plugin.addEventListener('change', fillVersions);
  fillVersions();
  const text = (value: string, inputMode?: string) => {
    const input = el('input', { type: 'text', value, required: true });
    if (inputMode !== undefined) input.inputMode = inputMode;
    return input;
  };
  const steps = text('1,5,25,50,100');
  const interval = text('30s');
  const errorRate = text('1', 'decimal');
  const p99 = text('1.5', 'decimal');
  const minCalls = text('50', 'numeric');
  const form = el(
    'form',
    { className: 'rollout-start', ariaLabel: 'Start a rollout' },
    field('rollout-plugin', 'Plugin', plugin),
    field('rollout-stable', 'Stable version', stable),
    field('rollout-version', 'Canary version', version),
    field('rollout-steps', 'Steps (%)', steps),
    field('rollout-interval', 'Interval', interval),
    field('rollout-max-error', 'Max error rate increase (points)', errorRate),
    field('rollout-max-p99', 'Max p99 ratio', p99),
    field('rollout-min-calls', 'Min calls per step', minCalls),
    el('button', { type: 'submit', id: 'rollout-start-button' }, 'Start rollout'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const body = {
      plugin: plugin.value,
      version: version.value,
      stable: stable.value,
      steps: steps.value
        .split(/[\s,]+/)
        .filter(Boolean)
        .map(Number),
      interval: interval.value.trim(),
      thresholds: {
        maxErrorRateIncrease: Number(errorRate.value),
        maxP99Ratio: Number(p99.value),
        minCalls: Number(minCalls.value),
      },
    };
    // Rebuilt after the start (the plugin now has a rollout in progress), focus or not.
    formShows = undefined;
    void act(`rollout ${body.plugin}@${body.version}`, () => api('POST', '/v1/admin/rollouts', body));
  });
  box.replaceChildren(form);
}

// ---- One rollout ------------------------------------------------------------------------------------------------

function rolloutCard(r: Rollout): HTMLElement {
  const id = `rollout-${idOf(r.plugin)}`;
  const weight = r.state === 'promoted' ? 100 : active(r) ? (r.steps[r.stepIndex] ?? 0) : 0;
  const judged =
    r.state === 'running' && r.stepEndsAt !== undefined
      ? `judged in ${Math.max(0, Math.round((r.stepEndsAt - Date.now()) / 1000))} s`
      : r.state;
  const stepList = el('span', {});
  r.steps.forEach((s, i) => {
    if (i > 0) stepList.append(' → ');
    stepList.append(i === r.stepIndex && active(r) ? el('strong', {}, `${s} %`) : `${s} %`);
  });
  const t = r.thresholds;
  const facts = el(
    'div',
    { className: 'facts' },
    el('span', {}, `Step ${r.stepIndex + 1} of ${r.steps.length} (${judged})`),
    el('span', {}, 'Steps ', stepList),
    el('span', {}, `Interval ${formatMs(r.intervalMs)}`),
    el(
      'span',
      {},
      `Fails at error rate +${t.maxErrorRateIncrease} points or p99 × ${t.maxP99Ratio}; waits for ${t.minCalls} canary calls`,
    ),
  );
  const bar = el(
    'div',
    { className: 'weights', role: 'img', ariaLabel: `Weights: stable ${100 - weight} %, canary ${weight} %` },
    share('w-stable', 100 - weight),
    share('w-canary', weight),
  );
  return el(
    'section',
    { className: 'card rollout', id, ariaLabel: `Rollout of ${r.plugin}` },
    el(
      'h3',
      {},
      `${r.plugin}: ${r.stable} → ${r.version} `,
      el('span', { className: `badge rollout-${r.state}` }, r.state),
    ),
    facts,
    el(
      'p',
      { className: 'weights-text' },
      `Stable ${r.stable}: ${100 - weight} % · canary ${r.version}: ${weight} %`,
    ),
    bar,
    controls(r, id),
    sides(r, id),
    history(r),
  );
}

function share(className: string, percent: number): HTMLElement {
  const span = el('span', { className });
  span.style.width = `${percent}%`;
  return span;
}

function controls(r: Rollout, id: string): HTMLElement {
  const box = el('div', { className: 'controls' });
  const buttons: [action: 'pause' | 'resume' | 'promote' | 'abort', label: string, enabled: boolean][] = [
    ['pause', 'Pause', r.state === 'running'],
    ['resume', 'Resume', r.state === 'paused'],
    ['promote', 'Promote now', active(r)],
    ['abort', 'Abort', active(r)],
  ];
  for (const [action, label, enabled] of buttons) {
    const button = el('button', {
      type: 'button',
      id: `${id}-${action}`,
      textContent: label,
      disabled: !enabled,
      className: action === 'abort' ? 'danger' : '',
      ariaLabel: `${label} rollout of ${r.plugin}`,
    });
    button.addEventListener('click', () =>
      act(`${action} rollout ${r.plugin}`, () =>
        api('POST', `/v1/admin/rollouts/${encodeURIComponent(r.plugin)}/${action}`, {}),
      ),
    );
    box.append(button);
  }
  return box;
}

/** The latest decision whose stable side saw calls: what the thresholds are measured from. */
function stableEvidence(r: Rollout): WindowStats | undefined {
  return r.history.findLast((d) => d.stable.calls > 0)?.stable;
}

/**
 * Canary and stable side by side: error rate and p99 over the window, one y scale per metric across both sides,
 * the thresholds (stable's rate + the allowed increase; stable's p99 × the allowed ratio) drawn on both.
 */
function sides(r: Rollout, id: string): HTMLElement {
  // Zoomed on the rollout: from a little before it started (at least the last minute, at most the window).
  const to = seriesWindow.until ?? Date.now();
  const from = Math.max(to - windowMs, Math.min(Date.parse(r.createdAt) - 15_000, to - 60_000));
  const stepMs = seriesWindow.stepMs;
  const pointsOf = (version: string): SeriesPoint[] =>
    seriesWindow.versions().find((v) => v.plugin === r.plugin && v.version === version)?.points ?? [];
  const evidence = stableEvidence(r);
  let stableRate = evidence === undefined ? undefined : evidence.errorRate * 100;
  if (stableRate === undefined) {
    // No judged stable window yet: the stable's own calls since the step started, from the series.
    const since = pointsOf(r.stable).filter((p) => p.t >= r.stepStartedAt);
    const calls = since.reduce((n, p) => n + p.calls, 0);
    if (calls > 0) stableRate = (100 * since.reduce((n, p) => n + p.errors, 0)) / calls;
  }
  const errorLimit =
    stableRate === undefined
      ? []
      : [
          {
            label: `limit ${formatValue(stableRate + r.thresholds.maxErrorRateIncrease)} %`,
            value: stableRate + r.thresholds.maxErrorRateIncrease,
          },
        ];
  const p99Limit =
    evidence?.p99Ms === undefined
      ? []
      : [
          {
            label: `limit ${formatValue(evidence.p99Ms * r.thresholds.maxP99Ratio)} ms`,
            value: evidence.p99Ms * r.thresholds.maxP99Ratio,
          },
        ];
  const markers = [{ t: Date.parse(r.createdAt), label: 'start' }];
  const end = r.history.findLast(
    (d) => d.verdict === 'fail' || d.verdict === 'promote' || d.verdict === 'abort',
  );
  if (end !== undefined && !active(r)) markers.push({ t: end.at, label: r.state });
  // What each decision judged (the host's window since the step started), placed at the decision's time: the
  // evidence stays on the chart even when the series lost a released canary's last seconds.
  const judged = r.history.filter((d) => d.canary.calls > 0 || d.stable.calls > 0);
  const evidenceLine = (label: string, pick: (d: Decision) => number | undefined): Line => ({
    label,
    values: judged.map((d) => ({ t: d.at - stepMs / 2, v: pick(d) })),
    style: judgedStyle,
  });
  const sideLines = (version: string, style: number, side: 'canary' | 'stable') => ({
    errors: [
      { label: version, values: samples(pointsOf(version), 'errorRatePercent', stepMs), style },
      evidenceLine(`${version} judged`, (d) => (d[side].calls > 0 ? d[side].errorRate * 100 : undefined)),
    ] as Line[],
    p99: [
      { label: `${version} p99`, values: samples(pointsOf(version), 'p99Ms', stepMs), style },
      evidenceLine(`${version} judged p99`, (d) => d[side].p99Ms),
    ] as Line[],
  });
  const stable = sideLines(r.stable, 0, 'stable');
  const canary = sideLines(r.version, 1, 'canary');
  const errorMax = niceMax(
    Math.max(chartMax({ lines: [...stable.errors, ...canary.errors], thresholds: errorLimit }), 1),
  );
  const p99Max = niceMax(chartMax({ lines: [...stable.p99, ...canary.p99], thresholds: p99Limit }));
  const column = (title: string, side: typeof stable, key: string) =>
    el(
      'div',
      { className: 'side' },
      el('h4', {}, title),
      el('div', { className: 'pair' }, ...sideCharts(title, side, key)),
    );
  const sideCharts = (title: string, side: typeof stable, key: string) => [
    chart({
      id: `${id}-${key}-errors`,
      title: `Error rate of ${title}`,
      unit: '%',
      from,
      to,
      stepMs,
      lines: side.errors,
      thresholds: errorLimit,
      yMax: errorMax,
      markers,
    }),
    chart({
      id: `${id}-${key}-p99`,
      title: `p99 latency of ${title}`,
      unit: 'ms',
      from,
      to,
      stepMs,
      lines: side.p99,
      thresholds: p99Limit,
      yMax: p99Max,
      markers,
    }),
  ];
  return el(
    'div',
    {},
    legend([
      { label: `stable ${r.stable} (per second)`, style: 0 },
      { label: `canary ${r.version} (per second)`, style: 1 },
      { label: 'window each decision judged', style: judgedStyle },
    ]),
    el(
      'div',
      {
        className: 'sides',
        ariaLabel: `Canary against stable, since shortly before the rollout of ${r.plugin}`,
      },
      column(`stable ${r.stable}`, stable, 'stable'),
      column(`canary ${r.version}`, canary, 'canary'),
    ),
  );
}

const historyLabels = ['Time', 'Step', 'Verdict', 'Reason', 'Canary', 'Stable', 'Compared'];
const shownDecisions = 12;

function history(r: Rollout): HTMLElement {
  const body = el('tbody');
  const decisions = [...r.history].reverse();
  for (const d of decisions.slice(0, shownDecisions)) {
    const cells = [
      new Date(d.at).toISOString().slice(11, 19),
      `${d.step + 1} (${d.weight} %)`,
      el('span', { className: `badge verdict-${d.verdict}` }, d.verdict),
      `${d.reason} (${d.actor})`,
      windowText(d.canary),
      windowText(d.stable),
      [
        d.errorRateIncrease === undefined ? '' : `error rate ${signed(d.errorRateIncrease)} points`,
        d.p99Ratio === undefined ? '' : `p99 × ${d.p99Ratio.toFixed(2)}`,
        ...(d.checks ?? []).map((c) => `${c.name}: ${c.ok ? 'ok' : 'failed'} (${c.reason})`),
      ]
        .filter(Boolean)
        .join('; ') || '—',
    ];
    const tr = el('tr');
    cells.forEach((cell, i) => {
      const td = el('td', {}, cell);
      td.dataset.label = historyLabels[i] ?? '';
      tr.append(td);
    });
    body.append(tr);
  }
  const head = el('tr');
  for (const label of historyLabels) head.append(el('th', { scope: 'col', textContent: label }));
  const more = decisions.length - shownDecisions;
  return el(
    'details',
    { className: 'history', open: true },
    el(
      'summary',
      {},
      `Decisions (${r.history.length}, newest first${more > 0 ? `; ${more} earlier not shown` : ''})`,
    ),
    el('table', { className: 'evidence' }, el('thead', {}, head), body),
  );
}

/** "412 calls, 80 errors (19.4 %), p99 3.1 ms". */
function windowText(w: WindowStats): string {
  if (w.calls === 0) return 'no calls';
  const p99 = w.p99Ms === undefined ? '' : `, p99 ${formatValue(w.p99Ms)} ms`;
  return `${w.calls} calls, ${w.errors} errors (${(w.errorRate * 100).toFixed(1)} %)${p99}`;
}

const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}`;

function formatMs(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
