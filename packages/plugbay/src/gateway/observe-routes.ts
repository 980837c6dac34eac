/**
 * The gateway's observability routes (admin routes: see server.ts): `GET /metrics` (the host's prom-client registry, Prometheus text format) and
 * `GET /v1/stats` (per-version call rate inputs and latency for the dashboard), plus the gateway's own span
 * around each call.
 */
import { type Span, SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
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

/**
 * The traceparent a call runs under: with a registered tracer, a server span child of the caller's traceparent
 * (or a new trace); without one, the caller's traceparent, or a new one so that logs of the call still correlate.
 */
export class GatewayTracing {
  readonly #tracer: Tracer | undefined = registeredTracer();

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
