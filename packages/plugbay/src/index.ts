// The public API of plugbay. Internals are not exported; import only from here.

export type { BuildOutcome, BuiltPlugin } from './build/build.js';
export { buildPlugin, buildPlugins } from './build/build.js';
export type { ErrorCode, WireError } from './core/errors.js';
export { errorCodes, isErrorCode, PlugbayError } from './core/errors.js';
export type { Manifest, ManifestProblem } from './core/manifest.js';
export { manifestSchema, validateManifest } from './core/manifest.js';
export type {
  CallContext,
  CheckedPlugin,
  Diagnostic,
  Instance,
  InstanceState,
  LoadOptions,
  Tier,
  TierKind,
} from './core/types.js';
export type { Gateway, GatewayOptions } from './gateway/server.js';
export { createGateway } from './gateway/server.js';
export { checkPluginDir, discover } from './host/discover.js';
export { createHost } from './host/host.js';
export type {
  CallOptions,
  CallResult,
  HostOptions,
  LoadReport,
  PluginClient,
  PluginHost,
  VersionStatus,
} from './host/types.js';
