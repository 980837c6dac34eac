export type { CrashReason } from './errors.js';
export type { ThreadInstance } from './instance.js';
export type { ThreadTierConfig, ThreadTierOptions } from './tier.js';
export { createThreadTier, ThreadTier } from './tier.js';
