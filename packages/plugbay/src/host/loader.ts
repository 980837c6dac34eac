// The load pipeline: discover → check → contracts → placement → trust gate → config and schemas → grants →
// artifact store → tier load → export audit → start → into the version set. Everything is decided on the bytes
// read once; the tier runs the stored copy.
import { join, relative } from 'node:path';
import type { ValidateFunction } from 'ajv';
import type { Logger } from 'pino';
import { fileEntries } from '../artifact/contents.js';
import { type ArtifactStore, openArtifactStore } from '../artifact/store.js';
import { checkDeclaredContracts } from '../contract/implements.js';
import { PlugbayError } from '../core/errors.js';
import { violationsOf } from '../core/schema.js';
import type { CheckedPlugin, Diagnostic, Instance, TierKind } from '../core/types.js';
import { channels } from '../observe/channels.js';
import { pluginSink } from '../observe/log.js';
import type { FnCells } from '../observe/metrics.js';
import type { AuditInput } from '../store/types.js';
import { auditExports } from '../trust/audit.js';
import { trustGate } from '../trust/gate.js';
import { ownFolderWriteDenied, ownFolderWrites, permissionDenied } from '../trust/grants.js';
import type { PolicyTrustLevel } from '../trust/policy.js';
import { decide } from '../trust/policy.js';
import { type Candidate, checkPluginDir, discover } from './discover.js';
import { decideGrantsFor } from './grants.js';
import { bytesValidator, describeViolations, type FunctionEntry, LoadedVersion } from './loaded.js';
import { place, replace } from './placement.js';
import type { HostState } from './state.js';
import type { LoadReport, VersionStatus } from './types.js';
import { type ManifestValidators, manifestValidators } from './validators.js';
import { status } from './versions.js';

/** Marks an error load() throws without recording a diagnostic. */
const unrecorded = Symbol('unrecorded');

export class Loader {
  readonly #s: HostState;
  /** Every plugin version checked so far, by id, with the bytes checked: what activate() and rollback() load. */
  readonly known = new Map<string, Candidate>();
  /** Versions refused for want of a grant, by id: grant() loads them again. */
  readonly refused = new Map<string, Candidate>();
  readonly #loading = new Set<string>();
  /** Diagnostics of the latest check of each plugin directory that failed. */
  readonly #diagnostics = new Map<string, Diagnostic[]>();
  /** The content-addressed store every version runs from; opened at the first load. */
  #artifacts: Promise<ArtifactStore> | undefined;

  constructor(state: HostState) {
    this.#s = state;
  }

  diagnostics(): Diagnostic[] {
    return [...this.#diagnostics.values()].flat();
  }

  record(diagnostics: Diagnostic[]): void {
    for (const d of diagnostics) this.#diagnostics.set(d.dir, []);
    for (const d of diagnostics) this.#diagnostics.get(d.dir)!.push(d);
  }

  async loadDirectory(dir: string): Promise<LoadReport> {
    const found = await discover(dir);
    for (const c of found.candidates) this.known.set(c.plugin.id, c);
    const diagnostics = [...found.diagnostics];
    const results = await Promise.allSettled(found.candidates.map((c) => this.load(c)));
    const loaded: VersionStatus[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') loaded.push(r.value);
      else diagnostics.push(loadDiagnostic(found.plugins[i]!, r.reason));
    });
    this.record(diagnostics.filter((d) => d.severity === 'error'));
    if (channels.check.hasSubscribers && diagnostics.length > 0) channels.check.publish({ dir, diagnostics });
    for (const d of diagnostics) {
      this.#s.log[d.severity === 'error' ? 'error' : 'warn'](
        { diagnostic: d, plugin: d.plugin, version: d.version },
        d.message,
      );
    }
    return { loaded, diagnostics };
  }

  async loadDir(dir: string): Promise<VersionStatus> {
    const checked = await checkPluginDir(dir);
    const errors = checked.diagnostics.filter((d) => d.severity === 'error');
    if (checked.plugin === undefined || checked.contents === undefined || errors.length > 0) {
      this.record(errors);
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
      this.known.set(candidate.plugin.id, candidate);
      return await this.load(candidate);
    } catch (err) {
      if (!(err as { [unrecorded]?: boolean })[unrecorded])
        this.record([loadDiagnostic(checked.plugin, err)]);
      throw err;
    }
  }

  /**
   * Versions are immutable: other bytes under the id of a loaded version are a new candidate, verified from
   * scratch to say what it is, reported as `modified`, and never loaded over the running one.
   */
  async #refuseChangedCopy({ plugin, contents }: Candidate): Promise<void> {
    const running = this.#s.versions.get(plugin.manifest.name, plugin.manifest.version);
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
    const { policy, keyring } = this.#s.settings.trust;
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

  /**
   * Development only (`plugbay serve --dev --watch`): the folder of a loaded version holds other bytes under the
   * same name@version (a rebuild). They are loaded as a new instance through the whole pipeline (trust, tier,
   * start); once it started it takes the running one's place in one step, and the old instance is drained and
   * closed — no call fails across the swap. The same bytes again: `undefined` (nothing to do).
   */
  async replaceDir(dir: string): Promise<VersionStatus | undefined> {
    const checked = await checkPluginDir(dir);
    const errors = checked.diagnostics.filter((d) => d.severity === 'error');
    if (checked.plugin === undefined || checked.contents === undefined || errors.length > 0) {
      const first = errors[0]!;
      throw new PlugbayError(first.code, first.message, { details: { diagnostics: errors } });
    }
    const { name, version } = checked.plugin.manifest;
    const running = this.#s.versions.get(name, version);
    if (running === undefined) {
      throw new PlugbayError(
        'PLUGBAY_UNKNOWN_PLUGIN',
        `${checked.plugin.id} is not loaded: nothing to replace`,
        {
          plugin: name,
          version,
        },
      );
    }
    if (running.plugin.digest === checked.plugin.digest) return undefined;
    const candidate = { plugin: checked.plugin, contents: checked.contents };
    const next = await this.load(candidate, running);
    this.#s.log.info(
      { plugin: name, version, digest: checked.plugin.digest, was: running.plugin.digest },
      `dev: ${checked.plugin.id} rebuilt; the new instance answers, the old one drains`,
    );
    await this.#s.versions.release(running, this.#s.settings.drainTimeoutMs);
    return next;
  }

  /**
   * Loads one checked candidate (the pipeline above); the version set gets it once it started. `replacing`: the
   * loaded instance of the same name@version it takes the place of (replaceDir).
   */
  async load(candidate: Candidate, replacing?: LoadedVersion): Promise<VersionStatus> {
    const { plugin, contents } = candidate;
    const { name, version } = plugin.manifest;
    const source = { plugin: name, version };
    const settings = this.#s.settings;
    if (this.#s.closed) throw new PlugbayError('PLUGBAY_CLOSED', 'the host is closed', source);
    if (this.#s.versions.get(name, version) !== replacing || this.#loading.has(plugin.id)) {
      throw new PlugbayError('PLUGBAY_DUPLICATE_PLUGIN', `${plugin.id} is already loaded`, {
        ...source,
        details: { dir: plugin.dir },
      });
    }
    // Trust and contracts are decided before any plugin code is read into a runtime.
    const contractError = checkDeclaredContracts(plugin.manifest, settings.contracts);
    if (contractError !== undefined) throw contractError;
    const { policy, keyring } = settings.trust;
    const placement = place(plugin, settings.tierFor, settings.tiers);
    let kind = placement.kind;
    // Verified: the bytes read once, the same that are stored below and run from the store.
    const gate = await trustGate({
      signature: contents.signature,
      files: fileEntries(contents),
      manifest: plugin.manifest,
      tier: kind,
      policy,
      ...(keyring ? { keyring } : {}),
    });
    if (!gate.decision.allowed && gate.decision.error.code === 'PLUGBAY_TIER_NOT_ALLOWED') {
      // If the tier was the host's to choose, place the plugin in the most isolated tier its trust level allows.
      const level = gate.decision.trustLevel;
      const other = replace(
        placement,
        plugin,
        level === undefined ? [] : policy.tiers[level],
        settings.tiers,
      );
      if (other !== undefined && gate.verification !== undefined) {
        this.#s.log.info(
          { plugin: name, version, level, tier: other },
          `${plugin.id} runs in the ${other} tier: ${level} plugins may not use ${kind}`,
        );
        kind = other;
        gate.decision = decide(policy, gate.verification, kind, name);
      }
    }
    if (!gate.decision.allowed) throw Object.assign(gate.decision.error, source);
    const tier = settings.tiers[kind];
    if (tier === undefined) {
      throw new PlugbayError(
        'PLUGBAY_LOAD_FAILED',
        `${plugin.id} needs the ${kind} tier, which this host does not have`,
        { ...source, details: { tier: kind } },
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
    for (const warning of gate.decision.warnings) this.#s.log.warn({ plugin: name, version }, warning);
    const validators = manifestValidators(plugin.manifest, source);
    const config = checkConfig(validators.config, plugin, settings.config[name]);
    const cells = this.#s.metrics?.version(name, version, kind, Object.keys(plugin.manifest.functions));
    const functions = functionEntries(validators, plugin, cells?.fns);
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
            `${plugin.id} did not start within ${settings.startTimeoutMs} ms`,
            { ...source, details: { rule: 'start-timeout', timeoutMs: settings.startTimeoutMs } },
          ),
        ),
      settings.startTimeoutMs,
    );
    try {
      const level = settings.logLevels[name];
      const log = this.#s.log.child(
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
      const instance = await raceAbort(loading, controller.signal).catch((err: unknown) =>
        withTierReport(err, loading, controller.signal),
      );
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
          { ...source, details: { missing } },
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
      this.#watch(loaded, instanceLog, about);
      if (replacing === undefined) this.#s.versions.add(loaded);
      else this.#s.versions.replace(replacing, loaded);
      this.#diagnostics.delete(plugin.dir);
      // Reloads (activate after an unload) read the stored copy again, never the folder.
      this.known.set(plugin.id, { plugin, contents });
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

  /** Faults, exits and state changes of a loaded instance: counted, logged, published, crash loops audited. */
  #watch(v: LoadedVersion, log: Logger, about: About): void {
    const instance: Instance = v.instance;
    const cells = v.metrics;
    instance.on('fault', (e) => {
      // Attributed to this plugin and version: counted, logged with the stack, published.
      if (cells !== undefined) cells.faults++;
      log.error({ err: e, stack: e.stack }, `plugin fault: ${e.message}`);
      if (channels.fault.hasSubscribers) channels.fault.publish({ ...about, error: e });
    });
    instance.on('crashloop', (info) => {
      v.crashloop = { ...info, retryAt: Date.now() + info.retryInMs };
    });
    instance.on('exit', (e) => {
      v.lastExit = { code: e.code, message: e.message };
      if (cells !== undefined) cells.exits++;
      log.warn({ err: e }, `instance exited: ${e.message}`);
      if (channels.crash.hasSubscribers) channels.crash.publish({ ...about, error: e });
    });
    instance.on('state', (state, previous) => {
      if (state === 'ready' && previous === 'degraded') {
        if (cells !== undefined) cells.restarts++;
        if (channels.restart.hasSubscribers) channels.restart.publish(about);
      }
      log.info({ state, previous }, `instance ${previous} → ${state}`);
      this.#auditCrashloop(v, state, about);
    });
  }

  /**
   * Every crash-loop entry and exit goes to the audit log and the crashloop channel (the entry once per episode,
   * however often it retries).
   */
  #auditCrashloop(v: LoadedVersion, state: string, about: About): void {
    const entry = { actor: 'host', plugin: v.name, version: v.version };
    if (state === 'crashloop' && !v.crashlooped) {
      v.crashlooped = true;
      const loop = v.crashloop;
      const told = loop === undefined ? {} : { crashes: loop.crashes, retryInMs: loop.retryInMs };
      this.#audit({
        ...entry,
        action: 'crashloop',
        reason: `restarted too often; calls are refused until it recovers${loop === undefined ? '' : ` (next try in ${loop.retryInMs} ms)`}`,
        details: { tier: v.instance.tier, code: 'PLUGBAY_PLUGIN_CRASHED', ...told },
      });
      if (channels.crashloop.hasSubscribers)
        channels.crashloop.publish({ ...about, crashloop: 'entered', ...told });
    } else if ((state === 'ready' || state === 'closed') && v.crashlooped) {
      v.crashlooped = false;
      v.crashloop = undefined;
      // Back and serving: the crashes that led here are not held against it twice (they opened the circuit).
      if (state === 'ready') v.closeCircuit();
      const by = state === 'closed' ? 'unload' : v.recoveringBy;
      v.recoveringBy = 'retry';
      this.#audit({
        ...entry,
        action: 'crashloop-exit',
        reason: by === 'unload' ? 'unloaded while in a crash loop' : 'recovered from a crash loop',
        details: { tier: v.instance.tier, by },
      });
      if (channels.crashloop.hasSubscribers) channels.crashloop.publish({ ...about, crashloop: 'left', by });
    }
  }

  /** Called from an instance's event listener: a store that fails is logged, never thrown into the tier. */
  #audit(entry: AuditInput): void {
    try {
      this.#s.store.record(entry);
    } catch (err) {
      this.#s.log.error({ err, entry }, 'could not write the audit log');
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
    const decision = decideGrantsFor(this.#s, plugin, level);
    if (decision.denied.length > 0) {
      this.refused.set(plugin.id, candidate);
      throw permissionDenied(plugin.manifest, level, decision.denied);
    }
    this.refused.delete(plugin.id);
    return { ...plugin, permissions: decision.granted };
  }

  /** Writes the version's bytes into the store; the plugin the tiers get points there. */
  async #putArtifact(plugin: CheckedPlugin, contents: Candidate['contents']): Promise<CheckedPlugin> {
    this.#artifacts ??= openArtifactStore(this.#s.settings.artifactsDir);
    const { digest, dir } = await (await this.#artifacts).put(contents);
    return {
      ...plugin,
      dir,
      entryPath: join(dir, relative(plugin.dir, plugin.entryPath)),
      digest,
      source: plugin.source ?? plugin.dir,
    };
  }

  /** Closes the artifact store (removing it when it is the host's own temp dir). */
  async close(): Promise<void> {
    await this.#artifacts?.then((a) => a.close()).catch(() => {});
  }
}

/** What the diagnostics channels say of one instance. */
interface About {
  plugin: string;
  version: string;
  tier: TierKind;
  instance: string;
}

function checkConfig(
  validate: ValidateFunction | undefined,
  plugin: CheckedPlugin,
  config: unknown,
): unknown {
  if (validate === undefined) return config;
  if (!validate(config ?? {})) {
    const violations = violationsOf(validate.errors);
    throw new PlugbayError(
      'PLUGBAY_START_FAILED',
      `config of ${plugin.id} is invalid: ${describeViolations(violations)}`,
      {
        plugin: plugin.manifest.name,
        version: plugin.manifest.version,
        details: { field: 'config', violations },
      },
    );
  }
  return config ?? {};
}

function functionEntries(
  validators: ManifestValidators,
  plugin: CheckedPlugin,
  cells: ReadonlyMap<string, FnCells> | undefined,
): Map<string, FunctionEntry> {
  const out = new Map<string, FunctionEntry>();
  for (const [name, spec] of Object.entries(plugin.manifest.functions)) {
    const common = {
      name,
      timeoutMs: spec.timeoutMs,
      idempotent: spec.idempotent ?? false,
      cells: cells?.get(name),
    };
    if (spec.codec === 'bytes') {
      // The schemas of a bytes function document the bytes; what the host can check is that they are bytes.
      out.set(name, {
        ...common,
        validateInput: bytesValidator(),
        validateOutput: bytesValidator(),
        codec: 'bytes',
        contentType: spec.contentType ?? 'application/octet-stream',
      });
    } else {
      const compiled = validators.functions.get(name)!; // every JSON function has its pair
      out.set(name, {
        ...common,
        validateInput: compiled.input,
        validateOutput: compiled.output,
        codec: 'json',
        contentType: undefined,
      });
    }
  }
  return out;
}

/** A failed load as a diagnostic of the plugin's folder. */
export function loadDiagnostic(plugin: CheckedPlugin, err: unknown): Diagnostic {
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
/** How long a load that timed out waits for its tier to say what it saw (the tier listens to the same signal). */
const tierReportGraceMs = 1000;

/**
 * `err` is the host's start timeout: the tier's own report of the aborted load (a process tier's stray stdout and
 * stderr tail) is worth more than the bare timeout, so its details and message are merged in when it comes soon.
 */
async function withTierReport(err: unknown, loading: Promise<unknown>, signal: AbortSignal): Promise<never> {
  if (!signal.aborted || err !== signal.reason || !(err instanceof PlugbayError)) throw err;
  let timer: NodeJS.Timeout | undefined;
  const report = await Promise.race([
    loading.then(
      () => undefined,
      (e: unknown) => e,
    ),
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), tierReportGraceMs);
    }),
  ]).finally(() => clearTimeout(timer));
  if (!(report instanceof PlugbayError) || report.details === undefined) throw err;
  const { rule: _rule, ...seen } = report.details;
  throw new PlugbayError(err.code, `${err.message}: ${report.message}`, {
    plugin: err.plugin,
    version: err.version,
    cause: report,
    details: { ...seen, ...err.details },
  });
}

export function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
