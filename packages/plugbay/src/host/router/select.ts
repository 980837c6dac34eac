import semver from 'semver';
import { PrefixedMurmur3 } from './murmur3.js';
import type { Route } from './route.js';

/** A loaded version as the router sees it. `available` is the caller's verdict: ready, not crash-looping, circuit closed, contract ok. */
export interface Candidate {
  readonly version: string;
  readonly available: boolean;
}

/** What a call asks of the router. */
export interface CallTarget {
  /** Routing key (user id, tenant): makes experiment and canary assignment sticky. Without one, calls are spread at random. */
  readonly key?: string | undefined;
  /** Exact version or npm semver range the call is pinned to. */
  readonly version?: string | undefined;
  /** Semver range the call is pinned to (same as `version`, for callers that keep them apart). */
  readonly range?: string | undefined;
}

/** Why a version answered: the call's pin, an experiment variant, the canary, the stable, or a fallback. */
export type Arm = 'pinned' | 'canary' | 'stable' | 'fallback' | `experiment:${string}:${string}`;

export interface Selected {
  readonly ok: true;
  readonly version: string;
  readonly arm: Arm;
}

/** One choice the router could not use. */
export interface Skipped {
  /** The arm that made the choice (`stable` for the default of a route without one). */
  readonly arm: Arm;
  /** The version chosen; undefined when the arm had no version to offer (e.g. no loaded version at all). */
  readonly version: string | undefined;
  /** `not-loaded`: no such candidate; `unavailable`: loaded but not available; `none-satisfies`: no candidate fits the pin. */
  readonly why: 'not-loaded' | 'unavailable' | 'none-satisfies';
}

/** No version can answer: `no-instance` lists every choice tried, in order; `invalid-pin` means the pin is no version or range. */
export interface NotSelected {
  readonly ok: false;
  readonly reason: 'no-instance' | 'invalid-pin';
  readonly skipped: readonly Skipped[];
}

export type Selection = Selected | NotSelected;

interface CompiledExperiment {
  readonly keyPrefix: string | undefined;
  readonly hasher: PrefixedMurmur3;
  /** Upper bucket (1..100) of each variant, cumulative; the last is 100. */
  readonly upTo: readonly number[];
  readonly results: readonly Selected[];
}

/** A route prepared for fast decisions: hashers with their prefix hashed, split thresholds and results built once. */
export interface CompiledRoute {
  readonly plugin: string;
  readonly route: Route | undefined;
  /** @internal */ readonly experiments: readonly CompiledExperiment[];
  /** @internal */ readonly canaryHasher: PrefixedMurmur3;
  /** @internal */ readonly canary: Selected | undefined;
  /** @internal */ readonly canaryPercent: number;
  /** @internal */ readonly stable: Selected | undefined;
  /** @internal */ readonly fallback: readonly Selected[];
}

/**
 * Prepares `route` of plugin `plugin` for selectVersion(). Expects a route that passed validateRoute().
 * Buckets: canary `murmur3_32("<plugin>:<key>") % 100 + 1` (Unleash's formula, so a key in at 5 % stays in at
 * 20 %), experiments `murmur3_32("<plugin>:<experiment>:<key>") % 100 + 1` (salted with their name, so variant
 * and canary assignments are independent).
 */
export function compileRoute(plugin: string, route?: Route): CompiledRoute {
  const experiments = (route?.experiments ?? []).map((experiment): CompiledExperiment => {
    const variants = Object.keys(experiment.variants);
    const split = experiment.split ?? equalSplit(variants);
    let sum = 0;
    const upTo = variants.map((v) => {
      sum += split[v] ?? 0;
      return sum;
    });
    // A route that skipped validation may not sum to 100: the last variant takes what is left.
    upTo[upTo.length - 1] = 100;
    return {
      keyPrefix: experiment.match?.keyPrefix,
      hasher: new PrefixedMurmur3(`${plugin}:${experiment.name}:`),
      upTo,
      results: variants.map((v) => result(`experiment:${experiment.name}:${v}`, experiment.variants[v]!)),
    };
  });
  return {
    plugin,
    route,
    experiments,
    canaryHasher: new PrefixedMurmur3(`${plugin}:`),
    canary: route?.canary === undefined ? undefined : result('canary', route.canary.version),
    canaryPercent: route?.canary?.percent ?? 0,
    stable: route?.stable === undefined ? undefined : result('stable', route.stable),
    fallback: (route?.fallback ?? []).map((v) => result('fallback', v)),
  };
}

/**
 * Picks the version that answers a call. Order: the call's pin (exact version or npm range; prereleases only when
 * the range names one) → the first experiment the call enters → the canary → the stable (without one: the highest
 * available non-prerelease version). An unavailable choice falls to the stable, then through `fallback` in order.
 * A pin is a hard constraint: it never falls back to a version outside it.
 * Allocates nothing on success (results are shared, frozen objects).
 */
export function selectVersion(
  route: CompiledRoute,
  candidates: readonly Candidate[],
  call: CallTarget,
): Selection {
  const pin = call.version ?? call.range;
  if (pin !== undefined) return selectPinned(pin, candidates);

  const key = call.key;
  let primary: Selected | undefined;
  for (let i = 0; i < route.experiments.length && primary === undefined; i++) {
    const experiment = route.experiments[i]!;
    if (experiment.keyPrefix !== undefined && (key === undefined || !key.startsWith(experiment.keyPrefix)))
      continue;
    const bucket = key === undefined ? randomBucket() : (experiment.hasher.hash(key) % 100) + 1;
    let v = 0;
    while (bucket > experiment.upTo[v]!) v++;
    primary = experiment.results[v];
  }
  if (primary === undefined && route.canary !== undefined) {
    const bucket = key === undefined ? randomBucket() : (route.canaryHasher.hash(key) % 100) + 1;
    if (bucket <= route.canaryPercent) primary = route.canary;
  }
  if (primary === undefined) primary = route.stable;

  if (primary !== undefined) {
    if (isAvailable(candidates, primary.version)) return primary;
    // The stable is the first fallback of every other arm.
    if (primary !== route.stable) {
      if (route.stable !== undefined) {
        if (isAvailable(candidates, route.stable.version)) return cached('fallback', route.stable.version);
      } else {
        const highest = highestRelease(candidates, 'fallback');
        if (highest !== undefined) return highest;
      }
    }
  } else {
    const highest = highestRelease(candidates, 'stable');
    if (highest !== undefined) return highest;
  }
  for (let i = 0; i < route.fallback.length; i++) {
    const fallback = route.fallback[i]!;
    if (isAvailable(candidates, fallback.version)) return fallback;
  }
  return explain(route, candidates, primary);
}

function selectPinned(pin: string, candidates: readonly Candidate[]): Selection {
  // Fast path: an exact version that is loaded.
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!;
    if (c.version === pin) {
      return c.available
        ? cached('pinned', pin)
        : noInstance([{ arm: 'pinned', version: pin, why: 'unavailable' }]);
    }
  }
  const range = pin === '' ? null : rangeOf(pin);
  if (range === null) return { ok: false, reason: 'invalid-pin', skipped: [] };
  let best: semver.SemVer | undefined;
  let bestVersion: string | undefined;
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!;
    if (!c.available) continue;
    if (!range.satisfiedBy(c.version)) continue;
    const parsed = versionOf(c.version)!;
    if (best === undefined || parsed.compare(best) > 0) {
      best = parsed;
      bestVersion = c.version;
    }
  }
  if (bestVersion !== undefined) return cached('pinned', bestVersion);
  const skipped: Skipped[] = candidates
    .filter((c) => range.satisfiedBy(c.version))
    .map((c) => ({ arm: 'pinned', version: c.version, why: 'unavailable' }));
  return noInstance(skipped.length > 0 ? skipped : [{ arm: 'pinned', version: pin, why: 'none-satisfies' }]);
}

/** Builds the no-instance answer (the slow path): every choice tried, in the order selectVersion tried it. */
function explain(
  route: CompiledRoute,
  candidates: readonly Candidate[],
  primary: Selected | undefined,
): NotSelected {
  const skipped: Skipped[] = [];
  const skip = (arm: Arm, version: string) =>
    skipped.push({
      arm,
      version,
      why: candidates.some((c) => c.version === version) ? 'unavailable' : 'not-loaded',
    });
  // The default (highest release) stands in for a missing stable; it has no version to report when nothing fits.
  const why = candidates.some((c) => versionOf(c.version) !== null) ? 'unavailable' : 'not-loaded';
  if (primary === undefined) {
    skipped.push({ arm: 'stable', version: undefined, why });
  } else {
    skip(primary.arm, primary.version);
    if (primary !== route.stable) {
      if (route.stable !== undefined) skip('fallback', route.stable.version);
      else skipped.push({ arm: 'fallback', version: undefined, why });
    }
  }
  for (const fallback of route.fallback) skip('fallback', fallback.version);
  return noInstance(skipped);
}

function noInstance(skipped: Skipped[]): NotSelected {
  return { ok: false, reason: 'no-instance', skipped };
}

function isAvailable(candidates: readonly Candidate[], version: string): boolean {
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!;
    if (c.version === version) return c.available;
  }
  return false;
}

/**
 * The highest available version that is not a prerelease; when no loaded version is a release, the highest
 * prerelease. Answered as `arm` from the candidates' default order, made once per candidates array.
 */
function highestRelease(candidates: readonly Candidate[], arm: 'stable' | 'fallback'): Selected | undefined {
  const order = defaultOrderOf(candidates);
  for (let i = 0; i < order.length; i++) {
    const choice = order[i]!;
    if (choice.candidate.available) return arm === 'stable' ? choice.stable : choice.fallback;
  }
  return undefined;
}

/** One version in a default order, with its answers made once. */
interface DefaultChoice {
  readonly candidate: Candidate;
  readonly stable: Selected;
  readonly fallback: Selected;
}

/**
 * The default order of each candidates array: its releases newest first or, when it has none, its prereleases
 * newest first. Keyed by the array: the host replaces its arrays when versions come and go and flips only
 * `available` in place, and a call without a route reads the order instead of parsing and comparing versions
 * (101 → 17 ns per decision in bench/router.ts).
 */
const defaultOrders = new WeakMap<readonly Candidate[], readonly DefaultChoice[]>();

function defaultOrderOf(candidates: readonly Candidate[]): readonly DefaultChoice[] {
  let order = defaultOrders.get(candidates);
  if (order === undefined) {
    const parsed = candidates.flatMap((candidate) => {
      const version = versionOf(candidate.version);
      return version === null ? [] : [{ candidate, version }];
    });
    const releases = parsed.filter((p) => p.version.prerelease.length === 0);
    order = (releases.length > 0 ? releases : parsed)
      .sort((a, b) => b.version.compare(a.version))
      .map(({ candidate }) => ({
        candidate,
        stable: cached('stable', candidate.version),
        fallback: cached('fallback', candidate.version),
      }));
    defaultOrders.set(candidates, order);
  }
  return order;
}

function randomBucket(): number {
  return ((Math.random() * 100) | 0) + 1;
}

function equalSplit(variants: readonly string[]): Record<string, number> {
  // 100 does not always divide evenly: the first variants take one point more (3 variants: 34, 33, 33).
  const base = Math.floor(100 / variants.length);
  const extra = 100 - base * variants.length;
  return Object.fromEntries(variants.map((v, i) => [v, base + (i < extra ? 1 : 0)]));
}

function result(arm: Arm, version: string): Selected {
  return Object.freeze({ ok: true, version, arm });
}

// Parse caches: the same few versions and ranges come back on every call. Bounded against pathological input
// (a caller sending a new range each call).
const CACHE_LIMIT = 10_000;
const versions = new Map<string, semver.SemVer | null>();
const ranges = new Map<string, CachedRange | null>();
const results = new Map<Arm, Map<string, Selected>>();

function remember<K, V>(map: Map<K, V>, key: K, value: V): V {
  if (map.size >= CACHE_LIMIT) map.clear();
  map.set(key, value);
  return value;
}

function versionOf(version: string): semver.SemVer | null {
  const hit = versions.get(version);
  if (hit !== undefined) return hit;
  return remember(versions, version, semver.parse(version));
}

/** A parsed range that remembers its answer per version: `Range.test` costs ~150 ns, a map hit ~20. */
class CachedRange {
  readonly #range: semver.Range;
  readonly #answers = new Map<string, boolean>();

  constructor(range: semver.Range) {
    this.#range = range;
  }

  satisfiedBy(version: string): boolean {
    const hit = this.#answers.get(version);
    if (hit !== undefined) return hit;
    const parsed = versionOf(version);
    return remember(this.#answers, version, parsed !== null && this.#range.test(parsed));
  }
}

function rangeOf(range: string): CachedRange | null {
  const hit = ranges.get(range);
  if (hit !== undefined) return hit;
  let parsed: CachedRange | null;
  try {
    parsed = new CachedRange(new semver.Range(range));
  } catch {
    parsed = null;
  }
  return remember(ranges, range, parsed);
}

function cached(arm: 'pinned' | 'stable' | 'fallback', version: string): Selected {
  let byVersion = results.get(arm);
  if (byVersion === undefined) {
    byVersion = new Map();
    results.set(arm, byVersion);
  }
  return byVersion.get(version) ?? remember(byVersion, version, result(arm, version));
}
