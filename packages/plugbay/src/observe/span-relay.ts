/**
 * Spans that plugins record themselves (a Go plugin through OpenTelemetry Go, a thread-tier plugin through ctx),
 * handed to the host's own OpenTelemetry pipeline so they leave with the host's spans, through the exporter the
 * operator configured (observe/otel-env.ts). A plugin is not trusted with that pipeline, so every span is checked
 * and bounded here before it is exported:
 * - it must belong to a trace the host handed to that plugin's instance in the last minute (a call's traceparent),
 *   and not reuse the id of the host's span it was handed: a plugin cannot add spans to other plugins' traces,
 *   start traces of its own, or stand in for the host's span;
 * - the host sets who it comes from (resource attributes plugbay.plugin and plugbay.plugin.version) and drops any
 *   plugbay.* attribute the plugin sent, so it cannot pose as the host or as another plugin;
 * - sizes are capped (name, attribute count and length, events; links are dropped) and each instance has a token
 *   bucket of spans per second; what goes over is dropped and counted, never queued. Every span the plugin sends
 *   spends a token, dropped ones too, and so does every KiB of a request (a debt when it is over): checking and
 *   parsing is the host's work, which the rate bounds; the socket refuses a request unread while none is left.
 */
import type { Attributes, AttributeValue, HrTime, SpanContext } from '@opentelemetry/api';
import type { PluginLoggerSink } from '../core/types.js';

/** The bounds of one plugin instance's relayed spans (docs/observability.md "Spans from plugins"). */
export const relayLimits = {
  /** Bytes of one export request a plugin sends (the socket answers 413 above it). */
  maxRequestBytes: 256 * 1024,
  /** Sustained spans per second per instance, and the burst above it. */
  spansPerSecond: 200,
  burst: 1000,
  maxNameLength: 256,
  maxAttributes: 32,
  maxValueLength: 1024,
  maxEvents: 16,
  /** How long after a call its trace accepts the plugin's spans, and how many traces an instance remembers. */
  traceWindowMs: 60_000,
  maxTraces: 4096,
} as const;

/** A span in the shape the SDK's processors take (ReadableSpan of @opentelemetry/sdk-trace-base). */
export interface RelayedSpan {
  readonly name: string;
  readonly kind: number;
  readonly spanContext: () => SpanContext;
  readonly parentSpanContext?: SpanContext;
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly status: { code: number; message?: string };
  readonly attributes: Attributes;
  readonly links: [];
  readonly events: { name: string; time: HrTime; attributes: Attributes; droppedAttributesCount: number }[];
  readonly duration: HrTime;
  readonly ended: true;
  readonly resource: unknown;
  readonly instrumentationScope: { name: string; version?: string };
  readonly droppedAttributesCount: number;
  readonly droppedEventsCount: number;
  readonly droppedLinksCount: number;
}

/** Where accepted spans go: the SDK pipeline (otel-env.ts), or a test's collector. */
export interface SpanSink {
  /** The resource of a plugin's spans: the host's, with the plugin named. */
  resourceFor(plugin: { name: string; version: string }): unknown;
  export(span: RelayedSpan): void;
}

/** What one relay request did with its spans. */
export interface RelayOutcome {
  accepted: number;
  /** Dropped by rule: foreign or expired trace (or the host's span id reused), malformed, or over the rate. */
  dropped: { trace: number; malformed: number; rate: number };
}

/** Logs a relay's drops on the plugin's log, once a minute at most: the warning must not flood either. */
export function dropWarning(log: PluginLoggerSink): (out: RelayOutcome) => void {
  let lastWarned = Number.NEGATIVE_INFINITY;
  return (out) => {
    const { trace, malformed, rate } = out.dropped;
    if (trace + malformed + rate === 0) return;
    const now = performance.now();
    if (now - lastWarned < 60_000) return;
    lastWarned = now;
    log.line({
      level: 'warn',
      msg: 'spans from the plugin dropped (foreign trace, malformed or over its rate)',
      fields: { droppedTrace: trace, droppedMalformed: malformed, droppedRate: rate },
    });
  };
}

let sink: SpanSink | undefined;

/** Installs (or, with undefined, removes) the pipeline relayed spans go to. */
export function setSpanSink(next: SpanSink | undefined): void {
  sink = next;
}

/** The relay for one plugin instance, or undefined when no pipeline is installed (then nothing is relayed). */
export function spanRelayFor(plugin: { name: string; version: string }): SpanRelay | undefined {
  return sink === undefined ? undefined : new SpanRelay(plugin, sink);
}

const hex32 = /^[0-9a-f]{32}$/;
const hex16 = /^[0-9a-f]{16}$/;
const digits = /^\d{1,20}$/;

export class SpanRelay {
  readonly #sink: SpanSink;
  readonly #resource: unknown;
  readonly #scopePrefix: string;
  /**
   * trace id → until when the plugin may add spans to it, and the host's span it was handed (a plugin span may
   * not reuse that id); oldest first (Map order).
   */
  readonly #traces = new Map<string, { until: number; hostSpan: string }>();
  #tokens: number = relayLimits.burst;
  #refilled = performance.now();

  constructor(plugin: { name: string; version: string }, target: SpanSink) {
    this.#sink = target;
    this.#resource = target.resourceFor(plugin);
    this.#scopePrefix = `${plugin.name}/`;
  }

  /** Called for each call handed to the instance: its trace may now receive the plugin's spans. */
  allow(traceparent: string | undefined): void {
    if (traceparent === undefined || traceparent.length !== 55) return;
    // Not sampled: the host exports nothing of this trace, so neither does the plugin.
    if ((Number.parseInt(traceparent.slice(53), 16) & 1) === 0) return;
    const traceId = traceparent.slice(3, 35);
    const now = performance.now();
    this.#traces.delete(traceId); // re-inserted last: the Map stays ordered by expiry
    this.#traces.set(traceId, {
      until: now + relayLimits.traceWindowMs,
      hostSpan: traceparent.slice(36, 52),
    });
    if (this.#traces.size > relayLimits.maxTraces) this.#traces.delete(this.#traces.keys().next().value!);
  }

  #allowed(context: SpanContext, now: number): boolean {
    for (const [id, entry] of this.#traces) {
      if (entry.until > now) break;
      this.#traces.delete(id);
    }
    const entry = this.#traces.get(context.traceId);
    return entry !== undefined && entry.hostSpan !== context.spanId;
  }

  #refill(now: number): void {
    this.#tokens = Math.min(
      relayLimits.burst,
      this.#tokens + ((now - this.#refilled) / 1000) * relayLimits.spansPerSecond,
    );
    this.#refilled = now;
  }

  #take(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** No token left: a request would be refused anyway, so the socket need not read or parse it. */
  get spent(): boolean {
    this.#refill(performance.now());
    return this.#tokens < 1;
  }

  /** Spans ctx.span() recorded (OTLP/JSON span objects), under the scope `<plugin>/ctx.span`. */
  relaySpans(spans: unknown[]): RelayOutcome {
    return this.relay({ resourceSpans: [{ scopeSpans: [{ scope: { name: 'ctx.span' }, spans }] }] });
  }

  /**
   * Takes an OTLP/JSON ExportTraceServiceRequest (already parsed from `bytes` bytes) and exports what passes the
   * rules. The request costs one token per span, at least one per KiB (going into debt).
   */
  relay(request: unknown, bytes = 0): RelayOutcome {
    const out: RelayOutcome = { accepted: 0, dropped: { trace: 0, malformed: 0, rate: 0 } };
    const now = performance.now();
    let spent = 0; // tokens the spans took
    for (const rs of arrayAt(request, 'resourceSpans')) {
      for (const ss of arrayAt(rs, 'scopeSpans')) {
        const scope = objectAt(ss, 'scope');
        const scopeName = clip(stringAt(scope, 'name') ?? '', relayLimits.maxNameLength);
        const scopeVersion = stringAt(scope, 'version');
        const instrumentationScope = {
          name: this.#scopePrefix + scopeName,
          ...(scopeVersion === undefined ? {} : { version: clip(scopeVersion, 64) }),
        };
        for (const raw of arrayAt(ss, 'spans')) {
          if (!this.#take(now)) {
            out.dropped.rate++;
            continue;
          }
          spent++;
          const span = this.#spanOf(raw, instrumentationScope);
          if (span === undefined) out.dropped.malformed++;
          else if (!this.#allowed(span.spanContext(), now)) out.dropped.trace++;
          else {
            this.#sink.export(span);
            out.accepted++;
          }
        }
      }
    }
    const byteCost = bytes / 1024 - spent;
    if (byteCost > 0) this.#tokens -= byteCost;
    return out;
  }

  #spanOf(raw: unknown, instrumentationScope: { name: string; version?: string }): RelayedSpan | undefined {
    const traceId = stringAt(raw, 'traceId')?.toLowerCase();
    const spanId = stringAt(raw, 'spanId')?.toLowerCase();
    const parentId = stringAt(raw, 'parentSpanId')?.toLowerCase();
    const name = stringAt(raw, 'name');
    const start = nanosAt(raw, 'startTimeUnixNano');
    const end = nanosAt(raw, 'endTimeUnixNano');
    if (
      traceId === undefined ||
      !hex32.test(traceId) ||
      spanId === undefined ||
      !hex16.test(spanId) ||
      (parentId !== undefined && parentId !== '' && !hex16.test(parentId)) ||
      name === undefined ||
      start === undefined ||
      end === undefined ||
      end < start
    )
      return undefined;
    const kind = numberAt(raw, 'kind');
    const status = objectAt(raw, 'status');
    const statusCode = numberAt(status, 'code');
    const statusMessage = stringAt(status, 'message');
    const attrs = attributesOf(arrayAt(raw, 'attributes'));
    const rawEvents = arrayAt(raw, 'events');
    const events = rawEvents.slice(0, relayLimits.maxEvents).flatMap((e) => {
      const at = nanosAt(e, 'timeUnixNano');
      const eventName = stringAt(e, 'name');
      if (at === undefined || eventName === undefined) return [];
      const a = attributesOf(arrayAt(e, 'attributes'));
      return [
        {
          name: clip(eventName, relayLimits.maxNameLength),
          time: hrTime(at),
          attributes: a.attributes,
          droppedAttributesCount: a.dropped,
        },
      ];
    });
    const context: SpanContext = { traceId, spanId, traceFlags: 1 };
    return {
      name: clip(name, relayLimits.maxNameLength),
      // OTLP's SpanKind counts UNSPECIFIED as 0; the API's starts at INTERNAL = 0.
      kind: kind !== undefined && Number.isInteger(kind) && kind >= 1 && kind <= 5 ? kind - 1 : 0,
      spanContext: () => context,
      ...(parentId === undefined || parentId === ''
        ? {}
        : { parentSpanContext: { traceId, spanId: parentId, traceFlags: 1, isRemote: true } }),
      startTime: hrTime(start),
      endTime: hrTime(end),
      status: {
        code: statusCode === 1 || statusCode === 2 ? statusCode : 0,
        ...(statusMessage === undefined ? {} : { message: clip(statusMessage, relayLimits.maxValueLength) }),
      },
      attributes: attrs.attributes,
      links: [],
      events,
      duration: hrTime(end - start),
      ended: true,
      resource: this.#resource,
      instrumentationScope,
      droppedAttributesCount: attrs.dropped,
      droppedEventsCount: Math.max(0, rawEvents.length - events.length),
      droppedLinksCount: arrayAt(raw, 'links').length,
    };
  }
}

function attributesOf(list: unknown[]): { attributes: Attributes; dropped: number } {
  const attributes: Attributes = {};
  let kept = 0;
  let dropped = 0;
  for (const kv of list) {
    const key = stringAt(kv, 'key');
    const value = anyValueOf(objectAt(kv, 'value'));
    // plugbay.* is the host's to say (which plugin, version, arm): a plugin's own is dropped, not trusted.
    if (
      key === undefined ||
      value === undefined ||
      key.toLowerCase().startsWith('plugbay.') ||
      kept >= relayLimits.maxAttributes
    ) {
      dropped++;
      continue;
    }
    attributes[clip(key, relayLimits.maxNameLength)] = value;
    kept++;
  }
  return { attributes, dropped };
}

/** An OTLP AnyValue of a scalar kind (arrays and maps are dropped: nothing here needs them). */
function anyValueOf(v: Record<string, unknown> | undefined): AttributeValue | undefined {
  if (v === undefined) return undefined;
  if (typeof v.stringValue === 'string') return clip(v.stringValue, relayLimits.maxValueLength);
  if (typeof v.boolValue === 'boolean') return v.boolValue;
  if (typeof v.doubleValue === 'number') return v.doubleValue;
  // int64 is a string in OTLP/JSON (a number from lenient encoders).
  if (typeof v.intValue === 'string' && /^-?\d{1,16}$/.test(v.intValue)) return Number(v.intValue);
  if (typeof v.intValue === 'number' && Number.isSafeInteger(v.intValue)) return v.intValue;
  return undefined;
}

function hrTime(nanos: bigint): HrTime {
  return [Number(nanos / 1_000_000_000n), Number(nanos % 1_000_000_000n)];
}

function clip(s: string, max: number): string {
  return s.length > max ? s.slice(0, max) : s;
}

function objectAt(o: unknown, key: string): Record<string, unknown> | undefined {
  const v = typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[key] : undefined;
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

function arrayAt(o: unknown, key: string): unknown[] {
  const v = typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[key] : undefined;
  return Array.isArray(v) ? v : [];
}

function stringAt(o: unknown, key: string): string | undefined {
  const v = typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[key] : undefined;
  return typeof v === 'string' ? v : undefined;
}

function numberAt(o: unknown, key: string): number | undefined {
  const v = typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[key] : undefined;
  return typeof v === 'number' ? v : undefined;
}

function nanosAt(o: unknown, key: string): bigint | undefined {
  const v = typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[key] : undefined;
  if (typeof v === 'string' && digits.test(v)) return BigInt(v);
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  return undefined;
}
