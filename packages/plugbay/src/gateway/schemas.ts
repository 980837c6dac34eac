/**
 * The JSON Schemas of the gateway's routes (TypeBox). They validate what a caller sends (params, querystring,
 * headers, bodies) and describe every answer; docs/operating-the-gateway.md's API reference is generated from them
 * (api-doc.ts). Answers are not serialised through them (see `gatewayValidation`), so a schema can never drop a
 * field of an answer: the response schemas are a contract checked by tests, not a filter.
 */
import { type TSchema, Type } from '@sinclair/typebox';
import type { ValidateFunction } from 'ajv';
import type { FastifyInstance, FastifySchema, FastifyServerOptions } from 'fastify';
import { PlugbayError } from '../core/errors.js';
import { permissionsSchema } from '../core/manifest-schema.js';
import { createAjv, pointerToField, violationsOf } from '../core/schema.js';
import { routeSchema } from '../host/router/index.js';

/** The id of the one error schema; routes refer to it (`errorRef`) instead of repeating it. */
export const errorSchemaId = 'PlugbayError';

/** The body of every error answer: `{ error: { code, message, plugin?, version?, details? } }`. */
export const errorSchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String({
        pattern: '^PLUGBAY_[A-Z_]+$',
        description:
          'A code of the registry (packages/sdk/src/errors.ts); the HTTP status follows from it (packages/plugbay/src/gateway/errors.ts)',
      }),
      message: Type.String({ description: 'For humans; never match on it' }),
      plugin: Type.Optional(Type.String({ description: 'The plugin concerned' })),
      version: Type.Optional(Type.String({ description: 'The version that answered, when one did' })),
      details: Type.Optional(
        Type.Record(Type.String(), Type.Unknown(), {
          description: 'Structured facts; `field` names the first bad field of a refused request',
        }),
      ),
    }),
  },
  { $id: errorSchemaId, title: 'error' },
);

/** An error answer: the shared error schema and which codes it carries. */
export function errorRef(codes: string): TSchema {
  return Type.Unsafe({ $ref: `${errorSchemaId}#`, description: codes });
}

/** What every route may answer besides its own responses. */
export const internalError = { 500: errorRef('PLUGBAY_INTERNAL: the gateway or host broke (logged)') };

/** What every route may answer: the origin checks (origin.ts) and an internal error. */
export const commonErrors = {
  403: errorRef(
    'PLUGBAY_FORBIDDEN_ORIGIN: a Host the gateway does not serve (DNS rebinding), or, for a call or a change, a ' +
      'cross-site request from a web page',
  ),
  ...internalError,
};

/** What every admin route may answer: the common errors, and 401 when the gateway has an admin token. */
export const adminErrors = {
  401: errorRef(
    'PLUGBAY_UNAUTHORIZED: the gateway has an admin token and the request did not send it ' +
      '(`authorization: Bearer <token>`)',
  ),
  ...commonErrors,
};

/** A `:plugin` path parameter. */
export const pluginParams = Type.Object({
  plugin: Type.String({ description: 'Plugin name', examples: ['greeter'] }),
});

const diagnostic = Type.Object(
  {
    code: Type.String(),
    severity: Type.Union([Type.Literal('error'), Type.Literal('warning')]),
    message: Type.String(),
    dir: Type.String({ description: 'The plugin directory' }),
    plugin: Type.Optional(Type.String()),
    version: Type.Optional(Type.String()),
    field: Type.Optional(Type.String({ description: 'Dotted manifest field, e.g. functions.resize.input' })),
    rule: Type.Optional(Type.String()),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { title: 'diagnostic', description: 'A problem found while checking or loading a plugin' },
);

/** An error as a status shows it: its code and message. */
const errorFact = Type.Object({
  code: Type.String({ examples: ['PLUGBAY_TIMEOUT'] }),
  message: Type.String(),
});

const versionCommon = {
  version: Type.String(),
  tier: Type.String({ description: 'inline, thread, process or wasm' }),
  state: Type.String({
    description: 'loading, starting, ready, degraded, draining, closed, failed or crashloop',
  }),
  circuit: Type.Union([Type.Literal('open'), Type.Literal('closed')], {
    description: 'open: recent calls failed, the router skips this version for a while',
  }),
  circuitReason: Type.Optional(
    Type.Object(
      {
        failures: Type.Integer({ description: 'Failed calls in a row that count for the circuit' }),
        until: Type.Number({ description: 'When a call is let through again (epoch ms)' }),
        lastError: Type.Optional(errorFact),
      },
      { description: 'Why the circuit is open (only while it is)' },
    ),
  ),
  crashloop: Type.Optional(
    Type.Object(
      {
        crashes: Type.Optional(Type.Integer({ description: "Crashes counted by the tier's supervisor" })),
        retryAt: Type.Optional(Type.Number({ description: 'When it is restarted again (epoch ms)' })),
        lastExit: Type.Optional(errorFact),
      },
      { description: 'The crash loop it is in (state crashloop only), with how the instance last exited' },
    ),
  ),
  functions: Type.Array(Type.String()),
  inflight: Type.Integer({ description: 'Calls in progress' }),
  warnings: Type.Array(diagnostic),
  trust: Type.Object(
    {
      status: Type.String({ description: 'valid, unsigned, modified, invalid … or off (not checked)' }),
      level: Type.String({ description: 'trusted, community or unsigned' }),
      keyId: Type.Optional(Type.String()),
    },
    { description: 'Signature status at load and the trust level the plugin runs at' },
  ),
  undeclaredExports: Type.Array(Type.String(), {
    description: 'Exports of the loaded code that the manifest does not declare',
  }),
  permissions: Type.Object(
    { requested: permissionsSchema, granted: permissionsSchema },
    { description: "What the manifest asks for and what the version runs with (the operator's grants)" },
  ),
  digest: Type.String({
    description:
      "sha256 content address of the version's files: the read-only copy it runs from, whatever the folder becomes",
  }),
};

/** A loaded version as `GET /v1/plugins/:plugin` reports it (the host's VersionStatus). */
const versionStatus = Type.Object({
  plugin: Type.String(),
  ...versionCommon,
  dir: Type.String({ description: 'The plugin folder or packed file the version was read from' }),
  artifact: Type.String({ description: "The version's read-only directory in the artifact store" }),
});

/** `GET /v1/plugins`. */
export const pluginsReportSchema = Type.Object({
  plugins: Type.Array(
    Type.Object({
      name: Type.String(),
      versions: Type.Array(Type.Object(versionCommon), { description: 'Oldest first' }),
      diagnostics: Type.Array(diagnostic),
    }),
    { description: 'By name' },
  ),
  diagnostics: Type.Array(diagnostic, { description: 'Problems not attributable to one plugin' }),
});

const route = Type.Unknown({
  description: 'The route (see PUT /v1/routes/:plugin), or null when none is set',
});

/** `GET /v1/plugins/:plugin`. */
export const pluginReportSchema = Type.Object({
  name: Type.String(),
  versions: Type.Array(versionStatus),
  diagnostics: Type.Array(diagnostic),
  leaks: Type.Array(Type.Object({ plugin: Type.String(), version: Type.String(), instance: Type.String() }), {
    description: 'Resources closed inline instances left alive, with the stack that created each',
  }),
  route,
});

/** `GET /v1/stats`: totals since load; rates come from two polls. */
export const statsSchema = Type.Object({
  at: Type.Integer({ description: "The server's clock, ms since the epoch" }),
  versions: Type.Array(
    Type.Object({
      plugin: Type.String(),
      version: Type.String(),
      tier: Type.String(),
      calls: Type.Integer(),
      errors: Type.Integer(),
      p50: Type.Optional(
        Type.Number({ description: 'Seconds, estimated from the histogram; absent before a call' }),
      ),
      p99: Type.Optional(Type.Number({ description: 'Seconds, as p50' })),
      faults: Type.Integer(),
      restarts: Type.Integer(),
    }),
  ),
});

/** `GET /v1/series`: host.series(). */
export const seriesReportSchema = Type.Object({
  at: Type.Number({ description: "The server's clock, ms since the epoch" }),
  stepMs: Type.Integer({ description: 'Width of each point, ms' }),
  versions: Type.Array(
    Type.Object({
      plugin: Type.String(),
      version: Type.String(),
      points: Type.Array(
        Type.Object({
          t: Type.Integer({ description: 'Start of the step, ms since the epoch' }),
          calls: Type.Integer(),
          errors: Type.Integer({
            description: "The version's own failures (not the caller's invalid input or cancellation)",
          }),
          p50Ms: Type.Optional(Type.Number({ description: 'Tier call latency, ms; absent without calls' })),
          p99Ms: Type.Optional(Type.Number({ description: 'As p50Ms' })),
        }),
      ),
    }),
  ),
});

/** The answer of activate and rollback. */
export const activateResultSchema = Type.Object({
  plugin: Type.String(),
  version: Type.String({ description: 'The stable version now' }),
  previous: Type.Optional(Type.String({ description: 'The stable before the switch, if any' })),
  route: routeSchema,
  revision: Type.Integer({ description: 'Route revision the switch created' }),
});

/** One grant in force (`GET /v1/grants`). */
export const grantSchema = Type.Object({
  plugin: Type.String(),
  capability: Type.String({
    description: 'fs.read:<path>, fs.write:<path>, env:<NAME>, net:<host[:port]> or childProcess',
  }),
  source: Type.Union([Type.Literal('file'), Type.Literal('admin')], {
    description: 'file: from serve --grants; admin: made at run time (plugbay grant)',
  }),
  versions: Type.Optional(
    Type.String({ description: "The file rule's version range; absent: every version" }),
  ),
});

/** One audit log entry. */
export const auditEntrySchema = Type.Object({
  id: Type.Integer({ description: 'Increasing; page with `before`' }),
  time: Type.String({ description: 'ISO 8601' }),
  actor: Type.String(),
  action: Type.String({ description: 'activate, rollback, route, grant, revoke, crashloop, load, unload …' }),
  plugin: Type.String(),
  version: Type.Optional(Type.String()),
  reason: Type.Optional(Type.String()),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});

/** A text answer (not JSON) of the given media type. */
export function textResponse(mediaType: string, description: string): object {
  return { description, content: { [mediaType]: { schema: Type.String() } } };
}

/** The sections of the API reference, in order. */
export const apiGroups = ['Calls', 'Status and health', 'Admin API', 'Dashboard'] as const;

/** A route schema with what the API reference needs (fastify-swagger's keys); a test requires them of every route. */
export interface DocumentedSchema extends FastifySchema {
  summary: string;
  description: string;
  tags: [(typeof apiGroups)[number]];
}

// One Ajv for the gateway's request schemas, reporting every problem; no coercion, no defaults, no removal of
// unknown properties (fastify's default Ajv does all three, which would change what the handlers see).
const ajv = createAjv({ allErrors: true });
// By content: fastify hands over a fresh copy of each headers schema per gateway, and Ajv keeps the code of
// everything it compiled, so without this every createGateway() would add validators that are never freed.
const validators = new Map<string, ValidateFunction>();

function validatorOf(schema: object): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = validators.get(key);
  if (validate === undefined) {
    validate = ajv.compile(schema);
    validators.set(key, validate);
  }
  return validate;
}

/**
 * Fastify options making the schemas validate with plugbay's Ajv, refuse bad requests with the usual error body
 * (400 PLUGBAY_INVALID_ARGUMENT naming the field), and never filter answers.
 */
export const gatewayValidation: Pick<FastifyServerOptions, 'schemaErrorFormatter'> & {
  validatorCompiler: Parameters<FastifyInstance['setValidatorCompiler']>[0];
  serializerCompiler: Parameters<FastifyInstance['setSerializerCompiler']>[0];
} = {
  validatorCompiler: ({ schema }) => validatorOf(schema as object),
  // JSON.stringify, what fastify does for routes without a response schema: answers stay exactly as built.
  serializerCompiler: () => (data) => JSON.stringify(data),
  schemaErrorFormatter: (errors, part) => {
    const problems = violationsOf(errors as Parameters<typeof violationsOf>[0]).map((v) => ({
      field: pointerToField(v.pointer) || '(root)',
      rule: v.rule,
      message: v.message,
    }));
    const first = problems[0] ?? { field: '(root)', rule: 'schema', message: 'is invalid' };
    return new PlugbayError('PLUGBAY_INVALID_ARGUMENT', `${part}: ${first.field} ${first.message}`, {
      details: { in: part, field: first.field, rule: first.rule, problems },
    });
  },
};
