/**
 * The admin API of progressive rollouts (docs/rollouts.md). Registered inside admin.ts's scope, so it shares its
 * error mapping, JSON-only rule and admin token; every rule lives in host/progressive.ts.
 *
 *   POST /v1/admin/rollouts                          body: { plugin, version, steps?, intervalMs | interval?,
 *                                                    thresholds?, checks?, stable?, reason? } → 201 the rollout
 *   GET  /v1/admin/rollouts                          every rollout (in progress and finished, one per plugin)
 *   GET  /v1/admin/rollouts/:plugin                  one, with its decision history
 *   POST /v1/admin/rollouts/:plugin/pause|resume|promote|abort   body: { reason? } (optional)
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest, preValidationHookHandler } from 'fastify';
import { PlugbayError } from '../core/errors.js';
import type { RolloutSpec } from '../host/rollout-spec.js';
import type { ChangeOptions, PluginHost } from '../host/types.js';
import { adminErrors, type DocumentedSchema, errorRef, pluginParams } from './schemas.js';

export const rolloutActions = ['pause', 'resume', 'promote', 'abort'] as const;

export function registerRolloutRoutes(
  fastify: FastifyInstance,
  host: PluginHost,
  changeOf: (request: FastifyRequest, reason: string | undefined) => ChangeOptions,
): void {
  fastify.post<{ Body: RolloutSpec & { reason?: string } }>(
    '/v1/admin/rollouts',
    { schema: startSchema },
    async (request, reply) => {
      const { reason, ...spec } = request.body;
      const rollout = await host.rollouts.start(spec, changeOf(request, reason));
      return reply.code(201).send(rollout);
    },
  );

  fastify.get('/v1/admin/rollouts', { schema: listSchema }, async () => ({ rollouts: host.rollouts.list() }));

  fastify.get<{ Params: { plugin: string } }>(
    '/v1/admin/rollouts/:plugin',
    { schema: getSchema },
    async (request) => {
      const { plugin } = request.params;
      const rollout = host.rollouts.get(plugin);
      if (rollout === undefined) {
        throw new PlugbayError('PLUGBAY_NOT_FOUND', `${plugin} has no rollout`, {
          plugin,
          details: { field: 'plugin', rule: 'has-rollout' },
        });
      }
      return rollout;
    },
  );

  for (const action of rolloutActions) {
    fastify.post<{ Params: { plugin: string }; Body: { reason?: string } }>(
      `/v1/admin/rollouts/:plugin/${action}`,
      { schema: actionSchemas[action], preValidation: noBodyIsEmpty },
      async (request) => host.rollouts[action](request.params.plugin, changeOf(request, request.body.reason)),
    );
  }
}

const noBodyIsEmpty: preValidationHookHandler = (request, _reply, done) => {
  if (request.body === undefined) request.body = {};
  done();
};

const windowStats = Type.Object(
  {
    calls: Type.Number(),
    errors: Type.Number(),
    errorRate: Type.Number(),
    errorsByCode: Type.Record(Type.String(), Type.Number()),
    p50Ms: Type.Optional(Type.Number()),
    p99Ms: Type.Optional(Type.Number()),
    fromMs: Type.Number(),
    toMs: Type.Number(),
  },
  { additionalProperties: true },
);

const thresholds = Type.Object(
  {
    maxErrorRateIncrease: Type.Optional(
      Type.Number({ description: 'Largest canary − stable error rate, percentage points. Default 1' }),
    ),
    maxP99Ratio: Type.Optional(Type.Number({ description: 'Largest canary p99 / stable p99. Default 1.5' })),
    minCalls: Type.Optional(
      Type.Integer({ description: 'Canary calls a step needs before it may pass. Default 50' }),
    ),
    p99SlackMs: Type.Optional(Type.Number({ description: 'A p99 excess below this is noise. Default 2' })),
    confidence: Type.Optional(
      Type.Number({ description: 'Confidence of the error-rate test before failing. Default 0.99' }),
    ),
  },
  { additionalProperties: false },
);

const checkSpec = Type.Object(
  {
    type: Type.Literal('promql'),
    name: Type.Optional(Type.String()),
    url: Type.String({ description: 'Prometheus base URL: http(s), with a host, without credentials' }),
    query: Type.String({ description: 'PromQL; $plugin, $version, $stable and $window are replaced' }),
    max: Type.Optional(Type.Number()),
    min: Type.Optional(Type.Number()),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1, description: 'At most 30000. Default 5000' })),
  },
  { additionalProperties: false },
);

const decision = Type.Object(
  {
    at: Type.Number({ description: 'Epoch ms' }),
    step: Type.Integer(),
    weight: Type.Number(),
    verdict: Type.String({ description: 'start, pass, fail, wait, promote, abort, pause or resume' }),
    reason: Type.String(),
    actor: Type.String(),
    canary: windowStats,
    stable: windowStats,
    errorRateIncrease: Type.Optional(Type.Number()),
    p99Ratio: Type.Optional(Type.Number()),
    p99Bounds: Type.Optional(
      Type.Object(
        {
          canaryP99LowMs: Type.Optional(
            Type.Number({ description: "Lower confidence bound of the canary's p99" }),
          ),
          stableP99HighMs: Type.Optional(
            Type.Number({ description: "Upper confidence bound of the stable's p99" }),
          ),
        },
        { description: 'What the p99 rule compares' },
      ),
    ),
    checks: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
  },
  { additionalProperties: true },
);

const rolloutSchema = Type.Object(
  {
    plugin: Type.String(),
    version: Type.String({ description: 'The canary' }),
    stable: Type.String(),
    steps: Type.Array(Type.Number()),
    intervalMs: Type.Number(),
    thresholds: Type.Object({}, { additionalProperties: true }),
    checks: Type.Array(Type.Object({}, { additionalProperties: true })),
    stepIndex: Type.Integer(),
    state: Type.String({ description: 'running, paused, promoted, rolled-back or aborted' }),
    stepStartedAt: Type.Number(),
    stepEndsAt: Type.Optional(Type.Number()),
    history: Type.Array(decision),
    createdAt: Type.String(),
    updatedAt: Type.String({ description: 'Changes with every write (compare-and-set token)' }),
  },
  { additionalProperties: true },
);

const startSchema: DocumentedSchema = {
  tags: ['Admin API'],
  summary: 'Start a progressive rollout',
  description:
    'Sends the canary the first step of traffic, then judges it against stable at the end of each interval ' +
    "from the host's own counters and latency (and any custom checks): pass → next step, the step of 100 → " +
    'promoted (activated), fail → back to stable at once. Every decision is audited with its evidence.',
  body: Type.Object(
    {
      plugin: Type.String({ minLength: 1 }),
      version: Type.String({ minLength: 1, description: 'The canary version (loaded)' }),
      stable: Type.Optional(Type.String({ minLength: 1, description: 'Default: the current stable' })),
      steps: Type.Optional(
        Type.Array(Type.Integer({ minimum: 1, maximum: 100 }), {
          description: 'Canary percents, increasing, ending at 100. Default [1, 5, 25, 50, 100]',
        }),
      ),
      intervalMs: Type.Optional(Type.Integer({ description: 'Length of each step. Default 30000' })),
      interval: Type.Optional(Type.String({ description: 'The same as text: 500ms, 30s, 2m' })),
      thresholds: Type.Optional(thresholds),
      checks: Type.Optional(Type.Array(checkSpec, { description: 'At most 16' })),
      reason: Type.Optional(Type.String({ description: 'Why, for the audit log' })),
    },
    {
      additionalProperties: false,
      examples: [
        {
          plugin: 'greeter',
          version: '1.1.0',
          steps: [1, 5, 25, 50, 100],
          interval: '30s',
          thresholds: { maxErrorRateIncrease: 1, maxP99Ratio: 1.5, minCalls: 50 },
        },
      ],
    },
  ),
  response: {
    201: rolloutSchema,
    400: errorRef('PLUGBAY_INVALID_ARGUMENT: a bad field (`details.field`, `details.rule`)'),
    409: errorRef(
      'PLUGBAY_ROLLOUT_CONFLICT: the plugin has a rollout in progress; PLUGBAY_VERSION_NOT_LOADED: the canary or stable is not loaded',
    ),
    ...adminErrors,
  },
};

const listSchema: DocumentedSchema = {
  tags: ['Admin API'],
  summary: 'Every progressive rollout',
  description: 'One per plugin: the one in progress, or the last one, with its decision history.',
  response: { 200: Type.Object({ rollouts: Type.Array(rolloutSchema) }), ...adminErrors },
};

const getSchema: DocumentedSchema = {
  tags: ['Admin API'],
  summary: "A plugin's progressive rollout",
  description: 'With its decision history and the evidence of each decision.',
  params: pluginParams,
  response: {
    200: rolloutSchema,
    404: errorRef('PLUGBAY_NOT_FOUND: the plugin has no rollout'),
    ...adminErrors,
  },
};

const what = {
  pause: ['Pause a rollout', 'Holds the canary at its step; nothing is judged until it resumes.'],
  resume: [
    'Resume a paused rollout',
    'The step starts again (what happened while paused is not its evidence).',
  ],
  promote: ['Promote the canary now', 'Activates the canary as the stable without waiting for the steps.'],
  abort: ['Abort a rollout', 'All traffic back to stable; the canary is drained and released.'],
} as const;

const actionSchemas = Object.fromEntries(
  rolloutActions.map((action): [string, DocumentedSchema] => [
    action,
    {
      tags: ['Admin API'],
      summary: what[action][0],
      description: `${what[action][1]} The body is optional.`,
      params: pluginParams,
      body: Type.Object(
        { reason: Type.Optional(Type.String({ description: 'Why, for the audit log' })) },
        { additionalProperties: false },
      ),
      response: {
        200: rolloutSchema,
        404: errorRef('PLUGBAY_NOT_FOUND: the plugin has no rollout'),
        409: errorRef('PLUGBAY_ROLLOUT_CONFLICT: the rollout is in a state that does not allow it'),
        ...adminErrors,
      },
    },
  ]),
) as Record<(typeof rolloutActions)[number], DocumentedSchema>;
