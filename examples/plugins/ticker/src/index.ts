import { definePlugin, Type } from '@plugbay/sdk';

// State lives in the module: one instance per loaded version, so each version counts on its own.
let timer: NodeJS.Timeout | undefined;
let ticks = 0;
let startedAt = 0;

/** Counts ticks of a timer started in start() and cleared in stop(): a plugin that cleans up after itself. */
export default definePlugin({
  name: 'ticker',
  version: '1.0.0',
  description: 'Counts timer ticks between start() and stop().',
  functions: {
    ticks: {
      description: 'How many times the timer fired since start().',
      input: Type.Object({}, { additionalProperties: false }),
      output: Type.Object({ ticks: Type.Integer({ minimum: 0 }), uptimeMs: Type.Number({ minimum: 0 }) }),
      // No expected output (it depends on time): plugbay test checks that the output validates.
      examples: [{ input: {} }],
      handler: () => ({ ticks, uptimeMs: Date.now() - startedAt }),
    },
  },
  start(ctx) {
    ticks = 0;
    startedAt = Date.now();
    timer = setInterval(() => {
      ticks += 1;
    }, 100);
    ctx.log.info('ticker started', { intervalMs: 100 });
  },
  stop(ctx) {
    clearInterval(timer);
    timer = undefined;
    ctx.log.info('ticker stopped', { ticks });
  },
});
