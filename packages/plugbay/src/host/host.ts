import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  context as otelContext,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { Ajv } from 'ajv';
import { type Logger, pino } from 'pino';
import { Registry } from 'prom-client';
import semver from 'semver';
import { fileEntries } from '../artifact/contents.js';
import { type ArtifactStore, openArtifactStore } from '../artifact/store.js';
import { checkDeclaredContracts } from '../contract/implements.js';
import { Call, cancelled } from '../core/call.js';
import { Deadlines } from '../core/deadlines.js';
import { isThenable, PlugbayError } from '../core/errors.js';
import { compileSchema, createAjv, violationsOf } from '../core/schema.js';
import type { CheckedPlugin, Diagnostic, Tier, TierKind } from '../core/types.js';
import { channels } from '../observe/channels.js';
import { defaultLogger, pluginSink } from '../observe/log.js';
import { type FnCells, HostMetrics } from '../observe/metrics.js';
import { parentContext, registeredTracer, traceparentOf } from '../observe/tracing.js';
import { MemoryStateStore } from '../store/memory.js';
import type { AuditEntry, AuditInput, AuditQuery, StateChange, StateStore } from '../store/types.js';
import { auditExports } from '../trust/audit.js';
import { trustGate } from '../trust/gate.js';
import {
  capabilitiesFor,
  checkCapability,
  checkGrants,
  checkPluginName,
  decideGrants,
  type GrantDecision,
  type GrantRule,
  ownFolderWriteDenied,
  ownFolderWrites,
  permissionDenied,
} from '../trust/grants.js';
import type { Keyring } from '../trust/keyring.js';
import { createTrustPolicy, decide, type PolicyTrustLevel, type TrustPolicy } from '../trust/policy.js';
import { defaultTiers } from './default-tiers.js';
import { type Candidate, checkPluginDir, discover } from './discover.js';
import { type FunctionEntry, LoadedVersion } from './loaded.js';
import { selectionError } from './router/errors.js';
import {
  type CompiledRoute,
  compileRoute,
  type Route,
  referencedVersions,
  routeProblemKind,
  selectVersion,
  validateRoute,
} from './router/index.js';
import type {
  ActivateOptions,
  ActivateResult,
  CallOptions,
  CallResult,
  ChangeOptions,
  GrantResult,
  GrantStatus,
  HostOptions,
  LeakReport,
  LoadReport,
  PluginClient,
  PluginHost,
  RevokeResult,
  VersionStats,
  VersionStatus,
} from './types.js';

type Settings = Required<
  Omit<
    HostOptions,
    | 'tiers'
    | 'logger'
    | 'config'
    | 'store'
    | 'circuit'
    | 'trust'
    | 'registry'
    | 'logLevels'
    | 'grants'
    | 'artifactsDir'
  >
> & {
  grants: GrantRule[];
  artifactsDir: string | undefined;
  trust: { policy: TrustPolicy; keyring: Keyring | undefined };
  tiers: Partial<Record<TierKind, Tier>>;
  logger: Logger;
  config: Record<string, unknown>;
  store: StateStore | undefined;
  circuit: { failureThreshold: number; coolDownMs: number; maxCoolDownMs: number };
  registry: Registry;
  logLevels: Record<string, string>;
};

/** Creates a plugin host. Options are checked at once; a bad one throws PLUGBAY_INVALID_ARGUMENT naming it. */
export function createHost(options: HostOptions = {}): PluginHost {
  return new Host(normalise(options));
}

function normalise(o: HostOptions): Settings {
  const ms = (name: keyof HostOptions, value: number | undefined, fallback: number): number => {
    if (value === undefined) return fallback;
    if (!Number.isInteger(value) || value <= 0) {
      throw new PlugbayError(
        'PLUGBAY_INVALID_ARGUMENT',
        `options.${name} must be a positive integer, got ${value}`,
        {
          details: { option: name },
        },
      );
    }
    return value;
  };
  return {
    tiers: o.tiers ?? defaultTiers(),
    tierFor: o.tierFor ?? defaultTierFor,
    logger: o.logger ?? defaultLogger(),
    callTimeoutMs: ms('callTimeoutMs', o.callTimeoutMs, 30_000),
    startTimeoutMs: ms('startTimeoutMs', o.startTimeoutMs, 10_000),
    stopTimeoutMs: ms('stopTimeoutMs', o.stopTimeoutMs, 5_000),
    drainTimeoutMs: ms('drainTimeoutMs', o.drainTimeoutMs, 10_000),
    config: o.config ?? {},
    store: o.store,
    artifactsDir: pathOption('artifactsDir', o.artifactsDir),
    trust: trustOptions(o.trust),
    grants: o.grants === undefined ? [] : checkGrants({ grants: o.grants }),
    contracts: o.contracts ?? [],
    circuit: {
      failureThreshold: ms('circuit', o.circuit?.failureThreshold, 5),
      coolDownMs: ms('circuit', o.circuit?.coolDownMs, 10_000),
      maxCoolDownMs: ms('circuit', o.circuit?.maxCoolDownMs, 300_000),
    },
    registry: registryOption(o.registry),
    metrics: o.metrics ?? true,
    tracing: oneOf('tracing', o.tracing, ['auto', 'off'] as const, 'auto'),
    logLevels: logLevelsOption(o.logLevels),
  };
}

function pathOption(name: string, value: string | undefined): string | undefined {
  if (value === undefined || (typeof value === 'string' && value !== '')) return value;
  throw new PlugbayError(
    'PLUGBAY_INVALID_ARGUMENT',
    `options.${name} must be a non-empty path, got ${String(value)}`,
    {
      details: { option: name },
    },
  );
}

function oneOf<T extends string>(name: string, value: T | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value)) {
    throw new PlugbayError(
      'PLUGBAY_INVALID_ARGUMENT',
      `options.${name} must be one of ${allowed.join(', ')}, got ${String(value)}`,
      { details: { option: name } },
    );
  }
  return value;
}

function registryOption(registry: HostOptions['registry']): Registry {
  if (registry === undefined) return new Registry();
  if (typeof (registry as { registerMetric?: unknown }).registerMetric !== 'function') {
    throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', 'options.registry must be a prom-client Registry', {
      details: { option: 'registry' },
    });
  }
  return registry;
}

function logLevelsOption(levels: HostOptions['logLevels']): Record<string, string> {
  if (levels === undefined) return {};
  const known = Object.keys(pino.levels.values);
  for (const [name, level] of Object.entries(levels)) {
    if (!known.includes(level) && (level as string) !== 'silent') {
      throw new PlugbayError(
        'PLUGBAY_INVALID_ARGUMENT',
        `options.logLevels.${name} must be one of ${known.join(', ')}, silent; got ${String(level)}`,
        { details: { option: 'logLevels' } },
      );
    }
  }
  return { ...levels };
}

/** Errors that say the instance, not the caller or the plugin's own logic, is in trouble: they count for the circuit. */
const instanceFailures = new Set([
  'PLUGBAY_PLUGIN_CRASHED',
  'PLUGBAY_TIMEOUT',
  'PLUGBAY_INVALID_OUTPUT',
  'PLUGBAY_CLOSED',
]);

/** Only the plugin's own failures count: a deadline its caller chose shorter than its budget passing is none. */
function countsForCircuit(e: PlugbayError, call: Call): boolean {
  return instanceFailures.has(e.code) && !(e.code === 'PLUGBAY_TIMEOUT' && call.callerDeadline);
}

/** A plugin's route as the call path uses it. */
interface ActiveRoute {
  readonly route: Route | undefined;
  readonly compiled: CompiledRoute;
  readonly revision: number;
  /** Route decision counters by arm (shared by every revision of the plugin's route); undefined: metrics off. */
  readonly decisions?: Map<string, number> | undefined;
}

const noOptions: CallOptions = Object.freeze({});
/** Marks an error load() throws without recording a diagnostic. */
const unrecorded = Symbol('unrecorded');

function trustOptions(trust: HostOptions['trust']): Settings['trust'] {
  const { keyring, ...policy } = trust ?? {};
  return { policy: createTrustPolicy({ signatures: 'off', ...policy }), keyring };
}

/** The default placement: node → thread, wasm → wasm, exec → process. */
/** Tiers that can run each runtime, most isolated first (after the default choice). */
const tiersFor: Record<CheckedPlugin['manifest']['runtime'], TierKind[]> = {
  node: ['process', 'thread', 'inline'],
  wasm: ['wasm'],
  exec: ['process'],
};

export function defaultTierFor(plugin: CheckedPlugin): TierKind {
  const runtime = plugin.manifest.runtime;
  return runtime === 'node' ? 'thread' : runtime === 'wasm' ? 'wasm' : 'process';
}

/** All loaded versions of one plugin name, newest first. */
class PluginEntry {
  readonly versions = new Map<string, LoadedVersion>();
  newestFirst: LoadedVersion[] = [];

  add(v: LoadedVersion): void {
    this.versions.set(v.version, v);
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

class Host implements PluginHost {
  readonly #s: Settings;
  readonly #log: Logger;
  readonly #deadlines = new Deadlines();
  readonly #plugins = new Map<string, PluginEntry>();
  readonly #loading = new Set<string>();
  /** Diagnostics of the latest check of each plugin directory that failed. */
  readonly #diagnostics = new Map<string, Diagnostic[]>();
  readonly #clients = new Map<string, object>();
  readonly #store: StateStore;
  readonly #ownsStore: boolean;
  readonly #routes = new Map<string, ActiveRoute>();
  /** Every plugin version checked so far, by id, with the bytes checked: what activate() and rollback() load. */
  readonly #known = new Map<string, Candidate>();
  /** Versions refused for want of a grant, by id: grant() loads them again. */
  readonly #refused = new Map<string, Candidate>();
  /** The content-addressed store every version runs from; opened at the first load. */
  #artifacts: Promise<ArtifactStore> | undefined;
  /** Admin changes to one plugin run one at a time. */
  readonly #locks = new Map<string, Promise<unknown>>();
  #closing: Promise<void> | undefined;
  readonly #metrics: HostMetrics | undefined;
  readonly #leaks = new Map<string, LeakReport[]>();
  /** Set when a TracerProvider was registered at creation; the call path checks only this field. */
  readonly #tracer: Tracer | undefined;

  constructor(settings: Settings) {
    this.#s = settings;
    this.#log = settings.logger;
    this.#metrics = settings.metrics
      ? new HostMetrics({ registry: settings.registry, snapshot: () => this.#snapshot() })
      : undefined;
    this.#tracer = settings.tracing === 'auto' ? registeredTracer() : undefined;
    this.#ownsStore = settings.store === undefined;
    this.#store = settings.store ?? new MemoryStateStore();
    for (const [name, stored] of this.#store.routes()) {
      const checked = validateRoute(stored);
      if (checked.problems.length > 0) {
        // Never a silent reset: the stored route stays in the store, is reported, and is not applied.
        this.#log.error(
          { plugin: name, problems: checked.problems },
          `stored route of ${name} is invalid; not applied`,
        );
        continue;
      }
      const route = (checked as { route: Route }).route;
      this.#routes.set(name, {
        route,
        compiled: compileRoute(name, route),
        revision: 1,
        decisions: this.#metrics?.routeDecisions(name),
      });
    }
  }

  leaks(name: string): LeakReport[] {
    return [...(this.#leaks.get(name) ?? [])];
  }

  get registry(): Registry {
    return this.#s.registry;
  }

  stats(): VersionStats[] {
    if (this.#metrics === undefined) return [];
    return this.#metrics.allVersions().map((v) => {
      let calls = 0;
      let errors = 0;
      const merged = { count: 0 } as { count: number; cells?: FnCells };
      for (const f of v.fns.values()) {
        calls += f.count;
        for (const n of f.failed.values()) errors += n;
        if (f.count > merged.count) merged.cells = f;
        merged.count = Math.max(merged.count, f.count);
      }
      const busiest = merged.cells;
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

  #snapshot() {
    return [...this.#plugins.values()].flatMap((e) =>
      e.newestFirst.flatMap((v) =>
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
      ),
    );
  }

  // ---- loading ------------------------------------------------------------------------------------------------

  async loadDirectory(dir: string): Promise<LoadReport> {
    const found = await discover(dir);
    for (const c of found.candidates) this.#known.set(c.plugin.id, c);
    const diagnostics = [...found.diagnostics];
    const results = await Promise.allSettled(found.candidates.map((c) => this.#load(c)));
    const loaded: VersionStatus[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') loaded.push(r.value);
      else diagnostics.push(loadDiagnostic(found.plugins[i]!, r.reason));
    });
    this.#record(diagnostics.filter((d) => d.severity === 'error'));
    if (channels.check.hasSubscribers && diagnostics.length > 0) channels.check.publish({ dir, diagnostics });
    for (const d of diagnostics) {
      this.#log[d.severity === 'error' ? 'error' : 'warn'](
        { diagnostic: d, plugin: d.plugin, version: d.version },
        d.message,
      );
    }
    return { loaded, diagnostics };
  }

  async load(dir: string): Promise<VersionStatus> {
    const checked = await checkPluginDir(dir);
    const errors = checked.diagnostics.filter((d) => d.severity === 'error');
    if (checked.plugin === undefined || checked.contents === undefined || errors.length > 0) {
      this.#record(errors);
      const first = errors[0]!;
      throw new PlugbayError(first.code, first.message, {
        details: { diagnostics: errors },
        ...(first.plugin === undefined ? {} : { plugin: first.plugin }),
        ...(first.version === undefined ? {} : { version: first.version }),
      });
    }
    const candidate = { plugin: checked.plugin, contents: checked.contents };
    try {
      await this.#refuseChangedCopy(candidate);
      this.#known.set(candidate.plugin.id, candidate);
      return await this.#load(candidate);
    } catch (err) {
      if (!(err as { [unrecorded]?: boolean })[unrecorded])
        this.#record([loadDiagnostic(checked.plugin, err)]);
      throw err;
    }
  }

  /**
   * Versions are immutable: other bytes under the id of a loaded version are a new candidate, verified from
   * scratch to say what it is, reported as `modified`, and never loaded over the running one.
   */
  async #refuseChangedCopy({ plugin, contents }: Candidate): Promise<void> {
    const running = this.#plugins.get(plugin.manifest.name)?.versions.get(plugin.manifest.version);
    if (running === undefined) return;
    if (running.plugin.digest === plugin.digest) {
      // The very bytes that run (a folder changed back): nothing to report, and nothing to load either.
      this.#diagnostics.delete(plugin.dir);
      throw Object.assign(
        new PlugbayError('PLUGBAY_DUPLICATE_PLUGIN', `${plugin.id} is already loaded`, {
          plugin: plugin.manifest.name,
          version: plugin.manifest.version,
          details: { dir: plugin.dir, digest: plugin.digest },
        }),
        { [unrecorded]: true },
      );
    }
    const { policy, keyring } = this.#s.trust;
    const gate = await trustGate({
      signature: contents.signature,
      files: fileEntries(contents),
      manifest: plugin.manifest,
      tier: running.instance.tier,
      policy,
      ...(keyring ? { keyring } : {}),
    });
    throw new PlugbayError(
      'PLUGBAY_DUPLICATE_PLUGIN',
      `${plugin.id} in ${plugin.dir} changed after it was loaded (now ${plugin.digest}, running ${running.plugin.digest}); versions are immutable: it keeps running the stored bytes and the change is not loaded`,
      {
        plugin: plugin.manifest.name,
        version: plugin.manifest.version,
        details: {
          rule: 'modified',
          digest: plugin.digest,
          running: running.plugin.digest,
          signature: gate.verification?.status ?? 'off',
        },
      },
    );
  }

  async #load(candidate: Candidate): Promise<VersionStatus> {
    const { plugin, contents } = candidate;
    const { name, version } = plugin.manifest;
    const source = { plugin: name, version };
    if (this.#closing) throw new PlugbayError('PLUGBAY_CLOSED', 'the host is closed', source);
    if (this.#plugins.get(name)?.versions.has(version) || this.#loading.has(plugin.id)) {
      throw new PlugbayError('PLUGBAY_DUPLICATE_PLUGIN', `${plugin.id} is already loaded`, {
        ...source,
        details: { dir: plugin.dir },
      });
    }
    // Trust and contracts are decided before any plugin code is read into a runtime.
    const contractError = checkDeclaredContracts(plugin.manifest, this.#s.contracts);
    if (contractError !== undefined) throw contractError;
    const { policy, keyring } = this.#s.trust;
    const requested = this.#s.tierFor(plugin);
    // No tier named (or the default tierFor): the tier is the host's own choice, which it may adjust below.
    const hostChoice = requested === undefined || this.#s.tierFor === defaultTierFor;
    let kind = requested ?? defaultTierFor(plugin);
    if (hostChoice && this.#s.tiers[kind] === undefined) {
      // The host's own choice, and this host was built without that tier: use one it has for this runtime.
      kind = tiersFor[plugin.manifest.runtime].find((k) => this.#s.tiers[k] !== undefined) ?? kind;
    }
    // Verified: the bytes read once, the same that are stored below and run from the store.
    const gate = await trustGate({
      signature: contents.signature,
      files: fileEntries(contents),
      manifest: plugin.manifest,
      tier: kind,
      policy,
      ...(keyring ? { keyring } : {}),
    });
    if (!gate.decision.allowed && gate.decision.error.code === 'PLUGBAY_TIER_NOT_ALLOWED' && hostChoice) {
      // The tier was ours to choose: place the plugin in the most isolated tier its trust level allows instead.
      const level = gate.decision.trustLevel;
      const allowed = level === undefined ? [] : policy.tiers[level];
      const other = tiersFor[plugin.manifest.runtime].find(
        (k) => allowed.includes(k) && this.#s.tiers[k] !== undefined,
      );
      if (other !== undefined && gate.verification !== undefined) {
        this.#log.info(
          { plugin: name, version, level, tier: other },
          `${plugin.id} runs in the ${other} tier: ${level} plugins may not use ${kind}`,
        );
        kind = other;
        gate.decision = decide(policy, gate.verification, kind, name);
      }
    }
    if (!gate.decision.allowed) throw Object.assign(gate.decision.error, source);
    const tier = this.#s.tiers[kind];
    if (tier === undefined) {
      throw new PlugbayError(
        'PLUGBAY_LOAD_FAILED',
        `${plugin.id} needs the ${kind} tier, which this host does not have`,
        {
          ...source,
          details: { tier: kind },
        },
      );
    }
    const trust: VersionStatus['trust'] = {
      status: gate.verification?.status ?? 'off',
      level: gate.decision.trustLevel,
    };
    if (gate.verification?.keyId !== undefined) trust.keyId = gate.verification.keyId;
    if (channels.verify.hasSubscribers)
      channels.verify.publish({
        plugin: name,
        version,
        tier: kind,
        status: trust.status,
        level: trust.level,
      });
    for (const warning of gate.decision.warnings) this.#log.warn({ plugin: name, version }, warning);
    // One Ajv per loaded version: its compiled code is released with the version (see core/schema.ts). The
    // manifest check validated these schemas against the meta-schema already.
    const ajv = createAjv({ validateSchema: false });
    const config = checkConfig(ajv, plugin, this.#s.config[name]);
    const cells = this.#metrics?.version(name, version, kind, Object.keys(plugin.manifest.functions));
    const functions = compileFunctions(ajv, plugin, cells?.fns);
    this.#loading.add(plugin.id);
    let stored: CheckedPlugin;
    try {
      // Granted against the stored copy: relative paths in permissions resolve inside it, as the tier will.
      stored = this.#granted(await this.#putArtifact(plugin, contents), gate.decision.trustLevel, candidate);
    } catch (err) {
      this.#loading.delete(plugin.id);
      throw err;
    }
    const controller = new AbortController();
    const timer = setTimeout(
      () =>
        controller.abort(
          new PlugbayError(
            'PLUGBAY_START_FAILED',
            `${plugin.id} did not start within ${this.#s.startTimeoutMs} ms`,
            source,
          ),
        ),
      this.#s.startTimeoutMs,
    );
    try {
      const level = this.#s.logLevels[name];
      const log = this.#log.child(
        { plugin: name, version, tier: kind },
        level === undefined ? {} : { level },
      );
      const sink = pluginSink(log);
      const loading = tier.load(stored, { log: sink, signal: controller.signal });
      // If loading overruns, the instance may still arrive later: release it then.
      loading.then(
        (late) => controller.signal.aborted && void late.destroy(),
        () => {},
      );
      const instance = await raceAbort(loading, controller.signal);
      const audit = auditExports({
        declared: [...functions.keys()],
        exposed: instance.exportedFunctions,
        mode: policy.exports,
        runtime: plugin.manifest.runtime,
        plugin: name,
        version,
      });
      if (audit.error !== undefined) {
        await instance.destroy();
        throw audit.error;
      }
      if (audit.undeclared.length > 0) {
        log.warn(
          { undeclared: audit.undeclared },
          `${plugin.id} exports functions its manifest does not declare: ${audit.undeclared.join(', ')}`,
        );
      }
      const missing = audit.missing;
      if (missing.length > 0) {
        await instance.destroy();
        throw new PlugbayError(
          'PLUGBAY_LOAD_FAILED',
          `${plugin.id} declares functions its code does not export: ${missing.join(', ')}`,
          {
            ...source,
            details: { missing },
          },
        );
      }
      try {
        await raceAbort(instance.start({ signal: controller.signal, config }), controller.signal);
      } catch (err) {
        await instance.destroy(err as Error);
        const e = PlugbayError.from(err, 'PLUGBAY_START_FAILED', source);
        throw e.code === 'PLUGBAY_START_FAILED'
          ? e
          : new PlugbayError('PLUGBAY_START_FAILED', `${plugin.id} failed to start: ${e.message}`, {
              ...source,
              cause: e,
            });
      }
      sink.bindInstance(instance.id);
      const loaded = new LoadedVersion(stored, instance, functions, trust, audit.undeclared);
      loaded.metrics = cells;
      const instanceLog = log.child({ instance: instance.id });
      const about = { plugin: name, version, tier: kind, instance: instance.id };
      instance.on('fault', (e) => {
        // Attributed to this plugin and version: counted, logged with the stack, published.
        if (cells !== undefined) cells.faults++;
        instanceLog.error({ err: e, stack: e.stack }, `plugin fault: ${e.message}`);
        if (channels.fault.hasSubscribers) channels.fault.publish({ ...about, error: e });
      });
      instance.on('exit', (e) => {
        if (cells !== undefined) cells.exits++;
        instanceLog.warn({ err: e }, `instance exited: ${e.message}`);
        if (channels.crash.hasSubscribers) channels.crash.publish({ ...about, error: e });
      });
      instance.on('state', (state, previous) => {
        if (state === 'ready' && previous === 'degraded') {
          if (cells !== undefined) cells.restarts++;
          if (channels.restart.hasSubscribers) channels.restart.publish(about);
        }
        instanceLog.info({ state, previous }, `instance ${previous} → ${state}`);
        this.#auditCrashloop(loaded, state);
      });
      let entry = this.#plugins.get(name);
      if (entry === undefined) {
        entry = new PluginEntry();
        this.#plugins.set(name, entry);
      }
      entry.add(loaded);
      this.#diagnostics.delete(plugin.dir);
      // Reloads (activate after an unload) read the stored copy again, never the folder.
      this.#known.set(plugin.id, { plugin, contents });
      instanceLog.info(
        { dir: plugin.dir, digest: stored.digest, artifact: stored.dir },
        `loaded ${plugin.id} in the ${kind} tier from ${stored.dir}`,
      );
      if (channels.start.hasSubscribers) channels.start.publish(about);
      if (channels.load.hasSubscribers) channels.load.publish({ ...about, dir: plugin.dir });
      return status(loaded);
    } catch (err) {
      throw PlugbayError.from(err, 'PLUGBAY_LOAD_FAILED', source);
    } finally {
      clearTimeout(timer);
      this.#loading.delete(plugin.id);
    }
  }

  /**
   * The plugin as its tier gets it: `permissions` is what the operator granted (trust/grants.ts), never more than
   * the manifest asks for. A request that is not granted refuses the load (PLUGBAY_PERMISSION_DENIED), so nothing
   * runs quietly without a capability it expects; grant() loads the version again.
   */
  #granted(plugin: CheckedPlugin, level: PolicyTrustLevel, candidate: Candidate): CheckedPlugin {
    const writes = ownFolderWrites(plugin.permissions, plugin.dir);
    if (writes.length > 0) throw ownFolderWriteDenied(plugin.manifest, writes);
    const decision = this.#decideGrants(plugin, level);
    if (decision.denied.length > 0) {
      this.#refused.set(plugin.id, candidate);
      throw permissionDenied(plugin.manifest, level, decision.denied);
    }
    this.#refused.delete(plugin.id);
    return { ...plugin, permissions: decision.granted };
  }

  /** What `plugin` (as discovered: its permissions are the manifest's request) gets at `level` under the grants now. */
  #decideGrants(plugin: CheckedPlugin, level: PolicyTrustLevel): GrantDecision {
    const { name, version } = plugin.manifest;
    const capabilities = [
      ...capabilitiesFor(this.#s.grants, name, version),
      ...this.#store.grants(name).map((g) => g.capability),
    ];
    return decideGrants({ permissions: plugin.permissions, dir: plugin.dir, level, capabilities });
  }

  /** Writes the version's bytes into the store; the plugin the tiers get points there. */
  async #putArtifact(plugin: CheckedPlugin, contents: Candidate['contents']): Promise<CheckedPlugin> {
    this.#artifacts ??= openArtifactStore(this.#s.artifactsDir);
    const { digest, dir } = await (await this.#artifacts).put(contents);
    return {
      ...plugin,
      dir,
      entryPath: join(dir, relative(plugin.dir, plugin.entryPath)),
      digest,
      source: plugin.source ?? plugin.dir,
    };
  }

  #record(diagnostics: Diagnostic[]): void {
    for (const d of diagnostics) this.#diagnostics.set(d.dir, []);
    for (const d of diagnostics) this.#diagnostics.get(d.dir)!.push(d);
  }

  // ---- calling ------------------------------------------------------------------------------------------------

  call<T = unknown>(name: string, fn: string, input: unknown, options?: CallOptions): Promise<T> {
    if (this.#tracer !== undefined)
      return this.#traced(name, fn, input, options ?? noOptions, false) as Promise<T>;
    return this.#invoke(name, fn, input, options ?? noOptions, false) as Promise<T>;
  }

  callDetailed<T = unknown>(
    name: string,
    fn: string,
    input: unknown,
    options?: CallOptions,
  ): Promise<CallResult<T>> {
    if (this.#tracer !== undefined)
      return this.#traced(name, fn, input, options ?? noOptions, true) as Promise<CallResult<T>>;
    return this.#invoke(name, fn, input, options ?? noOptions, true) as Promise<CallResult<T>>;
  }

  /**
   * The call path with spans (only when a TracerProvider was registered): a `plugbay.route` span for the whole
   * call, child of the caller's traceparent, made active while the call runs; #callInstance adds the instance span.
   */
  async #traced(
    name: string,
    fn: string,
    input: unknown,
    options: CallOptions,
    detailed: boolean,
  ): Promise<unknown> {
    const span = this.#tracer!.startSpan(
      `plugbay.route ${name}.${fn}`,
      { kind: SpanKind.INTERNAL, attributes: { 'plugbay.plugin': name, 'plugbay.function': fn } },
      parentContext(options.traceparent),
    );
    const traced: CallOptions = { ...options, traceparent: traceparentOf(span) };
    try {
      const result = (await otelContext.with(trace.setSpan(otelContext.active(), span), () =>
        this.#invoke(name, fn, input, traced, true),
      )) as CallResult;
      span.setAttributes({ 'plugbay.version': result.version, 'plugbay.arm': result.arm });
      return detailed ? result : result.output;
    } catch (err) {
      failSpan(span, err);
      throw err;
    } finally {
      span.end();
    }
  }

  /**
   * The call path: select → input check → lease → tier call under a deadline → release → output check. One async
   * function with one await: every promise hop here is paid on each call (and, on Node 20 with AsyncLocalStorage
   * on, by every promise in the process), so the bookkeeping around the await is plain synchronous code.
   */
  async #invoke(
    name: string,
    fn: string,
    input: unknown,
    options: CallOptions,
    detailed: boolean,
  ): Promise<unknown> {
    if (this.#closing !== undefined)
      throw new PlugbayError('PLUGBAY_CLOSED', 'the host is closed and takes no calls');
    if (options.signal?.aborted) throw cancelled(options.signal);
    const active = this.#route(name);
    let [target, arm] = this.#select(name, active, options, undefined);
    let retried = false;
    for (;;) {
      const decisions = active.decisions;
      if (decisions !== undefined) decisions.set(arm, (decisions.get(arm) ?? 0) + 1);
      if (channels.routeDecision.hasSubscribers)
        channels.routeDecision.publish({ plugin: name, version: target.version, arm, key: options.key });
      const f = functionOf(target, fn);
      if (!f.validateInput(input)) {
        if (target.metrics !== undefined) target.metrics.validationFailures.input++;
        throw invalid('PLUGBAY_INVALID_INPUT', 'input', target, fn, f.validateInput);
      }
      const ownTimeoutMs = f.timeoutMs ?? this.#s.callTimeoutMs;
      const timeoutMs = options.timeoutMs ?? ownTimeoutMs;
      const span = this.#tracer === undefined ? undefined : this.#instanceSpan(target, fn, arm, options);
      const traceparent = span === undefined ? options.traceparent : traceparentOf(span);
      // The call's deadline and its duration share this one clock read; metrics add one more at the end.
      const started = performance.now();
      const call = new Call(
        this.#deadlines,
        timeoutMs,
        traceparent,
        options.key,
        options.signal,
        started,
        ownTimeoutMs,
      );
      if (channels.callStart.hasSubscribers)
        channels.callStart.publish(callMessage(target, fn, arm, traceparent));
      target.inflight++;
      let output: unknown;
      let failure: PlugbayError | undefined;
      try {
        const answer = target.instance.call(fn, input, call);
        if (answer instanceof Promise)
          output = await (target.instance.settlesOnAbort === true ? call.arm(answer) : call.run(answer));
        else if (isThenable(answer))
          output = await call.run(Promise.resolve(answer)); // a custom tier's promise
        else output = answer;
      } catch (err) {
        failure = this.#callFailed(target, f, fn, arm, traceparent, started, span, err, call);
      } finally {
        call.settle();
        target.release();
      }
      if (failure !== undefined) {
        // An idempotent call whose instance died mid-call is retried once, on another version.
        const retry = f.idempotent && failure.code === 'PLUGBAY_PLUGIN_CRASHED' && !retried;
        const next =
          retry && options.signal?.aborted !== true
            ? this.#otherVersion(name, active, options, target)
            : undefined;
        if (next === undefined) throw failure;
        target = next;
        arm = 'fallback';
        retried = true;
        continue;
      }
      target.succeeded();
      const cells = f.cells;
      if (cells !== undefined) {
        cells.ok++;
        cells.observe((performance.now() - started) / 1000);
      }
      if (channels.callEnd.hasSubscribers)
        channels.callEnd.publish({
          ...callMessage(target, fn, arm, traceparent),
          durationMs: performance.now() - started,
        });
      span?.end();
      if (!f.validateOutput(output)) {
        if (target.metrics !== undefined) target.metrics.validationFailures.output++;
        throw invalid('PLUGBAY_INVALID_OUTPUT', 'output', target, fn, f.validateOutput);
      }
      return detailed
        ? { output, plugin: target.name, version: target.version, arm, routeRevision: active.revision }
        : output;
    }
  }

  /** The bookkeeping of a failed tier call (metrics, channels, span, circuit); returns the attributed error. */
  #callFailed(
    target: LoadedVersion,
    f: FunctionEntry,
    fn: string,
    arm: string,
    traceparent: string | undefined,
    started: number,
    span: Span | undefined,
    err: unknown,
    call: Call,
  ): PlugbayError {
    const e = attribute(err, target);
    const cells = f.cells;
    if (cells !== undefined) {
      cells.fail(e.code);
      cells.observe((performance.now() - started) / 1000);
    }
    if (channels.callError.hasSubscribers) {
      const durationMs = performance.now() - started;
      channels.callError.publish({ ...callMessage(target, fn, arm, traceparent), durationMs, error: e });
    }
    if (span !== undefined) {
      failSpan(span, e);
      span.end();
    }
    if (
      countsForCircuit(e, call) &&
      target.failed(
        this.#s.circuit.failureThreshold,
        this.#s.circuit.coolDownMs,
        this.#s.circuit.maxCoolDownMs,
      )
    ) {
      this.#log.warn(
        { plugin: target.name, version: target.version, err: e },
        `circuit of ${target.plugin.id} opened`,
      );
    }
    return e;
  }

  #instanceSpan(target: LoadedVersion, fn: string, arm: string, options: CallOptions): Span {
    return this.#tracer!.startSpan(
      `plugbay.call ${target.name}@${target.version}.${fn}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'plugbay.plugin': target.name,
          'plugbay.version': target.version,
          'plugbay.tier': target.instance.tier,
          'plugbay.instance': target.instance.id,
          'plugbay.function': fn,
          'plugbay.arm': arm,
        },
      },
      parentContext(options.traceparent),
    );
  }

  #route(name: string): ActiveRoute {
    let active = this.#routes.get(name);
    if (active === undefined) {
      active = {
        route: undefined,
        compiled: compileRoute(name),
        revision: 0,
        decisions: this.#metrics?.routeDecisions(name),
      };
      this.#routes.set(name, active);
    }
    return active;
  }

  /** The version a retry goes to: the route's choice without `failed`, if there is one. */
  #otherVersion(
    name: string,
    active: ActiveRoute,
    options: CallOptions,
    failed: LoadedVersion,
  ): LoadedVersion | undefined {
    try {
      return this.#select(name, active, options, failed)[0];
    } catch {
      return undefined;
    }
  }

  /** Picks the version that answers (router/select.ts), optionally leaving one out (the retry after a crash). */
  #select(
    name: string,
    active: ActiveRoute,
    options: CallOptions,
    without: LoadedVersion | undefined,
  ): [LoadedVersion, string] {
    const entry = this.#plugins.get(name);
    if (entry === undefined || entry.versions.size === 0) {
      throw new PlugbayError('PLUGBAY_UNKNOWN_PLUGIN', `no plugin named ${name} is loaded`, { plugin: name });
    }
    const candidates =
      without === undefined ? entry.newestFirst : entry.newestFirst.filter((v) => v !== without);
    const selection = selectVersion(active.compiled, candidates, options);
    if (!selection.ok) throw selectionError(name, selection, options.version);
    return [entry.versions.get(selection.version)!, selection.arm];
  }

  client<P>(name: string): PluginClient<P> {
    let client = this.#clients.get(name);
    if (client === undefined) {
      const methods = new Map<string, (input: unknown, options?: CallOptions) => Promise<unknown>>();
      client = new Proxy(
        {},
        {
          get: (_target, fn) => {
            if (typeof fn !== 'string' || fn === 'then') return undefined; // not a thenable
            let m = methods.get(fn);
            if (m === undefined) {
              m = (input, options) => this.call(name, fn, input, options);
              methods.set(fn, m);
            }
            return m;
          },
        },
      );
      this.#clients.set(name, client);
    }
    return client as PluginClient<P>;
  }

  // ---- inspection ---------------------------------------------------------------------------------------------

  versions(): VersionStatus[] {
    return [...this.#plugins.values()].flatMap((e) => e.newestFirst.map(status));
  }

  diagnostics(): Diagnostic[] {
    return [...this.#diagnostics.values()].flat();
  }

  // ---- routes and hot swap -------------------------------------------------------------------------------------

  route(name: string): Route | undefined {
    return this.#routes.get(name)?.route;
  }

  setRoute(name: string, raw: unknown, options: ChangeOptions = {}): Promise<Route> {
    return this.#exclusive(name, async () => {
      const loaded = [...(this.#plugins.get(name)?.versions.keys() ?? [])];
      const checked = validateRoute(raw, loaded);
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
      const stable =
        route.stable !== undefined && route.stable !== this.#store.stable(name) ? route.stable : undefined;
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
      await this.#releaseUnserved(name, before, this.#s.drainTimeoutMs);
      return route;
    });
  }

  activate(name: string, version: string, options: ActivateOptions = {}): Promise<ActivateResult> {
    return this.#exclusive(name, async () => {
      await this.#ready(name, version, 'activate');
      const previous = this.#currentStable(name);
      if (this.#store.stableHistory(name).length === 0 && previous !== undefined && previous !== version) {
        // Remember the stable that was in force by default, so that the first rollback returns to it.
        this.#store.commit({
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
      await this.#releaseUnserved(name, before, options.drainTimeoutMs ?? this.#s.drainTimeoutMs);
      const revision = this.#route(name).revision;
      if (channels.activate.hasSubscribers)
        channels.activate.publish({ plugin: name, version, previous, revision });
      return { plugin: name, version, previous, route, revision };
    });
  }

  rollback(name: string, options: ActivateOptions = {}): Promise<ActivateResult> {
    return this.#exclusive(name, async () => {
      const history = this.#store.stableHistory(name);
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
      await this.#releaseUnserved(name, before, options.drainTimeoutMs ?? this.#s.drainTimeoutMs);
      if (channels.rollback.hasSubscribers) {
        const revision = this.#route(name).revision;
        channels.rollback.publish({ plugin: name, version: previous, previous: current, revision });
      }
      return {
        plugin: name,
        version: previous,
        previous: current,
        route,
        revision: this.#route(name).revision,
      };
    });
  }

  audit(query?: AuditQuery): AuditEntry[] {
    return this.#store.audit(query);
  }

  // ---- grants -------------------------------------------------------------------------------------------------

  async grant(name: string, capability: string, options: ChangeOptions = {}): Promise<GrantResult> {
    checkPluginName(name);
    const granted = checkCapability(capability);
    return this.#exclusive(name, async () => {
      this.#store.commit({
        grant: { plugin: name, capability: granted },
        audit: {
          actor: options.actor ?? 'api',
          action: 'grant',
          plugin: name,
          reason: options.reason,
          details: { capability: granted },
        },
      });
      this.#log.info({ plugin: name, capability: granted }, `granted ${granted} to ${name}`);
      const result: GrantResult = { plugin: name, capability: granted, loaded: [], refused: [] };
      for (const p of [...this.#refused.values()].filter((p) => p.plugin.manifest.name === name)) {
        // Tried once per grant: a load that fails for another reason (its folder is gone) is not retried forever.
        this.#refused.delete(p.plugin.id);
        try {
          result.loaded.push(await this.#load(p));
        } catch (err) {
          const e = PlugbayError.from(err, 'PLUGBAY_LOAD_FAILED');
          this.#record([loadDiagnostic(p.plugin, e)]);
          result.refused.push({ version: p.plugin.manifest.version, code: e.code, message: e.message });
        }
      }
      return result;
    });
  }

  async revoke(name: string, capability: string, options: ChangeOptions = {}): Promise<RevokeResult> {
    checkPluginName(name);
    const revoked = checkCapability(capability);
    return this.#exclusive(name, async () => {
      this.#store.commit({
        revoke: { plugin: name, capability: revoked },
        audit: {
          actor: options.actor ?? 'api',
          action: 'revoke',
          plugin: name,
          reason: options.reason,
          details: { capability: revoked },
        },
      });
      this.#log.info({ plugin: name, capability: revoked }, `revoked ${revoked} from ${name}`);
      // What runs is what the grants allow: a version that needed the capability is drained and unloaded, and is
      // loaded again by the grant that allows it.
      const unloaded: string[] = [];
      for (const v of [...(this.#plugins.get(name)?.newestFirst ?? [])]) {
        const requested: CheckedPlugin = { ...v.plugin, permissions: v.plugin.manifest.permissions ?? {} };
        const decision = this.#decideGrants(requested, v.trust.level);
        if (decision.denied.length === 0) continue;
        await this.#unload(v, this.#s.drainTimeoutMs);
        const known = this.#known.get(requested.id);
        if (known !== undefined) this.#refused.set(requested.id, known);
        const refusal = permissionDenied(requested.manifest, v.trust.level, decision.denied);
        this.#record([loadDiagnostic(requested, refusal)]);
        this.#log.warn({ plugin: name, version: v.version }, `${requested.id} unloaded: ${refusal.message}`);
        unloaded.push(v.version);
      }
      return { plugin: name, capability: revoked, unloaded };
    });
  }

  grants(name?: string): GrantStatus[] {
    const fromFile = this.#s.grants
      .filter((r) => name === undefined || r.plugin === name)
      .flatMap((r) =>
        r.capabilities.map(
          (capability): GrantStatus => ({
            plugin: r.plugin,
            capability,
            source: 'file',
            ...(r.versions === undefined ? {} : { versions: r.versions }),
          }),
        ),
      );
    const atRunTime = this.#store
      .grants(name)
      .map((g): GrantStatus => ({ plugin: g.plugin, capability: g.capability, source: 'admin' }));
    return [...fromFile, ...atRunTime];
  }

  /**
   * Loads `version` if it is only known, brings it out of a crash loop or an open circuit at once (the operator
   * asks for it by `action`), then checks that it is ready and healthy. Nothing switches on failure.
   */
  async #ready(name: string, version: string, action: 'activate' | 'rollback'): Promise<LoadedVersion> {
    let v = this.#plugins.get(name)?.versions.get(version);
    if (v === undefined) {
      const known = this.#known.get(`${name}@${version}`);
      if (known === undefined) {
        throw new PlugbayError(
          'PLUGBAY_VERSION_NOT_LOADED',
          `${name}@${version} is not loaded and no plugin directory provides it`,
          {
            plugin: name,
            version,
          },
        );
      }
      await this.#load(known);
      v = this.#plugins.get(name)?.versions.get(version);
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
    const signal = AbortSignal.timeout(this.#s.startTimeoutMs);
    const cells = v.metrics;
    const health = await raceAbort(v.instance.health(signal), signal).catch((err: unknown) => {
      if (cells !== undefined) cells.health.set('error', (cells.health.get('error') ?? 0) + 1);
      throw new PlugbayError(
        'PLUGBAY_START_FAILED',
        `${name}@${version} did not answer its health check: ${(err as Error).message}`,
        {
          plugin: name,
          version,
          cause: err,
        },
      );
    });
    if (cells !== undefined) cells.health.set(health.status, (cells.health.get(health.status) ?? 0) + 1);
    if (health.status === 'failing' || !v.available) {
      throw new PlugbayError(
        'PLUGBAY_START_FAILED',
        `${name}@${version} is not healthy: ${health.message ?? v.instance.state}`,
        {
          plugin: name,
          version,
          details: { health, state: v.instance.state },
        },
      );
    }
    return v;
  }

  /** The route with `version` as its stable (a canary of that version is promoted, so it is dropped). */
  #withStable(name: string, version: string): Route {
    const { canary, ...rest } = this.#routes.get(name)?.route ?? {};
    return canary === undefined || canary.version === version
      ? { ...rest, stable: version }
      : { ...rest, canary, stable: version };
  }

  /** The stable version calls get now: the route's, or the newest ready release when the route names none. */
  #currentStable(name: string): string | undefined {
    const route = this.#routes.get(name)?.route;
    if (route?.stable !== undefined) return route.stable;
    const selection = selectVersion(compileRoute(name), this.#plugins.get(name)?.newestFirst ?? [], {});
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
    this.#store.commit({ ...change, route: { plugin: name, route } });
    const revision = (this.#routes.get(name)?.revision ?? 0) + 1;
    this.#routes.set(name, {
      route,
      compiled: compileRoute(name, route),
      revision,
      decisions: this.#metrics?.routeDecisions(name),
    });
    this.#log.info({ plugin: name, route, revision }, `route of ${name} changed (${change.audit.action})`);
  }

  /** Drains and releases versions that were served before a change and are not any more. */
  async #releaseUnserved(name: string, before: Set<string>, drainTimeoutMs: number): Promise<void> {
    const after = this.#served(name);
    const entry = this.#plugins.get(name);
    const gone = [...before].filter((v) => !after.has(v)).flatMap((v) => entry?.versions.get(v) ?? []);
    await Promise.all(gone.map((v) => this.#unload(v, drainTimeoutMs)));
  }

  /** Every crash-loop entry and exit goes to the audit log (the entry once per episode, however often it retries). */
  #auditCrashloop(v: LoadedVersion, state: string): void {
    const about = { actor: 'host', plugin: v.name, version: v.version };
    if (state === 'crashloop' && !v.crashlooped) {
      v.crashlooped = true;
      this.#audit({
        ...about,
        action: 'crashloop',
        reason: 'restarted too often; calls are refused until it recovers',
        details: { tier: v.instance.tier, code: 'PLUGBAY_PLUGIN_CRASHED' },
      });
    } else if ((state === 'ready' || state === 'closed') && v.crashlooped) {
      v.crashlooped = false;
      const by = state === 'closed' ? 'unload' : v.recoveringBy;
      v.recoveringBy = 'retry';
      this.#audit({
        ...about,
        action: 'crashloop-exit',
        reason: by === 'unload' ? 'unloaded while in a crash loop' : 'recovered from a crash loop',
        details: { tier: v.instance.tier, by },
      });
    }
  }

  #audit(entry: AuditInput): void {
    try {
      this.#store.record(entry);
    } catch (err) {
      this.#log.error({ err, entry }, 'could not write the audit log');
    }
  }

  #exclusive<T>(name: string, work: () => Promise<T>): Promise<T> {
    const run = (this.#locks.get(name) ?? Promise.resolve()).then(work);
    this.#locks.set(
      name,
      run.catch(() => {}),
    );
    return run;
  }

  // ---- shutdown -----------------------------------------------------------------------------------------------

  async unload(name: string, version: string): Promise<void> {
    const entry = this.#plugins.get(name);
    const v = entry?.versions.get(version);
    if (entry === undefined || v === undefined) {
      throw new PlugbayError('PLUGBAY_UNKNOWN_PLUGIN', `${name}@${version} is not loaded`, {
        plugin: name,
        version,
      });
    }
    await this.#unload(v, this.#s.drainTimeoutMs);
  }

  /** Stops routing to `v`, drains it, releases it, and forgets it. */
  async #unload(v: LoadedVersion, drainTimeoutMs: number): Promise<void> {
    await this.#release(v, drainTimeoutMs);
    const entry = this.#plugins.get(v.name);
    entry?.delete(v);
    if (entry?.versions.size === 0) this.#plugins.delete(v.name);
  }

  /** Drain → graceful close → destroy if the close fails or overruns. */
  async #release(v: LoadedVersion, drainTimeoutMs: number): Promise<void> {
    const drained = await v.drain(drainTimeoutMs);
    if (!drained)
      this.#log.warn(
        { plugin: v.name, version: v.version, inflight: v.inflight },
        'drain timed out; closing anyway',
      );
    try {
      await v.instance.close({ timeoutMs: this.#s.stopTimeoutMs });
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
      if (reports.length > 20) reports.shift();
      this.#leaks.set(v.name, reports);
      if (channels.leak.hasSubscribers) channels.leak.publish({ ...report, tier: v.instance.tier });
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const all = [...this.#plugins.values()].flatMap((e) => [...e.versions.values()]);
      await Promise.allSettled(all.map((v) => this.#release(v, this.#s.drainTimeoutMs)));
      this.#plugins.clear();
      await Promise.allSettled(Object.values(this.#s.tiers).map((t) => t.close?.()));
      this.#deadlines.clear();
      if (this.#ownsStore) this.#store.close();
      await this.#artifacts?.then((a) => a.close()).catch(() => {});
    })();
    return this.#closing;
  }

  async destroy(reason?: PlugbayError): Promise<void> {
    const all = [...this.#plugins.values()].flatMap((e) => [...e.versions.values()]);
    this.#closing ??= Promise.resolve();
    await Promise.allSettled(all.map((v) => v.instance.destroy(reason)));
    this.#plugins.clear();
    await Promise.allSettled(Object.values(this.#s.tiers).map((t) => t.close?.()));
    this.#deadlines.clear();
    if (this.#ownsStore) this.#store.close();
    await this.#artifacts?.then((a) => a.close()).catch(() => {});
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function checkConfig(ajv: Ajv, plugin: CheckedPlugin, config: unknown): unknown {
  const schema = plugin.manifest.config;
  if (schema === undefined) return config;
  const compiled = compileSchema(ajv, schema);
  if ('error' in compiled) throw new PlugbayError('PLUGBAY_MANIFEST_INVALID', `config: ${compiled.error}`);
  if (!compiled.validate(config ?? {})) {
    const violations = violationsOf(compiled.validate.errors);
    throw new PlugbayError(
      'PLUGBAY_START_FAILED',
      `config of ${plugin.id} is invalid: ${describe(violations)}`,
      {
        plugin: plugin.manifest.name,
        version: plugin.manifest.version,
        details: { field: 'config', violations },
      },
    );
  }
  return config ?? {};
}

function compileFunctions(
  ajv: Ajv,
  plugin: CheckedPlugin,
  cells: ReadonlyMap<string, FnCells> | undefined,
): Map<string, FunctionEntry> {
  const out = new Map<string, FunctionEntry>();
  const source = { plugin: plugin.manifest.name, version: plugin.manifest.version };
  for (const [name, spec] of Object.entries(plugin.manifest.functions)) {
    const input = compileSchema(ajv, spec.input);
    const output = compileSchema(ajv, spec.output);
    if ('error' in input || 'error' in output) {
      const error = 'error' in input ? input.error : (output as { error: string }).error;
      throw new PlugbayError('PLUGBAY_MANIFEST_INVALID', `functions.${name}: ${error}`, source);
    }
    out.set(name, {
      name,
      validateInput: input.validate,
      validateOutput: output.validate,
      timeoutMs: spec.timeoutMs,
      idempotent: spec.idempotent ?? false,
      cells: cells?.get(name),
    });
  }
  return out;
}

function functionOf(target: LoadedVersion, fn: string): FunctionEntry {
  const f = target.functions.get(fn);
  if (f !== undefined) return f;
  throw new PlugbayError('PLUGBAY_UNKNOWN_FUNCTION', `${target.plugin.id} has no function ${fn}`, {
    plugin: target.name,
    version: target.version,
    details: { function: fn, functions: [...target.functions.keys()] },
  });
}

function status(v: LoadedVersion): VersionStatus {
  return {
    plugin: v.name,
    version: v.version,
    tier: v.instance.tier,
    state: v.draining && v.instance.state === 'ready' ? 'draining' : v.instance.state,
    circuit: v.circuitOpen ? 'open' : 'closed',
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

function callMessage(v: LoadedVersion, fn: string, arm: string, traceparent: string | undefined) {
  return { plugin: v.name, version: v.version, tier: v.instance.tier, fn, arm, traceparent };
}

function failSpan(span: Span, err: unknown): void {
  const e = err as { code?: string; message?: string };
  span.setStatus({ code: SpanStatusCode.ERROR, message: e?.message ?? String(err) });
  if (err instanceof Error) span.recordException(err);
  if (typeof e?.code === 'string') span.setAttribute('plugbay.error.code', e.code);
}

/** Errors leaving a call always say which plugin and version produced them. */
function attribute(err: unknown, v: LoadedVersion): PlugbayError {
  const e = PlugbayError.from(err, 'PLUGBAY_PLUGIN_ERROR', { plugin: v.name, version: v.version });
  e.plugin ??= v.name;
  e.version ??= v.version;
  return e;
}

function invalid(
  code: 'PLUGBAY_INVALID_INPUT' | 'PLUGBAY_INVALID_OUTPUT',
  side: 'input' | 'output',
  v: LoadedVersion,
  fn: string,
  validate: { errors?: Parameters<typeof violationsOf>[0] },
): PlugbayError {
  const violations = violationsOf(validate.errors);
  return new PlugbayError(code, `${side} of ${v.name}.${fn} is invalid: ${describe(violations, side)}`, {
    plugin: v.name,
    version: v.version,
    details: { function: fn, violations },
  });
}

function describe(violations: { pointer: string; rule: string; message: string }[], root = ''): string {
  return violations
    .map((x) => `${root}${x.pointer || (root ? '' : '/')} ${x.message} (${x.rule})`)
    .join('; ');
}

function loadDiagnostic(plugin: CheckedPlugin, err: unknown): Diagnostic {
  const e = PlugbayError.from(err, 'PLUGBAY_LOAD_FAILED');
  const d: Diagnostic = {
    code: e.code,
    severity: 'error',
    message: e.message,
    dir: plugin.dir,
    plugin: plugin.manifest.name,
    version: plugin.manifest.version,
  };
  if (e.details !== undefined) {
    d.details = e.details;
    // A refusal that names a manifest field (PLUGBAY_PERMISSION_DENIED) shows it where diagnostics do.
    if (typeof e.details.field === 'string') d.field = e.details.field;
    if (typeof e.details.rule === 'string') d.rule = e.details.rule;
  }
  return d;
}

/** Rejects with the signal's reason when it aborts first; the listener is removed either way. */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
