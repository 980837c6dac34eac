/**
 * Spans through @opentelemetry/api. The API is a no-op until the application registers an SDK, and even a no-op
 * span costs allocations, so the host asks once, at creation, whether a real TracerProvider is registered and
 * takes the traced call path only then. Spans are parented explicitly from W3C traceparent strings (what every tier
 * carries), so they link up whether or not the SDK registered an AsyncLocalStorage context manager; when one is
 * registered, the host also makes its span the active one while plugin code runs.
 */
import {
  type Context,
  context,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  type Tracer,
  trace,
} from '@opentelemetry/api';

const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const tracerName = 'plugbay';

/** The tracer to use, or undefined when no SDK is registered (then tracing costs nothing). */
export function registeredTracer(): Tracer | undefined {
  const provider = trace.getTracerProvider();
  if (provider instanceof ProxyTracerProvider) {
    return provider.getDelegateTracer(tracerName) === undefined ? undefined : provider.getTracer(tracerName);
  }
  return provider.getTracer(tracerName);
}

/** A span context from a W3C traceparent (version 00), or undefined when absent or malformed. */
export function spanContextOf(traceparent: string | undefined): SpanContext | undefined {
  if (traceparent === undefined) return undefined;
  const m = traceparentPattern.exec(traceparent);
  if (m === null || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return undefined;
  return { traceId: m[1]!, spanId: m[2]!, traceFlags: Number.parseInt(m[3]!, 16), isRemote: true };
}

/** The context to start a child span in: the caller's traceparent, else the active context. */
export function parentContext(traceparent: string | undefined): Context {
  const sc = spanContextOf(traceparent);
  return sc === undefined ? context.active() : trace.setSpanContext(ROOT_CONTEXT, sc);
}

/** The W3C traceparent of a span (what tiers get as ctx.traceparent). */
export function traceparentOf(span: Span): string {
  const sc = span.spanContext();
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 1).toString(16).padStart(2, '0')}`;
}

export { newTraceparent } from '../core/trace-id.js';
