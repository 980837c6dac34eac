import { fastRestart, tierContract } from '../contract.test.shared.js';
import { fixture } from '../test-support.js';
import { createThreadTier } from './tier.js';

const tier = createThreadTier({ unresponsiveMs: 100, restart: fastRestart });

tierContract('thread', {
  fns: {
    echo: 'echo',
    fail: 'fail',
    hang: 'hang',
    slow: 'slow',
    spin: 'spin',
    crash: 'exit',
    leak: 'leak',
  },
  pluginCodes: true,
  stops: true,
  failStart: { failStart: true },
  concurrent: true,
  exitOnCrash: true,
  reportsLeaks: false,
  setup: async () => ({ tier, plugin: await fixture('contract') }),
});
