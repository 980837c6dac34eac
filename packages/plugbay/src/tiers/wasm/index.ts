export type { WasmModuleReport } from './inspect.js';
export { draftFunctions, inspectWasmModule } from './inspect.js';
export type { WasmTierOptions } from './tier.js';
export { createWasmTier } from './tier.js';
