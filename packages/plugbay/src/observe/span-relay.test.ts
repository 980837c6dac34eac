// The rules a plugin's relayed spans pass (span-relay.ts) and the OTEL_* parsing of otel-env.ts. The relay is the
// real one; its sink collects instead of exporting (the export itself is otel-serve.test's).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { tempDir } from '../test-support/plugins.js';
import { listenSpanSocket } from '../tiers/process/span-socket.js';
import { startOtelFromEnv, tracesExportersOf } from './otel-env.js';
import { type RelayedSpan, relayLimits, SpanRelay } from './span-relay.js';

const traceA = '4bf92f3577b34da6a3ce929d0e0e4736';
const traceB = '0af7651916cd43dd8448eb211c80319c';

function collector() {
  const spans: RelayedSpan[] = [];
  return {
    spans,
    sink: {
      resourceFor: (p: { name: string; version: string }) => ({ plugin: p.name, version: p.version }),
      export: (s: RelayedSpan) => spans.push(s),
    },
  };
}

function span(traceId: string, n: number, extra: Record<string, unknown> = {}) {
  return {
    traceId,
    spanId: n.toString(16).padStart(16, '0'),
    parentSpanId: '00f067aa0ba902b7',
    name: `work ${n}`,
    kind: 2,
    startTimeUnixNano: '1700000000000000000',
    endTimeUnixNano: '1700000000001000000',
    ...extra,
  };
}

const request1 = (spans: unknown[]) => ({
  resourceSpans: [{ scopeSpans: [{ scope: { name: 'lib' }, spans }] }],
});

test('a plugin adds spans only to traces of calls it was given, sampled ones, and cannot pose as the host or reuse its span id', () => {
  const { spans, sink } = collector();
  const relay = new SpanRelay({ name: 'echo', version: '1.0.0' }, sink);
  relay.allow(`00-${traceA}-00f067aa0ba902b7-01`);
  relay.allow(`00-${traceB}-00f067aa0ba902b7-00`); // not sampled: nothing of it is exported
  const out = relay.relay(
    request1([
      span(traceA, 1, {
        attributes: [
          { key: 'plugbay.plugin', value: { stringValue: 'someone-else' } },
          { key: 'db.rows', value: { intValue: '42' } },
          { key: 'note', value: { stringValue: 'x'.repeat(5000) } },
        ],
      }),
      span(traceB, 2),
      span('11111111111111111111111111111111', 3),
      span(traceA, 4, { spanId: 'not-hex' }),
      span(traceA, 5, { endTimeUnixNano: '1' }),
      span(traceA, 6, { spanId: '00f067aa0ba902b7' }), // the host's call span it was handed
    ]),
  );
  assert.deepEqual(out, { accepted: 1, dropped: { trace: 3, malformed: 2, rate: 0 } });
  const [s] = spans;
  assert.equal(s?.spanContext().traceId, traceA);
  assert.equal(s?.parentSpanContext?.spanId, '00f067aa0ba902b7');
  assert.equal(s?.kind, 1, 'OTLP SERVER (2) is the API SERVER (1)');
  assert.deepEqual(s?.resource, { plugin: 'echo', version: '1.0.0' }, 'who sent it is the host’s to say');
  assert.equal(s?.instrumentationScope.name, 'echo/lib');
  assert.equal(s?.attributes['plugbay.plugin'], undefined);
  assert.equal(s?.attributes['db.rows'], 42);
  assert.equal(String(s?.attributes.note).length, relayLimits.maxValueLength);
  assert.equal(s?.droppedAttributesCount, 1);
  assert.deepEqual(s?.duration, [0, 1_000_000]);
});

test('a plugin that floods gets its burst, then its rate, and the rest is dropped, not queued', () => {
  const { spans, sink } = collector();
  const relay = new SpanRelay({ name: 'flood', version: '1.0.0' }, sink);
  relay.allow(`00-${traceA}-00f067aa0ba902b7-01`);
  const many = Array.from({ length: relayLimits.burst + 500 }, (_, i) => span(traceA, i + 1));
  const out = relay.relay(request1(many));
  // A few tokens may refill while the batch is checked (200/s): at most a handful over the burst.
  assert.ok(out.accepted >= relayLimits.burst && out.accepted < relayLimits.burst + 5, String(out.accepted));
  assert.equal(out.accepted + out.dropped.rate, many.length);
  assert.equal(spans.length, out.accepted);
});

test('the relay socket takes OTLP/JSON from the plugin, refuses oversized bodies and reports partial success', async (t) => {
  const { spans, sink } = collector();
  const relay = new SpanRelay({ name: 'echo', version: '1.0.0' }, sink);
  relay.allow(`00-${traceA}-00f067aa0ba902b7-01`);
  const lines: unknown[] = [];
  const socket = await listenSpanSocket(await tempDir(t), relay, {
    line: (l: unknown) => lines.push(l),
  } as never);
  t.after(() => socket.close());
  const post = (body: string) => postTraces(socket.path, body);
  const ok = await post(JSON.stringify(request1([span(traceA, 1), span(traceB, 2)])));
  assert.equal(ok.status, 200);
  assert.deepEqual(JSON.parse(ok.body), {
    partialSuccess: { rejectedSpans: '1', errorMessage: 'dropped by the host' },
  });
  assert.equal(spans.length, 1);
  assert.equal(lines.length, 1, 'the drop is logged (once a minute at most)');
  const big = await post(JSON.stringify({ pad: 'x'.repeat(relayLimits.maxRequestBytes) })).catch(
    (err: NodeJS.ErrnoException) => ({
      status: err.code === 'EPIPE' || err.code === 'ECONNRESET' ? 413 : 0,
      body: '',
    }),
  );
  assert.equal(big.status, 413);
  assert.equal((await post('{not json')).status, 400);
});

test('OTEL_* decides: traces only when asked for, otlp over http/protobuf only, typed errors otherwise', async () => {
  assert.deepEqual(tracesExportersOf({}), []);
  assert.deepEqual(tracesExportersOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }), ['otlp']);
  assert.deepEqual(tracesExportersOf({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }), [
    'otlp',
  ]);
  assert.deepEqual(tracesExportersOf({ OTEL_TRACES_EXPORTER: 'otlp,console' }), ['otlp', 'console']);
  assert.deepEqual(
    tracesExportersOf({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x' }),
    [],
  );
  assert.deepEqual(tracesExportersOf({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' }), []);
  assert.throws(() => tracesExportersOf({ OTEL_TRACES_EXPORTER: 'zipkin' }), {
    code: 'PLUGBAY_INVALID_ARGUMENT',
    details: { field: 'OTEL_TRACES_EXPORTER', rule: 'one-of', allowed: ['otlp', 'console', 'none'] },
  });
  assert.throws(
    () => tracesExportersOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }),
    {
      code: 'PLUGBAY_INVALID_ARGUMENT',
      details: { field: 'OTEL_EXPORTER_OTLP_PROTOCOL', rule: 'one-of', allowed: ['http/protobuf'] },
    },
  );
  assert.equal(await startOtelFromEnv({}, pino({ level: 'silent' })), undefined);
});

test('only otel-env.ts loads the OpenTelemetry SDK, and only by dynamic import', () => {
  const src = fileURLToPath(new URL('../', import.meta.url));
  const offenders: string[] = [];
  for (const f of readdirSync(src, { recursive: true, encoding: 'utf8' })) {
    if (!f.endsWith('.js') || f.includes('.test.') || f.includes('test-support')) continue;
    const text = readFileSync(join(src, f), 'utf8');
    if (/from '@opentelemetry\/(?!api')/.test(text)) offenders.push(`${f}: static import`);
    if (/import\('@opentelemetry\//.test(text) && f !== join('observe', 'otel-env.js'))
      offenders.push(`${f}: dynamic import outside otel-env`);
  }
  assert.deepEqual(offenders, []);
});

test('dropped spans spend the rate too (a flood of foreign or malformed spans is no free work); kinds are integers; plugbay.* in any case is the host’s', () => {
  const { spans, sink } = collector();
  const relay = new SpanRelay({ name: 'flood', version: '1.0.0' }, sink);
  relay.allow(`00-${traceA}-00f067aa0ba902b7-01`);
  const foreign = Array.from({ length: relayLimits.burst + 500 }, (_, i) => span(traceB, i + 1));
  relay.relay(request1(foreign));
  const own = relay.relay(request1(Array.from({ length: 100 }, (_, i) => span(traceA, i + 1))));
  // only what refilled since (200/s: a token every 5 ms); without the charge all 100 would pass
  assert.ok(own.accepted < 50, `accepted ${own.accepted}`);
  assert.equal(own.accepted + own.dropped.rate, 100);

  const fresh = new SpanRelay({ name: 'odd', version: '1.0.0' }, sink);
  fresh.allow(`00-${traceA}-00f067aa0ba902b7-01`);
  fresh.relay(
    request1([
      span(traceA, 2, {
        kind: 1.5,
        attributes: [{ key: 'PlugBay.Plugin', value: { stringValue: 'someone-else' } }],
      }),
    ]),
  );
  assert.equal(spans.at(-1)?.kind, 0, 'a kind that is no integer is UNSPECIFIED (INTERNAL)');
  assert.deepEqual(spans.at(-1)?.attributes, {});
});

test('the relay socket charges request bytes to the rate and refuses a request unread (429) once it is spent', async (t) => {
  const { sink } = collector();
  const relay = new SpanRelay({ name: 'echo', version: '1.0.0' }, sink);
  relay.allow(`00-${traceA}-00f067aa0ba902b7-01`);
  const socket = await listenSpanSocket(await tempDir(t), relay, { line: () => {} } as never);
  t.after(() => socket.close());
  // one span each, padded to near the size cap: parsing 250 KB is the host's work whatever the span count
  const body = JSON.stringify(
    request1([
      span(traceA, 1, { attributes: [{ key: 'pad', value: { stringValue: 'x'.repeat(250_000) } }] }),
    ]),
  );
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    statuses.push(
      await postTraces(socket.path, body).then(
        (r) => r.status,
        () => -1,
      ),
    );
  }
  assert.deepEqual(statuses.slice(0, 4), [200, 200, 200, 200]);
  assert.equal(statuses.at(-1), 429, statuses.join(' '));
});

/** POSTs `body` to the relay socket's /v1/traces: the status and the answer's text. */
function postTraces(socketPath: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, path: '/v1/traces', method: 'POST', headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
