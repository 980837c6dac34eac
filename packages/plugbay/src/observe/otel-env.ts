/**
 * Tracing configured by the standard OTEL_* environment variables, for `plugbay serve` (docs/observability.md
 * "Traces from plugbay serve"). The OpenTelemetry Node SDK and its OTLP/HTTP exporter are imported only when the
 * environment asks for traces: a gateway without them loads none of it and keeps the untraced call path
 * (tracing.ts registeredTracer). Registration happens before the host and gateway are made, since both ask
 * once, at creation, whether a provider is registered.
 *
 * The SDK reads the rest itself from process.env: OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _HEADERS, _TIMEOUT,
 * _COMPRESSION, OTEL_TRACES_SAMPLER/_ARG, OTEL_BSP_*, OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME.
 */

import { DiagLogLevel, diag } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { PlugbayError } from '../core/errors.js';
import { setSpanSink } from './span-relay.js';

export type TracesExporter = 'otlp' | 'console';

type Env = Record<string, string | undefined>;

/**
 * The exporters the environment asks for, or [] for none. Traces are on when OTEL_TRACES_EXPORTER names otlp or
 * console, or when it is unset and an OTLP endpoint is given (the spec's default exporter is otlp, but a gateway
 * nobody pointed anywhere should not pay for spans). OTEL_SDK_DISABLED=true wins over everything.
 */
export function tracesExportersOf(env: Env): TracesExporter[] {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return [];
  const names = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  if (names.length === 0) {
    const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
    return endpoint !== undefined && endpoint.trim() !== '' ? otlpOnly(env) : [];
  }
  if (names.includes('none')) return [];
  const out: TracesExporter[] = [];
  for (const name of names) {
    if (name === 'otlp') out.push(...otlpOnly(env));
    else if (name === 'console') out.push('console');
    else
      throw new PlugbayError(
        'PLUGBAY_INVALID_ARGUMENT',
        `OTEL_TRACES_EXPORTER: plugbay serve exports traces with otlp (OTLP/HTTP protobuf), console or none, not "${name}"`,
        { details: { field: 'OTEL_TRACES_EXPORTER', rule: 'one-of', allowed: ['otlp', 'console', 'none'] } },
      );
  }
  return [...new Set(out)];
}

/** ['otlp'], after checking that the protocol asked for is the one the exporter speaks. */
function otlpOnly(env: Env): TracesExporter[] {
  const field = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
    ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
    : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = env[field]?.trim();
  if (protocol !== undefined && protocol !== '' && protocol !== 'http/protobuf') {
    throw new PlugbayError(
      'PLUGBAY_INVALID_ARGUMENT',
      `${field}: plugbay serve sends OTLP over HTTP with protobuf bodies (http/protobuf), not "${protocol}"`,
      { details: { field, rule: 'one-of', allowed: ['http/protobuf'] } },
    );
  }
  return ['otlp'];
}

/** The SDK's diagnostic as one line; an error it reports arrives as the JSON of the error object. */
function sdkMessage(message: string, args: unknown[]): string {
  let text = message;
  if (text.startsWith('{')) {
    try {
      const parsed = JSON.parse(text) as { message?: unknown };
      if (typeof parsed.message === 'string') text = parsed.message;
    } catch {}
  }
  const extra = args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ');
  return extra === '' ? text : `${text} ${extra}`;
}

/** A started SDK: flush and stop it last at shutdown, after the host (whose last spans it still exports). */
export interface OtelTracing {
  readonly exporters: TracesExporter[];
  shutdown(): Promise<void>;
}

/**
 * Registers a NodeTracerProvider with a batch processor per exporter when the environment asks for traces, and
 * installs it as the sink of plugins' relayed spans (span-relay.ts). Undefined when it does not ask.
 */
export async function startOtelFromEnv(env: Env, logger: Logger): Promise<OtelTracing | undefined> {
  const exporters = tracesExportersOf(env);
  if (exporters.length === 0) return undefined;
  const [node, resources] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/resources'),
  ]);
  const processors = await Promise.all(
    exporters.map(async (name) => {
      if (name === 'console') return new node.BatchSpanProcessor(new node.ConsoleSpanExporter());
      const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
      return new node.BatchSpanProcessor(new OTLPTraceExporter());
    }),
  );
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (envDetector) over the SDK's defaults; "plugbay" rather than
  // unknown_service when neither names the service.
  const detected = resources.detectResources({ detectors: [resources.envDetector] });
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ 'service.name': 'plugbay' }))
    .merge(detected);
  // The SDK's own warnings and errors (an unreachable collector, spans dropped on a full queue) on the gateway's
  // log, at most one line per 10 s: a collector that is down must not flood the log either.
  let lastLine = Number.NEGATIVE_INFINITY;
  const toLog = (message: string, ...args: unknown[]) => {
    const now = performance.now();
    if (now - lastLine < 10_000) return;
    lastLine = now;
    logger.warn({ otel: sdkMessage(message, args) }, 'tracing: the OpenTelemetry SDK reports a problem');
  };
  const quiet = () => {};
  diag.setLogger(
    { error: toLog, warn: toLog, info: quiet, debug: quiet, verbose: quiet },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  const provider = new node.NodeTracerProvider({ resource, spanProcessors: processors });
  provider.register();
  setSpanSink({
    resourceFor: (plugin) =>
      resource.merge(
        resources.resourceFromAttributes({
          'plugbay.plugin': plugin.name,
          'plugbay.plugin.version': plugin.version,
        }),
      ),
    // Relayed spans bypass the tracer (they are already ended); only the processors see them.
    export: (span) => {
      for (const p of processors) p.onEnd(span as unknown as Parameters<(typeof p)['onEnd']>[0]);
    },
  });
  logger.info(
    { exporters, service: resource.attributes['service.name'] },
    `tracing: exporting spans with ${exporters.join(', ')} (OTEL_* environment)`,
  );
  return {
    exporters,
    async shutdown() {
      setSpanSink(undefined);
      await provider.shutdown();
      diag.disable();
    },
  };
}
