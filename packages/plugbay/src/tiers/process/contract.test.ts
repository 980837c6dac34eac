import { fastRestart, tierContract, workerFixture } from '../contract.test.shared.js';
import { fixture } from '../test-support.js';
import { sdkEntry, tempRoot } from './test-helpers.js';
import { ProcessTier } from './tier.js';

const dirs = tempRoot();
const tier = new ProcessTier({
  sdkEntry,
  socketRoot: dirs.root,
  sandbox: false, // the lifecycle is under test here, not the OS layers (isolation.test.ts)
  unresponsiveMs: 100,
  restart: fastRestart,
});

tierContract('process', {
  ...workerFixture,
  skip: {
    health:
      'grpc.health.v1 (the process protocol) has only SERVING and NOT_SERVING: a degraded plugin reads ok, ' +
      'without its message',
  },
  setup: async () => ({ tier, plugin: await fixture('contract') }),
  close: async () => {
    await tier.close();
    dirs.cleanup();
  },
});
