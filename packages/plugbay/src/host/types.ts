import type { Static, TSchema, TypedPlugin } from '@plugbay/sdk';
import type { Logger } from 'pino';
import type { PlugbayError } from '../core/errors.js';
import type { CheckedPlugin, Diagnostic, InstanceState, Tier, TierKind } from '../core/types.js';

export interface HostOptions {
  /** Tier implementations by kind. Default: inline and thread. */
  tiers?: Partial<Record<TierKind, Tier>>;
  /** Picks the tier of a checked plugin. Default: node → thread, wasm → wasm, exec → process. */
  tierFor?: (plugin: CheckedPlugin) => TierKind;
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
}

/** Which instance answered a call and why. */
export interface CallResult<T = unknown> {
  output: T;
  plugin: string;
  version: string;
  /** The routing arm that chose the version: `pinned`, `stable`, … */
  arm: string;
}

/** What the host knows of one loaded version. */
export interface VersionStatus {
  plugin: string;
  version: string;
  tier: TierKind;
  state: InstanceState;
  dir: string;
  functions: string[];
  inflight: number;
  warnings: Diagnostic[];
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
          input: Static<I[K] & TSchema>,
          options?: CallOptions,
        ) => Promise<O[K] extends TSchema ? Static<O[K]> : unknown>;
      }
    : Record<string, (input: unknown, options?: CallOptions) => Promise<unknown>>;

export interface PluginHost extends AsyncDisposable {
  /** Discovers, checks, loads and starts every plugin below `dir`; broken plugins are reported and skipped. */
  loadDirectory(dir: string): Promise<LoadReport>;
  /** Checks, loads and starts the plugin in `dir`. Throws a PlugbayError when it cannot. */
  load(dir: string): Promise<VersionStatus>;
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
  /** Diagnostics of everything that failed discovery, checks, load or start. */
  diagnostics(): Diagnostic[];
  /** Drains and releases one version. */
  unload(name: string, version: string): Promise<void>;
  /** Drains every instance, stops plugins, releases tiers. Idempotent. */
  close(): Promise<void>;
  /** Fails in-flight calls and kills every instance now. Idempotent. */
  destroy(reason?: PlugbayError): Promise<void>;
}
