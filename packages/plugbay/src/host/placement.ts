// Which tier a plugin runs in, and who chose it. The operator's choice (a tierFor that names a tier) is final: a
// trust level that forbids it refuses the load. The host's own choice (no tierFor, or tierFor returning undefined)
// may move to the most isolated tier the plugin's trust level allows.
import type { CheckedPlugin, Tier, TierKind } from '../core/types.js';
import type { HostOptions } from './types.js';

export type TierChoice = NonNullable<HostOptions['tierFor']>;

export interface Placement {
  readonly kind: TierKind;
  /** `operator`: named by tierFor, never moved; `host`: the host's default, which trust may move. */
  readonly chosenBy: 'host' | 'operator';
}

/** Tiers that can run each runtime, most isolated first. */
const tiersFor: Record<CheckedPlugin['manifest']['runtime'], readonly TierKind[]> = {
  node: ['process', 'thread', 'inline'],
  wasm: ['wasm'],
  exec: ['process'],
};

/** The host's default: node → thread, wasm → wasm, exec → process. */
const defaultTier: Record<CheckedPlugin['manifest']['runtime'], TierKind> = {
  node: 'thread',
  wasm: 'wasm',
  exec: 'process',
};

type Tiers = Partial<Record<TierKind, Tier>>;

/** The first placement of `plugin`, before its trust level is known. */
export function place(plugin: CheckedPlugin, tierFor: TierChoice | undefined, tiers: Tiers): Placement {
  const named = tierFor?.(plugin);
  if (named !== undefined) return { kind: named, chosenBy: 'operator' };
  const runtime = plugin.manifest.runtime;
  const preferred = defaultTier[runtime];
  // A host built without the default tier: one it has for this runtime.
  const kind =
    tiers[preferred] !== undefined
      ? preferred
      : (tiersFor[runtime].find((k) => tiers[k] !== undefined) ?? preferred);
  return { kind, chosenBy: 'host' };
}

/**
 * Where a placement the trust level refused may go instead: the most isolated tier in `allowed` this host has, if
 * the host chose the placement; undefined when the operator chose it or no tier fits.
 */
export function replace(
  placement: Placement,
  plugin: CheckedPlugin,
  allowed: readonly TierKind[],
  tiers: Tiers,
): TierKind | undefined {
  if (placement.chosenBy !== 'host') return undefined;
  return tiersFor[plugin.manifest.runtime].find((k) => allowed.includes(k) && tiers[k] !== undefined);
}
