// Test fixture: keeps allocating small arrays until the worker's heap limit (permissions.memoryMb) ends it.
import { definePlugin, Type } from '@plugbay/sdk';

const kept = [];

export default definePlugin({
  name: 'hog',
  version: '0.1.0',
  functions: {
    hog: {
      input: Type.Unknown(),
      output: Type.Unknown(),
      handler: () => {
        for (;;) kept.push(new Array(10_000).fill(kept.length));
      },
    },
    echo: { input: Type.Unknown(), output: Type.Unknown(), handler: (input) => input },
  },
});
