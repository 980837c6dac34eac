// Test fixture: imports fine, then its own top-level timer throws (before anyone could call start()).
import { definePlugin, Type } from '@plugbay/sdk';

setTimeout(() => {
  throw new Error('died right after import');
}, 0);

export default definePlugin({
  name: 'dies-on-import',
  version: '0.0.1',
  functions: { f: { input: Type.Unknown(), output: Type.Unknown(), handler: () => 'never' } },
});
