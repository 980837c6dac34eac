// Test fixture for the tier tests: one function per behaviour a tier must survive or report.
import { existsSync } from 'node:fs';
import { definePlugin, PlugbayError, Type } from '@plugbay/sdk';

let calls = 0;
let stopped = 0;

export default definePlugin({
  name: 'basic',
  version: '1.2.3',
  functions: {
    echo: { input: Type.Unknown(), output: Type.Unknown(), handler: (input) => input },
    add: {
      input: Type.Object({ a: Type.Number(), b: Type.Number() }),
      output: Type.Number(),
      handler: async ({ a, b }) => a + b,
    },
    throws: {
      input: Type.Unknown(),
      output: Type.Unknown(),
      handler: (input) => {
        if (input === 'coded') throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', 'bad argument');
        const err = new Error('boom');
        err.code = 'E_BOOM';
        throw err;
      },
    },
    rejects: {
      input: Type.Unknown(),
      output: Type.Unknown(),
      handler: async () => {
        await null;
        throw new Error('rejected');
      },
    },
    throwsInTimer: {
      input: Type.Unknown(),
      output: Type.Unknown(),
      handler: () => {
        setTimeout(() => {
          throw new Error('thrown in the plugin timer');
        }, 0);
        return 'scheduled';
      },
    },
    throwsInMicrotask: {
      input: Type.Unknown(),
      output: Type.Unknown(),
      handler: () => {
        queueMicrotask(() => {
          throw new Error('thrown in a plugin microtask');
        });
        return 'scheduled';
      },
    },
    blockThenCrash: {
      input: Type.Unknown(),
      output: Type.Unknown(),
      // Blocks the worker until the test flips flag[0] (so that calls pile up unread in its port), then dies.
      handler: (flag) => {
        Atomics.wait(flag, 0, 0);
        process.nextTick(() => {
          throw new Error('crash after the wake-up');
        });
        return new Promise(() => {});
      },
    },
    rejectsUnawaited: {
      input: Type.Unknown(),
      output: Type.Unknown(),
      handler: () => {
        Promise.reject(new Error('nobody awaits this'));
        return 'scheduled';
      },
    },
    spin: {
      input: Type.Unknown(),
      output: Type.Unknown(),
      handler: (_input, ctx) => {
        ctx.log.info('spinning');
        for (;;) {}
      },
    },
    waitForAbort: {
      input: Type.Unknown(),
      output: Type.Unknown(),
      handler: (_input, ctx) =>
        new Promise((resolve) => {
          ctx.signal.addEventListener('abort', () => {
            ctx.log.info('aborted', { code: ctx.signal.reason?.code });
            resolve('aborted');
          });
          ctx.log.info('waiting');
        }),
    },
    log: {
      input: Type.Unknown(),
      output: Type.Unknown(),
      handler: (_input, ctx) => {
        ctx.log.info('hello', { n: 1 });
        return { traceId: ctx.traceId ?? null, key: ctx.key ?? null };
      },
    },
    config: { input: Type.Unknown(), output: Type.Unknown(), handler: (_input, ctx) => ctx.config },
    uncloneable: { input: Type.Unknown(), output: Type.Unknown(), handler: () => ({ fn: () => 1 }) },
    env: {
      input: Type.Unknown(),
      output: Type.Unknown(),
      handler: () => ({
        declared: process.env.PLUGBAY_TEST_DECLARED ?? null,
        undeclared: process.env.PLUGBAY_TEST_UNDECLARED ?? null,
      }),
    },
    print: {
      input: Type.Unknown(),
      output: Type.Unknown(),
      handler: (input) => {
        console.log(`out: ${input}`);
        console.error(`err: ${input}`);
        return 'printed';
      },
    },
    count: { input: Type.Unknown(), output: Type.Number(), handler: () => ++calls },
    exit: {
      input: Type.Unknown(),
      output: Type.Unknown(),
      handler: () => process.exit(3),
    },
  },
  start(ctx) {
    if (ctx.config?.failStart) throw new Error('start refused');
    if (ctx.config?.failStartIfExists && existsSync(ctx.config.failStartIfExists))
      throw new Error('marker file exists');
    if (ctx.config?.crashAfterStart) {
      setTimeout(() => {
        throw new Error('crash after start');
      }, 0);
    }
    ctx.log.info('started', { config: ctx.config ?? null });
  },
  async stop(ctx) {
    if (ctx.config?.hangInStop) {
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
      ctx.log.info('stop aborted', { code: ctx.signal.reason?.code });
      return;
    }
    await new Promise((resolve) => setImmediate(resolve));
    stopped++;
    ctx.log.info('stopped', { stopped });
  },
  health(ctx) {
    return { status: ctx.config?.health ?? 'ok', message: 'from plugin' };
  },
});
