// `plugbay serve` with OTEL_* set, end to end: the real CLI as a child process exports with the OpenTelemetry Node
// SDK's OTLP/HTTP exporter to a receiver started here; the export requests are decoded with the official
// opentelemetry-proto definitions (test/fixtures/opentelemetry-proto), and the spans of one HTTP call must form one
// trace across the gateway, the host and the Go plugin's process.
import assert from 'node:assert/strict';
import { cp, mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import protobuf from 'protobufjs';
import { repoRoot, runPlugbay, servePlugbay, waitForLog } from '../test-support/cli.js';
import { manifest, pluginSource, tempDir, writePlugin } from '../test-support/plugins.js';

const protoRoot = join(repoRoot, 'test/fixtures/opentelemetry-proto');
const goEcho = join(repoRoot, 'examples/go-plugins/plugbay-echo');

interface DecodedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: string;
  service: string;
  plugin: string | undefined;
  scope: string;
  attributes: Record<string, unknown>;
}

async function exportRequestType(): Promise<protobuf.Type> {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(protoRoot, target);
  await root.load('opentelemetry/proto/collector/trace/v1/trace_service.proto');
  return root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
}

function attributesOf(list: { key: string; value: Record<string, unknown> }[] | undefined) {
  const out: Record<string, unknown> = {};
  for (const kv of list ?? []) out[kv.key] = Object.values(kv.value)[0];
  return out;
}

type Receiver = Awaited<ReturnType<typeof otlpReceiver>>;

/** An OTLP/HTTP receiver (protobuf bodies on /v1/traces) that hands out spans as they arrive. */
async function otlpReceiver(t: TestContext) {
  const type = await exportRequestType();
  const spans: DecodedSpan[] = [];
  const contentTypes = new Set<string>();
  let wake: (() => void) | undefined;
  const server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    contentTypes.add(`${req.method} ${req.url} ${req.headers['content-type']}`);
    const message = type.decode(Buffer.concat(chunks));
    const body = type.toObject(message, { longs: String, enums: String, bytes: String, defaults: true }) as {
      resourceSpans: {
        resource: { attributes: { key: string; value: Record<string, unknown> }[] };
        scopeSpans: { scope: { name: string }; spans: Record<string, unknown>[] }[];
      }[];
    };
    for (const rs of body.resourceSpans) {
      const resource = attributesOf(rs.resource.attributes);
      for (const ss of rs.scopeSpans) {
        for (const s of ss.spans) {
          const hex = (b64: unknown) => Buffer.from(String(b64), 'base64').toString('hex');
          spans.push({
            traceId: hex(s.traceId),
            spanId: hex(s.spanId),
            parentSpanId: hex(s.parentSpanId),
            name: String(s.name),
            kind: String(s.kind),
            service: String(resource['service.name']),
            plugin: resource['plugbay.plugin'] as string | undefined,
            scope: ss.scope.name,
            attributes: attributesOf(s.attributes as { key: string; value: Record<string, unknown> }[]),
          });
        }
      }
    }
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    wake?.();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    contentTypes,
    spans,
    /** Resolves once `done(spans)` holds; the test's own timeout bounds the wait. */
    async until(done: (spans: DecodedSpan[]) => boolean): Promise<DecodedSpan[]> {
      while (!done(spans)) await new Promise<void>((resolve) => (wake = resolve));
      return spans;
    },
  };
}

function otelEnv(endpoint: string): NodeJS.ProcessEnv {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_SERVICE_NAME: 'gateway-under-test',
    OTEL_TRACES_SAMPLER: 'parentbased_always_on',
    OTEL_BSP_SCHEDULE_DELAY: '50', // export within 50 ms, not the default 5 s
  };
}

/** A TypeScript plugin with spans of its own through ctx.span(), one nested in the other. */
async function writeSpanny(plugins: string): Promise<void> {
  await writePlugin(plugins, 'spanny', {
    manifest: manifest({ name: 'spanny', functions: { lookup: { input: {}, output: {} } } }),
    files: {
      'index.mjs': pluginSource('spanny', '1.0.0', {
        lookup: `(input, ctx) => ctx.span('spanny.lookup', async (span) => {
          span.setAttribute('cache.hit', false);
          span.setAttribute('plugbay.plugin', 'forged');
          return span.span('spanny.inner', (inner) => ({ outer: span.traceparent, inner: inner.traceparent }));
        }, { step: 1 })`,
      }),
    },
  });
}

/** Calls spanny: its ctx.span() spans hang below its plugbay.call span, the inner one below the outer. */
async function checkSpanny(receiver: Receiver, url: string, tier: string): Promise<void> {
  const tsTrace = '0af7651916cd43dd8448eb211c80319c';
  const ts = await fetch(`${url}/v1/call/spanny/lookup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: `00-${tsTrace}-b7ad6b7169203331-01` },
    body: '{}',
  });
  assert.equal(ts.status, 200);
  const seen = (await ts.json()) as { outer: string; inner: string };
  const expected = ['plugbay.call spanny@1.0.0.lookup', 'spanny.lookup', 'spanny.inner'];
  await receiver.until((all) =>
    expected.every((n) => all.some((x) => x.traceId === tsTrace && x.name === n)),
  );
  const tsSpans = receiver.spans.filter((x) => x.traceId === tsTrace);
  const tsCall = tsSpans.find((x) => x.name === 'plugbay.call spanny@1.0.0.lookup');
  const outer = tsSpans.find((x) => x.name === 'spanny.lookup');
  const inner = tsSpans.find((x) => x.name === 'spanny.inner');
  assert.equal(tsCall?.attributes['plugbay.tier'], tier);
  assert.equal(outer?.parentSpanId, tsCall?.spanId);
  assert.equal(inner?.parentSpanId, outer?.spanId);
  assert.equal(seen.outer, `00-${tsTrace}-${outer?.spanId}-01`, 'span.traceparent is the span itself');
  assert.equal(seen.inner, `00-${tsTrace}-${inner?.spanId}-01`);
  // step: an integer, so int64 on the wire (decoded as a string); plugbay.* is the host’s: dropped.
  assert.deepEqual(outer?.attributes, { step: '1', 'cache.hit': false });
  assert.equal(outer?.plugin, 'spanny');
  assert.equal(outer?.scope, 'spanny/ctx.span');
}

test('plugbay serve with OTEL_EXPORTER_OTLP_ENDPOINT exports one connected trace per call: gateway → route → call → the Go plugin', {
  timeout: 60_000,
}, async (t) => {
  const receiver = await otlpReceiver(t);
  const dir = await tempDir(t);
  const plugins = join(dir, 'plugins');
  await mkdir(join(plugins, 'go-echo/bin'), { recursive: true });
  await cp(join(goEcho, 'plugin.json'), join(plugins, 'go-echo/plugin.json'));
  await cp(join(goEcho, 'bin/plugbay-echo'), join(plugins, 'go-echo/bin/plugbay-echo'));
  await writeSpanny(plugins);
  const { url } = await servePlugbay(t, plugins, ['--signatures', 'off'], join(dir, 'state.db'), {
    env: otelEnv(receiver.url),
  });

  // The caller's own trace context: the gateway's SERVER span must continue it.
  const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
  const callerSpan = '00f067aa0ba902b7';
  const res = await fetch(`${url}/v1/call/go-echo/echo`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: `00-${callerTrace}-${callerSpan}-01` },
    body: '{"hello":"otel"}',
  });
  assert.equal(res.status, 200);
  const echoed = (await res.json()) as { grpc: { traceparent: string[] } };

  const names = [
    'POST /v1/call/go-echo/echo',
    'plugbay.route go-echo.echo',
    'plugbay.call go-echo@1.0.0.echo',
    'go-echo echo',
  ];
  // Spans come in several export requests (the host's batch, then the Go plugin's through the relay).
  const spans = await receiver.until((s) =>
    names.every((n) => s.some((x) => x.traceId === callerTrace && x.name === n)),
  );
  const trace = spans.filter((s) => s.traceId === callerTrace);
  const byName = (prefix: string) => {
    const found = trace.filter((s) => s.name.startsWith(prefix));
    assert.equal(found.length, 1, `one ${prefix} span in ${JSON.stringify(spans.map((s) => s.name))}`);
    return found[0]!;
  };
  const server = byName('POST /v1/call/go-echo/echo');
  const route = byName('plugbay.route go-echo.echo');
  const call = byName('plugbay.call go-echo@1.0.0.echo');
  const go = byName('go-echo echo');
  assert.equal(trace.length, 4, 'every span of the call is in the caller trace, and nothing else is');

  // Parent → child, from the caller through the process boundary.
  assert.equal(server.parentSpanId, callerSpan);
  assert.equal(route.parentSpanId, server.spanId);
  assert.equal(call.parentSpanId, route.spanId);
  assert.equal(go.parentSpanId, call.spanId);
  assert.deepEqual(
    echoed.grpc.traceparent,
    [`00-${callerTrace}-${call.spanId}-01`],
    'the metadata the Go side got',
  );

  assert.deepEqual(
    [server.kind, route.kind, call.kind, go.kind],
    ['SPAN_KIND_SERVER', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_CLIENT', 'SPAN_KIND_SERVER'],
  );
  for (const s of [server, route, call]) assert.equal(s.service, 'gateway-under-test');
  // The host says whose span it relayed (resource), and keeps the plugin's own scope under its name.
  assert.equal(go.service, 'gateway-under-test');
  assert.equal(go.plugin, 'go-echo');
  assert.equal(go.scope, 'go-echo/plugbay.dev/goplugins/plugbay-echo');
  assert.equal(go.attributes['rpc.method'], 'echo');
  assert.equal(call.attributes['plugbay.tier'], 'process');
  assert.deepEqual([...receiver.contentTypes], ['POST /v1/traces application/x-protobuf']);

  await checkSpanny(receiver, url, 'thread');
});

test('a TypeScript plugin in the process tier (unsigned under --signatures warn) relays its ctx.span() spans too', {
  timeout: 60_000,
}, async (t) => {
  const receiver = await otlpReceiver(t);
  const dir = await tempDir(t);
  const plugins = join(dir, 'plugins');
  await writeSpanny(plugins);
  const { url } = await servePlugbay(t, plugins, ['--signatures', 'warn'], join(dir, 'state.db'), {
    env: otelEnv(receiver.url),
  });
  await checkSpanny(receiver, url, 'process');
});

test('a TypeScript plugin in the inline tier (--inline) relays its ctx.span() spans too', {
  timeout: 60_000,
}, async (t) => {
  const receiver = await otlpReceiver(t);
  const dir = await tempDir(t);
  const plugins = join(dir, 'plugins');
  await writeSpanny(plugins);
  const { url } = await servePlugbay(
    t,
    plugins,
    ['--signatures', 'off', '--inline', 'spanny'],
    join(dir, 'state.db'),
    { env: otelEnv(receiver.url) },
  );
  await checkSpanny(receiver, url, 'inline');
});

test('a collector that cannot be reached is a warning on the gateway log, and calls go on', {
  timeout: 60_000,
}, async (t) => {
  // A port nothing listens on: taken from a server that is closed again.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const dir = await tempDir(t);
  const plugins = join(dir, 'plugins');
  await writeSpanny(plugins);
  const { child, url } = await servePlugbay(t, plugins, ['--signatures', 'off'], join(dir, 'state.db'), {
    // The exporter retries with backoff within its timeout: 1 s instead of 10 s reports sooner.
    env: { ...otelEnv(`http://127.0.0.1:${port}`), OTEL_EXPORTER_OTLP_TIMEOUT: '1000' },
  });
  const warned = waitForLog(child, (l) => l.msg === 'tracing: the OpenTelemetry SDK reports a problem');
  const res = await fetch(`${url}/v1/call/spanny/lookup`, { method: 'POST', body: '{}' });
  assert.equal(res.status, 200);
  const line = await warned;
  assert.match(String(line.otel), /^connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
});

test('plugbay serve refuses an OTEL_* it cannot honour before starting anything', async (t) => {
  const dir = await tempDir(t);
  const zipkin = await runPlugbay(['serve', dir, '--port', '0', '--state', join(dir, 's.db')], {
    env: { OTEL_TRACES_EXPORTER: 'zipkin' },
  });
  assert.equal(zipkin.code, 2);
  assert.match(zipkin.stderr, /OTEL_TRACES_EXPORTER: .* not "zipkin"/);
  const grpc = await runPlugbay(['serve', dir, '--port', '0', '--state', join(dir, 's.db')], {
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
  });
  assert.equal(grpc.code, 2);
  assert.match(grpc.stderr, /OTEL_EXPORTER_OTLP_PROTOCOL: .*http\/protobuf/);
});
