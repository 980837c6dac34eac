// The plugin of the shared tier conformance suite (src/tiers/contract.test.shared.ts): one function per behaviour
// the suite drives. Plain JS without imports, so that the inline, thread and process tiers all run this one file.
const any = {};

export default {
  name: 'contract',
  version: '1.0.0',
  start(ctx) {
    if (ctx.config?.failStart) throw new Error('start refused');
  },
  // Takes a turn of the event loop, so that a close() that does not wait for it resolves before 'stopped'.
  async stop(ctx) {
    await new Promise((resolve) => setImmediate(resolve));
    ctx.log.info('stopped');
  },
  health(ctx) {
    return { status: ctx.config?.health ?? 'ok', message: 'from plugin' };
  },
  functions: {
    echo: { input: any, output: any, handler: (input) => input },
    log: {
      input: any,
      output: any,
      handler: (_input, ctx) => {
        ctx.log.info('hello', { n: 1 });
        return { traceId: ctx.traceId ?? null, key: ctx.key ?? null };
      },
    },
    // `coded`: an error with a registry code; `reject`: a rejection; anything else: a throw with the plugin's code.
    fail: {
      input: any,
      output: any,
      handler: (input) => {
        if (input === 'coded')
          throw Object.assign(new Error('bad argument'), { code: 'PLUGBAY_INVALID_ARGUMENT' });
        if (input === 'reject') return Promise.resolve().then(() => Promise.reject(new Error('rejected')));
        throw Object.assign(new Error('boom'), { code: 'E_BOOM' });
      },
    },
    // Runs until its call is aborted; says when it started so the test knows the call is in flight.
    hang: {
      input: any,
      output: any,
      handler: (input, ctx) =>
        new Promise((resolve) => {
          ctx.signal.addEventListener('abort', () => resolve('aborted'));
          ctx.log.info('in flight', { id: input });
        }),
    },
    // Finishes by itself a little later (its own timer), so that a close can come while it runs.
    slow: {
      input: any,
      output: any,
      handler: (input, ctx) =>
        new Promise((resolve) => {
          setTimeout(() => resolve(input), 50);
          ctx.log.info('in flight', { id: input });
        }),
    },
    // Never yields, whatever the signal says: only a tier that can stop code ends it.
    spin: {
      input: any,
      output: any,
      handler: (input, ctx) => {
        ctx.log.info('in flight', { id: input });
        for (;;) {}
      },
    },
    exit: { input: any, output: any, handler: () => process.exit(3) },
    throwLater: {
      input: any,
      output: any,
      handler: () => {
        setTimeout(() => {
          throw new Error('thrown in the plugin timer');
        }, 0);
        return 'scheduled';
      },
    },
    // An interval nobody clears (unref'd, so that a leak in the test process does not keep it alive).
    leak: {
      input: any,
      output: any,
      handler: () => {
        setInterval(() => {}, 60_000).unref();
        return 'leaked';
      },
    },
  },
};
