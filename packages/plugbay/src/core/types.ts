import type { EventEmitter } from 'node:events';
import type { Health, PluginLogger } from '@plugbay/sdk';
import type { ErrorCode, PlugbayError } from './errors.js';
import type { Manifest } from './manifest.js';
import type { Permissions } from './manifest-schema.js';

/** Where a loaded version runs (a host decision; see DESIGN.md "Vocabulary"). */
export type TierKind = 'inline' | 'thread' | 'process' | 'wasm';

/**
 * Life of an instance:
 * - `loading`: the tier is reading the code (import, worker spawn, process launch, wasm compile).
 * - `starting`: the plugin's start() runs.
 * - `ready`: takes calls.
 * - `degraded`: takes calls (they wait) while the tier restarts its worker/process, or health says degraded.
 * - `draining`: takes no new calls; in-flight calls finish.
 * - `closed`: released; final.
 * - `failed`: could not load/start, or the plugin broke the host's trust (inline uncaught error); final.
 * - `crashloop`: restarted too often; takes no calls until the half-open retry after a cool-down (core/restart.ts)
 *   or an operator's `activate` brings it back to `degraded` → `ready`.
 */
export type InstanceState =
  | 'loading'
  | 'starting'
  | 'ready'
  | 'degraded'
  | 'draining'
  | 'closed'
  | 'failed'
  | 'crashloop';

/** One problem found while discovering or checking a plugin. */
export interface Diagnostic {
  code: ErrorCode;
  severity: 'error' | 'warning';
  message: string;
  /** The plugin directory the diagnostic is about. */
  dir: string;
  plugin?: string;
  version?: string;
  /** Dotted path of the manifest field, e.g. `functions.resize.input`. */
  field?: string;
  /** The rule broken, e.g. `type`, `pattern`, `engines.node`. */
  rule?: string;
  details?: Record<string, unknown>;
}

/** A plugin that passed discovery and the compatibility checks: safe to hand to a tier. */
export interface CheckedPlugin {
  /** `<name>@<version>`. */
  readonly id: string;
  /**
   * Where the code is read from. Given to a tier by the host, the version's directory in the host's
   * content-addressed store (read-only, verified bytes); from discovery, the plugin's own folder.
   */
  readonly dir: string;
  readonly manifest: Manifest;
  /** Absolute, resolved path of the manifest's entry; proven to be inside `dir`. */
  readonly entryPath: string;
  /**
   * sha256 of the version's file listing (artifact/contents.ts `digestOf`): its name in the store. Set by
   * discovery and the host; absent when a CheckedPlugin is made by hand for a tier.
   */
  readonly digest?: string;
  /** The plugin folder or packed file the version was read from (the operator's path). */
  readonly source?: string;
  /**
   * The permissions this version runs with: the only ones a tier applies. Discovery sets the manifest's request;
   * the host replaces it with what the operator granted before a tier sees the plugin.
   */
  readonly permissions: Permissions;
  /** Non-fatal diagnostics (warnings) found while checking. */
  readonly warnings: readonly Diagnostic[];
}

/** The per-call context a tier receives. `signal` is made on first read; `onAbort` is the cheap alternative. */
export interface CallContext {
  readonly signal: AbortSignal;
  /** Epoch ms after which the call has failed; Infinity when there is none. */
  readonly deadline: number;
  /**
   * Epoch ms at which the function's own budget (its manifest `timeoutMs`, else the host's default) ends. A caller
   * may choose a shorter `deadline`: when that passes the plugin is cancelled, but only a plugin still busy past
   * its own budget (plus the tier's grace) is stuck, to be killed and counted as a crash. Absent: `deadline`.
   */
  readonly ownDeadline?: number;
  readonly traceparent: string | undefined;
  readonly key: string | undefined;
  /** Runs `listener` once if the call is aborted (deadline or caller); never after the call settled. */
  onAbort(listener: (reason: PlugbayError) => void): void;
}

/** A structured log line from or about a plugin, as tiers emit it. */
export interface PluginLogLine {
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  msg: string;
  fields?: Record<string, unknown>;
  traceparent?: string;
}

export interface LoadOptions {
  /** Logger already bound to plugin, version, tier and instance. */
  log: PluginLoggerSink;
  /** Abort to give up loading. */
  signal: AbortSignal;
}

/** Where tiers send log lines; the host binds it to pino with the plugin's fields. */
export interface PluginLoggerSink extends PluginLogger {
  line(line: PluginLogLine): void;
}

export interface Tier {
  readonly kind: TierKind;
  load(plugin: CheckedPlugin, opts: LoadOptions): Promise<Instance>;
  /** Releases what the tier holds beyond its instances (temp dirs, pools); idempotent. */
  close?(): Promise<void>;
}

export interface InstanceEvents {
  /** The instance's state changed. */
  state: [state: InstanceState, previous: InstanceState];
  /** The worker/process/sandbox died unexpectedly; the tier may restart it. */
  exit: [error: PlugbayError];
  /** An error escaped the plugin outside of any call (its own timer, an unhandled rejection). */
  fault: [error: PlugbayError];
  /** Emitted just before the move to `crashloop` by tiers that supervise restarts: the crashes and the cool-down. */
  crashloop: [info: CrashloopInfo];
}

/** Why an instance entered its crash loop, and when its half-open retry comes. */
export interface CrashloopInfo {
  /** Crashes inside the window that made it a crash loop (1 for a failed half-open retry). */
  crashes: number;
  /** The cool-down before the automatic retry. */
  retryInMs: number;
}

/** A resource plugin code created and left alive after its instance closed (inline tier's leak report). */
export interface Leak {
  /** `timeout`, `interval`, `immediate`, `socket`, `server`, `watcher`, or the async_hooks type for others. */
  kind: string;
  /** The async_hooks resource type, e.g. `Timeout`, `TCPWRAP`, `TCPSERVERWRAP`. */
  type: string;
  /** Where plugin code created it. */
  stack: string;
}

/** An output a tier had at once (see Instance.call); never a promise or other thenable. */
export type SyncOutput = unknown;

export interface Instance extends EventEmitter<InstanceEvents> {
  readonly id: string;
  readonly plugin: CheckedPlugin;
  readonly tier: TierKind;
  readonly state: InstanceState;
  /** Names of the functions the loaded code really exports (for the export audit). */
  readonly exportedFunctions: readonly string[];
  start(opts: { signal: AbortSignal; config: unknown }): Promise<void>;
  /**
   * Runs function `fn`. Returns a promise of the output, or the output itself when the plugin answered while
   * call() ran (a synchronous inline handler, a host-thread wasm call): the host's call path then skips its
   * promise hops. Failures always come as a rejected promise, never as a throw.
   */
  call(fn: string, input: unknown, ctx: CallContext): Promise<unknown> | SyncOutput;
  /**
   * True when every answer this instance returns rejects as soon as its ctx aborts (deadline or caller): the
   * tier listens with ctx.onAbort itself, so the host skips its own race against the deadline.
   */
  readonly settlesOnAbort?: boolean;
  health(signal: AbortSignal): Promise<Health>;
  /**
   * Optional: prepares an idle instance for the traffic a route change is about to send it (the rollout calls it
   * on the incoming version before the route flips), bounded in time by the tier (thread tier: ≤ 512 synthetic
   * round trips or 50 ms; it never calls the plugin). `inflight`: the calls in flight on the outgoing version.
   * Resolves with the round trips made (0: nothing to do). A rejection never fails the switch.
   */
  warm?(opts: { inflight: number }): Promise<number>;
  /** Graceful: the plugin's stop() under `timeoutMs`, then release. Idempotent. */
  close(opts?: { timeoutMs?: number }): Promise<void>;
  /** Hard: terminate or kill now; pending calls fail. Idempotent. */
  destroy(reason?: Error): Promise<void>;
  /**
   * Leaves `crashloop` now (the operator's `activate`) instead of after the cool-down: a fresh worker/process and
   * the plugin's start(), half-open like the automatic retry. Resolves once the instance left `degraded` again.
   */
  recover?(): Promise<void>;
  /**
   * What the instance left alive once closed (inline tier only; undefined before close and in tiers that reclaim
   * everything by terminating their worker, process or wasm instance).
   */
  readonly leaks?: readonly Leak[] | undefined;
  /** What the tier can measure of the instance now (read at metrics scrape time); only measured fields are set. */
  resources?(): InstanceResources;
}

/** Per-instance measurements a tier may report; every field optional: only what is really measured. */
export interface InstanceResources {
  /** JS heap in use, bytes. */
  heapUsedBytes?: number;
  /** Resident set size of the instance's own process (process tier). */
  rssBytes?: number;
  /** CPU time used by the instance, seconds. */
  cpuSeconds?: number;
  /** WebAssembly memory pages (64 KiB). */
  wasmMemoryPages?: number;
  /** Event loop utilisation (0..1) of the instance's own loop since it started (thread tier). */
  eventLoopUtilization?: number;
}
