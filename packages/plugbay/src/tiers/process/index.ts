export { ProcessInstance, sdkHandshake } from './instance.js';
export type { ProcessTierOptions } from './options.js';
export type { SandboxLayer, SandboxLayerName, SandboxTools } from './sandbox.js';
export { detectSandboxTools, sandboxReport } from './sandbox.js';
export { createProcessTier, ProcessTier } from './tier.js';
