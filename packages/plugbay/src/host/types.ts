import type { Static, TSchema, TypedPlugin } from '@plugbay/sdk';
import type { Level, Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ContractRegistry } from '../contract/implements.js';
import type { PlugbayError } from '../core/errors.js';
import type { Manifest, Permissions } from '../core/manifest-schema.js';
import type { CheckedPlugin, Diagnostic, InstanceState, Leak, Tier, TierKind } from '../core/types.js';
import type { SeriesReport, WindowStats } from '../observe/series.js';
import type { AuditEntry, AuditQuery, StateStore } from '../store/types.js';
import type { GrantRule } from '../trust/grants.js';
import type { Keyring } from '../trust/keyring.js';
import type { PolicyTrustLevel, TrustPolicyOptions } from '../trust/policy.js';
import type { VerificationStatus } from '../trust/verify.js';
import type { ProgressiveRollouts, RolloutScheduler } from './progressive.js';
import type { Route } from './router/route.js';

export type { SeriesPoint, SeriesReport, WindowStats } from '../observe/series.js';

export interface HostOptions {
  /** Tier implementations by kind. Default: inline and thread. */
  tiers?: Partial<Record<TierKind, Tier>>;
  /**
   * Picks the tier of a checked plugin. `undefined` (and the default) leaves it to the host: node → thread,
   * wasm → wasm, exec → process, or the most isolated tier the plugin's trust level allows when that one is not.
   * A tier it names is final: when the trust level forbids it, the load is refused (PLUGBAY_TIER_NOT_ALLOWED).
   */
  tierFor?: (plugin: CheckedPlugin) => TierKind | undefined;
  /** pino logger; plugin lines are children with plugin, version, tier, instance. Default: pino at `info` on stderr. */
  logger?: Logger;
  /** Deadline of a call when neither the call nor the function sets one. Default 30 000 ms. */
  callTimeoutMs?: number;
  /** Deadline of a plugin's start(). Default 10 000 ms. */
  startTimeoutMs?: number;
  /** How long a plugin's stop() may take before the instance is destroyed. Default 5 000 ms. */
  stopTimeoutMs?: number;
  /** How long close/unload waits for in-flight calls. Default 10 000 ms. */
  drainTimeoutMs?: number;
  /** Config passed to each plugin's start(), by plugin name; validated against the manifest's `config` schema. */
  config?: Record<string, unknown>;
  /** Where routes, stable history and the audit log live. Default: in memory (the gateway uses SQLite). */
  store?: StateStore;
  /**
   * When progressive rollouts judge their steps. Default: real timers. Tests pass a scheduler they drive by hand
   * (docs/rollouts.md).
   */
  rolloutScheduler?: RolloutScheduler;
  /**
   * The content-addressed store every version runs from (`<artifactsDir>/<digest>/`, read-only). Default: a temp
   * dir of this host, removed at close; `plugbay serve` uses `artifacts/` beside its state file.
   */
  artifactsDir?: string;
  /**
   * Signature policy and keyring (trust/). Default for the library: `signatures: 'off'` (every tier allowed);
   * the gateway defaults to `required` (`--dev`: `warn`).
   */
  trust?: TrustPolicyOptions & { keyring?: Keyring };
  /**
   * The operator's grants (trust/grants.ts): capabilities given to `community` and `unsigned` plugins beyond their
   * own folder, by plugin name and optional version range (what `plugbay serve --grants <file>` reads). `trusted`
   * plugins get what they ask for. Grants made at run time (`grant()`) are kept in the store. Default none.
   */
  grants?: GrantRule[];
  /** Contracts plugins may claim to implement (`implements` in the manifest), checked at load. */
  contracts?: ContractRegistry;
  /**
   * Circuit breaking per version: after `failureThreshold` consecutive failed calls (default 5) it is skipped for
   * `coolDownMs` (default 10 s); then calls go through again (half-open) and the next failure re-opens it for twice
   * as long, up to `maxCoolDownMs` (default 5 min); a success closes it. A deadline the caller chose shorter than
   * the function's own is not a failure. `activate` closes it at once.
   */
  circuit?: { failureThreshold?: number; coolDownMs?: number; maxCoolDownMs?: number };
  /** prom-client registry the host's `plugbay_*` metrics are registered in. Default: a new Registry. */
  registry?: Registry;
  /** Count calls, durations, route decisions (observe/metrics.ts). Default true. */
  metrics?: boolean;
  /**
   * Keep each function's last 15 minutes in one-second slots (observe/series.ts) for window() and series(), the
   * dashboard and progressive rollouts. Default true (needs `metrics`); false saves ~30 KB per function called.
   */
  series?: boolean;
  /**
   * Spans through @opentelemetry/api. Default `auto`: on when a TracerProvider is registered at host creation
   * (checked once; register the SDK before creating the host), off otherwise.
   */
  tracing?: 'auto' | 'off';
  /** Log level per plugin name (e.g. `{ greeter: 'debug' }`); others use the logger's level. */
  logLevels?: Record<string, Level>;
}

/** Resources one closed instance left alive (inline tier), with the stack where plugin code created each. */
export interface LeakReport {
  plugin: string;
  version: string;
  instance: string;
  /** Epoch ms. */
  closedAt: number;
  leaks: Leak[];
}

/** Live figures of one version for dashboards (`GET /v1/stats`): totals since load, durations in seconds. */
export interface VersionStats {
  plugin: string;
  version: string;
  tier: TierKind;
  calls: number;
  errors: number;
  /** Estimated from the duration histogram's buckets; undefined before the first call. */
  p50: number | undefined;
  p99: number | undefined;
  faults: number;
  restarts: number;
}

/** The range of host.window: epoch ms, default the last 15 minutes (all the ring keeps). */
export interface WindowOptions {
  /** Epoch ms; default 15 minutes before `untilMs`. */
  sinceMs?: number;
  /** Epoch ms; default now. */
  untilMs?: number;
}

export interface SeriesOptions {
  /** Epoch ms; default 15 minutes ago (and never older). */
  sinceMs?: number;
  /** Width of a point, a whole number of seconds in ms, 1 000 to 900 000. Default 1 000. */
  stepMs?: number;
}

export interface ChangeOptions {
  /** Default `api`. */
  actor?: string;
  reason?: string;
}

export interface ActivateOptions extends ChangeOptions {
  /** How long the previous version may take to finish its in-flight calls. Default: the host's drainTimeoutMs. */
  drainTimeoutMs?: number;
}

/** The outcome of activate() or rollback(). */
export interface ActivateResult {
  plugin: string;
  version: string;
  /** The stable before the switch, if there was one. */
  previous: string | undefined;
  route: Route;
  /** The route revision the switch created: calls routed under it got `version`. */
  revision: number;
}

export interface CallOptions {
  /** Routing key (user id, tenant): makes canary and A/B assignment sticky. */
  key?: string;
  /** Exact version, or a semver range (`^1.2.0`), to pin the call to. */
  version?: string;
  signal?: AbortSignal;
  /** Overrides the function's and the host's default deadline. */
  timeoutMs?: number;
  /** W3C traceparent of the caller's span. */
  traceparent?: string;
  /**
   * Without `traceparent`, the call starts a new trace (a fresh sampled traceparent), made when something reads
   * it: a tier passing it on, the plugin's ctx.traceparent, ctx.traceId or ctx.log. The gateway sets it so that
   * the logs of every call correlate. Default false: a call without `traceparent` has none.
   */
  newTrace?: boolean;
  /**
   * The input is a request body as it arrived (a Uint8Array), as the gateway passes it: a function with
   * `codec: "bytes"` gets the bytes unchanged; a JSON function gets them parsed (empty or blank: `{}`; not JSON, or
   * a `__proto__`/`constructor` key: PLUGBAY_INVALID_INPUT). Default false: the input is the value itself.
   */
  rawInput?: boolean;
}

/** Which instance answered a call and why. */
export interface CallResult<T = unknown> {
  output: T;
  plugin: string;
  version: string;
  /** The routing arm that chose the version: `pinned`, `experiment:<name>:<variant>`, `canary`, `stable`, `fallback`. */
  arm: string;
  /** Revision of the plugin's route when the call was routed (increases with every route change). */
  routeRevision: number;
  /** Set for a `codec: "bytes"` function (its output is a Uint8Array): the manifest's `contentType` or its default. */
  contentType?: string;
}

/** What the host knows of one loaded version. */
export interface VersionStatus {
  plugin: string;
  version: string;
  tier: TierKind;
  state: InstanceState;
  /** `open`: recent calls failed; the router skips this version until the cool-down passes. */
  circuit: 'open' | 'closed';
  /**
   * Why the circuit is open (only while it is): the failed calls in a row that count for it, when it lets a call
   * through again (epoch ms), and the last of those errors.
   */
  circuitReason?: { failures: number; until: number; lastError?: { code: string; message: string } };
  /**
   * The crash loop it is in (state `crashloop` only): crashes counted by the tier's supervisor, when it tries again
   * (epoch ms), and how the instance last exited. Fields the tier did not tell are absent.
   */
  crashloop?: { crashes?: number; retryAt?: number; lastExit?: { code: string; message: string } };
  /** The plugin folder or packed file the version was read from. */
  dir: string;
  /** sha256 content address of the version's files: what runs, whatever happens to `dir` afterwards. */
  digest: string;
  /** The version's read-only directory in the host's artifact store, which every load and restart runs from. */
  artifact: string;
  functions: string[];
  inflight: number;
  warnings: Diagnostic[];
  /** Signature verification at load (`off`: not checked) and the trust level the plugin runs at. */
  trust: { status: VerificationStatus | 'off'; level: PolicyTrustLevel; keyId?: string };
  /** Exports of the loaded code that the manifest does not declare (export audit). */
  undeclaredExports: string[];
  /** What the manifest asks for, and what the version runs with (see docs/grants.md). */
  permissions: { requested: Permissions; granted: Permissions };
}

/** One grant in force: from the grants option (`--grants` file) or made at run time with grant(). */
export interface GrantStatus {
  plugin: string;
  capability: string;
  source: 'file' | 'admin';
  /** The rule's version range (file grants only); absent: every version. */
  versions?: string;
}

/** The outcome of revoke(): the versions unloaded because they needed the capability. */
export interface RevokeResult {
  plugin: string;
  capability: string;
  unloaded: string[];
}

/** The outcome of grant(): the versions refused for want of a grant that now loaded, and those still refused. */
export interface GrantResult {
  plugin: string;
  capability: string;
  loaded: VersionStatus[];
  refused: { version: string; code: string; message: string }[];
}

export interface LoadReport {
  loaded: VersionStatus[];
  /** Problems found; a plugin with an `error` diagnostic was skipped, the rest loaded. */
  diagnostics: Diagnostic[];
}

/** A typed client: one method per function of the plugin. */
export type PluginClient<P> =
  P extends TypedPlugin<infer I, infer O>
    ? {
        [K in keyof I & keyof O]: (
          input: I[K] extends TSchema ? Static<I[K]> : unknown,
          options?: CallOptions,
        ) => Promise<O[K] extends TSchema ? Static<O[K]> : unknown>;
      }
    : Record<string, (input: unknown, options?: CallOptions) => Promise<unknown>>;

export interface PluginHost extends AsyncDisposable {
  /**
   * Discovers, checks, loads and starts every plugin below `dir` (folders and `*.plugbay.tgz` files); broken
   * plugins are reported and skipped.
   */
  loadDirectory(dir: string): Promise<LoadReport>;
  /**
   * Reads the plugin folder or packed file `dir` once, checks and verifies those bytes, stores them and runs them
   * from the store. Throws a PlugbayError when it cannot; other bytes under the id of a loaded version are refused
   * (PLUGBAY_DUPLICATE_PLUGIN, `details.rule: 'modified'`, reported in diagnostics()).
   */
  load(dir: string): Promise<VersionStatus>;
  /**
   * Development only (the gateway calls it under `plugbay serve --dev --watch`; load() keeps versions immutable):
   * `dir` holds other bytes under the name@version of a loaded version. They are loaded as a new instance (same
   * checks, same tier choice), take the running instance's place in one step, and the old instance is drained and
   * closed; no call fails across the swap. Resolves to the new status, or `undefined` when the bytes are those
   * that run. Throws (and the old instance keeps serving) when the new bytes do not load.
   */
  replaceInPlace(dir: string): Promise<VersionStatus | undefined>;
  /** Calls `fn` of plugin `name`, routed to one version, with schemas and deadline enforced. */
  call<T = unknown>(name: string, fn: string, input: unknown, options?: CallOptions): Promise<T>;
  /** Like call(), and says which version answered and why. */
  callDetailed<T = unknown>(
    name: string,
    fn: string,
    input: unknown,
    options?: CallOptions,
  ): Promise<CallResult<T>>;
  /** A typed client: `host.client<typeof greeter>('greeter').greet({ name })`. */
  client<P extends TypedPlugin<Record<string, TSchema>, Record<string, TSchema>>>(
    name: string,
  ): PluginClient<P>;
  /** Every loaded version. */
  versions(): VersionStatus[];
  /** The manifest a loaded version runs with (its functions and their schemas); undefined when not loaded. */
  manifest(name: string, version: string): Manifest | undefined;
  /** Diagnostics of everything that failed discovery, checks, load or start. */
  diagnostics(): Diagnostic[];
  /** Drains and releases one version. */
  unload(name: string, version: string): Promise<void>;
  /** The plugin's route (undefined: none set, the newest ready release answers). */
  route(name: string): Route | undefined;
  /**
   * Replaces the plugin's route after validating it: PLUGBAY_INVALID_ARGUMENT for a malformed route,
   * PLUGBAY_VERSION_NOT_LOADED for a version that is not loaded. Versions no route serves any more are drained.
   */
  setRoute(name: string, route: unknown, options?: ChangeOptions): Promise<Route>;
  /** Load (if needed), start and health-check `version`, then make it the stable in one step and drain the old one. */
  activate(name: string, version: string, options?: ActivateOptions): Promise<ActivateResult>;
  /** Returns to the previous stable version. */
  rollback(name: string, options?: ActivateOptions): Promise<ActivateResult>;
  /**
   * Re-reads the route of `name` (or of every plugin) from the state store and applies what another writer changed
   * there (a shared PostgreSQL store). Writes nothing. Returns the plugins whose route changed.
   */
  refreshRoutes(name?: string): string[];
  /**
   * Progressive rollouts (docs/rollouts.md): start one, read them, pause, resume, promote now, abort. Running
   * rollouts in the store resume when the host is created.
   */
  readonly rollouts: ProgressiveRollouts;
  /** Audit log entries, newest first. */
  audit(query?: AuditQuery): AuditEntry[];
  /**
   * Grants `capability` (`fs.read:/path`, `fs.write:/path`, `env:NAME`, `net:host`, `childProcess`) to every version
   * of plugin `name`: stored, audited, then each version refused for want of a grant is loaded again.
   */
  grant(name: string, capability: string, options?: ChangeOptions): Promise<GrantResult>;
  /**
   * Takes back a grant made with grant(); audited. Each loaded version that needed it is drained and unloaded (and
   * loads again once granted). PLUGBAY_INVALID_ARGUMENT when no such grant was made at run time.
   */
  revoke(name: string, capability: string, options?: ChangeOptions): Promise<RevokeResult>;
  /** Grants in force (the grants option and run-time grants), of one plugin or all. */
  grants(name?: string): GrantStatus[];
  /** The registry holding the host's metrics (`registry.metrics()` is the Prometheus text). */
  readonly registry: Registry;
  /** Call counts and latency per version (loaded now or earlier in this process). */
  stats(): VersionStats[];
  /**
   * Calls, errors by code and p50/p99 of plugin@version (all its functions) over a window of the last 15 minutes
   * (zeros for a version never called). PLUGBAY_INVALID_ARGUMENT on a bad range.
   */
  window(plugin: string, version: string, options?: WindowOptions): WindowStats;
  /** Per-step points of each loaded version (of `plugin`, or all) over the last 15 minutes at most. */
  series(plugin?: string, options?: SeriesOptions): SeriesReport;
  /** Leak reports of the plugin's closed inline instances that left resources alive (newest last; kept 20). */
  leaks(name: string): LeakReport[];
  /** Drains every instance, stops plugins, releases tiers. Idempotent. */
  close(): Promise<void>;
  /** Fails in-flight calls and kills every instance now. Idempotent. */
  destroy(reason?: PlugbayError): Promise<void>;
}
