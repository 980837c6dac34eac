/**
 * One trace from the gateway to the plugin's own span. The SDK is not a dependency: a tiny TracerProvider built on
 * @opentelemetry/api's interfaces records finished spans (test scaffolding; the host and gateway are real).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  context,
  type Span,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import { createGateway } from '../gateway/server.js';
import { createHost } from '../host/host.js';
import { createInlineTier } from '../tiers/index.js';
import { obsPlugin, recordingLogger, traceparent } from './test-support.js';

interface Finished {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  attributes: Record<string, unknown>;
  status: SpanStatus | undefined;
}

const finished: Finished[] = [];

class RecordingSpan implements Span {
  readonly #context: SpanContext;
  readonly #parent: string | undefined;
  #name: string;
  readonly #attributes: Record<string, unknown> = {};
  #status: SpanStatus | undefined;
  constructor(name: string, sc: SpanContext, parent: string | undefined, options: SpanOptions) {
    this.#name = name;
    this.#context = sc;
    this.#parent = parent;
    Object.assign(this.#attributes, options.attributes);
  }
  spanContext() {
    return this.#context;
  }
  setAttribute(key: string, value: unknown) {
    this.#attributes[key] = value;
    return this;
  }
  setAttributes(attributes: Record<string, unknown>) {
    Object.assign(this.#attributes, attributes);
    return this;
  }
  addEvent() {
    return this;
  }
  addLink() {
    return this;
  }
  addLinks() {
    return this;
  }
  setStatus(status: SpanStatus) {
    this.#status = status;
    return this;
  }
  updateName(name: string) {
    this.#name = name;
    return this;
  }
  end() {
    finished.push({
      name: this.#name,
      traceId: this.#context.traceId,
      spanId: this.#context.spanId,
      parentSpanId: this.#parent,
      attributes: this.#attributes,
      status: this.#status,
    });
  }
  isRecording() {
    return true;
  }
  recordException() {}
}

const tracer: Tracer = {
  startSpan(name, options = {}, ctx = context.active()) {
    const parent = trace.getSpanContext(ctx);
    const sc = {
      traceId: parent?.traceId ?? randomBytes(16).toString('hex'),
      spanId: randomBytes(8).toString('hex'),
      traceFlags: 1,
    };
    return new RecordingSpan(name, sc, parent?.spanId, options);
  },
  startActiveSpan(name: string, ...rest: unknown[]) {
    const fn = rest.at(-1) as (span: Span) => unknown;
    const span = this.startSpan(name);
    return context.with(trace.setSpan(context.active(), span), () => fn(span));
  },
} as Tracer;

const provider: TracerProvider = { getTracer: () => tracer };

test('one trace: gateway → route → instance call → the plugin own child span', async (t) => {
  assert.equal(trace.setGlobalTracerProvider(provider), true);
  t.after(() => trace.disable());
  // The plugin creates its own span with @opentelemetry/api, as a real plugin would (resolved from this package).
  const api = import.meta.resolve('@opentelemetry/api');
  const source = `import { trace, ROOT_CONTEXT } from ${JSON.stringify(api)};
globalThis.__pluginSpan = (traceparent) => {
  const [, traceId, spanId] = traceparent.split('-');
  const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: 1, isRemote: true });
  trace.getTracer('obs-plugin').startSpan('obs: own work', {}, parent).end();
  return 'traced';
};`;
  const host = createHost({
    logger: recordingLogger().logger,
    tiers: { inline: createInlineTier() },
    tierFor: () => 'inline',
  });
  t.after(() => host.close());
  await host.loadDirectory(await obsPlugin(t, 'obs', '1.0.0', source));
  const gateway = createGateway({ host, port: 0 });
  t.after(() => gateway.close());
  const { url } = await gateway.listen();
  const res = await fetch(`${url}/v1/call/obs/span`, { method: 'POST', headers: { traceparent } });
  assert.equal(res.status, 200);
  assert.equal(await res.json(), 'traced');

  const traceId = traceparent.split('-')[1];
  const spans = finished.filter((s) => s.traceId === traceId);
  const byName = (prefix: string) => {
    const s = spans.find((x) => x.name.startsWith(prefix));
    assert.ok(s, `span ${prefix} in ${JSON.stringify(spans.map((x) => x.name))}`);
    return s;
  };
  const server = byName('POST /v1/call/obs/span');
  const route = byName('plugbay.route obs.span');
  const call = byName('plugbay.call obs@1.0.0.span');
  const own = byName('obs: own work');
  assert.equal(server.parentSpanId, traceparent.split('-')[2], 'the gateway span continues the caller trace');
  assert.equal(route.parentSpanId, server.spanId);
  assert.equal(call.parentSpanId, route.spanId);
  assert.equal(own.parentSpanId, call.spanId);
  assert.equal(call.attributes['plugbay.tier'], 'inline');
  assert.equal(call.attributes['plugbay.arm'], 'stable');
  assert.equal(route.attributes['plugbay.version'], '1.0.0');

  // A failing call marks the spans as errors with the code.
  const failed = await fetch(`${url}/v1/call/obs/fails`, { method: 'POST' });
  assert.equal(failed.status, 502);
  const failedCall = finished.find((s) => s.name === 'plugbay.call obs@1.0.0.fails');
  assert.equal(failedCall?.status?.code, 2);
  assert.equal(failedCall?.attributes['plugbay.error.code'], 'PLUGBAY_PLUGIN_ERROR');
});
