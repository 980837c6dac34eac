import { tierContract } from '../contract.test.shared.js';
import { fixture } from '../test-support.js';
import { createInlineTier } from './tier.js';

const tier = createInlineTier();

tierContract('inline', {
  fns: {
    echo: 'echo',
    fail: 'fail',
    log: 'log',
    hang: 'hang',
    slow: 'slow',
    leak: 'leak',
  },
  pluginCodes: true,
  stops: true,
  pluginHealth: true,
  failStart: { failStart: true },
  concurrent: true,
  exitOnCrash: false,
  reportsLeaks: true,
  skip: {
    runaway: 'nothing can stop code on the host thread',
    crash:
      "an inline crash fails the instance for good; node:test claims this process's uncaught errors, so " +
      'attribution.test.ts drives inline faults in child processes',
    crashloop: 'an inline instance never restarts, so it has no crash loop',
  },
  setup: async () => ({ tier, plugin: await fixture('contract') }),
});
