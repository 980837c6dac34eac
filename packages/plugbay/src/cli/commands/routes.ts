// `plugbay routes get|set`, `plugbay activate`, `plugbay rollback`, `plugbay audit`: the admin API from a shell.
import type { Route } from '../../host/router/index.js';
import type { ActivateResult } from '../../host/types.js';
import type { AuditEntry } from '../../store/types.js';
import { parseCommandArgs } from '../args.js';
import { type Command, UsageError } from '../io.js';
import { table } from '../table.js';
import {
  adminOptionsUsage,
  clientOptions,
  finish,
  parseAdminArgs,
  postToPlugin,
  request,
  routeArgument,
} from './admin-client.js';

const path = (plugin: string) => encodeURIComponent(plugin);

interface RouteAnswer {
  plugin: string;
  route: Route | null;
  versions?: { version: string; state: string; circuit: string }[];
}

export const routesCommand: Command = {
  name: 'routes',
  usage: `plugbay routes get <plugin> | plugbay routes set <plugin> <json|@file>

get: the plugin's route and its loaded versions. set: replaces the route (validated by the gateway: a bad body
is refused naming the field, a version that is not loaded is a conflict; nothing changes then).
Route JSON: {"stable":"1.0.0","canary":{"version":"1.1.0","percent":10},
             "experiments":[{"name":"exp","variants":{"A":"1.0.0","B":"1.1.0"},"split":{"A":50,"B":50}}],
             "fallback":["0.9.0"]}
${adminOptionsUsage}`,
  async run(args, io) {
    const [sub, ...rest] = args;
    if (sub === 'get') {
      const { positionals, values } = parseAdminArgs(rest, 'routes get <plugin>', 1);
      const answer = await request(values, 'GET', `/v1/routes/${path(positionals[0]!)}`);
      return finish(io, values, answer, (body: RouteAnswer) => describeRoute(body));
    }
    if (sub === 'set') {
      const { positionals, values } = parseAdminArgs(rest, 'routes set <plugin> <json|@file>', 2);
      const body = await routeArgument(positionals[1]!);
      const answer = await request(values, 'PUT', `/v1/routes/${path(positionals[0]!)}`, body);
      return finish(io, values, answer, (b: RouteAnswer) => `route of ${b.plugin} set\n${describeRoute(b)}`);
    }
    throw new UsageError(
      sub === undefined ? 'expects get or set' : `unknown subcommand "${sub}" (get or set)`,
    );
  },
};

export const activateCommand: Command = {
  name: 'activate',
  usage: `plugbay activate <plugin> <version>

Loads (if needed), starts and health-checks the version, then makes it the stable in one step and drains the
previous one. Nothing switches when the version is not healthy.
${adminOptionsUsage}`,
  async run(args, io) {
    const { positionals, values } = parseAdminArgs(args, '<plugin> <version>', 2);
    const [plugin, version] = positionals as [string, string];
    const answer = await postToPlugin(values, plugin, 'activate', { version });
    return finish(io, values, answer, (r: ActivateResult) => switched(r, 'activated'));
  },
};

export const rollbackCommand: Command = {
  name: 'rollback',
  usage: `plugbay rollback <plugin>

Returns the plugin to its previous stable version (the one before the last activation).
${adminOptionsUsage}`,
  async run(args, io) {
    const { positionals, values } = parseAdminArgs(args, '<plugin>', 1);
    const answer = await postToPlugin(values, positionals[0]!, 'rollback', {});
    return finish(io, values, answer, (r: ActivateResult) => switched(r, 'rolled back to'));
  },
};

export const auditCommand: Command = {
  name: 'audit',
  usage: `plugbay audit [plugin] [--limit 20]

The audit log, newest first: activations, rollbacks, route changes, loads and unloads, with who and why.
${adminOptionsUsage}`,
  async run(args, io) {
    const { positionals, values } = parseCommandArgs(args, { ...clientOptions, limit: { type: 'string' } });
    if (positionals.length > 1) throw new UsageError('takes at most one plugin');
    const query = new URLSearchParams({ limit: values.limit ?? '20' });
    if (positionals[0] !== undefined) query.set('plugin', positionals[0]);
    const answer = await request(values, 'GET', `/v1/audit?${query}`);
    return finish(io, values, answer, (b: { entries: AuditEntry[] }) =>
      table(
        ['time', 'actor', 'action', 'plugin', 'version', 'reason'],
        b.entries.map((e) => [e.time, e.actor, e.action, e.plugin, e.version ?? '', e.reason ?? '']),
      ),
    );
  },
};

function switched(r: ActivateResult, verb: string): string {
  const from = r.previous === undefined ? '' : ` (was ${r.previous})`;
  return `${r.plugin}: ${verb} ${r.version}${from}\n${describeRoute({ plugin: r.plugin, route: r.route })}`;
}

/** A route as lines a person reads: one per arm, then the loaded versions. */
export function describeRoute(body: RouteAnswer): string {
  const { route } = body;
  const rows: string[][] = [];
  if (route === null) rows.push(['route', 'none (the highest loaded release answers)']);
  else {
    rows.push(['stable', route.stable ?? '(highest loaded release)']);
    if (route.canary) rows.push(['canary', `${route.canary.version} (${route.canary.percent} %)`]);
    for (const e of route.experiments ?? []) {
      const variants = Object.entries(e.variants).map(([name, version]) => {
        const share = e.split?.[name];
        return `${name}=${version}${share === undefined ? '' : ` ${share} %`}`;
      });
      const match = e.match?.keyPrefix === undefined ? '' : ` (keys starting ${e.match.keyPrefix})`;
      rows.push([`experiment ${e.name}`, `${variants.join(', ')}${match}`]);
    }
    if (route.fallback?.length) rows.push(['fallback', route.fallback.join(' → ')]);
  }
  if (body.versions !== undefined) {
    const loaded = body.versions.map(
      (v) => `${v.version} ${v.state}${v.circuit === 'open' ? ' (circuit open)' : ''}`,
    );
    rows.push(['loaded', loaded.length === 0 ? 'none' : loaded.join(', ')]);
  }
  return `${body.plugin}\n${table(['arm', 'version'], rows)}`;
}
