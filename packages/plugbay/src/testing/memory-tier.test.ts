import { fastRestart, tierContract } from '../tiers/contract.test.shared.js';
import { fixture } from '../tiers/test-support.js';
import { createMemoryTier, type MemoryCallContext } from './memory-tier.js';

/** The contract plugin's functions as handlers (test-fixtures/tiers/contract, whose manifest the tier is given). */
const handlers = {
  echo: (input: unknown) => input,
  fail: (input: unknown) => {
    if (input === 'coded')
      throw Object.assign(new Error('bad argument'), { code: 'PLUGBAY_INVALID_ARGUMENT' });
    if (input === 'reject') return Promise.reject(new Error('rejected'));
    throw Object.assign(new Error('boom'), { code: 'E_BOOM' });
  },
  hang: (input: unknown, ctx: MemoryCallContext) => {
    ctx.log.info('in flight', { id: input });
    return new Promise(() => {});
  },
  slow: (input: unknown, ctx: MemoryCallContext) => {
    ctx.log.info('in flight', { id: input });
    return new Promise((resolve) => setImmediate(resolve, input));
  },
  crash: (_input: unknown, ctx: MemoryCallContext) => ctx.crash(),
};

const tier = createMemoryTier({ plugins: { contract: handlers }, restart: fastRestart });

tierContract('memory', {
  fns: { echo: 'echo', fail: 'fail', hang: 'hang', slow: 'slow', crash: 'crash' },
  pluginCodes: true,
  stops: false, // handlers only: no stop()
  concurrent: true,
  exitOnCrash: true,
  reportsLeaks: false,
  skip: { runaway: 'handlers run on the test thread: nothing could stop one that never yields' },
  setup: async () => ({ tier, plugin: await fixture('contract') }),
});
