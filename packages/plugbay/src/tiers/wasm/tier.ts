/**
 * The wasm tier: Extism-ABI plugins on raw WebAssembly (DESIGN.md "WASM tier").
 *
 * Two ways to run an instance:
 * - `worker` (default): the sandbox lives in a worker thread; a call that overruns its deadline gets the worker
 *   terminated (the only way to stop a wasm loop) and a fresh one spawned for the next call. Calls are queued on the
 *   host side and sent one at a time, so a timeout kills only the call that overran.
 * - `host-thread`: the sandbox lives in the host's thread. Cheapest (a call is a few µs) but nothing can stop a
 *   runaway loop: for trusted plugins only.
 */
import { EventEmitter } from 'node:events';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Health } from '@plugbay/sdk';
import type { ErrorCode, ErrorSource } from '../../core/errors.js';
import { PlugbayError } from '../../core/errors.js';
import type {
  CallContext,
  CheckedPlugin,
  Instance,
  InstanceEvents,
  InstanceResources,
  InstanceState,
  LoadOptions,
  PluginLogLine,
  SyncOutput,
  Tier,
  TierKind,
} from '../../core/types.js';
import { Engine } from './engine.js';
import { badOutput, loadFailure, WasmFault } from './errors.js';
import type { ExtismLogLevel } from './host-env.js';
import { kernelWasmBase64 } from './kernel-wasm.js';
import { capMemory, WASM_PAGE } from './module-binary.js';
import { checkModule, defaultWasmMemoryMb } from './module-check.js';
import type { WasiMount } from './wasi.js';
import type { CallMessage, EngineConfig, WorkerMessage } from './worker.js';

export interface WasmTierOptions {
  /** Where calls run; see the file comment. Default `worker`. */
  run?: 'worker' | 'host-thread';
  /** `json` (default): inputs are serialised to UTF-8 JSON and outputs parsed. `bytes`: Uint8Array (or string) in, Uint8Array out. */
  codec?: 'json' | 'bytes';
  /** What WASI clocks report: `real` (default) or a fixed time. */
  clock?: 'real' | { fixedMs: number };
  /** WASI random_get: `real` (default, crypto) or a seeded deterministic stream. */
  random?: 'real' | { seed: number };
  /** Lowest Extism log level passed on to the plugin log. Default `info`. */
  logLevel?: ExtismLogLevel;
  /** Memory cap of a plugin whose manifest sets no `permissions.memoryMb`. Default 256. */
  defaultMemoryMb?: number;
  /** Cap of the kernel memory (input, output, handles). Default: the plugin's memory cap. */
  kernelMemoryMb?: number;
  /** Size limit of a plugin's Extism vars. Default 1 MiB (as Extism). */
  maxVarBytes?: number;
  /** Extism config given to the plugin when start() gets none. Default `{}`. */
  config?: Record<string, string>;
}

type Settings = Required<Omit<WasmTierOptions, 'config'>> & { config: Record<string, string> };

const levels = ['trace', 'debug', 'info', 'warn', 'error'] as const;

function settingsOf(o: WasmTierOptions): Settings {
  const problems: string[] = [];
  const check = (ok: boolean, msg: string) => ok || problems.push(msg);
  check(
    o.run === undefined || o.run === 'worker' || o.run === 'host-thread',
    'options.run must be "worker" or "host-thread"',
  );
  check(
    o.codec === undefined || o.codec === 'json' || o.codec === 'bytes',
    'options.codec must be "json" or "bytes"',
  );
  check(
    o.clock === undefined ||
      o.clock === 'real' ||
      Number.isFinite((o.clock as { fixedMs?: unknown }).fixedMs),
    'options.clock must be "real" or { fixedMs: number }',
  );
  check(
    o.random === undefined || o.random === 'real' || Number.isInteger((o.random as { seed?: unknown }).seed),
    'options.random must be "real" or { seed: integer }',
  );
  check(
    o.logLevel === undefined || levels.includes(o.logLevel),
    `options.logLevel must be one of ${levels.join(', ')}`,
  );
  for (const k of ['defaultMemoryMb', 'kernelMemoryMb'] as const) {
    const v = o[k];
    check(
      v === undefined || (Number.isInteger(v) && v >= 1 && v <= 4096),
      `options.${k} must be an integer in 1..4096`,
    );
  }
  check(
    o.maxVarBytes === undefined || (Number.isInteger(o.maxVarBytes) && o.maxVarBytes >= 0),
    'options.maxVarBytes must be an integer >= 0',
  );
  if (problems.length > 0)
    throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', `createWasmTier: ${problems.join('; ')}`);
  return {
    run: o.run ?? 'worker',
    codec: o.codec ?? 'json',
    clock: o.clock ?? 'real',
    random: o.random ?? 'real',
    logLevel: o.logLevel ?? 'info',
    defaultMemoryMb: o.defaultMemoryMb ?? defaultWasmMemoryMb,
    kernelMemoryMb: o.kernelMemoryMb ?? 0,
    maxVarBytes: o.maxVarBytes ?? 1024 * 1024,
    config: o.config ?? {},
  };
}

export function createWasmTier(options: WasmTierOptions = {}): Tier {
  const settings = settingsOf(options);
  const kernels = new Map<number, Promise<WebAssembly.Module>>();
  const kernelFor = (pages: number) => {
    let k = kernels.get(pages);
    if (k === undefined) {
      k = WebAssembly.compile(capMemory(Buffer.from(kernelWasmBase64, 'base64'), pages).bytes);
      kernels.set(pages, k);
    }
    return k;
  };
  return {
    kind: 'wasm',
    async load(plugin: CheckedPlugin, opts: LoadOptions): Promise<Instance> {
      const source: ErrorSource = { plugin: plugin.manifest.name, version: plugin.manifest.version };
      try {
        opts.signal.throwIfAborted();
        const { module, audit, memoryMb } = await checkModule(plugin, settings.defaultMemoryMb);
        const kernelPages = Math.floor(((settings.kernelMemoryMb || memoryMb) * 1024 * 1024) / WASM_PAGE);
        const kernel = await kernelFor(kernelPages);
        opts.signal.throwIfAborted();
        const config: Omit<EngineConfig, 'config'> = {
          plugin: module,
          kernel,
          logLevel: settings.logLevel,
          net: plugin.permissions.net ?? [],
          maxVarBytes: settings.maxVarBytes,
          wasi: {
            args: [],
            env: declaredEnv(plugin.permissions.env ?? []),
            mounts: mountsOf(plugin, source),
            clock: settings.clock,
            random: settings.random,
          },
        };
        return new WasmInstance(plugin, opts, settings, config, audit.functions, source);
      } catch (err) {
        throw toPlugbayError(loadFailure(err, plugin.manifest.entry), source, 'PLUGBAY_LOAD_FAILED');
      }
    },
  };
}

function declaredEnv(names: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of names) {
    const v = process.env[name];
    if (v !== undefined) env[name] = v;
  }
  return env;
}

/** Mounts from `permissions.fs.mounts`; host paths are relative to the plugin directory unless absolute. */
function mountsOf(plugin: CheckedPlugin, source: ErrorSource): WasiMount[] {
  return (plugin.permissions.fs?.mounts ?? []).map((m, i) => {
    if (!m.guest.startsWith('/')) {
      throw new PlugbayError(
        'PLUGBAY_LOAD_FAILED',
        `permissions.fs.mounts.${i}.guest must be an absolute guest path`,
        {
          ...source,
          details: { field: `permissions.fs.mounts.${i}.guest`, rule: 'absolute' },
        },
      );
    }
    return { host: path.resolve(plugin.dir, m.host), guest: m.guest, readOnly: m.readOnly ?? false };
  });
}

interface Pending {
  msg: CallMessage;
  ctx: CallContext;
  resolve(value: unknown): void;
  reject(err: PlugbayError): void;
  settled: boolean;
  /** Sent to the worker (it may be running). */
  posted?: boolean;
  /** A running call its caller gave up on early: when its worker counts as stuck (see #abort). */
  stuck?: NodeJS.Timeout | undefined;
}

class WasmInstance extends EventEmitter<InstanceEvents> implements Instance {
  static #ids = 0;
  readonly id: string;
  readonly plugin: CheckedPlugin;
  readonly tier: TierKind = 'wasm';
  readonly exportedFunctions: readonly string[];
  readonly #opts: LoadOptions;
  readonly #s: Settings;
  readonly #base: Omit<EngineConfig, 'config'>;
  readonly #source: ErrorSource;
  #config: Record<string, string> = {};
  #state: InstanceState = 'loading';
  #engine: Engine | undefined;
  #worker: Worker | undefined;
  #workerReady: Promise<void> | undefined;
  #queue: Pending[] = [];
  #current: Pending | undefined;
  /** The call running in the host thread (its traceparent goes on log lines). */
  #hostCall: CallContext | undefined;
  #nextId = 1;
  #idle: (() => void) | undefined;
  /** Sandboxes built (first start, re-instantiations after traps, worker respawns). */
  #instantiations = 0;
  #spawns = 0;

  constructor(
    plugin: CheckedPlugin,
    opts: LoadOptions,
    s: Settings,
    base: Omit<EngineConfig, 'config'>,
    fns: string[],
    source: ErrorSource,
  ) {
    super();
    this.id = `${plugin.id}/wasm/${++WasmInstance.#ids}`;
    this.plugin = plugin;
    this.#opts = opts;
    this.#s = s;
    this.#base = base;
    this.#source = source;
    this.exportedFunctions = fns;
  }

  get state(): InstanceState {
    return this.#state;
  }

  /** Diagnostics for tests and the dashboard. */
  get stats(): {
    instantiations: number;
    workerSpawns: number;
    kernelMemoryBytes?: number;
    pluginMemoryBytes?: number;
  } {
    const e = this.#engine;
    return {
      instantiations: e ? e.instantiations : this.#instantiations,
      workerSpawns: this.#spawns,
      ...(e ? { kernelMemoryBytes: e.kernelMemoryBytes, pluginMemoryBytes: e.pluginMemoryBytes } : {}),
    };
  }

  /** Memory pages of the plugin's own memory, when it runs on the host thread (a worker's memory is not visible here). */
  resources(): InstanceResources {
    const e = this.#engine;
    return e === undefined ? {} : { wasmMemoryPages: e.pluginMemoryBytes / 65536 };
  }

  async start(opts: { signal: AbortSignal; config: unknown }): Promise<void> {
    this.#setState('starting');
    try {
      opts.signal.throwIfAborted();
      this.#config = { ...this.#s.config, ...extismConfig(opts.config) };
      if (this.#s.run === 'host-thread') {
        this.#engine = new Engine({ ...this.#base, config: this.#config, log: (l, m) => this.#log(l, m) });
      } else {
        await this.#spawn(opts.signal);
      }
      this.#setState('ready');
    } catch (err) {
      this.#setState('failed');
      await this.#release();
      const e = toPlugbayError(
        loadFailure(err, this.plugin.manifest.entry),
        this.#source,
        'PLUGBAY_START_FAILED',
      );
      throw e.code === 'PLUGBAY_START_FAILED' || e.code === 'PLUGBAY_CANCELLED'
        ? e
        : new PlugbayError('PLUGBAY_START_FAILED', `${this.plugin.id}: ${e.message}`, {
            ...this.#source,
            cause: e,
          });
    }
  }

  call(fn: string, input: unknown, ctx: CallContext): Promise<unknown> | SyncOutput {
    const state = this.#state;
    if (state !== 'ready' && state !== 'degraded') {
      return Promise.reject(new PlugbayError('PLUGBAY_CLOSED', `${this.id} is ${state}`, this.#source));
    }
    const engine = this.#engine;
    if (engine !== undefined) {
      // Host thread: synchronous; nothing can interrupt it, so a deadline only applies before it starts.
      this.#hostCall = ctx;
      try {
        if (this.#s.codec === 'json') {
          const out = engine.callString(fn, JSON.stringify(input) ?? '');
          return this.#decodeText(fn, out);
        }
        const msg = this.#encode(fn, input);
        const out =
          msg.bytes !== undefined ? engine.callBytes(fn, msg.bytes) : engine.callString(fn, msg.text ?? '');
        return typeof out === 'string' ? Buffer.from(out, 'utf8') : out;
      } catch (err) {
        return Promise.reject(toPlugbayError(err, this.#source));
      } finally {
        this.#hostCall = undefined;
      }
    }
    let msg: CallMessage;
    try {
      msg = this.#encode(fn, input);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      const p: Pending = { msg, ctx, resolve, reject, settled: false };
      ctx.onAbort((reason) => this.#abort(p, reason));
      this.#queue.push(p);
      this.#pump();
    });
  }

  async health(_signal: AbortSignal): Promise<Health> {
    if (this.#state === 'ready') return { status: 'ok' };
    if (this.#state === 'degraded') return { status: 'degraded', message: 'worker restarting' };
    return { status: 'failing', message: `instance is ${this.#state}` };
  }

  async close(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'failed') return this.#release();
    this.#setState('draining');
    if (this.#current !== undefined || this.#queue.length > 0) {
      const timeoutMs = opts.timeoutMs ?? 5000;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => {
          this.#idle = resolve;
        }),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      this.#idle = undefined;
    }
    await this.destroy();
  }

  async destroy(reason?: Error): Promise<void> {
    const err =
      reason instanceof PlugbayError
        ? reason
        : new PlugbayError('PLUGBAY_CLOSED', `${this.id} was destroyed`, { ...this.#source, cause: reason });
    for (const p of [...(this.#current ? [this.#current] : []), ...this.#queue])
      this.#settle(p, undefined, err);
    this.#queue = [];
    this.#current = undefined;
    if (this.#state !== 'closed' && this.#state !== 'failed') this.#setState('closed');
    await this.#release();
  }

  async #release(): Promise<void> {
    this.#engine?.close();
    this.#engine = undefined;
    const w = this.#worker;
    this.#worker = undefined;
    this.#workerReady = undefined;
    if (w !== undefined) await w.terminate();
  }

  #encode(fn: string, input: unknown): CallMessage {
    const id = this.#nextId++;
    if (this.#s.codec === 'bytes') {
      if (input instanceof Uint8Array) return { id, fn, bytes: input };
      // strings go in as UTF-8 bytes; the output stays bytes (a text round trip would mangle binary output)
      if (typeof input === 'string') return { id, fn, bytes: new Uint8Array(Buffer.from(input, 'utf8')) };
      throw new PlugbayError(
        'PLUGBAY_INVALID_INPUT',
        `${fn}: the bytes codec takes a Uint8Array or a string`,
        this.#source,
      );
    }
    const text = JSON.stringify(input);
    return { id, fn, text: text ?? '' };
  }

  #decodeText(fn: string, out: string): unknown {
    if (this.#s.codec === 'bytes') return Buffer.from(out, 'utf8');
    if (out === '') return undefined;
    try {
      return JSON.parse(out);
    } catch (err) {
      throw badOutput(fn, err);
    }
  }

  // ---- worker mode ----

  #spawn(signal?: AbortSignal): Promise<void> {
    this.#spawns++;
    const worker = new Worker(new URL('./worker.js', import.meta.url), {
      workerData: { ...this.#base, config: this.#config } satisfies EngineConfig,
      stdout: false,
      stderr: false,
    });
    this.#worker = worker;
    const ready = new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      worker.on('message', (m: WorkerMessage) => {
        if (m.t === 'ready') {
          this.#instantiations = m.instantiations;
          done();
          resolve();
        } else if (m.t === 'init-error') {
          done();
          reject(PlugbayError.fromWire(m.error, this.#source));
        } else if (m.t === 'log') {
          this.#log(m.level as ExtismLogLevel, m.msg);
        } else {
          this.#instantiations = m.instantiations;
          this.#onResult(m);
        }
      });
      worker.on('error', (err) => this.#onWorkerGone(worker, err));
      worker.on('exit', (code) => {
        done();
        reject(
          new PlugbayError(
            'PLUGBAY_START_FAILED',
            `worker exited with code ${code} while starting`,
            this.#source,
          ),
        );
        this.#onWorkerGone(worker, new Error(`worker exited with code ${code}`));
      });
    });
    this.#workerReady = ready;
    ready.catch(() => {});
    return ready;
  }

  #pump(): void {
    if (this.#current !== undefined) return;
    const next = this.#queue.shift();
    if (next === undefined) {
      this.#idle?.();
      return;
    }
    this.#current = next;
    const worker = this.#worker;
    const ready = this.#workerReady;
    if (worker === undefined || ready === undefined) {
      this.#settle(
        next,
        undefined,
        new PlugbayError('PLUGBAY_CLOSED', `${this.id} has no worker`, this.#source),
      );
      return;
    }
    ready.then(
      () => {
        if (this.#current !== next || next.settled) return;
        next.posted = true;
        worker.postMessage(next.msg);
      },
      (err: unknown) =>
        this.#settle(next, undefined, PlugbayError.from(err, 'PLUGBAY_PLUGIN_CRASHED', this.#source)),
    );
  }

  #onResult(m: Extract<WorkerMessage, { t: 'result' | 'error' }>): void {
    const p = this.#current;
    if (p === undefined || p.msg.id !== m.id) return;
    if (m.t === 'error') {
      this.#settle(p, undefined, PlugbayError.fromWire(m.error, this.#source));
      return;
    }
    if (m.bytes !== undefined) {
      this.#settle(p, m.bytes);
      return;
    }
    try {
      this.#settle(p, this.#decodeText(p.msg.fn, m.text ?? ''));
    } catch (err) {
      this.#settle(p, undefined, toPlugbayError(err, this.#source));
    }
  }

  /** Answers `p` (unless its caller heard already) and, when it was running, lets the next call run. */
  #settle(p: Pending, value: unknown, err?: PlugbayError): void {
    if (!p.settled) {
      p.settled = true;
      if (err !== undefined) p.reject(err);
      else p.resolve(value);
    }
    clearTimeout(p.stuck);
    if (this.#current === p) {
      this.#current = undefined;
      this.#pump();
    } else {
      const i = this.#queue.indexOf(p);
      if (i !== -1) this.#queue.splice(i, 1);
    }
  }

  /**
   * The host aborted a call (deadline or caller). Queued: dropped. Running: the caller hears at once, but the only
   * way to stop wasm is to end the worker (losing the sandbox's state), so that waits until the function's own
   * budget has passed: a caller's shorter deadline is no reason for it. Later calls wait in the queue meanwhile.
   */
  #abort(p: Pending, reason: PlugbayError): void {
    if (p.settled) return;
    if (this.#current !== p || p.posted !== true) {
      this.#settle(p, undefined, reason);
      return;
    }
    const left = (p.ctx.ownDeadline ?? p.ctx.deadline) - Date.now();
    if (left > 0 && Number.isFinite(left)) {
      p.settled = true;
      p.reject(reason);
      p.stuck = setTimeout(() => this.#endStuck(p, reason), left);
      return;
    }
    this.#endStuck(p, reason);
  }

  /** The running call `p` overran its own budget: end its worker and start another for the calls queued. */
  #endStuck(p: Pending, reason: PlugbayError): void {
    if (this.#current !== p) return;
    const w = this.#worker;
    this.#worker = undefined;
    this.#workerReady = undefined;
    if (w !== undefined) {
      w.removeAllListeners('exit');
      w.removeAllListeners('error');
      w.on('error', () => {});
      void w.terminate();
    }
    if (this.#state === 'ready' || this.#state === 'degraded') this.#respawn();
    this.#settle(p, undefined, reason);
  }

  #respawn(): void {
    this.#setState('degraded');
    this.#spawn().then(
      () => {
        if (this.#state === 'degraded') this.#setState('ready');
      },
      (err: unknown) => {
        if (this.#state === 'degraded') {
          this.#setState('failed');
          this.emit('exit', PlugbayError.from(err, 'PLUGBAY_PLUGIN_CRASHED', this.#source));
        }
      },
    );
  }

  /** The worker died on its own (out of memory, a bug in the host side): fail the call in flight, start again. */
  #onWorkerGone(worker: Worker, err: Error): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    this.#workerReady = undefined;
    const crash = new PlugbayError('PLUGBAY_PLUGIN_CRASHED', `wasm worker died: ${err.message}`, {
      ...this.#source,
      cause: err,
    });
    this.emit('exit', crash);
    if (this.#state === 'ready' || this.#state === 'degraded') this.#respawn();
    const p = this.#current;
    if (p !== undefined) this.#settle(p, undefined, crash);
  }

  #log(level: ExtismLogLevel | 'stdout' | 'stderr', msg: string): void {
    const line: PluginLogLine =
      level === 'stdout'
        ? { level: 'info', msg, fields: { stream: 'stdout' } }
        : level === 'stderr'
          ? { level: 'warn', msg, fields: { stream: 'stderr' } }
          : { level, msg };
    const tp = (this.#hostCall ?? this.#current?.ctx)?.traceparent;
    if (tp !== undefined) line.traceparent = tp;
    this.#opts.log.line(line);
  }

  #setState(next: InstanceState): void {
    const prev = this.#state;
    if (prev === next) return;
    this.#state = next;
    this.emit('state', next, prev);
  }
}

/** Extism config is string → string; other JSON values are passed as their JSON text. */
function extismConfig(config: unknown): Record<string, string> {
  if (config === undefined || config === null) return {};
  if (typeof config !== 'object' || Array.isArray(config)) {
    throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', 'config of a wasm plugin must be an object');
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return out;
}

/** The host side of the boundary: faults from the sandbox become PlugbayErrors attributed to the plugin. */
function toPlugbayError(
  err: unknown,
  source: ErrorSource,
  fallback: ErrorCode = 'PLUGBAY_PLUGIN_CRASHED',
): PlugbayError {
  if (err instanceof PlugbayError) return err;
  if (err instanceof WasmFault) {
    const e = PlugbayError.fromWire(err.toWire(), source);
    if (err.cause !== undefined)
      Object.defineProperty(e, 'cause', { value: err.cause, configurable: true, writable: true });
    return e;
  }
  return PlugbayError.from(err, fallback, source);
}
