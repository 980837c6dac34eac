import { definePlugin, Type } from '@plugbay/sdk';
export default definePlugin({
  name: 'quiet',
  version: '1.0.0',
  functions: {
    echo: { input: Type.Unknown(), output: Type.Unknown(), handler: (input) => input },
    quietSpin: {
      input: Type.Unknown(),
      output: Type.Unknown(),
      handler: () => {
        for (;;) {}
      },
    },
    busy: {
      input: Type.Unknown(),
      output: Type.Unknown(),
      handler: (ms) => {
        const end = Date.now() + ms;
        while (Date.now() < end) {}
        return ms;
      },
    },
  },
});
