/// <reference lib="dom" />
/**
 * The dashboard's entry (served as /dashboard/app.js with its modules beside it, all compiled by tsc from
 * packages/plugbay/dashboard). Every 2 s it polls the JSON API and renders: time series (series.ts), rollouts
 * (rollouts.ts), plugins with their circuit and crash-loop reasons, routes, live figures, the audit log and load
 * diagnostics (tables.ts), and the try-it forms (try-it.ts). The buttons call the admin API (api.ts).
 */
import { announce, api, onAction, setUpLogin, waitingForToken } from './api.js';
import { $ } from './dom.js';
import { pollRollouts, renderRollouts } from './rollouts.js';
import { pollSeries, renderSeries, setUpSpan } from './series.js';
import {
  type PluginRow,
  type RouteBody,
  renderAudit,
  renderDiagnostics,
  renderPlugins,
  renderRoutes,
  renderStats,
} from './tables.js';
import { type OpenApi, renderTryIt } from './try-it.js';

const routes = new Map<string, RouteBody>();
/** The plugins with a loaded version, as the last poll saw them. */
let loaded: PluginRow[] = [];

/** One failing part (an older gateway without /v1/series, say) must not blank the others. */
async function part(name: string, work: () => Promise<void>): Promise<string | undefined> {
  try {
    await work();
    return undefined;
  } catch (err) {
    return `${name}: ${(err as Error).message}`;
  }
}

let running = false;

async function refresh(): Promise<void> {
  if (waitingForToken() || running) return;
  running = true;
  try {
    const failed = (
      await Promise.all([
        part('plugins', async () => {
          const report = await api<{ plugins: PluginRow[]; diagnostics: PluginRow['diagnostics'] }>(
            'GET',
            '/v1/plugins',
          );
          loaded = report.plugins.filter((p) => p.versions.length > 0);
          await Promise.all(
            loaded.map(async (p) => {
              const r = await api<{ route: RouteBody | null }>(
                'GET',
                `/v1/routes/${encodeURIComponent(p.name)}`,
              );
              routes.set(p.name, r.route ?? {});
            }),
          );
          renderPlugins(loaded, routes);
          renderRoutes(loaded, routes);
          renderDiagnostics(report.plugins, report.diagnostics);
        }),
        part('series', async () => {
          await pollSeries();
          renderSeries();
        }),
        part('stats', async () => {
          const stats = await api<{ at: number; versions: Parameters<typeof renderStats>[1] }>(
            'GET',
            '/v1/stats',
          );
          renderStats(stats.at, stats.versions);
        }),
        part('audit', async () => {
          renderAudit(
            (await api<{ entries: Parameters<typeof renderAudit>[0] }>('GET', '/v1/audit?limit=20')).entries,
          );
        }),
        part('try it', async () => renderTryIt(await api<OpenApi>('GET', '/v1/openapi.json'))),
      ])
    ).filter((f) => f !== undefined);
    // After the plugins and the series: the rollout panel draws from both.
    const rollouts = await part('rollouts', async () => renderRollouts(await pollRollouts(), loaded, routes));
    if (rollouts !== undefined) failed.push(rollouts);
    if (failed.length > 0) announce(`Refresh failed: ${failed.join('; ')}`, true);
    $('updated').textContent = `Updated ${new Date().toLocaleTimeString()}`;
  } finally {
    running = false;
  }
}

onAction(refresh);
setUpSpan();
setUpLogin(() => void refresh());
void refresh();
setInterval(() => void refresh(), 2000);
