/**
 * The gateway's observability routes (admin routes: see server.ts): `GET /metrics` (the host's prom-client registry, Prometheus text format),
 * `GET /v1/stats` (per-version call rate inputs and latency for the dashboard) and `GET /v1/series` (the last
 * 15 minutes per version, host.series), plus the gateway's own span around each call.
 */
import { type Span, SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { PlugbayError } from '../core/errors.js';
import type { PluginHost } from '../host/types.js';
import { newTraceparent, parentContext, registeredTracer, traceparentOf } from '../observe/tracing.js';
import { httpErrorOf } from './errors.js';
import {
  adminErrors,
  type DocumentedSchema,
  errorRef,
  pluginParams,
  pluginReportSchema,
  seriesReportSchema,
  statsSchema,
  textResponse,
} from './schemas.js';

export function registerObserveRoutes(fastify: FastifyInstance, host: PluginHost): void {
  fastify.get('/metrics', { schema: metricsSchema }, async (_request, reply) => {
    const registry = host.registry;
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });
  // One plugin: its loaded versions, its diagnostics, and leak reports of its closed inline instances.
  fastify.get<{ Params: { plugin: string } }>(
    '/v1/plugins/:plugin',
    { schema: pluginSchema },
    async (request, reply) => {
      const name = request.params.plugin;
      const versions = host.versions().filter((v) => v.plugin === name);
      const diagnostics = host.diagnostics().filter((d) => d.plugin === name);
      const leaks = host.leaks(name);
      if (versions.length === 0 && diagnostics.length === 0 && leaks.length === 0) {
        const err = new PlugbayError('PLUGBAY_UNKNOWN_PLUGIN', `no plugin named ${name} is known`, {
          plugin: name,
        });
        const mapped = httpErrorOf(err, name);
        return reply.code(mapped.status).send(mapped.body);
      }
      return { name, versions, diagnostics, leaks, route: host.route(name) ?? null };
    },
  );
  // Totals since load; the dashboard derives rates from two polls (`at` is the server's clock, ms).
  fastify.get('/v1/stats', { schema: statsRouteSchema }, async () => ({
    at: Date.now(),
    versions: host.stats(),
  }));
  // Per-step points of each loaded version over the last 15 minutes at most (the dashboard's charts).
  fastify.get<{ Querystring: { plugin?: string; since?: string; step?: string } }>(
    '/v1/series',
    { schema: seriesRouteSchema },
    async (request) => {
      const { plugin, since, step } = request.query;
      const stepMs = step === undefined ? 1000 : Number(step);
      if (stepMs % 1000 !== 0 || stepMs < 1000 || stepMs > 900_000) {
        throw new PlugbayError(
          'PLUGBAY_INVALID_ARGUMENT',
          `step: must be whole seconds in ms from 1000 to 900000, got "${step}"`,
          { details: { field: 'step', rule: 'whole seconds from 1000 to 900000 ms' } },
        );
      }
      // The schema lets only digits through; a number of them beyond exact integers is refused here, by name.
      if (since !== undefined && !Number.isSafeInteger(Number(since))) {
        throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', `since: must be epoch ms, got "${since}"`, {
          details: { field: 'since', rule: 'safe integer' },
        });
      }
      return host.series(plugin === undefined || plugin === '' ? undefined : plugin, {
        ...(since === undefined ? {} : { sinceMs: Number(since) }),
        stepMs,
      });
    },
  );
}

const metricsSchema: DocumentedSchema = {
  tags: ['Status and health'],
  summary: 'Prometheus metrics',
  description:
    "The host's prom-client registry in the Prometheus text format: every metric of the metrics reference below.",
  response: {
    200: textResponse('text/plain; version=0.0.4; charset=utf-8', 'Prometheus text exposition'),
    ...adminErrors,
  },
};

const pluginSchema: DocumentedSchema = {
  tags: ['Status and health'],
  summary: 'One plugin: versions, diagnostics, leaks, route',
  description:
    'Its loaded versions (with their directory), the problems found in it, the leak reports of its closed inline ' +
    'instances, and its route (null when none is set).',
  params: pluginParams,
  response: {
    200: pluginReportSchema,
    404: errorRef('PLUGBAY_UNKNOWN_PLUGIN: nothing is known about this name'),
    ...adminErrors,
  },
};

const statsRouteSchema: DocumentedSchema = {
  tags: ['Status and health'],
  summary: 'Call totals and latency per version (for the dashboard)',
  description:
    'Totals since each version was loaded, with p50/p99 estimated from the duration histogram; the dashboard ' +
    'derives rates from two polls. Prefer /metrics for monitoring.',
  response: { 200: statsSchema, ...adminErrors },
};

const seriesRouteSchema: DocumentedSchema = {
  tags: ['Status and health'],
  summary: 'Calls, errors and p50/p99 per version over time (for the dashboard and rollouts)',
  description:
    "Points every `step` ms from `since` to now, zero-filled, of each loaded version, from the host's in-memory " +
    'ring of one-second slots (15 minutes; an older `since` starts where the ring does). A version unloaded is ' +
    'not listed.',
  querystring: Type.Object({
    plugin: Type.Optional(Type.String({ description: 'Only this plugin', examples: ['greeter'] })),
    since: Type.Optional(
      Type.String({
        pattern: '^[0-9]+$',
        description: 'Epoch ms. Default 15 minutes ago',
        examples: ['1764745200000'],
      }),
    ),
    step: Type.Optional(
      Type.String({
        pattern: '^[0-9]+$',
        description: 'Width of a point in ms, whole seconds from 1000 to 900000. Default 1000',
        examples: ['10000'],
      }),
    ),
  }),
  response: {
    200: seriesReportSchema,
    400: errorRef('PLUGBAY_INVALID_ARGUMENT: `since` or `step` is not a valid number'),
    ...adminErrors,
  },
};

/**
 * The traceparent a call runs under: with a registered tracer, a server span child of the caller's traceparent
 * (or a new trace); without one, the caller's traceparent, or a new one so that logs of the call still correlate.
 */
export class GatewayTracing {
  readonly #tracer: Tracer | undefined = registeredTracer();

  /**
   * False when no TracerProvider was registered: then the gateway skips start/end and lets the host make a new
   * traceparent only when the call reads it (CallOptions.newTrace).
   */
  get enabled(): boolean {
    return this.#tracer !== undefined;
  }

  start(plugin: string, fn: string, incoming: string | undefined): { traceparent: string; span?: Span } {
    if (this.#tracer === undefined) return { traceparent: incoming ?? newTraceparent() };
    const span = this.#tracer.startSpan(
      `POST /v1/call/${plugin}/${fn}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': 'POST', 'plugbay.plugin': plugin, 'plugbay.function': fn },
      },
      parentContext(incoming),
    );
    return { traceparent: traceparentOf(span), span };
  }

  end(span: Span | undefined, error?: unknown): void {
    if (span === undefined) return;
    if (error !== undefined) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message ?? String(error) });
      const code = (error as { code?: unknown })?.code;
      if (typeof code === 'string') span.setAttribute('plugbay.error.code', code);
    }
    span.end();
  }
}
