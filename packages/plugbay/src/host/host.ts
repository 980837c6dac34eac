// The plugin host: a facade over its parts, in the order of the architecture diagram.
//
//   options.ts    HostOptions checked at once → HostSettings
//   loader.ts     discover → check → placement.ts → trust gate → grants.ts → artifact store → tier → start
//   versions.ts   the version set, and how a version leaves it (drain → close → destroy)
//   rollout.ts    routes, setRoute / activate / rollback, drain of what no route serves
//   invoke.ts     the call path: route → version → tier call under a deadline
//   grants.ts     run-time grants and revokes
//
// The parts share one small HostState (state.ts); this file builds it, and owns shutdown.
import type { Registry } from 'prom-client';
import { PlugbayError } from '../core/errors.js';
import type { Manifest } from '../core/manifest.js';
import { OptionChecker } from '../core/options.js';
import type { Diagnostic } from '../core/types.js';
import { type FnCells, HostMetrics } from '../observe/metrics.js';
import { quantileOf, seriesOf, windowOf } from '../observe/series.js';
import { MemoryStateStore } from '../store/memory.js';
import type { AuditEntry, AuditQuery } from '../store/types.js';
import { Grants } from './grants.js';
import { Invoker } from './invoke.js';
import { Loader } from './loader.js';
import { normalise } from './options.js';
import { ProgressiveRollouts } from './progressive.js';
import { Rollout } from './rollout.js';
import type { Route } from './router/index.js';
import { type HostState, PluginLocks } from './state.js';
import type * as api from './types.js';
import { status, VersionSet } from './versions.js';

/** Creates a plugin host. Options are checked at once; bad ones throw one PLUGBAY_INVALID_ARGUMENT naming each. */
export function createHost(options: api.HostOptions = {}): api.PluginHost {
  return new Host(options);
}

class Host implements api.PluginHost {
  readonly #s: HostState;
  readonly #ownsStore: boolean;
  readonly #loader: Loader;
  readonly #rollout: Rollout;
  readonly #invoker: Invoker;
  readonly #grants: Grants;
  readonly rollouts: ProgressiveRollouts;
  #closing: Promise<void> | undefined;

  constructor(options: api.HostOptions) {
    const settings = normalise(options);
    const versions = new VersionSet(settings.logger, settings.stopTimeoutMs);
    this.#ownsStore = settings.store === undefined;
    this.#s = {
      settings,
      log: settings.logger,
      store: settings.store ?? new MemoryStateStore(),
      metrics: settings.metrics
        ? new HostMetrics({
            registry: settings.registry,
            snapshot: () => versions.snapshot(),
            series: settings.series,
          })
        : undefined,
      versions,
      locks: new PluginLocks(),
      closed: false,
    };
    this.#loader = new Loader(this.#s);
    this.#rollout = new Rollout(this.#s, this.#loader);
    this.#invoker = new Invoker(this.#s, this.#rollout);
    this.#grants = new Grants(this.#s, this.#loader);
    this.rollouts = new ProgressiveRollouts({
      store: this.#s.store,
      log: this.#s.log,
      scheduler: settings.rolloutScheduler,
      window: (plugin, version, range) => this.window(plugin, version, range),
      quantileMs: (plugin, version, { sinceMs, untilMs }, q) => {
        const cells = this.#s.metrics?.find(plugin, version);
        return cells === undefined
          ? undefined
          : quantileOf(seriesOfFns(cells.fns), sinceMs, untilMs, Date.now(), q);
      },
      route: (plugin) => this.#rollout.route(plugin),
      setRoute: (plugin, route, o) => this.#rollout.setRoute(plugin, route, o),
      activate: (plugin, version, o) => this.#rollout.activate(plugin, version, o),
      currentStable: (plugin) => this.#rollout.currentStable(plugin),
      loaded: (plugin, version) => this.#s.versions.get(plugin, version) !== undefined,
      prepare: (plugin, version) => this.#rollout.prepare(plugin, version),
    });
    this.rollouts.resumeStored();
  }

  // ---- loading ------------------------------------------------------------------------------------------------

  loadDirectory(dir: string): Promise<api.LoadReport> {
    return this.#loader.loadDirectory(dir);
  }

  load(dir: string): Promise<api.VersionStatus> {
    return this.#loader.loadDir(dir);
  }

  replaceInPlace(dir: string): Promise<api.VersionStatus | undefined> {
    return this.#loader.replaceDir(dir);
  }

  // ---- calling ------------------------------------------------------------------------------------------------

  call<T = unknown>(name: string, fn: string, input: unknown, options?: api.CallOptions): Promise<T> {
    return this.#invoker.call(name, fn, input, options, false) as Promise<T>;
  }

  callDetailed<T = unknown>(
    name: string,
    fn: string,
    input: unknown,
    options?: api.CallOptions,
  ): Promise<api.CallResult<T>> {
    return this.#invoker.call(name, fn, input, options, true) as Promise<api.CallResult<T>>;
  }

  client<P>(name: string): api.PluginClient<P> {
    return this.#invoker.client<P>(name);
  }

  // ---- inspection ---------------------------------------------------------------------------------------------

  versions(): api.VersionStatus[] {
    return this.#s.versions.all().map(status);
  }

  manifest(name: string, version: string): Manifest | undefined {
    return this.#s.versions.plugins.get(name)?.versions.get(version)?.plugin.manifest;
  }

  diagnostics(): Diagnostic[] {
    return this.#loader.diagnostics();
  }

  audit(query?: AuditQuery): AuditEntry[] {
    return this.#s.store.audit(query);
  }

  leaks(name: string): api.LeakReport[] {
    return this.#s.versions.leaks(name);
  }

  get registry(): Registry {
    return this.#s.settings.registry;
  }

  stats(): api.VersionStats[] {
    if (this.#s.metrics === undefined) return [];
    return this.#s.metrics.allVersions().map((v) => {
      let calls = 0;
      let errors = 0;
      // Percentiles are of the busiest function: one histogram, not a mix of several functions' durations.
      let busiest: FnCells | undefined;
      for (const f of v.fns.values()) {
        calls += f.count;
        for (const n of f.failed.values()) errors += n;
        if (f.count > (busiest?.count ?? 0)) busiest = f;
      }
      return {
        plugin: v.plugin,
        version: v.version,
        tier: v.tier,
        calls,
        errors,
        p50: busiest?.quantile(0.5),
        p99: busiest?.quantile(0.99),
        faults: v.faults,
        restarts: v.restarts,
      };
    });
  }

  window(plugin: string, version: string, options: api.WindowOptions = {}): api.WindowStats {
    const now = Date.now();
    const untilMs = options.untilMs ?? now;
    const sinceMs = options.sinceMs ?? untilMs - fifteenMinutes;
    checkRange('host.window', { sinceMs, untilMs });
    const cells = this.#s.metrics?.find(plugin, version);
    return windowOf(cells === undefined ? [] : seriesOfFns(cells.fns), sinceMs, untilMs, now);
  }

  series(plugin?: string, options: api.SeriesOptions = {}): api.SeriesReport {
    const now = Date.now();
    const sinceMs = options.sinceMs ?? now - fifteenMinutes;
    const stepMs = options.stepMs ?? 1000;
    checkRange('host.series', { sinceMs, stepMs });
    const sources = this.#s.versions
      .all()
      .filter((v) => (plugin === undefined || v.name === plugin) && v.metrics !== undefined)
      .map((v) => ({ plugin: v.name, version: v.version, rings: seriesOfFns(v.metrics!.fns) }));
    return seriesOf(sources, sinceMs, stepMs, now);
  }

  // ---- routes and hot swap -------------------------------------------------------------------------------------

  route(name: string): Route | undefined {
    return this.#rollout.route(name);
  }

  setRoute(name: string, route: unknown, options: api.ChangeOptions = {}): Promise<Route> {
    return this.#rollout.setRoute(name, route, options);
  }

  activate(name: string, version: string, options: api.ActivateOptions = {}): Promise<api.ActivateResult> {
    return this.#rollout.activate(name, version, options);
  }

  rollback(name: string, options: api.ActivateOptions = {}): Promise<api.ActivateResult> {
    return this.#rollout.rollback(name, options);
  }

  refreshRoutes(name?: string): string[] {
    return this.#rollout.refreshFromStore(name);
  }

  // ---- grants -------------------------------------------------------------------------------------------------

  grant(name: string, capability: string, options: api.ChangeOptions = {}): Promise<api.GrantResult> {
    return this.#grants.grant(name, capability, options);
  }

  revoke(name: string, capability: string, options: api.ChangeOptions = {}): Promise<api.RevokeResult> {
    return this.#grants.revoke(name, capability, options);
  }

  grants(name?: string): api.GrantStatus[] {
    return this.#grants.list(name);
  }

  // ---- shutdown -----------------------------------------------------------------------------------------------

  async unload(name: string, version: string): Promise<void> {
    const v = this.#s.versions.get(name, version);
    if (v === undefined) {
      throw new PlugbayError('PLUGBAY_UNKNOWN_PLUGIN', `${name}@${version} is not loaded`, {
        plugin: name,
        version,
      });
    }
    await this.#s.versions.unload(v, this.#s.settings.drainTimeoutMs);
  }

  close(): Promise<void> {
    this.#s.closed = true;
    this.rollouts.close();
    this.#closing ??= (async () => {
      const drainTimeoutMs = this.#s.settings.drainTimeoutMs;
      await Promise.allSettled(
        this.#s.versions.all().map((v) => this.#s.versions.release(v, drainTimeoutMs)),
      );
      await this.#released();
    })();
    return this.#closing;
  }

  async destroy(reason?: PlugbayError): Promise<void> {
    this.#s.closed = true;
    this.rollouts.close();
    this.#closing ??= Promise.resolve();
    await Promise.allSettled(this.#s.versions.all().map((v) => v.instance.destroy(reason)));
    await this.#released();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** What close() and destroy() do once every instance is gone: tiers, timers, the own store, the artifacts. */
  async #released(): Promise<void> {
    this.#s.versions.plugins.clear();
    await Promise.allSettled(Object.values(this.#s.settings.tiers).map((t) => t.close?.()));
    this.#invoker.close();
    if (this.#ownsStore) this.#s.store.close();
    await this.#loader.close();
  }
}

const fifteenMinutes = 15 * 60_000;

function seriesOfFns(fns: Map<string, FnCells>) {
  return [...fns.values()].map((f) => f.series);
}

/** The arguments of window() and series(): epoch ms as non-negative integers, a step of whole seconds. */
function checkRange(owner: string, o: { sinceMs: unknown; untilMs?: unknown; stepMs?: unknown }): void {
  const check = new OptionChecker(owner);
  check.integer('sinceMs', o.sinceMs, 0);
  check.integer('untilMs', o.untilMs, 0);
  check.integer('stepMs', o.stepMs, 1000, fifteenMinutes);
  if (typeof o.stepMs === 'number' && o.stepMs % 1000 !== 0) check.fail('stepMs', 'must be whole seconds');
  if (typeof o.untilMs === 'number' && typeof o.sinceMs === 'number' && o.sinceMs > o.untilMs)
    check.fail('sinceMs', 'must not be after untilMs');
  check.done();
}
