import type { Tier, TierKind } from '../core/types.js';

/** The tiers a host gets when the options name none. */
export function defaultTiers(): Partial<Record<TierKind, Tier>> {
  return {};
}
