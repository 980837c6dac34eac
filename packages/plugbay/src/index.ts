// The public API of plugbay. Internals are not exported; import only from here.

export { type PackResult, packPlugin } from './artifact/pack.js';
export type { BuildOutcome, BuiltPlugin } from './build/build.js';
export { buildPlugin, buildPlugins } from './build/build.js';
export type { ContractSnapshot, DiffResult } from './contract/index.js';
export { checkAgainst, diffSnapshots } from './contract/index.js';
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
// The HTTP status of each error code (what PlugbayError.httpStatus was before it left the SDK).
export { httpStatuses } from './gateway/errors.js';
export type { Gateway, GatewayAddress, GatewayOptions, GatewayRoute } from './gateway/server.js';
export { createGateway } from './gateway/server.js';
export { checkPluginDir, discover } from './host/discover.js';
export { createHost } from './host/host.js';
export type { Route } from './host/router/index.js';
export type {
  ActivateOptions,
  ActivateResult,
  CallOptions,
  CallResult,
  ChangeOptions,
  GrantResult,
  GrantStatus,
  HostOptions,
  LoadReport,
  PluginClient,
  PluginHost,
  SeriesOptions,
  SeriesPoint,
  SeriesReport,
  VersionStatus,
  WindowOptions,
  WindowStats,
} from './host/types.js';
export type { DirectoryWatcher, RolloutPolicy, WatcherOptions } from './host/watch.js';
export { createWatcher, parseRolloutPolicy } from './host/watch.js';
export type { OtelTracing, TracesExporter } from './observe/otel-env.js';
export { startOtelFromEnv } from './observe/otel-env.js';
export type { AuditEntry, AuditQuery, StateStore } from './store/index.js';
export { MemoryStateStore, PostgresStateStore, SqliteStateStore } from './store/index.js';
export type {
  InlineTierOptions,
  ProcessTierOptions,
  ThreadTierOptions,
  WasmTierOptions,
} from './tiers/index.js';
export { createInlineTier, createProcessTier, createThreadTier, createWasmTier } from './tiers/index.js';
export type {
  Denial,
  GrantRule,
  Keyring,
  TrustPolicy,
  TrustPolicyOptions,
  Verification,
} from './trust/index.js';
export {
  checkGrants,
  createKeyring,
  decideGrants,
  keygen,
  loadKeyring,
  signPlugin,
  verifyPlugin,
} from './trust/index.js';
