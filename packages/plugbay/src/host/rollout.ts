// Routes and hot swap: which version of a plugin answers (the active route per plugin, restored from the store),
// and the admin changes to it — setRoute, activate, rollback — each persisted and switched in one synchronous
// step, then the versions no route serves any more are drained and released.
import { performance } from 'node:perf_hooks';
import { PlugbayError } from '../core/errors.js';
import { channels } from '../observe/channels.js';
import type { RouteDecisions } from '../observe/metrics.js';
import type { StateChange } from '../store/types.js';
import { timeoutSignal } from '../tiers/signals.js';
import type { LoadedVersion } from './loaded.js';
import type { Loader } from './loader.js';
import { raceAbort } from './loader.js';
import {
  type CompiledRoute,
  compileRoute,
  type Route,
  referencedVersions,
  routeProblemKind,
  selectVersion,
  validateRoute,
} from './router/index.js';
import type { HostState } from './state.js';
import type { ActivateOptions, ActivateResult, ChangeOptions } from './types.js';

/** A plugin's route as the call path uses it. */
export interface ActiveRoute {
  readonly route: Route | undefined;
  readonly compiled: CompiledRoute;
  readonly revision: number;
  /** Route decision counters by arm (shared by every revision of the plugin's route); undefined: metrics off. */
  readonly decisions?: RouteDecisions | undefined;
}

export class Rollout {
  readonly #s: HostState;
  readonly #loader: Loader;
  readonly #routes = new Map<string, ActiveRoute>();

  constructor(state: HostState, loader: Loader) {
    this.#s = state;
    this.#loader = loader;
    for (const [name, stored] of state.store.routes()) this.#applyStored(name, stored);
  }

  /**
   * Applies routes another writer changed in a shared store (another gateway, through PostgreSQL): the stored
   * route of `name`, or of every plugin, replaces the one in memory when it differs. Nothing is written back and
   * nothing is unloaded (the gateway that made the change drains its own versions). Returns the plugins changed.
   */
  refreshFromStore(name?: string): string[] {
    const stored =
      name === undefined
        ? this.#s.store.routes()
        : new Map(Object.entries({ [name]: this.#s.store.route(name) }));
    const changed: string[] = [];
    const names = name === undefined ? new Set([...stored.keys(), ...this.#routes.keys()]) : [name];
    for (const plugin of names) {
      const route = stored.get(plugin);
      const current = this.#routes.get(plugin)?.route;
      if (JSON.stringify(route) === JSON.stringify(current)) continue;
      if (route === undefined) {
        if (current === undefined) continue;
        // Deleted in the store: back to the default route.
        const revision = (this.#routes.get(plugin)?.revision ?? 0) + 1;
        this.#routes.set(plugin, {
          route: undefined,
          compiled: compileRoute(plugin),
          revision,
          decisions: this.#s.metrics?.routeDecisions(plugin),
        });
        changed.push(plugin);
      } else if (this.#applyStored(plugin, route)) changed.push(plugin);
    }
    for (const plugin of changed) {
      const { route, revision } = this.active(plugin);
      this.#s.log.info({ plugin, route, revision }, `route of ${plugin} changed in the shared state`);
    }
    return changed;
  }

  /** Switches to a route read from the store; an invalid one is reported and left out (never a silent reset). */
  #applyStored(name: string, stored: Record<string, unknown>): boolean {
    const checked = validateRoute(stored);
    if (checked.problems.length > 0) {
      this.#s.log.error(
        { plugin: name, problems: checked.problems },
        `stored route of ${name} is invalid; not applied`,
      );
      return false;
    }
    const route = (checked as { route: Route }).route;
    this.#routes.set(name, {
      route,
      compiled: compileRoute(name, route),
      revision: (this.#routes.get(name)?.revision ?? 0) + 1,
      decisions: this.#s.metrics?.routeDecisions(name),
    });
    return true;
  }

  /** The route calls to `name` use now (the default route, revision 0, until one is set). */
  active(name: string): ActiveRoute {
    let active = this.#routes.get(name);
    if (active === undefined) {
      active = {
        route: undefined,
        compiled: compileRoute(name),
        revision: 0,
        decisions: this.#s.metrics?.routeDecisions(name),
      };
      this.#routes.set(name, active);
    }
    return active;
  }

  route(name: string): Route | undefined {
    return this.#routes.get(name)?.route;
  }

  setRoute(name: string, raw: unknown, options: ChangeOptions): Promise<Route> {
    return this.#s.locks.exclusive(name, async () => {
      const checked = validateRoute(
        raw,
        this.#s.versions.of(name).map((v) => v.version),
      );
      if (checked.problems.length > 0) {
        const problems = checked.problems;
        const code =
          routeProblemKind(problems) === 'conflict'
            ? 'PLUGBAY_VERSION_NOT_LOADED'
            : 'PLUGBAY_INVALID_ARGUMENT';
        const text = problems.map((p) => `${p.field}: ${p.message}`).join('; ');
        throw new PlugbayError(code, `route of ${name} refused: ${text}`, {
          plugin: name,
          details: { problems },
        });
      }
      const route = (checked as { route: Route }).route;
      const before = this.#served(name);
      const incoming = [...referencedVersions(route)].filter((v) => !before.has(v));
      if (route.stable !== undefined && !before.has(route.stable)) incoming.push(route.stable);
      for (const version of new Set(incoming)) await this.#warm(name, version, 'route');
      const stable =
        route.stable !== undefined && route.stable !== this.#s.store.stable(name) ? route.stable : undefined;
      this.#switch(name, route, {
        ...(stable === undefined ? {} : { activate: { plugin: name, version: stable } }),
        audit: {
          actor: options.actor ?? 'api',
          action: 'route',
          plugin: name,
          reason: options.reason,
          details: { route },
        },
      });
      await this.#releaseUnserved(name, before, this.#s.settings.drainTimeoutMs);
      return route;
    });
  }

  activate(name: string, version: string, options: ActivateOptions): Promise<ActivateResult> {
    return this.#s.locks.exclusive(name, async () => {
      await this.#ready(name, version, 'activate');
      const store = this.#s.store;
      const previous = this.#currentStable(name);
      if (previous !== version) await this.#warm(name, version, 'activate');
      // stable(), not stableHistory(): the history grows with every switch and is copied when read.
      if (store.stable(name) === undefined && previous !== undefined && previous !== version) {
        // Remember the stable that was in force by default, so that the first rollback returns to it.
        store.commit({
          activate: { plugin: name, version: previous },
          audit: {
            actor: 'host',
            action: 'activate',
            plugin: name,
            version: previous,
            reason: 'the stable before the first activation',
          },
        });
      }
      const route = this.#withStable(name, version);
      const before = this.#served(name);
      this.#switch(name, route, {
        activate: { plugin: name, version },
        audit: {
          actor: options.actor ?? 'api',
          action: 'activate',
          plugin: name,
          version,
          reason: options.reason,
          details: { previous },
        },
      });
      await this.#releaseUnserved(name, before, options.drainTimeoutMs ?? this.#s.settings.drainTimeoutMs);
      const revision = this.active(name).revision;
      if (channels.activate.hasSubscribers)
        channels.activate.publish({ plugin: name, version, previous, revision });
      return { plugin: name, version, previous, route, revision };
    });
  }

  rollback(name: string, options: ActivateOptions): Promise<ActivateResult> {
    return this.#s.locks.exclusive(name, async () => {
      const history = this.#s.store.stableHistory(name);
      const current = history.at(-1)?.version;
      const previous = history.at(-2)?.version;
      if (current === undefined || previous === undefined) {
        throw new PlugbayError(
          'PLUGBAY_INVALID_ARGUMENT',
          `${name} has no previous stable version to roll back to`,
          {
            plugin: name,
            details: { history: history.map((h) => h.version) },
          },
        );
      }
      await this.#ready(name, previous, 'rollback');
      await this.#warm(name, previous, 'rollback');
      const route = this.#withStable(name, previous);
      const before = this.#served(name);
      this.#switch(name, route, {
        rollback: { plugin: name, from: current },
        audit: {
          actor: options.actor ?? 'api',
          action: 'rollback',
          plugin: name,
          version: previous,
          reason: options.reason,
          details: { from: current },
        },
      });
      await this.#releaseUnserved(name, before, options.drainTimeoutMs ?? this.#s.settings.drainTimeoutMs);
      const revision = this.active(name).revision;
      if (channels.rollback.hasSubscribers)
        channels.rollback.publish({ plugin: name, version: previous, previous: current, revision });
      return { plugin: name, version: previous, previous: current, route, revision };
    });
  }

  /** Loads `version` if it is only known, and checks it is ready and healthy (a canary before its rollout). */
  prepare(name: string, version: string): Promise<void> {
    return this.#s.locks.exclusive(name, async () => {
      await this.#ready(name, version, 'activate');
    });
  }

  /**
   * Loads `version` if it is only known, brings it out of a crash loop or an open circuit at once (the operator
   * asks for it by `action`), then checks that it is ready and healthy. Nothing switches on failure.
   */
  async #ready(name: string, version: string, action: 'activate' | 'rollback'): Promise<LoadedVersion> {
    let v = this.#s.versions.get(name, version);
    if (v === undefined) {
      const known = this.#loader.known.get(`${name}@${version}`);
      if (known === undefined) {
        throw new PlugbayError(
          'PLUGBAY_VERSION_NOT_LOADED',
          `${name}@${version} is not loaded and no plugin directory provides it`,
          { plugin: name, version },
        );
      }
      await this.#loader.load(known);
      v = this.#s.versions.get(name, version);
      if (v === undefined)
        throw new PlugbayError('PLUGBAY_VERSION_NOT_LOADED', `${name}@${version} was unloaded meanwhile`, {
          plugin: name,
          version,
        });
    }
    if (v.instance.state === 'crashloop' && v.instance.recover !== undefined) {
      v.recoveringBy = action;
      await v.instance.recover();
      v.recoveringBy = 'retry'; // a later exit (if this one failed) is the automatic retry's
    }
    v.closeCircuit();
    // A timer cleared once answered, not AbortSignal.timeout(): its signal costs ~12 µs to make and lives on.
    const timeoutMs = this.#s.settings.startTimeoutMs;
    const deadline = timeoutSignal(
      timeoutMs,
      () =>
        new PlugbayError('PLUGBAY_TIMEOUT', `no answer within ${timeoutMs} ms`, { plugin: name, version }),
    );
    const cells = v.metrics;
    const health = await raceAbort(v.instance.health(deadline.signal), deadline.signal)
      .catch((err: unknown) => {
        if (cells !== undefined) cells.health.set('error', (cells.health.get('error') ?? 0) + 1);
        throw new PlugbayError(
          'PLUGBAY_START_FAILED',
          `${name}@${version} did not answer its health check: ${(err as Error).message}`,
          { plugin: name, version, cause: err },
        );
      })
      .finally(deadline.cleanup);
    if (cells !== undefined) cells.health.set(health.status, (cells.health.get(health.status) ?? 0) + 1);
    if (health.status === 'failing' || !v.available) {
      throw new PlugbayError(
        'PLUGBAY_START_FAILED',
        `${name}@${version} is not healthy: ${health.message ?? v.instance.state}`,
        { plugin: name, version, details: { health, state: v.instance.state } },
      );
    }
    return v;
  }

  /**
   * Warms `version` (Instance.warm) before the route sends it traffic, sized to what the current stable has in
   * flight: an idle worker otherwise takes the moved traffic cold. Bounded by the tier; its failure is reported on
   * the channel and never fails the switch.
   */
  async #warm(name: string, version: string, action: 'activate' | 'rollback' | 'route'): Promise<void> {
    const v = this.#s.versions.get(name, version);
    if (v?.instance.warm === undefined) return;
    const stable = this.#currentStable(name);
    const inflight = stable === undefined ? 0 : (this.#s.versions.get(name, stable)?.inflight ?? 0);
    const started = performance.now();
    let roundTrips = 0;
    let error: unknown;
    try {
      roundTrips = await v.instance.warm({ inflight });
    } catch (err) {
      error = err;
      this.#s.log.warn(
        { plugin: name, version, err },
        `warm-up of ${name}@${version} failed; switching anyway`,
      );
    }
    if (channels.warm.hasSubscribers) {
      const durationMs = performance.now() - started;
      channels.warm.publish({
        plugin: name,
        version,
        action,
        roundTrips,
        durationMs,
        ...(error === undefined ? {} : { error }),
      });
    }
  }

  /** The route with `version` as its stable (a canary of that version is promoted, so it is dropped). */
  #withStable(name: string, version: string): Route {
    const { canary, ...rest } = this.#routes.get(name)?.route ?? {};
    return canary === undefined || canary.version === version
      ? { ...rest, stable: version }
      : { ...rest, canary, stable: version };
  }

  /** The stable version calls get now: the route's, or the newest ready release when the route names none. */
  currentStable(name: string): string | undefined {
    return this.#currentStable(name);
  }

  #currentStable(name: string): string | undefined {
    const route = this.#routes.get(name)?.route;
    if (route?.stable !== undefined) return route.stable;
    const selection = selectVersion(compileRoute(name), this.#s.versions.of(name), {});
    return selection.ok ? selection.version : undefined;
  }

  /** Versions that some arm of the route can send calls to now. */
  #served(name: string): Set<string> {
    const served = referencedVersions(this.#routes.get(name)?.route);
    const stable = this.#currentStable(name);
    if (stable !== undefined) served.add(stable);
    return served;
  }

  /** Persists the change and switches the in-memory route in the same synchronous step: no call sees half of it. */
  #switch(name: string, route: Route, change: Omit<StateChange, 'route'>): void {
    this.#s.store.commit({ ...change, route: { plugin: name, route } });
    const revision = (this.#routes.get(name)?.revision ?? 0) + 1;
    this.#routes.set(name, {
      route,
      compiled: compileRoute(name, route),
      revision,
      decisions: this.#s.metrics?.routeDecisions(name),
    });
    this.#s.log.info({ plugin: name, route, revision }, `route of ${name} changed (${change.audit.action})`);
  }

  /** Drains and releases versions that were served before a change and are not any more. */
  async #releaseUnserved(name: string, before: Set<string>, drainTimeoutMs: number): Promise<void> {
    const after = this.#served(name);
    const gone = [...before].filter((v) => !after.has(v)).flatMap((v) => this.#s.versions.get(name, v) ?? []);
    await Promise.all(gone.map((v) => this.#s.versions.unload(v, drainTimeoutMs)));
  }
}
