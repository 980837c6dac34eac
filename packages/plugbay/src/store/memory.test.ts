import { stateStoreContract } from './contract.test.shared.js';
import { MemoryStateStore } from './memory.js';

stateStoreContract('MemoryStateStore', async (now) => ({
  store: new MemoryStateStore({ now }),
  cleanup: async () => {},
}));
