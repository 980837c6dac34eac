import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PluginLogger } from './define.js';
import { definePlugin, Type } from './index.js';
import { type CallScope, PluginRuntime, resolveDefinition, spanIdOf, traceIdOf } from './runtime.js';

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const traceparent = `00-${traceId}-00f067aa0ba902b7-01`;

/** Every line any logger made, with the traceparent it was made for. */
function recordingLogger() {
  const lines: { traceparent: string | undefined; level: string; msg: string }[] = [];
  const made: (string | undefined)[] = [];
  const logger = (tp?: string): PluginLogger => {
    made.push(tp);
    const at = (level: string) => (msg: string) => lines.push({ traceparent: tp, level, msg });
    return { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  };
  return { logger, lines, made };
}

const events: string[] = [];
const plugin = definePlugin({
  name: 'sample',
  version: '1.0.0',
  config: Type.Object({ greeting: Type.String() }),
  start: (ctx) => {
    events.push(`start ${ctx.config.greeting} ${ctx.signal.aborted}`);
  },
  stop: (ctx) => {
    events.push(`stop ${ctx.config.greeting}`);
  },
  functions: {
    greet: {
      input: Type.Object({ name: Type.String() }),
      output: Type.String(),
      handler: ({ name }, ctx) => `${ctx.config.greeting}, ${name}`,
    },
    context: {
      input: Type.Object({}),
      output: Type.Unknown(),
      handler: (_input, ctx) => {
        ctx.log.info('seen');
        return { key: ctx.key, deadline: ctx.deadline, traceId: ctx.traceId, traceparent: ctx.traceparent };
      },
    },
    later: {
      input: Type.Object({}),
      output: Type.Number(),
      handler: async () => 42,
    },
    fail: {
      input: Type.Object({}),
      output: Type.Unknown(),
      handler: () => {
        throw new RangeError('broken');
      },
    },
  },
});

const scope = (over: Partial<CallScope> = {}): CallScope => ({
  signal: new AbortController().signal,
  deadline: Number.POSITIVE_INFINITY,
  traceparent: undefined,
  key: undefined,
  ...over,
});

describe('resolveDefinition (what definePlugin must produce)', () => {
  it('finds a definePlugin result as default export, as a bundled CommonJS module, or as the module itself', () => {
    assert.equal(resolveDefinition({ default: plugin }), plugin);
    assert.equal(resolveDefinition({ default: { default: plugin } }), plugin);
    assert.equal(resolveDefinition(plugin), plugin);
  });

  it('refuses anything else with PLUGBAY_LOAD_FAILED listing every problem', () => {
    assert.throws(
      () => resolveDefinition({ default: 7 }),
      (err: { code?: string; details?: { problems?: string[] } }) =>
        err.code === 'PLUGBAY_LOAD_FAILED' && err.details?.problems?.length === 1,
    );
    assert.throws(
      () =>
        resolveDefinition({
          default: { name: 1, functions: { a: { handler: 'no' }, b: {} }, start: 'x', health: 1 },
        }),
      (err: { code?: string; details?: { problems?: string[] } }) => {
        assert.equal(err.code, 'PLUGBAY_LOAD_FAILED');
        assert.deepEqual(err.details?.problems, [
          'name must be a string',
          'version must be a string',
          'functions.a.handler must be a function',
          'functions.b.handler must be a function',
          'start must be a function',
          'health must be a function',
        ]);
        return true;
      },
    );
    assert.throws(
      () => resolveDefinition({ default: { name: 'n', version: '1.0.0', functions: null } }),
      (err: { details?: { problems?: string[] } }) =>
        err.details?.problems?.[0] === 'functions must be an object',
    );
  });
});

describe('PluginRuntime', () => {
  it('start gives the config to hooks and handlers; stop and health run with it; health defaults to ok', async () => {
    events.length = 0;
    const runtime = new PluginRuntime(plugin, { logger: recordingLogger().logger });
    assert.deepEqual(runtime.functionNames, ['greet', 'context', 'later', 'fail']);
    await runtime.start({ greeting: 'Hi' }, new AbortController().signal);
    assert.equal(runtime.invoke('greet', { name: 'Ada' }, scope()), 'Hi, Ada');
    assert.equal(await runtime.invoke('later', {}, scope()), 42);
    assert.deepEqual(await runtime.health(new AbortController().signal), { status: 'ok' });
    await runtime.stop(new AbortController().signal);
    assert.deepEqual(events, ['start Hi false', 'stop Hi']);
  });

  it("health() is the plugin's own when it has one", async () => {
    const runtime = new PluginRuntime(
      { ...plugin, health: () => ({ status: 'degraded', message: 'warm-up' }) },
      { logger: recordingLogger().logger },
    );
    assert.deepEqual(await runtime.health(new AbortController().signal), {
      status: 'degraded',
      message: 'warm-up',
    });
  });

  it('a call sees its key, deadline and trace; its logger is made on first use, for its traceparent', async () => {
    const log = recordingLogger();
    const runtime = new PluginRuntime(plugin, { logger: log.logger });
    await runtime.start({ greeting: 'Hi' }, new AbortController().signal);
    assert.deepEqual(log.made, [undefined]); // the lifecycle logger only
    runtime.invoke('greet', { name: 'x' }, scope({ traceparent }));
    assert.deepEqual(log.made, [undefined], 'a call that does not log makes no logger');

    const seen = runtime.invoke('context', {}, scope({ key: 'tenant-7', deadline: 1234, traceparent }));
    assert.deepEqual(seen, { key: 'tenant-7', deadline: 1234, traceId, traceparent });
    assert.deepEqual(log.lines, [{ traceparent, level: 'info', msg: 'seen' }]);
  });

  it('an unknown function is PLUGBAY_UNKNOWN_FUNCTION, inherited names included; a handler error is thrown as is', () => {
    const runtime = new PluginRuntime(plugin, { logger: recordingLogger().logger });
    for (const fn of ['nope', 'toString', '__proto__']) {
      assert.throws(
        () => runtime.invoke(fn, {}, scope()),
        (err: { code?: string; details?: unknown }) =>
          err.code === 'PLUGBAY_UNKNOWN_FUNCTION' &&
          JSON.stringify(err.details) === JSON.stringify({ function: fn }),
        fn,
      );
    }
    assert.throws(() => runtime.invoke('fail', {}, scope()), RangeError);
  });
});

describe('traceIdOf and spanIdOf', () => {
  it('read a W3C traceparent and refuse malformed ones and the all-zero trace id', () => {
    assert.equal(traceIdOf(traceparent), traceId);
    assert.equal(spanIdOf(traceparent), '00f067aa0ba902b7');
    assert.equal(traceIdOf(undefined), undefined);
    assert.equal(traceIdOf(`00-${'0'.repeat(32)}-00f067aa0ba902b7-01`), undefined);
    assert.equal(traceIdOf(`00-${traceId.toUpperCase()}-00f067aa0ba902b7-01`), undefined);
    assert.equal(traceIdOf(`00-${traceId}-00f067aa0ba902b7`), undefined);
    assert.equal(spanIdOf('nope'), undefined);
  });
});
