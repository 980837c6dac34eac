// ctx.span() through the real PluginRuntime: what it records, when it records nothing, and how failures end it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CallContext, PluginDefinition } from './define.js';
import { type CallScope, PluginRuntime } from './runtime.js';
import type { OtlpJsonSpan } from './spans.js';

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const noLog = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

function runtimeOf(handler: (input: unknown, ctx: CallContext) => unknown): PluginRuntime {
  const definition = {
    name: 's',
    version: '1.0.0',
    functions: { f: { input: {}, output: {}, handler } },
  } as unknown as PluginDefinition;
  return new PluginRuntime(definition, { logger: () => noLog });
}

function scope(traceparent: string | undefined, recorded?: OtlpJsonSpan[]): CallScope {
  return {
    signal: new AbortController().signal,
    deadline: Number.POSITIVE_INFINITY,
    traceparent,
    key: undefined,
    ...(recorded === undefined ? {} : { recordSpan: (s: OtlpJsonSpan) => recorded.push(s) }),
  };
}

test('ctx.span records a nested pair under the call span, ends a rejected one as failed, and returns the work', async () => {
  const recorded: OtlpJsonSpan[] = [];
  const runtime = runtimeOf((_input, ctx) =>
    ctx.span(
      'outer',
      async (outer) => {
        outer.setAttribute('hit', true);
        outer.setAttribute('hit', false); // the last value wins, once
        const inner = outer.span('inner', (s) => s.traceparent);
        await Promise.reject(new Error('boom')).catch(() => {});
        return inner;
      },
      { n: 2, who: 'me' },
    ),
  );
  const innerTp = await runtime.invoke('f', {}, scope(`00-${traceId}-00f067aa0ba902b7-01`, recorded));
  assert.deepEqual(
    recorded.map((s) => s.name),
    ['inner', 'outer'],
  );
  const [inner, outer] = recorded as [OtlpJsonSpan, OtlpJsonSpan];
  assert.equal(outer.traceId, traceId);
  assert.equal(outer.parentSpanId, '00f067aa0ba902b7');
  assert.equal(inner.parentSpanId, outer.spanId);
  assert.equal(innerTp, `00-${traceId}-${inner.spanId}-01`);
  assert.deepEqual(outer.attributes, [
    { key: 'n', value: { doubleValue: 2 } },
    { key: 'who', value: { stringValue: 'me' } },
    { key: 'hit', value: { boolValue: false } },
  ]);
  assert.ok(BigInt(outer.endTimeUnixNano) >= BigInt(inner.endTimeUnixNano));
  assert.ok(BigInt(inner.startTimeUnixNano) >= BigInt(outer.startTimeUnixNano));
  assert.deepEqual(outer.status, { code: 0 });

  recorded.length = 0;
  const failing = runtimeOf((_input, ctx) =>
    ctx.span('sync', () => {
      throw new Error('sync failure');
    }),
  );
  assert.throws(
    () => failing.invoke('f', {}, scope(`00-${traceId}-00f067aa0ba902b7-01`, recorded)),
    /sync failure/,
  );
  const rejecting = runtimeOf((_input, ctx) =>
    ctx.span('async', async () => Promise.reject(new Error('late'))),
  );
  await assert.rejects(
    rejecting.invoke('f', {}, scope(`00-${traceId}-00f067aa0ba902b7-01`, recorded)) as Promise<unknown>,
    /late/,
  );
  await new Promise<void>((resolve) => setImmediate(resolve)); // the span ends in the rejection's own handler
  assert.deepEqual(
    recorded.map((s) => [s.name, s.status]),
    [
      ['sync', { code: 2, message: 'sync failure' }],
      ['async', { code: 2, message: 'late' }],
    ],
  );
});

test('ctx.span only runs the work without a recorder, without a trace, or in an unsampled trace', () => {
  const recorded: OtlpJsonSpan[] = [];
  const runtime = runtimeOf((_input, ctx) => ctx.span('x', (s) => s.span('y', (inner) => inner.traceparent)));
  const unsampled = `00-${traceId}-00f067aa0ba902b7-00`;
  assert.equal(runtime.invoke('f', {}, scope(undefined, recorded)), undefined);
  assert.equal(
    runtime.invoke('f', {}, scope(unsampled, recorded)),
    unsampled,
    'the call’s traceparent passes on',
  );
  const sampled = `00-${traceId}-00f067aa0ba902b7-01`;
  assert.equal(runtime.invoke('f', {}, scope(sampled)), sampled);
  assert.deepEqual(recorded, []);
});
