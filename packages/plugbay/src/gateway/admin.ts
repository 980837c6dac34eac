/**
 * The admin API: routes, hot swap and the audit log over HTTP. A fastify plugin registered by server.ts; every
 * rule lives in the host (host.setRoute validates, activate/rollback switch), this file only maps HTTP to it.
 *
 *   GET  /v1/routes/:plugin                 the plugin's route (null: none set) and its loaded versions
 *   PUT  /v1/routes/:plugin                 body: a route; 400 PLUGBAY_INVALID_ARGUMENT / 409 PLUGBAY_VERSION_NOT_LOADED
 *                                           / 404 PLUGBAY_UNKNOWN_PLUGIN (neither loaded nor routed)
 *   POST /v1/plugins/:plugin/activate       body: { version, reason? }
 *   POST /v1/plugins/:plugin/rollback       body: { reason? } (optional)
 *   GET  /v1/audit?plugin=&limit=&before=   audit entries, newest first
 *   GET  /v1/grants?plugin=                 grants in force (grants file and run-time grants)
 *   POST /v1/plugins/:plugin/grant          body: { capability, reason? } (docs/grants.md)
 *   POST /v1/plugins/:plugin/revoke         body: { capability, reason? }
 *   /v1/admin/rollouts…                     progressive rollouts (rollouts.ts)
 *
 * Who made a change is the `x-plugbay-actor` header (default `admin-api`); why, the `x-plugbay-reason` header or
 * the body's `reason`. A change sent with a content type must send `application/json` (see `jsonOnly`).
 * With an admin token, server.ts guards every route of this plugin (admin-auth.ts).
 */
import { type TSchema, Type } from '@sinclair/typebox';
import type {
  FastifyInstance,
  FastifyRequest,
  onRequestHookHandler,
  preValidationHookHandler,
} from 'fastify';
import { PlugbayError } from '../core/errors.js';
import { routeSchema } from '../host/router/index.js';
import type { ChangeOptions, PluginHost } from '../host/types.js';
import type { AuditQuery } from '../store/types.js';
import { httpErrorOf } from './errors.js';
import { registerRolloutRoutes } from './rollouts.js';
import {
  activateResultSchema,
  adminErrors,
  auditEntrySchema,
  type DocumentedSchema,
  errorRef,
  grantSchema,
  pluginParams,
} from './schemas.js';

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
  fastify.addHook('onRequest', jsonOnly);

  fastify.get<{ Params: { plugin: string } }>(
    '/v1/routes/:plugin',
    { schema: getRouteSchema },
    async (request) => {
      const { plugin } = request.params;
      const versions = knownVersions(host, plugin);
      return { plugin, route: host.route(plugin) ?? null, versions };
    },
  );

  fastify.put<{ Params: { plugin: string } }>(
    '/v1/routes/:plugin',
    { schema: putRouteSchema },
    async (request) => {
      const { plugin } = request.params;
      // A route for a name nothing is known of would be stored and audited for nothing (or for a plugin to come).
      knownVersions(host, plugin);
      const route = await host.setRoute(plugin, request.body, changeOf(request, undefined));
      return { plugin, route };
    },
  );

  fastify.post<{ Params: { plugin: string }; Body: { version: string; reason?: string } }>(
    '/v1/plugins/:plugin/activate',
    { schema: activateSchema, preValidation: noBodyIsEmpty },
    async (request) => {
      const { version, reason } = request.body;
      return host.activate(request.params.plugin, version, changeOf(request, reason));
    },
  );

  fastify.post<{ Params: { plugin: string }; Body: { reason?: string } }>(
    '/v1/plugins/:plugin/rollback',
    { schema: rollbackSchema, preValidation: noBodyIsEmpty },
    async (request) => host.rollback(request.params.plugin, changeOf(request, request.body.reason)),
  );

  // grant and revoke: one body, one host method each.
  for (const [action, schema] of [
    ['grant', grantRouteSchema],
    ['revoke', revokeRouteSchema],
  ] as const) {
    fastify.post<{ Params: { plugin: string }; Body: { capability: string; reason?: string } }>(
      `/v1/plugins/:plugin/${action}`,
      { schema },
      async (request) => {
        const { capability, reason } = request.body;
        return host[action](request.params.plugin, capability, changeOf(request, reason));
      },
    );
  }

  fastify.get<{ Querystring: { plugin?: string } }>(
    '/v1/grants',
    { schema: grantsSchema },
    async (request) => {
      const { plugin } = request.query;
      return { grants: host.grants(plugin === undefined || plugin === '' ? undefined : plugin) };
    },
  );

  fastify.get<{ Querystring: Record<string, string | undefined> }>(
    '/v1/audit',
    { schema: auditSchema },
    async (request) => {
      const query: AuditQuery = {};
      const { plugin, limit, before } = request.query;
      if (plugin !== undefined && plugin !== '') query.plugin = plugin;
      if (limit !== undefined) query.limit = integer('limit', limit, 1, 10_000);
      if (before !== undefined) query.before = integer('before', before, 1, Number.MAX_SAFE_INTEGER);
      return { entries: host.audit(query) };
    },
  );

  registerRolloutRoutes(fastify, host, changeOf);
}

/** The plugin's loaded versions; PLUGBAY_UNKNOWN_PLUGIN when it has neither a loaded version nor a route. */
function knownVersions(host: PluginHost, plugin: string) {
  const versions = host
    .versions()
    .filter((v) => v.plugin === plugin)
    .map((v) => ({ version: v.version, state: v.state, circuit: v.circuit }));
  if (host.route(plugin) === undefined && versions.length === 0) {
    throw new PlugbayError('PLUGBAY_UNKNOWN_PLUGIN', `no plugin named ${plugin} is loaded or routed`, {
      plugin,
    });
  }
  return versions;
}

function changeOf(request: FastifyRequest, bodyReason: string | undefined): ChangeOptions {
  const actor = request.headers[adminHeaders.actor];
  const header = request.headers[adminHeaders.reason];
  const reason = bodyReason ?? (typeof header === 'string' ? header : undefined);
  return {
    actor: typeof actor === 'string' && actor !== '' ? actor : 'admin-api',
    ...(reason === undefined ? {} : { reason }),
  };
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

/**
 * Changes carry JSON or nothing. A web page can send a cross-site form or `text/plain` body without asking the
 * gateway first, but not `application/json` (that needs a CORS preflight, which the gateway never grants): with
 * the origin checks (origin.ts), this also stops browsers that send no `Origin`. No content type at all is
 * `curl -X POST` without a body, or a client that sends none.
 */
const jsonOnly: onRequestHookHandler = (request, _reply, done) => {
  const type = request.headers['content-type'];
  if (request.method === 'GET' || request.method === 'HEAD' || type === undefined) return done();
  const media = type.split(';', 1)[0]?.trim().toLowerCase();
  if (media === 'application/json') return done();
  const rule = 'application/json (or no content type without a body)';
  done(
    new PlugbayError('PLUGBAY_INVALID_ARGUMENT', `content-type must be ${rule}, got "${type}"`, {
      details: { in: 'headers', field: 'content-type', rule },
    }),
  );
};

/** `POST` without a body (e.g. `curl -X POST`) is the empty object, as it was before the schemas. */
const noBodyIsEmpty: preValidationHookHandler = (request, _reply, done) => {
  if (request.body === undefined) request.body = {};
  done();
};

const changeHeaders = Type.Object({
  [adminHeaders.actor]: Type.Optional(
    Type.String({ description: 'Who made the change (audit log). Default `admin-api`' }),
  ),
  [adminHeaders.reason]: Type.Optional(
    Type.String({ description: 'Why (audit log), when the body has no `reason`' }),
  ),
});

const reason = Type.Optional(Type.String({ description: 'Why, for the audit log' }));
const refused = errorRef('PLUGBAY_INVALID_ARGUMENT: `details.field` names the first bad field');
const refusedChange = errorRef(
  'PLUGBAY_INVALID_ARGUMENT: `details.field` names the first bad field (`content-type` when it is not JSON)',
);

const getRouteSchema: DocumentedSchema = {
  tags: ['Admin API'],
  summary: "A plugin's route and loaded versions",
  description: 'The route is null when none is set (then the newest ready release answers).',
  params: pluginParams,
  response: {
    200: Type.Object({
      plugin: Type.String(),
      route: Type.Union([routeSchema, Type.Null()]),
      versions: Type.Array(
        Type.Object({ version: Type.String(), state: Type.String(), circuit: Type.String() }),
      ),
    }),
    404: errorRef('PLUGBAY_UNKNOWN_PLUGIN: neither loaded nor routed'),
    ...adminErrors,
  },
};

const putRouteSchema: DocumentedSchema = {
  tags: ['Admin API'],
  summary: "Set a plugin's route",
  description:
    'Replaces the route (stable, canary, experiments, fallback: docs/routing.md) in one step and records it in ' +
    'the audit log. A refused route changes nothing; `details.problems` lists every problem with its field.',
  params: pluginParams,
  headers: changeHeaders,
  body: { ...routeSchema, examples: [{ stable: '1.0.0', canary: { version: '1.1.0', percent: 10 } }] },
  response: {
    200: Type.Object({ plugin: Type.String(), route: routeSchema }),
    400: refusedChange,
    404: errorRef('PLUGBAY_UNKNOWN_PLUGIN: neither loaded nor routed (nothing is stored)'),
    409: errorRef('PLUGBAY_VERSION_NOT_LOADED: the route names a version that is not loaded'),
    ...adminErrors,
  },
};

const activateSchema: DocumentedSchema = {
  tags: ['Admin API'],
  summary: 'Make a version the stable (hot swap)',
  description:
    'Loads the version if needed, starts it, checks its health, switches the route in one step, then drains the ' +
    'previous stable. Nothing switches when the new version does not start or is unhealthy. A version in a crash ' +
    'loop is restarted at once (no cool-down wait) and an open circuit is closed: activating the version that is ' +
    'already stable is how an operator brings it back now.',
  params: pluginParams,
  headers: changeHeaders,
  body: Type.Object(
    { version: Type.String({ minLength: 1, description: 'The version to activate, e.g. 1.2.0' }), reason },
    { additionalProperties: false, examples: [{ version: '1.1.0', reason: 'canary looked good' }] },
  ),
  response: {
    200: activateResultSchema,
    400: refusedChange,
    409: errorRef('PLUGBAY_VERSION_NOT_LOADED: the version is neither loaded nor in a plugin directory'),
    503: errorRef('PLUGBAY_START_FAILED: the version did not start or is unhealthy (nothing switched)'),
    ...adminErrors,
  },
};

const rollbackSchema: DocumentedSchema = {
  tags: ['Admin API'],
  summary: 'Return to the previous stable',
  description:
    'Loads the previous stable again from its directory if it was released, then switches back. The body is optional.',
  params: pluginParams,
  headers: changeHeaders,
  body: Type.Object({ reason }, { additionalProperties: false }),
  response: {
    200: activateResultSchema,
    400: errorRef(
      'PLUGBAY_INVALID_ARGUMENT: a bad body or content type (`details.field`), or no previous stable to return to',
    ),
    409: errorRef('PLUGBAY_VERSION_NOT_LOADED: the previous stable is in no plugin directory any more'),
    503: errorRef('PLUGBAY_START_FAILED: the previous stable did not start (nothing switched)'),
    ...adminErrors,
  },
};

const auditSchema: DocumentedSchema = {
  tags: ['Admin API'],
  summary: 'The audit log, newest first',
  description: 'Every route change, activation, rollback, crash loop, load and unload, with who and why.',
  querystring: Type.Object({
    plugin: Type.Optional(
      Type.String({ description: 'Only entries about this plugin', examples: ['greeter'] }),
    ),
    limit: Type.Optional(
      Type.String({
        pattern: '^[0-9]+$',
        description: 'At most this many, 1 to 10000. Default 100',
        examples: ['20'],
      }),
    ),
    before: Type.Optional(
      Type.String({ pattern: '^[0-9]+$', description: 'Only entries with a lower id (the next page)' }),
    ),
  }),
  response: {
    200: Type.Object({ entries: Type.Array(auditEntrySchema) }),
    400: refused,
    ...adminErrors,
  },
};

const capabilityBody = Type.Object(
  {
    capability: Type.String({
      minLength: 1,
      description:
        'fs.read:<absolute path>, fs.write:<absolute path>, env:<NAME>, net:<host[:port]> or childProcess',
    }),
    reason,
  },
  {
    additionalProperties: false,
    examples: [{ capability: 'fs.read:/etc/ssl', reason: 'needs the CA bundle' }],
  },
);

/** grant and revoke take the same request; they differ in what they answer and refuse. */
function capabilityRouteSchema(
  summary: string,
  description: string,
  answer: TSchema,
  refused: string,
): DocumentedSchema {
  return {
    tags: ['Admin API'],
    summary,
    description,
    params: pluginParams,
    headers: changeHeaders,
    body: capabilityBody,
    response: { 200: answer, 400: errorRef(refused), ...adminErrors },
  };
}

const grantRouteSchema = capabilityRouteSchema(
  'Grant a plugin a capability',
  'Stores the grant for every version of the plugin and records it in the audit log, then loads again each ' +
    'version that was refused with PLUGBAY_PERMISSION_DENIED (`loaded`; those still refused are in `refused`). ' +
    'Community and unsigned plugins get nothing outside their own folder unless granted (docs/grants.md).',
  Type.Object({
    plugin: Type.String(),
    capability: Type.String({ description: 'As stored (paths normalised)' }),
    loaded: Type.Array(Type.Object({ version: Type.String() }, { additionalProperties: true }), {
      description: 'Versions loaded again now that the grant exists (as in GET /v1/plugins/:plugin)',
    }),
    refused: Type.Array(
      Type.Object({ version: Type.String(), code: Type.String(), message: Type.String() }),
      { description: 'Versions refused for want of a grant that still do not load' },
    ),
  }),
  'PLUGBAY_INVALID_ARGUMENT: a bad plugin name, capability or body (`details.field`)',
);

const revokeRouteSchema = capabilityRouteSchema(
  'Revoke a grant made at run time',
  'Removes the grant and records it in the audit log; each loaded version that needed it is drained and ' +
    'unloaded (`unloaded`), and loads again once granted. Grants of the --grants file cannot be revoked here.',
  Type.Object({
    plugin: Type.String(),
    capability: Type.String(),
    unloaded: Type.Array(Type.String(), { description: 'Versions unloaded because they needed it' }),
  }),
  'PLUGBAY_INVALID_ARGUMENT: no such run-time grant (`details.rule`: granted), or a bad body',
);

const grantsSchema: DocumentedSchema = {
  tags: ['Admin API'],
  summary: 'The grants in force',
  description: 'Grants of the --grants file and grants made at run time, of one plugin or all.',
  querystring: Type.Object({
    plugin: Type.Optional(Type.String({ description: 'Only grants of this plugin', examples: ['reader'] })),
  }),
  response: {
    200: Type.Object({ grants: Type.Array(grantSchema) }),
    ...adminErrors,
  },
};
