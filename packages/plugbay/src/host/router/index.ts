// Pure route selection: no I/O, nothing from tiers or the gateway. The host compiles a route per plugin and asks
// selectVersion() on every call.
export { bucketOf, murmur3_32, murmur3_32Bytes, PrefixedMurmur3 } from './murmur3.js';
export type { Route, RouteExperiment, RouteProblem } from './route.js';
export { referencedVersions, routeProblemStatus, routeSchema, validateRoute } from './route.js';
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
