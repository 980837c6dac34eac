// The version set: every loaded version of every plugin, newest first per plugin, and how a version leaves it
// (drain → graceful close → destroy if that fails or overruns), with the leak reports closing leaves.

import type { Logger } from 'pino';
import semver from 'semver';
import { channels } from '../observe/channels.js';
import type { VersionSnapshot } from '../observe/metrics.js';
import type { LoadedVersion } from './loaded.js';
import type { LeakReport, VersionStatus } from './types.js';

/** All loaded versions of one plugin name, newest first. */
export class PluginEntry {
  readonly versions = new Map<string, LoadedVersion>();
  newestFirst: LoadedVersion[] = [];

  add(v: LoadedVersion): void {
    this.versions.set(v.version, v);
    this.#sort();
  }
  /** `next` takes `old`'s place in one synchronous step: the call path picks it from the next call on. */
  replace(old: LoadedVersion, next: LoadedVersion): void {
    if (this.versions.get(old.version) !== old)
      throw new Error(`${old.name}@${old.version} is not in the set`);
    this.versions.set(next.version, next);
    this.#sort();
  }
  delete(v: LoadedVersion): void {
    if (this.versions.get(v.version) === v) this.versions.delete(v.version);
    this.#sort();
  }
  #sort(): void {
    this.newestFirst = [...this.versions.values()].sort((a, b) => semver.rcompare(a.version, b.version));
  }
}

/** Leak reports kept per plugin name. */
const keptLeaks = 20;

export class VersionSet {
  /** By plugin name; the call path reads it directly. */
  readonly plugins = new Map<string, PluginEntry>();
  readonly #leaks = new Map<string, LeakReport[]>();
  readonly #log: Logger;
  readonly #stopTimeoutMs: number;

  constructor(log: Logger, stopTimeoutMs: number) {
    this.#log = log;
    this.#stopTimeoutMs = stopTimeoutMs;
  }

  get(name: string, version: string): LoadedVersion | undefined {
    return this.plugins.get(name)?.versions.get(version);
  }

  /** The loaded versions of `name`, newest first. */
  of(name: string): readonly LoadedVersion[] {
    return this.plugins.get(name)?.newestFirst ?? [];
  }

  all(): LoadedVersion[] {
    return [...this.plugins.values()].flatMap((e) => e.newestFirst);
  }

  add(v: LoadedVersion): void {
    let entry = this.plugins.get(v.name);
    if (entry === undefined) {
      entry = new PluginEntry();
      this.plugins.set(v.name, entry);
    }
    entry.add(v);
  }

  /** Dev swap: `next` (same name@version, other bytes) answers from now on; `old` still has to be released. */
  replace(old: LoadedVersion, next: LoadedVersion): void {
    const entry = this.plugins.get(old.name);
    if (entry === undefined) throw new Error(`${old.name} is not in the set`);
    entry.replace(old, next);
  }

  leaks(name: string): LeakReport[] {
    return [...(this.#leaks.get(name) ?? [])];
  }

  /** What the metrics gauges read at scrape time. */
  snapshot(): VersionSnapshot[] {
    return this.all().flatMap((v) =>
      v.metrics === undefined
        ? []
        : [
            {
              cells: v.metrics,
              state: status(v).state,
              inflight: v.inflight,
              signature: v.trust.status,
              resources: v.instance.resources?.(),
            },
          ],
    );
  }

  /** Stops routing to `v`, drains it, releases it, and forgets it. */
  async unload(v: LoadedVersion, drainTimeoutMs: number): Promise<void> {
    await this.release(v, drainTimeoutMs);
    const entry = this.plugins.get(v.name);
    entry?.delete(v);
    if (entry?.versions.size === 0) this.plugins.delete(v.name);
  }

  /** Drain → graceful close → destroy if the close fails or overruns. The version stays in the set. */
  async release(v: LoadedVersion, drainTimeoutMs: number): Promise<void> {
    const drained = await v.drain(drainTimeoutMs);
    if (!drained)
      this.#log.warn(
        { plugin: v.name, version: v.version, inflight: v.inflight },
        'drain timed out; closing anyway',
      );
    try {
      await v.instance.close({ timeoutMs: this.#stopTimeoutMs });
    } catch (err) {
      this.#log.warn({ plugin: v.name, version: v.version, err }, 'graceful close failed; destroying');
      await v.instance.destroy(err as Error);
    }
    const leaks = v.instance.leaks;
    if (leaks !== undefined && leaks.length > 0) {
      const report = {
        plugin: v.name,
        version: v.version,
        instance: v.instance.id,
        closedAt: Date.now(),
        leaks: [...leaks],
      };
      const reports = this.#leaks.get(v.name) ?? [];
      reports.push(report);
      if (reports.length > keptLeaks) reports.shift();
      this.#leaks.set(v.name, reports);
      if (channels.leak.hasSubscribers) channels.leak.publish({ ...report, tier: v.instance.tier });
    }
  }
}

/** What the host says of one loaded version. */
export function status(v: LoadedVersion): VersionStatus {
  const state = v.draining && v.instance.state === 'ready' ? 'draining' : v.instance.state;
  const circuitReason = v.circuitReason;
  let crashloop: VersionStatus['crashloop'];
  if (state === 'crashloop') {
    crashloop = {};
    if (v.crashloop !== undefined) {
      crashloop.crashes = v.crashloop.crashes;
      crashloop.retryAt = v.crashloop.retryAt;
    }
    if (v.lastExit !== undefined) crashloop.lastExit = { ...v.lastExit };
  }
  return {
    plugin: v.name,
    version: v.version,
    tier: v.instance.tier,
    state,
    circuit: circuitReason === undefined ? 'closed' : 'open',
    ...(circuitReason === undefined ? {} : { circuitReason }),
    ...(crashloop === undefined ? {} : { crashloop }),
    dir: v.plugin.source ?? v.plugin.dir,
    digest: v.plugin.digest ?? '',
    artifact: v.plugin.dir,
    functions: [...v.functions.keys()],
    inflight: v.inflight,
    warnings: [...v.plugin.warnings],
    trust: { ...v.trust },
    undeclaredExports: [...v.undeclaredExports],
    permissions: { requested: v.plugin.manifest.permissions ?? {}, granted: v.plugin.permissions },
  };
}
