// plugbay/testing: load plugins in a real host from tests, and the conformance checks of `plugbay test`.
// It lives in the host package (not @plugbay/sdk) so that the SDK stays small and free of the host.

export type { CheckStatus, ConformanceCheck, ConformanceOptions, ConformanceReport } from './conformance.js';
export { conformance } from './conformance.js';
export type { HeldCall, MemoryCallContext, MemoryHandler, MemoryTierOptions } from './memory-tier.js';
export { createMemoryTier, MemoryInstance, MemoryTier } from './memory-tier.js';
export { formatReport } from './report.js';
export type { TestedPlugin, TestPluginOptions } from './test-plugin.js';
export { testPlugin } from './test-plugin.js';
