import type { Ajv } from 'ajv';
import type { Logger } from 'pino';
import semver from 'semver';
import { Deadlines } from '../core/deadlines.js';
import { PlugbayError } from '../core/errors.js';
import { compileSchema, createAjv, violationsOf } from '../core/schema.js';
import type { CheckedPlugin, Diagnostic, Tier, TierKind } from '../core/types.js';
import { defaultLogger, pluginSink } from '../observe/log.js';
import { Call } from './call.js';
import { defaultTiers } from './default-tiers.js';
import { checkPluginDir, discover } from './discover.js';
import { type FunctionEntry, LoadedVersion } from './loaded.js';
import type {
  CallOptions,
  CallResult,
  HostOptions,
  LoadReport,
  PluginClient,
  PluginHost,
  VersionStatus,
} from './types.js';

type Settings = Required<Omit<HostOptions, 'tiers' | 'logger' | 'config'>> & {
  tiers: Partial<Record<TierKind, Tier>>;
  logger: Logger;
  config: Record<string, unknown>;
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
  };
}

const noOptions: CallOptions = Object.freeze({});

function defaultTierFor(plugin: CheckedPlugin): TierKind {
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
  readonly #ajv: Ajv = createAjv();
  readonly #deadlines = new Deadlines();
  readonly #plugins = new Map<string, PluginEntry>();
  readonly #loading = new Set<string>();
  /** Diagnostics of the latest check of each plugin directory that failed. */
  readonly #diagnostics = new Map<string, Diagnostic[]>();
  readonly #clients = new Map<string, object>();
  #closing: Promise<void> | undefined;

  constructor(settings: Settings) {
    this.#s = settings;
    this.#log = settings.logger;
  }

  // ---- loading ------------------------------------------------------------------------------------------------

  async loadDirectory(dir: string): Promise<LoadReport> {
    const found = await discover(dir);
    const diagnostics = [...found.diagnostics];
    const results = await Promise.allSettled(found.plugins.map((p) => this.#load(p)));
    const loaded: VersionStatus[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') loaded.push(r.value);
      else diagnostics.push(loadDiagnostic(found.plugins[i]!, r.reason));
    });
    this.#record(diagnostics.filter((d) => d.severity === 'error'));
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
    if (checked.plugin === undefined || errors.length > 0) {
      this.#record(errors);
      const first = errors[0]!;
      throw new PlugbayError(first.code, first.message, {
        details: { diagnostics: errors },
        ...(first.plugin === undefined ? {} : { plugin: first.plugin }),
        ...(first.version === undefined ? {} : { version: first.version }),
      });
    }
    try {
      return await this.#load(checked.plugin);
    } catch (err) {
      this.#record([loadDiagnostic(checked.plugin, err)]);
      throw err;
    }
  }

  async #load(plugin: CheckedPlugin): Promise<VersionStatus> {
    const { name, version } = plugin.manifest;
    const source = { plugin: name, version };
    if (this.#closing) throw new PlugbayError('PLUGBAY_CLOSED', 'the host is closed', source);
    if (this.#plugins.get(name)?.versions.has(version) || this.#loading.has(plugin.id)) {
      throw new PlugbayError('PLUGBAY_DUPLICATE_PLUGIN', `${plugin.id} is already loaded`, {
        ...source,
        details: { dir: plugin.dir },
      });
    }
    const kind = this.#s.tierFor(plugin);
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
    const config = this.#checkConfig(plugin);
    const functions = this.#compile(plugin);
    this.#loading.add(plugin.id);
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
      const log = this.#log.child({ plugin: name, version, tier: kind });
      const loading = tier.load(plugin, { log: pluginSink(log), signal: controller.signal });
      // If loading overruns, the instance may still arrive later: release it then.
      loading.then(
        (late) => controller.signal.aborted && void late.destroy(),
        () => {},
      );
      const instance = await raceAbort(loading, controller.signal);
      const missing = [...functions.keys()].filter((f) => !instance.exportedFunctions.includes(f));
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
      const loaded = new LoadedVersion(plugin, instance, functions);
      const instanceLog = log.child({ instance: instance.id });
      instance.on('fault', (e) => instanceLog.error({ err: e }, `plugin fault: ${e.message}`));
      instance.on('exit', (e) => instanceLog.warn({ err: e }, `instance exited: ${e.message}`));
      instance.on('state', (state, previous) =>
        instanceLog.info({ state, previous }, `instance ${previous} → ${state}`),
      );
      let entry = this.#plugins.get(name);
      if (entry === undefined) {
        entry = new PluginEntry();
        this.#plugins.set(name, entry);
      }
      entry.add(loaded);
      this.#diagnostics.delete(plugin.dir);
      instanceLog.info({ dir: plugin.dir }, `loaded ${plugin.id} in the ${kind} tier`);
      return status(loaded);
    } catch (err) {
      this.#forget(functions);
      throw PlugbayError.from(err, 'PLUGBAY_LOAD_FAILED', source);
    } finally {
      clearTimeout(timer);
      this.#loading.delete(plugin.id);
    }
  }

  #checkConfig(plugin: CheckedPlugin): unknown {
    const config = this.#s.config[plugin.manifest.name];
    const schema = plugin.manifest.config;
    if (schema === undefined) return config;
    const compiled = compileSchema(this.#ajv, schema);
    if ('error' in compiled) throw new PlugbayError('PLUGBAY_MANIFEST_INVALID', `config: ${compiled.error}`);
    const ok = compiled.validate(config ?? {});
    const violations = violationsOf(compiled.validate.errors);
    this.#ajv.removeSchema(schema as object);
    if (!ok) {
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

  #compile(plugin: CheckedPlugin): Map<string, FunctionEntry> {
    const out = new Map<string, FunctionEntry>();
    for (const [name, spec] of Object.entries(plugin.manifest.functions)) {
      const input = compileSchema(this.#ajv, spec.input);
      const output = compileSchema(this.#ajv, spec.output);
      // The manifest was validated, so both compile; this only narrows the type.
      if ('error' in input || 'error' in output)
        throw new PlugbayError('PLUGBAY_MANIFEST_INVALID', `functions.${name}: bad schema`);
      out.set(name, {
        name,
        validateInput: input.validate,
        validateOutput: output.validate,
        timeoutMs: spec.timeoutMs,
        idempotent: spec.idempotent ?? false,
      });
    }
    return out;
  }

  /** Drops compiled schemas from Ajv's cache, so that load/unload cycles do not grow memory. */
  #forget(functions: ReadonlyMap<string, FunctionEntry>): void {
    for (const f of functions.values()) {
      for (const v of [f.validateInput, f.validateOutput]) {
        if (typeof v.schema === 'object') this.#ajv.removeSchema(v.schema);
      }
    }
  }

  #record(diagnostics: Diagnostic[]): void {
    for (const d of diagnostics) this.#diagnostics.set(d.dir, []);
    for (const d of diagnostics) this.#diagnostics.get(d.dir)!.push(d);
  }

  // ---- calling ------------------------------------------------------------------------------------------------

  call<T = unknown>(name: string, fn: string, input: unknown, options?: CallOptions): Promise<T> {
    return this.#invoke(name, fn, input, options ?? noOptions, false) as Promise<T>;
  }

  callDetailed<T = unknown>(
    name: string,
    fn: string,
    input: unknown,
    options?: CallOptions,
  ): Promise<CallResult<T>> {
    return this.#invoke(name, fn, input, options ?? noOptions, true) as Promise<CallResult<T>>;
  }

  /** The call path: select → input check → lease → tier call under a deadline → release → output check. */
  async #invoke(
    name: string,
    fn: string,
    input: unknown,
    options: CallOptions,
    detailed: boolean,
  ): Promise<unknown> {
    if (this.#closing !== undefined)
      throw new PlugbayError('PLUGBAY_CLOSED', 'the host is closed and takes no calls');
    const [target, arm] = this.#select(name, options);
    const f = target.functions.get(fn);
    if (f === undefined) {
      throw new PlugbayError('PLUGBAY_UNKNOWN_FUNCTION', `${target.plugin.id} has no function ${fn}`, {
        plugin: target.name,
        version: target.version,
        details: { function: fn, functions: [...target.functions.keys()] },
      });
    }
    if (!f.validateInput(input)) throw invalid('PLUGBAY_INVALID_INPUT', 'input', target, fn, f.validateInput);
    const timeoutMs = options.timeoutMs ?? f.timeoutMs ?? this.#s.callTimeoutMs;
    const call = new Call(this.#deadlines, timeoutMs, options.traceparent, options.key, options.signal);
    target.inflight++;
    let output: unknown;
    try {
      output = await call.run(target.instance.call(fn, input, call));
    } catch (err) {
      throw attribute(err, target);
    } finally {
      call.settle();
      target.release();
    }
    if (!f.validateOutput(output))
      throw invalid('PLUGBAY_INVALID_OUTPUT', 'output', target, fn, f.validateOutput);
    return detailed ? { output, plugin: target.name, version: target.version, arm } : output;
  }

  /** Picks the version that answers: a pinned version or range, else the newest stable one. */
  #select(name: string, options: CallOptions): [LoadedVersion, string] {
    const entry = this.#plugins.get(name);
    if (entry === undefined || entry.versions.size === 0) {
      throw new PlugbayError('PLUGBAY_UNKNOWN_PLUGIN', `no plugin named ${name} is loaded`, { plugin: name });
    }
    const pinned = options.version;
    if (pinned !== undefined) {
      const exact = entry.versions.get(pinned);
      const range = exact === undefined ? semver.validRange(pinned) : null;
      const match =
        exact ??
        (range === null
          ? undefined
          : entry.newestFirst.find((v) => v.available && semver.satisfies(v.version, range)));
      if (match?.available) return [match, 'pinned'];
      throw new PlugbayError('PLUGBAY_NO_INSTANCE', `no ready version of ${name} matches ${pinned}`, {
        plugin: name,
        details: { version: pinned, loaded: [...entry.versions.keys()] },
      });
    }
    const list = entry.newestFirst;
    for (const v of list) if (v.available && v.stable) return [v, 'stable'];
    for (const v of list) if (v.available) return [v, 'stable'];
    throw new PlugbayError('PLUGBAY_NO_INSTANCE', `no version of ${name} is ready`, {
      plugin: name,
      details: {
        states: Object.fromEntries(list.map((v) => [v.version, v.draining ? 'draining' : v.instance.state])),
      },
    });
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
    await this.#release(v);
    entry.delete(v);
    if (entry.versions.size === 0) this.#plugins.delete(name);
  }

  /** Drain → graceful close → destroy if the close fails or overruns. */
  async #release(v: LoadedVersion): Promise<void> {
    const drained = await v.drain(this.#s.drainTimeoutMs);
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
    this.#forget(v.functions);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const all = [...this.#plugins.values()].flatMap((e) => [...e.versions.values()]);
      await Promise.allSettled(all.map((v) => this.#release(v)));
      this.#plugins.clear();
      await Promise.allSettled(Object.values(this.#s.tiers).map((t) => t.close?.()));
      this.#deadlines.clear();
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
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function status(v: LoadedVersion): VersionStatus {
  return {
    plugin: v.name,
    version: v.version,
    tier: v.instance.tier,
    state: v.draining && v.instance.state === 'ready' ? 'draining' : v.instance.state,
    dir: v.plugin.dir,
    functions: [...v.functions.keys()],
    inflight: v.inflight,
    warnings: [...v.plugin.warnings],
  };
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
  if (e.details !== undefined) d.details = e.details;
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
