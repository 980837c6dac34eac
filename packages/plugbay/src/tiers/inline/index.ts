export type { InlineInstance } from './instance.js';
export type { InlineTierOptions } from './tier.js';
export { createInlineTier, InlineTier } from './tier.js';
