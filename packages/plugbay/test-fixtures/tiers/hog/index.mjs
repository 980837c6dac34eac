// Test fixture: allocates memory until the worker's cap (permissions.memoryMb) ends it.
import { setImmediate as turn } from 'node:timers/promises';
import { definePlugin, Type } from '@plugbay/sdk';

const kept = [];
const step = 16 * 1024 * 1024;

export default definePlugin({
  name: 'hog',
  version: '0.1.0',
  functions: {
    /** Small arrays on the JS heap, in one synchronous loop. */
    hog: {
      input: Type.Unknown(),
      output: Type.Unknown(),
      handler: () => {
        for (;;) kept.push(new Array(10_000).fill(kept.length));
      },
    },
    /** Buffers (outside the JS heap), 16 MB at a time, held, up to `input` MB (bounded, so a missed cap ends). */
    buffers: {
      input: Type.Number(),
      output: Type.Number(),
      handler: async (mb) => {
        let held = 0;
        while (held < mb * 1024 * 1024) {
          kept.push(Buffer.alloc(step, 1));
          held += step;
          await turn();
        }
        return held;
      },
    },
    /** The same amount of Buffers, each dropped at once: garbage, not a leak. */
    churn: {
      input: Type.Number(),
      output: Type.Number(),
      handler: async (mb) => {
        let made = 0;
        while (made < mb * 1024 * 1024) {
          Buffer.alloc(step, 1);
          made += step;
          await turn();
        }
        return made;
      },
    },
    echo: { input: Type.Unknown(), output: Type.Unknown(), handler: (input) => input },
  },
});
