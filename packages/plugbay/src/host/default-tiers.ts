import type { Tier, TierKind } from '../core/types.js';
import { createInlineTier, createProcessTier, createThreadTier, createWasmTier } from '../tiers/index.js';

/** The tiers a host gets when the options name none. Each starts nothing until a plugin is loaded into it. */
export function defaultTiers(): Partial<Record<TierKind, Tier>> {
  return {
    inline: createInlineTier(),
    thread: createThreadTier(),
    process: createProcessTier(),
    wasm: createWasmTier(),
  };
}
