import type { Tier, TierKind } from '../core/types.js';
import { createInlineTier, createThreadTier, createWasmTier } from '../tiers/index.js';

/** The tiers a host gets when the options name none. */
export function defaultTiers(): Partial<Record<TierKind, Tier>> {
  return { inline: createInlineTier(), thread: createThreadTier(), wasm: createWasmTier() };
}
