export type { WasmTierOptions } from './tier.js';
export { createWasmTier } from './tier.js';
