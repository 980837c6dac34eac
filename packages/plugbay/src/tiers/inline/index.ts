export type { InlineInstance } from './instance.js';
export type { Attribution, InlineTierOptions } from './tier.js';
export { createInlineTier, InlineTier } from './tier.js';
