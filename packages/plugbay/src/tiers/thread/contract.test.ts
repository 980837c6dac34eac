import { fastRestart, tierContract, workerFixture } from '../contract.test.shared.js';
import { fixture } from '../test-support.js';
import { createThreadTier } from './tier.js';

const tier = createThreadTier({ unresponsiveMs: 100, restart: fastRestart });

tierContract('thread', {
  ...workerFixture,
  setup: async () => ({ tier, plugin: await fixture('contract') }),
});
