import type { RestartOptions } from '../core/restart.js';
import type { Tier, TierKind } from '../core/types.js';
import { createInlineTier, createProcessTier, createThreadTier, createWasmTier } from '../tiers/index.js';

/**
 * The tiers a host gets when the options name none. Each starts nothing until a plugin is loaded into it.
 * `restart` (backoff, crash loop, cool-down) goes to every tier that restarts what it runs.
 */
export function defaultTiers(restart?: RestartOptions): Partial<Record<TierKind, Tier>> {
  const supervised = restart === undefined ? {} : { restart };
  return {
    inline: createInlineTier(),
    thread: createThreadTier(supervised),
    process: createProcessTier(supervised),
    wasm: createWasmTier(supervised),
  };
}
