/// <reference lib="dom" />
/**
 * The dashboard's browser code (compiled by tsc with the package, served as /dashboard/app.js). It polls the JSON
 * API every 2 s and renders plugins, routes, live figures, the audit log and load diagnostics; the buttons call
 * the admin API (PUT /v1/routes/:plugin, POST /v1/plugins/:plugin/activate|rollback). When the gateway has an
 * admin token, the first 401 shows a form for it; the token is kept in this tab's sessionStorage and sent as
 * `authorization: Bearer <token>`.
 */

interface VersionRow {
  version: string;
  tier: string;
  state: string;
  circuit: string;
  inflight: number;
  trust?: { status: string; level: string };
}
interface PluginRow {
  name: string;
  versions: VersionRow[];
  diagnostics: { code: string; message: string; dir: string }[];
}
interface RouteBody {
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

const $ = (id: string) => document.getElementById(id) as HTMLElement;
let previous: { at: number; stats: Map<string, Stats> } | undefined;
const routes = new Map<string, RouteBody>();

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> & Record<string, unknown> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k.startsWith('aria') || k.startsWith('data') || k === 'for')
      node.setAttribute(
        k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`),
        String(v),
      );
    else (node as unknown as Record<string, unknown>)[k] = v;
  }
  node.append(...children);
  return node;
}

const tokenKey = 'plugbay-admin-token';

async function api<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { 'x-plugbay-actor': 'dashboard' };
  const token = sessionStorage.getItem(tokenKey);
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const init: RequestInit = { method, headers };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(url, init);
  if (res.status === 401) askForToken(token !== null);
  const json = (await res.json().catch(() => ({}))) as T & { error?: { code: string; message: string } };
  if (!res.ok)
    throw new Error(json.error ? `${json.error.code}: ${json.error.message}` : `HTTP ${res.status}`);
  return json;
}

function announce(text: string, isError = false): void {
  const status = $('status');
  status.textContent = text;
  status.className = isError ? 'status error' : 'status';
}

async function act(label: string, work: () => Promise<unknown>): Promise<void> {
  try {
    await work();
    announce(`${label}: done`);
  } catch (err) {
    announce(`${label}: ${(err as Error).message}`, true);
  }
  await refresh();
}

function renderPlugins(plugins: PluginRow[]): void {
  const body = $('plugins-body');
  const focused = body.contains(document.activeElement) ? (document.activeElement?.id ?? '') : '';
  body.replaceChildren();
  for (const p of plugins) {
    for (const v of p.versions) {
      const route = routes.get(p.name);
      const stable = route?.stable === v.version;
      const activate = el('button', {
        type: 'button',
        textContent: 'Activate',
        disabled: stable,
        id: `activate-${p.name}-${v.version}`,
      });
      activate.setAttribute('aria-label', `Activate ${p.name} ${v.version}`);
      activate.addEventListener('click', () =>
        act(`activate ${p.name}@${v.version}`, () =>
          api('POST', `/v1/plugins/${encodeURIComponent(p.name)}/activate`, { version: v.version }),
        ),
      );
      body.append(
        el(
          'tr',
          {},
          el('th', { scope: 'row', textContent: p.name }),
          el('td', { textContent: v.version + (stable ? ' (stable)' : '') }),
          el('td', { textContent: v.tier }),
          el('td', {}, el('span', { className: `badge state-${v.state}`, textContent: v.state })),
          el('td', { textContent: v.circuit === 'open' ? 'open (skipped)' : 'closed' }),
          el('td', { textContent: v.trust ? `${v.trust.status} (${v.trust.level})` : '—' }),
          el('td', {}, activate),
        ),
      );
    }
  }
  if (focused !== '') document.getElementById(focused)?.focus();
}

function renderRoutes(plugins: PluginRow[]): void {
  const box = $('routes');
  // Keep what the user is typing: no re-render while a field of the routes has the focus.
  const active = document.activeElement;
  if (active !== null && box.contains(active) && (active.tagName === 'INPUT' || active.tagName === 'SELECT'))
    return;
  const focused = active !== null && box.contains(active) ? active.id : '';
  box.replaceChildren();
  for (const p of plugins) {
    const route = routes.get(p.name) ?? {};
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
      { className: 'canary' },
      el('label', { for: `${id}-version`, textContent: 'Canary version' }),
      select,
      el('label', { for: `${id}-percent`, textContent: 'Canary %' }),
      percent,
      el('button', { type: 'submit', textContent: 'Set canary', id: `${id}-set` }),
    );
    form.setAttribute('aria-label', `Canary of ${p.name}`);
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
    const rollback = el('button', { type: 'button', textContent: 'Roll back', id: `rollback-${p.name}` });
    rollback.setAttribute('aria-label', `Roll back ${p.name}`);
    rollback.addEventListener('click', () =>
      act(`rollback ${p.name}`, () => api('POST', `/v1/plugins/${encodeURIComponent(p.name)}/rollback`, {})),
    );
    const facts = el(
      'dl',
      {},
      el('dt', { textContent: 'Stable' }),
      el('dd', { textContent: route.stable ?? '(newest release)' }),
      el('dt', { textContent: 'Canary' }),
      el('dd', {
        textContent: route.canary ? `${route.canary.version} at ${route.canary.percent} %` : 'none',
      }),
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
    box.append(
      el('section', { className: 'route card' }, el('h3', { textContent: p.name }), facts, form, rollback),
    );
  }
  // A button that was re-created keeps the keyboard focus.
  if (focused !== '') document.getElementById(focused)?.focus();
}

function renderStats(at: number, stats: Stats[]): void {
  const body = $('stats-body');
  body.replaceChildren();
  const now = new Map(stats.map((s) => [`${s.plugin}@${s.version}`, s]));
  for (const [key, s] of now) {
    const before = previous?.stats.get(key);
    const seconds = previous === undefined ? 0 : (at - previous.at) / 1000;
    const rate = before && seconds > 0 ? (s.calls - before.calls) / seconds : undefined;
    const errRate = before && seconds > 0 ? (s.errors - before.errors) / seconds : undefined;
    const ms = (x: number | undefined) => (x === undefined ? '—' : `${(x * 1000).toFixed(2)} ms`);
    const perSec = (x: number | undefined) => (x === undefined ? '…' : `${x.toFixed(1)}/s`);
    body.append(
      el(
        'tr',
        {},
        el('th', { scope: 'row', textContent: key }),
        el('td', { textContent: perSec(rate) }),
        el('td', { textContent: perSec(errRate) }),
        el('td', { textContent: String(s.calls) }),
        el('td', { textContent: ms(s.p50) }),
        el('td', { textContent: ms(s.p99) }),
      ),
    );
  }
  previous = { at, stats: now };
}

function renderAudit(entries: AuditRow[]): void {
  const body = $('audit-body');
  body.replaceChildren();
  for (const e of entries) {
    body.append(
      el(
        'tr',
        {},
        el('td', { textContent: e.time.replace('T', ' ').slice(0, 19) }),
        el('td', { textContent: e.actor }),
        el('td', { textContent: e.action }),
        el('td', { textContent: [e.plugin, e.version].filter(Boolean).join('@') }),
        el('td', { textContent: e.reason ?? '' }),
      ),
    );
  }
}

function renderDiagnostics(plugins: PluginRow[], loose: PluginRow['diagnostics']): void {
  const list = $('diagnostics');
  list.replaceChildren();
  const all = [...plugins.flatMap((p) => p.diagnostics), ...loose];
  if (all.length === 0) list.append(el('li', { textContent: 'Every plugin loaded.' }));
  for (const d of all)
    list.append(el('li', {}, el('code', { textContent: d.code }), ` ${d.message} (${d.dir})`));
}

/** Shows the token form (the gateway answered 401); refreshes stop until a token is given. */
function askForToken(rejected: boolean): void {
  const form = $('login') as HTMLFormElement;
  if (!form.hidden) return;
  if (rejected) sessionStorage.removeItem(tokenKey);
  form.hidden = false;
  $('login-note').textContent = rejected
    ? 'The gateway refused that token.'
    : 'This gateway asks for its admin token (plugbay serve --admin-token-file).';
  ($('login-token') as HTMLInputElement).focus();
}

($('login') as HTMLFormElement).addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('login-token') as HTMLInputElement;
  if (input.value === '') return;
  sessionStorage.setItem(tokenKey, input.value);
  input.value = '';
  ($('login') as HTMLFormElement).hidden = true;
  void refresh();
});

// ---- Try it: one form per function, from the gateway's OpenAPI document ----------------------------------------

interface OpenApiOperation {
  'x-plugbay-plugin': string;
  'x-plugbay-function': string;
  'x-plugbay-codec': 'json' | 'bytes';
  description?: string;
  requestBody?: { content: Record<string, { schema?: unknown; example?: unknown }> };
}
interface OpenApi {
  paths: Record<string, { post?: OpenApiOperation }>;
}

/** The operations the forms show now: rebuilt only when they change, so that typing is never interrupted. */
let tryItShown = '';

/** A starting input from a schema: its first example, its default, or the smallest value of its type. */
function sampleOf(schema: unknown): unknown {
  if (typeof schema !== 'object' || schema === null) return {};
  const s = schema as Record<string, unknown>;
  if (Array.isArray(s.examples) && s.examples.length > 0) return s.examples[0];
  if ('default' in s) return s.default;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  switch (s.type) {
    case 'object': {
      const properties = (s.properties ?? {}) as Record<string, unknown>;
      const required = Array.isArray(s.required) ? (s.required as string[]) : [];
      return Object.fromEntries(required.map((k) => [k, sampleOf(properties[k])]));
    }
    case 'array':
      return [];
    case 'string':
      return '';
    case 'number':
    case 'integer':
      return typeof s.minimum === 'number' ? s.minimum : 0;
    case 'boolean':
      return false;
    default:
      return {};
  }
}

function renderTryIt(doc: OpenApi): void {
  const box = $('try-it');
  const operations = Object.entries(doc.paths)
    .map(([path, item]) => [path, item.post] as const)
    .filter((e): e is readonly [string, OpenApiOperation] => e[1] !== undefined);
  const shown = operations.map(([path, op]) => `${path}:${op['x-plugbay-codec']}`).join('\n');
  if (shown === tryItShown || box.contains(document.activeElement)) return;
  tryItShown = shown;
  box.replaceChildren();
  if (operations.length === 0) box.append(el('p', {}, 'No function is loaded.'));
  for (const [path, op] of operations) {
    const name = `${op['x-plugbay-plugin']}.${op['x-plugbay-function']}`;
    const bytes = op['x-plugbay-codec'] === 'bytes';
    const json = op.requestBody?.content['application/json'];
    const id = `try-${name.replace(/[^A-Za-z0-9]/g, '-')}`;
    const input = el('textarea', { id: `${id}-input`, rows: 3, spellcheck: false });
    input.value = bytes ? '' : JSON.stringify(json?.example ?? sampleOf(json?.schema), null, 2);
    const result = el('output', { id: `${id}-result`, for: `${id}-input`, ariaLive: 'polite' });
    const form = el(
      'form',
      { className: 'try', ariaLabel: `Try ${name}` },
      el('h3', {}, name),
      ...(op.description ? [el('p', {}, op.description)] : []),
      el('label', { for: input.id }, bytes ? `Input of ${name} (raw text)` : `Input of ${name} (JSON)`),
      input,
      el('button', { type: 'submit' }, `Call ${name}`),
      result,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void tryCall(path, bytes, input.value, result);
    });
    box.append(form);
  }
}

/** Posts the textarea to the call API, as any caller would, and shows the answer (or the error) below it. */
async function tryCall(path: string, bytes: boolean, body: string, result: HTMLOutputElement): Promise<void> {
  result.className = '';
  result.textContent = 'Calling…';
  try {
    const res = await fetch(path, {
      method: 'POST',
      headers: { 'content-type': bytes ? 'application/octet-stream' : 'application/json' },
      body,
    });
    const type = res.headers.get('content-type') ?? '';
    const text = await res.text();
    const shown = type.startsWith('application/json') ? JSON.stringify(JSON.parse(text), null, 2) : text;
    result.className = res.ok ? 'ok' : 'error';
    result.textContent = res.ok
      ? `${res.status} from ${res.headers.get('x-plugbay-served-by') ?? '?'}\n${shown}`
      : `${res.status}\n${shown}`;
  } catch (err) {
    result.className = 'error';
    result.textContent = (err as Error).message;
  }
}

async function refresh(): Promise<void> {
  if (!($('login') as HTMLFormElement).hidden) return;
  try {
    const report = await api<{ plugins: PluginRow[]; diagnostics: PluginRow['diagnostics'] }>(
      'GET',
      '/v1/plugins',
    );
    const loaded = report.plugins.filter((p) => p.versions.length > 0);
    await Promise.all(
      loaded.map(async (p) => {
        const r = await api<{ route: RouteBody | null }>('GET', `/v1/routes/${encodeURIComponent(p.name)}`);
        routes.set(p.name, r.route ?? {});
      }),
    );
    renderPlugins(loaded);
    renderRoutes(loaded);
    renderDiagnostics(report.plugins, report.diagnostics);
    const stats = await api<{ at: number; versions: Stats[] }>('GET', '/v1/stats');
    renderStats(stats.at, stats.versions);
    const audit = await api<{ entries: AuditRow[] }>('GET', '/v1/audit?limit=20');
    renderAudit(audit.entries);
    renderTryIt(await api<OpenApi>('GET', '/v1/openapi.json'));
    $('updated').textContent = `Updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    announce(`Refresh failed: ${(err as Error).message}`, true);
  }
}

void refresh();
setInterval(() => void refresh(), 2000);
