/**
 * The admin API: routes, hot swap and the audit log over HTTP. A fastify plugin registered by server.ts; every
 * rule lives in the host (host.setRoute validates, activate/rollback switch), this file only maps HTTP to it.
 *
 *   GET  /v1/routes/:plugin                 the plugin's route (null: none set) and its loaded versions
 *   PUT  /v1/routes/:plugin                 body: a route; 400 PLUGBAY_INVALID_ARGUMENT / 409 PLUGBAY_VERSION_NOT_LOADED
 *   POST /v1/plugins/:plugin/activate       body: { version, reason? }
 *   POST /v1/plugins/:plugin/rollback       body: { reason? } (optional)
 *   GET  /v1/audit?plugin=&limit=&before=   audit entries, newest first
 *
 * Who made a change is the `x-plugbay-actor` header (default `admin-api`); why, the `x-plugbay-reason` header or
 * the body's `reason`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PlugbayError } from '../core/errors.js';
import type { ChangeOptions, PluginHost } from '../host/types.js';
import type { AuditQuery } from '../store/types.js';
import { httpErrorOf } from './errors.js';

/** Request headers the admin API reads. */
export const adminHeaders = { actor: 'x-plugbay-actor', reason: 'x-plugbay-reason' } as const;

export interface AdminOptions {
  host: PluginHost;
}

export async function adminRoutes(fastify: FastifyInstance, { host }: AdminOptions): Promise<void> {
  // Scoped to these routes: a body that is not JSON is refused like any other bad body, naming the field.
  fastify.setErrorHandler((err, request, reply) => {
    const plugin = (request.params as { plugin?: string } | undefined)?.plugin;
    const mapped = httpErrorOf(err, plugin);
    const details = mapped.body.error.details;
    if (details?.httpCode === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      mapped.body.error.code = 'PLUGBAY_INVALID_ARGUMENT';
      details.field = '(root)';
    }
    // A refused route names its first bad field at the top of details; `problems` lists them all.
    const problems = details?.problems;
    if (Array.isArray(problems) && details !== undefined && details.field === undefined) {
      details.field = (problems[0] as { field?: unknown } | undefined)?.field;
    }
    return reply.code(mapped.status).type('application/json; charset=utf-8').send(mapped.body);
  });

  fastify.get<{ Params: { plugin: string } }>('/v1/routes/:plugin', async (request) => {
    const { plugin } = request.params;
    const route = host.route(plugin);
    const versions = host
      .versions()
      .filter((v) => v.plugin === plugin)
      .map((v) => ({ version: v.version, state: v.state, circuit: v.circuit }));
    if (route === undefined && versions.length === 0) {
      throw new PlugbayError('PLUGBAY_UNKNOWN_PLUGIN', `no plugin named ${plugin} is loaded or routed`, {
        plugin,
      });
    }
    return { plugin, route: route ?? null, versions };
  });

  fastify.put<{ Params: { plugin: string } }>('/v1/routes/:plugin', async (request) => {
    const { plugin } = request.params;
    const route = await host.setRoute(plugin, request.body, changeOf(request, undefined));
    return { plugin, route };
  });

  fastify.post<{ Params: { plugin: string } }>('/v1/plugins/:plugin/activate', async (request) => {
    const body = objectBody(request.body, ['version', 'reason']);
    const version = body.version;
    if (typeof version !== 'string' || version === '') {
      throw argument('version', 'is required: the version to activate, e.g. {"version":"1.2.0"}');
    }
    return host.activate(request.params.plugin, version, changeOf(request, body.reason));
  });

  fastify.post<{ Params: { plugin: string } }>('/v1/plugins/:plugin/rollback', async (request) => {
    const body = objectBody(request.body, ['reason']);
    return host.rollback(request.params.plugin, changeOf(request, body.reason));
  });

  fastify.get<{ Querystring: Record<string, string | undefined> }>('/v1/audit', async (request) => {
    const query: AuditQuery = {};
    const { plugin, limit, before } = request.query;
    if (plugin !== undefined && plugin !== '') query.plugin = plugin;
    if (limit !== undefined) query.limit = integer('limit', limit, 1, 10_000);
    if (before !== undefined) query.before = integer('before', before, 1, Number.MAX_SAFE_INTEGER);
    return { entries: host.audit(query) };
  });
}

function changeOf(request: FastifyRequest, bodyReason: unknown): ChangeOptions {
  const actor = request.headers[adminHeaders.actor];
  const header = request.headers[adminHeaders.reason];
  const reason =
    typeof bodyReason === 'string' ? bodyReason : typeof header === 'string' ? header : undefined;
  if (bodyReason !== undefined && typeof bodyReason !== 'string')
    throw argument('reason', 'must be a string');
  return {
    actor: typeof actor === 'string' && actor !== '' ? actor : 'admin-api',
    ...(reason === undefined ? {} : { reason }),
  };
}

/** The body as an object with only `allowed` keys (no body or an empty one is `{}`). */
function objectBody(body: unknown, allowed: string[]): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw argument('(root)', 'the body must be a JSON object');
  }
  const extra = Object.keys(body).filter((k) => !allowed.includes(k));
  if (extra.length > 0) throw argument(extra[0]!, `is not allowed here (allowed: ${allowed.join(', ')})`);
  return body as Record<string, unknown>;
}

function integer(field: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) {
    throw argument(field, `must be an integer from ${min} to ${max}, got "${text}"`);
  }
  return n;
}

function argument(field: string, rule: string): PlugbayError {
  return new PlugbayError('PLUGBAY_INVALID_ARGUMENT', `${field}: ${rule}`, { details: { field } });
}
