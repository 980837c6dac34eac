export { InstanceBase } from './base.js';
export type { Attribution, InlineInstance, InlineTierOptions } from './inline/index.js';
export { createInlineTier, InlineTier } from './inline/index.js';
export type { ProcessTierOptions } from './process/index.js';
export { createProcessTier, sandboxReport } from './process/index.js';
export type { CrashReason, ThreadInstance, ThreadTierConfig, ThreadTierOptions } from './thread/index.js';
export { createThreadTier, ThreadTier } from './thread/index.js';
export type { WasmTierOptions } from './wasm/index.js';
export { createWasmTier } from './wasm/index.js';
