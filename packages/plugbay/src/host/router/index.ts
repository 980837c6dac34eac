// Pure route selection: no I/O, nothing from tiers or the gateway. The host compiles a route per plugin and asks
// selectVersion() on every call. Candidates are the host's own objects: it may flip `available` in place.

export { selectionError } from './errors.js';
export { bucketOf, murmur3_32, murmur3_32Bytes, PrefixedMurmur3 } from './murmur3.js';
export type { Route, RouteExperiment, RouteProblem } from './route.js';
export { referencedVersions, routeProblemKind, routeSchema, validateRoute } from './route.js';
export type {
  Arm,
  CallTarget,
  Candidate,
  CompiledRoute,
  NotSelected,
  Selected,
  Selection,
  Skipped,
} from './select.js';
export { compileRoute, selectVersion } from './select.js';
