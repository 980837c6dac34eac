/// <reference lib="dom" />
/**
 * The dashboard's tables: plugins (state, circuit and crash loop with their reasons), routes with the canary form,
 * live figures, the audit log and load diagnostics. Every cell carries its column's name (`data-label`) so that a
 * phone shows each row as a small card instead of a table wider than the screen.
 */
import { act, api } from './api.js';
import { $, el, rerender } from './dom.js';

export interface ErrorFact {
  code: string;
  message: string;
}
export interface VersionRow {
  version: string;
  tier: string;
  state: string;
  circuit: string;
  inflight: number;
  functions: string[];
  trust?: { status: string; level: string };
  /** Why the circuit is open (only while it is). */
  circuitReason?: { failures: number; until: number; lastError?: ErrorFact };
  /** The crash loop the instance is in (state crashloop). */
  crashloop?: { crashes?: number; retryAt?: number; lastExit?: ErrorFact };
}
export interface PluginRow {
  name: string;
  versions: VersionRow[];
  diagnostics: { code: string; message: string; dir: string }[];
}
export interface RouteBody {
  stable?: string;
  canary?: { version: string; percent: number };
  experiments?: { name: string; variants: { version: string; weight?: number }[] }[];
  fallback?: string[];
}
interface Stats {
  plugin: string;
  version: string;
  calls: number;
  errors: number;
  p50?: number;
  p99?: number;
}
interface AuditRow {
  id: number;
  time: string;
  actor: string;
  action: string;
  plugin?: string;
  version?: string;
  reason?: string;
}

/** A row whose cells carry their column names (see the file comment). */
function row(labels: readonly string[], ...cells: (HTMLTableCellElement | string)[]): HTMLTableRowElement {
  const tr = el('tr');
  cells.forEach((cell, i) => {
    const node = typeof cell === 'string' ? el('td', { textContent: cell }) : cell;
    node.dataset.label = labels[i] ?? '';
    tr.append(node);
  });
  return tr;
}

/** "in 3 s", "now": how far `at` (epoch ms) is from the browser's clock. */
function inSeconds(at: number): string {
  const s = Math.max(0, Math.round((at - Date.now()) / 1000));
  return s === 0 ? 'now' : `in ${s} s`;
}

/** The state cell: the badge, and for a crash loop how many crashes, the next retry and the last exit. */
function stateCell(v: VersionRow): HTMLTableCellElement {
  const cell = el('td', {}, el('span', { className: `badge state-${v.state}`, textContent: v.state }));
  const loop = v.crashloop;
  if (v.state === 'crashloop' && loop !== undefined) {
    const parts = [
      loop.crashes === undefined ? 'restarted too often' : `${loop.crashes} crashes`,
      loop.retryAt === undefined ? undefined : `next try ${inSeconds(loop.retryAt)}`,
    ].filter(Boolean);
    cell.append(el('span', { className: 'reason', textContent: parts.join(', ') }));
    if (loop.lastExit !== undefined)
      cell.append(
        el(
          'span',
          { className: 'reason' },
          el('code', { textContent: loop.lastExit.code }),
          ` ${loop.lastExit.message}`,
        ),
      );
  }
  return cell;
}

/** The circuit cell: closed, or open with the failures that opened it, the last error and when it half-opens. */
function circuitCell(v: VersionRow): HTMLTableCellElement {
  if (v.circuit !== 'open') return el('td', { textContent: 'closed' });
  const cell = el('td', {}, el('span', { className: 'badge circuit-open', textContent: 'open (skipped)' }));
  const why = v.circuitReason;
  if (why !== undefined) {
    cell.append(
      el('span', {
        className: 'reason',
        textContent: `${why.failures} failed call${why.failures === 1 ? '' : 's'} in a row; next call let through ${inSeconds(why.until)}`,
      }),
    );
    if (why.lastError !== undefined)
      cell.append(
        el(
          'span',
          { className: 'reason' },
          el('code', { textContent: why.lastError.code }),
          ` ${why.lastError.message}`,
        ),
      );
  }
  return cell;
}

const pluginLabels = ['Plugin', 'Version', 'Tier', 'State', 'Circuit', 'Signature', 'Actions'];

export function renderPlugins(plugins: PluginRow[], routes: Map<string, RouteBody>): void {
  const body = $('plugins-body');
  rerender(body, () => {
    body.replaceChildren();
    for (const p of plugins) {
      for (const v of p.versions) {
        const stable = routes.get(p.name)?.stable === v.version;
        const activate = el('button', {
          type: 'button',
          textContent: 'Activate',
          disabled: stable,
          id: `activate-${p.name}-${v.version}`,
          ariaLabel: `Activate ${p.name} ${v.version}`,
        });
        activate.addEventListener('click', () =>
          act(`activate ${p.name}@${v.version}`, () =>
            api('POST', `/v1/plugins/${encodeURIComponent(p.name)}/activate`, { version: v.version }),
          ),
        );
        body.append(
          row(
            pluginLabels,
            el('th', { scope: 'row', textContent: p.name }),
            v.version + (stable ? ' (stable)' : ''),
            v.tier,
            stateCell(v),
            circuitCell(v),
            v.trust ? `${v.trust.status} (${v.trust.level})` : '—',
            el('td', {}, activate),
          ),
        );
      }
    }
  });
}

export function renderRoutes(plugins: PluginRow[], routes: Map<string, RouteBody>): void {
  const box = $('routes');
  rerender(box, () => {
    box.replaceChildren();
    for (const p of plugins) box.append(routeCard(p, routes.get(p.name) ?? {}));
  });
}

function routeCard(p: PluginRow, route: RouteBody): HTMLElement {
  const id = `canary-${p.name}`;
  const versions = p.versions.map((v) => v.version);
  const select = el('select', { id: `${id}-version` });
  for (const v of versions)
    select.append(el('option', { value: v, textContent: v, selected: route.canary?.version === v }));
  const percent = el('input', {
    id: `${id}-percent`,
    type: 'number',
    min: '0',
    max: '100',
    step: '1',
    value: String(route.canary?.percent ?? 0),
  });
  const form = el(
    'form',
    { className: 'canary', ariaLabel: `Canary of ${p.name}` },
    el('label', { for: `${id}-version`, textContent: 'Canary version' }),
    select,
    el('label', { for: `${id}-percent`, textContent: 'Canary %' }),
    percent,
    el('button', { type: 'submit', textContent: 'Set canary', id: `${id}-set` }),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const pct = Number(percent.value);
    const next: RouteBody = { ...route };
    if (pct > 0) {
      next.canary = { version: select.value, percent: pct };
      // A canary needs a stable: without a route, the newest other version is what answers today.
      next.stable ??= versions.filter((v) => v !== select.value).at(-1);
    } else delete next.canary;
    void act(`route ${p.name}`, () => api('PUT', `/v1/routes/${encodeURIComponent(p.name)}`, next));
  });
  const rollback = el('button', {
    type: 'button',
    textContent: 'Roll back',
    id: `rollback-${p.name}`,
    ariaLabel: `Roll back ${p.name}`,
  });
  rollback.addEventListener('click', () =>
    act(`rollback ${p.name}`, () => api('POST', `/v1/plugins/${encodeURIComponent(p.name)}/rollback`, {})),
  );
  const facts = el(
    'dl',
    {},
    el('dt', { textContent: 'Stable' }),
    el('dd', { textContent: route.stable ?? '(newest release)' }),
    el('dt', { textContent: 'Canary' }),
    el('dd', { textContent: route.canary ? `${route.canary.version} at ${route.canary.percent} %` : 'none' }),
    el('dt', { textContent: 'Experiments' }),
    el('dd', {
      textContent:
        (route.experiments ?? [])
          .map((e) => `${e.name}: ${e.variants.map((v) => `${v.version}×${v.weight ?? 1}`).join(' / ')}`)
          .join('; ') || 'none',
    }),
    el('dt', { textContent: 'Fallback' }),
    el('dd', { textContent: (route.fallback ?? []).join(' → ') || 'none' }),
  );
  return el('section', { className: 'route card' }, el('h3', { textContent: p.name }), facts, form, rollback);
}

let previous: { at: number; stats: Map<string, Stats> } | undefined;
const statsLabels = ['Version', 'Calls', 'Errors', 'Total', 'p50', 'p99'];

/** Totals since load, and rates from the previous poll's totals. */
export function renderStats(at: number, stats: Stats[]): void {
  const body = $('stats-body');
  body.replaceChildren();
  const now = new Map(stats.map((s) => [`${s.plugin}@${s.version}`, s]));
  const ms = (x: number | undefined) => (x === undefined ? '—' : `${(x * 1000).toFixed(2)} ms`);
  const perSec = (x: number | undefined) => (x === undefined ? '…' : `${x.toFixed(1)}/s`);
  for (const [key, s] of now) {
    const before = previous?.stats.get(key);
    const seconds = previous === undefined ? 0 : (at - previous.at) / 1000;
    const rate = before && seconds > 0 ? (s.calls - before.calls) / seconds : undefined;
    const errRate = before && seconds > 0 ? (s.errors - before.errors) / seconds : undefined;
    body.append(
      row(
        statsLabels,
        el('th', { scope: 'row', textContent: key }),
        perSec(rate),
        perSec(errRate),
        String(s.calls),
        ms(s.p50),
        ms(s.p99),
      ),
    );
  }
  previous = { at, stats: now };
}

const auditLabels = ['Time (UTC)', 'Actor', 'Action', 'Plugin', 'Reason'];

export function renderAudit(entries: AuditRow[]): void {
  const body = $('audit-body');
  body.replaceChildren();
  for (const e of entries) {
    body.append(
      row(
        auditLabels,
        e.time.replace('T', ' ').slice(0, 19),
        e.actor,
        e.action,
        [e.plugin, e.version].filter(Boolean).join('@'),
        e.reason ?? '',
      ),
    );
  }
}

export function renderDiagnostics(plugins: PluginRow[], loose: PluginRow['diagnostics']): void {
  const list = $('diagnostics');
  list.replaceChildren();
  const all = [...plugins.flatMap((p) => p.diagnostics), ...loose];
  if (all.length === 0) list.append(el('li', { textContent: 'Every plugin loaded.' }));
  for (const d of all)
    list.append(el('li', {}, el('code', { textContent: d.code }), ` ${d.message} (${d.dir})`));
}
