/**
 * ctx.span(): spans of a plugin's own work. The SDK records each as an OTLP/JSON span object and hands it to the
 * tier (CallScope.recordSpan), which relays it to the host's OpenTelemetry pipeline; the host checks and bounds
 * what it gets (plugbay's observe/span-relay.ts). Without a recorder, or outside a sampled trace, only the work
 * runs: no ids, no clock reads.
 */
import type { PluginSpan, SpanAttributes } from './define.js';

/** One ended span in OTLP/JSON form (opentelemetry-proto's Span, as OTLP/HTTP JSON encodes it). */
export interface OtlpJsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: 1;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: {
    key: string;
    value: { stringValue: string } | { boolValue: boolean } | { doubleValue: number };
  }[];
  status: { code: 0 | 2; message?: string };
}

export type SpanRecorder = (span: OtlpJsonSpan) => void;

/** Spans one batch holds at most: past it, more spans of the same turn are dropped (the host bounds them too). */
export const maxSpansPerBatch = 1000;

/**
 * A recorder that hands the spans of one turn to `send` together (one message or request, not one per span);
 * `schedule` decides when the turn ends (a microtask by default).
 */
export function batchedRecorder(
  send: (spans: OtlpJsonSpan[]) => void,
  schedule: (flush: () => void) => void = queueMicrotask,
): SpanRecorder {
  let pending: OtlpJsonSpan[] | undefined;
  const flush = () => {
    const spans = pending;
    pending = undefined;
    if (spans !== undefined) send(spans);
  };
  return (span) => {
    if (pending === undefined) {
      pending = [span];
      schedule(flush);
    } else if (pending.length < maxSpansPerBatch) pending.push(span);
  };
}

const sampled = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(?:[0-9a-f][13579bdf])$/;

class Unrecorded implements PluginSpan {
  constructor(readonly traceparent: string | undefined) {}
  setAttribute(): void {}
  span<T>(_name: string, work: (span: PluginSpan) => T): T {
    return work(this);
  }
}

function nowNanos(): string {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6)).toString();
}

function spanId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

class Recorded implements PluginSpan {
  readonly traceparent: string;
  readonly #record: SpanRecorder;
  readonly #span: OtlpJsonSpan;

  constructor(
    record: SpanRecorder,
    traceId: string,
    parentId: string,
    name: string,
    attributes?: SpanAttributes,
  ) {
    this.#record = record;
    const id = spanId();
    this.traceparent = `00-${traceId}-${id}-01`;
    this.#span = {
      traceId,
      spanId: id,
      parentSpanId: parentId,
      name,
      kind: 1,
      startTimeUnixNano: nowNanos(),
      endTimeUnixNano: '',
      attributes: [],
      status: { code: 0 },
    };
    for (const [k, v] of Object.entries(attributes ?? {})) this.setAttribute(k, v);
  }

  setAttribute(key: string, value: string | number | boolean): void {
    const v =
      typeof value === 'string'
        ? { stringValue: value }
        : typeof value === 'boolean'
          ? { boolValue: value }
          : { doubleValue: value };
    const attrs = this.#span.attributes;
    const at = attrs.findIndex((a) => a.key === key);
    if (at === -1) attrs.push({ key, value: v });
    else attrs[at] = { key, value: v };
  }

  span<T>(name: string, work: (span: PluginSpan) => T, attributes?: SpanAttributes): T {
    return runSpan(this.#record, this.traceparent, name, work, attributes);
  }

  end(error?: unknown): void {
    this.#span.endTimeUnixNano = nowNanos();
    if (error !== undefined)
      this.#span.status = { code: 2, message: error instanceof Error ? error.message : String(error) };
    this.#record(this.#span);
  }
}

/** Runs `work` in a span, child of `parent` (a traceparent), recorded when `record` is given and parent sampled. */
export function runSpan<T>(
  record: SpanRecorder | undefined,
  parent: string | undefined,
  name: string,
  work: (span: PluginSpan) => T,
  attributes?: SpanAttributes,
): T {
  const m = record === undefined || parent === undefined ? null : sampled.exec(parent);
  if (m === null) return work(new Unrecorded(parent));
  const span = new Recorded(record!, m[1]!, m[2]!, String(name), attributes);
  let result: T;
  try {
    result = work(span);
  } catch (err) {
    span.end(err);
    throw err;
  }
  const r = result as unknown;
  if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<unknown>).then === 'function') {
    (r as PromiseLike<unknown>).then(
      () => span.end(),
      (err: unknown) => span.end(err ?? 'rejected'),
    );
  } else span.end();
  return result;
}
