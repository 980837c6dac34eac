import { tierContract, workerFixture } from '../contract.test.shared.js';
import { fixture } from '../test-support.js';
import { createInlineTier } from './tier.js';

// Leak reports need the async context (tiers/inline/leaks.ts), which is not the default on Node < 24.
const tier = createInlineTier({ attribution: 'async-context' });

tierContract('inline', {
  ...workerFixture, // the same plugin file runs inline
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
