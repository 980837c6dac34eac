/**
 * One wasm plugin instance, in one of the run modes of tier.ts: `metered` and `host-thread` (the Engine runs calls
 * synchronously here) or `worker` (the Engine lives in a worker thread; calls are queued here and sent one at a
 * time; a worker that dies or is ended for overrunning a call is restarted by the Supervisor with backoff).
 */
import { Worker } from 'node:worker_threads';
import type { Health } from '@plugbay/sdk';
import { type ErrorCode, type ErrorSource, PlugbayError } from '../../core/errors.js';
import type {
  CallContext,
  CheckedPlugin,
  Instance,
  InstanceResources,
  LoadOptions,
  PluginLogLine,
  SyncOutput,
} from '../../core/types.js';
import { InstanceBase } from '../base.js';
import { Supervisor } from '../supervisor.js';
import { Engine } from './engine.js';
import { badOutput, loadFailure, WasmFault } from './errors.js';
import type { ExtismLogLevel } from './host-env.js';
import type { Settings } from './tier.js';
import type { CallMessage, EngineConfig, WorkerMessage } from './worker.js';

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

export class WasmInstance extends InstanceBase implements Instance {
  readonly exportedFunctions: readonly string[];
  readonly #opts: LoadOptions;
  readonly #s: Settings;
  readonly #base: Omit<EngineConfig, 'config'>;
  readonly #source: ErrorSource;
  readonly #supervisor: Supervisor;
  #config: Record<string, string> = {};
  #engine: Engine | undefined;
  /** The current worker (also while it starts after a crash). */
  #worker: Worker | undefined;
  /** The worker that takes calls: set once its sandbox is up. */
  #live: Worker | undefined;
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
    super(plugin, 'wasm');
    this.#opts = opts;
    this.#s = s;
    this.#base = base;
    this.#source = source;
    this.exportedFunctions = fns;
    this.#supervisor = new Supervisor(
      this,
      s.restart,
      {
        move: (state) => this.setState(state),
        restart: () => this.#restart(),
        crashloop: () => this.#failQueue(this.unavailable()),
      },
      opts.log,
    );
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
    if (!this.moveIfAllowed('starting')) throw this.unavailable();
    try {
      opts.signal.throwIfAborted();
      this.#config = { ...this.#s.config, ...extismConfig(opts.config) };
      if (this.#s.run !== 'worker') {
        this.#engine = new Engine({ ...this.#base, config: this.#config, log: (l, m) => this.#log(l, m) });
      } else {
        const worker = this.#spawn();
        await this.#ready(worker, opts.signal);
        this.#live = worker;
        this.#supervisor.started();
      }
      // destroyed meanwhile: start() fails
      if (!this.moveIfAllowed('ready')) throw this.unavailable();
    } catch (err) {
      this.moveIfAllowed('failed');
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
    const state = this.state;
    if (state !== 'ready' && state !== 'degraded') return Promise.reject(this.unavailable());
    const engine = this.#engine;
    if (engine !== undefined) {
      // Host thread: synchronous. Metered, the module's refill traps at the deadline (PLUGBAY_TIMEOUT); in
      // host-thread mode nothing can interrupt it, so a deadline only applies before it starts.
      this.#hostCall = ctx;
      engine.deadline = ctx.deadline;
      engine.ownDeadline = ctx.ownDeadline ?? ctx.deadline;
      try {
        if (this.#codecOf(fn) === 'json') {
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
    if (this.state === 'ready') return { status: 'ok' };
    if (this.state === 'degraded') return { status: 'degraded', message: 'worker restarting' };
    return { status: 'failing', message: `instance is ${this.state}` };
  }

  recover(): Promise<void> {
    return this.#supervisor.recover();
  }

  /** Lets the queued calls finish (bounded by timeoutMs); the plugin has no stop() of its own. */
  protected async onClose(timeoutMs: number): Promise<void> {
    this.#supervisor.stop();
    this.#pump(); // with no worker to drain them (a restart was due), queued calls fail now
    if (this.#current === undefined && this.#queue.length === 0) return;
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

  protected async onDestroy(reason: Error | undefined): Promise<void> {
    this.#supervisor.stop();
    const err =
      reason instanceof PlugbayError
        ? reason
        : new PlugbayError('PLUGBAY_CLOSED', `${this.id} was destroyed`, { ...this.#source, cause: reason });
    const current = this.#current;
    this.#current = undefined;
    if (current !== undefined) this.#settle(current, undefined, err);
    this.#failQueue(err);
    await this.#release();
  }

  async #release(): Promise<void> {
    this.#engine?.close();
    this.#engine = undefined;
    const w = this.#worker;
    this.#worker = undefined;
    this.#live = undefined;
    if (w !== undefined) await w.terminate();
  }

  /** A function's codec: `bytes` when its manifest says so, else the tier's (`json` unless set otherwise). */
  #codecOf(fn: string): 'json' | 'bytes' {
    return this.plugin.manifest.functions[fn]?.codec === 'bytes' ? 'bytes' : this.#s.codec;
  }

  #encode(fn: string, input: unknown): CallMessage {
    const id = this.#nextId++;
    if (this.#codecOf(fn) === 'bytes') {
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
    if (this.#codecOf(fn) === 'bytes') return Buffer.from(out, 'utf8');
    if (out === '') return undefined;
    try {
      return JSON.parse(out);
    } catch (err) {
      throw badOutput(fn, err);
    }
  }

  // ---- worker mode ----

  /** A new worker building the sandbox; it becomes #worker at once (its death is watched from now on). */
  #spawn(): Worker {
    this.#spawns++;
    const worker = new Worker(new URL('./worker.js', import.meta.url), {
      workerData: { ...this.#base, config: this.#config } satisfies EngineConfig,
      stdout: false,
      stderr: false,
    });
    this.#worker = worker;
    worker.on('message', (m: WorkerMessage) => {
      if (m.t === 'log') this.#log(m.level as ExtismLogLevel, m.msg);
      else if (m.t === 'result' || m.t === 'error') {
        this.#instantiations = m.instantiations;
        this.#onResult(m);
      }
    });
    worker.on('error', (err) => this.#onWorkerGone(worker, err));
    worker.on('exit', (code) => this.#onWorkerGone(worker, new Error(`worker exited with code ${code}`)));
    return worker;
  }

  /** Resolves once `worker`'s sandbox is up; rejects when it could not be built or the worker ended first. */
  #ready(worker: Worker, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => done(() => reject(signal?.reason));
      const onMessage = (m: WorkerMessage): void => {
        if (m.t === 'ready') {
          this.#instantiations = m.instantiations;
          done(resolve);
        } else if (m.t === 'init-error') {
          done(() => reject(PlugbayError.fromWire(m.error, this.#source)));
        }
      };
      const onExit = (code: number): void =>
        done(() =>
          reject(
            new PlugbayError(
              'PLUGBAY_START_FAILED',
              `worker exited with code ${code} while starting`,
              this.#source,
            ),
          ),
        );
      const done = (settle: () => void): void => {
        signal?.removeEventListener('abort', onAbort);
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        settle();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      worker.on('message', onMessage);
      worker.on('exit', onExit);
    });
  }

  /** Supervisor's restart: a new worker; once its sandbox is up it takes the calls that waited. */
  async #restart(): Promise<void> {
    if (this.closing || this.state !== 'degraded') return;
    const worker = this.#spawn();
    try {
      await this.#ready(worker);
    } catch (err) {
      // Its exit was reported already; a sandbox that cannot be built again is another crash.
      if (this.#worker !== worker) return;
      this.#endWorker(worker);
      this.#crashed(PlugbayError.from(err, 'PLUGBAY_PLUGIN_CRASHED', this.#source));
      return;
    }
    if (this.#worker !== worker || this.closing || this.state !== 'degraded') return;
    this.#live = worker;
    this.#supervisor.started();
    this.#opts.log.info('worker restarted', {});
    this.setState('ready');
    this.#pump();
  }

  /** Runs the next queued call on the live worker; without one, queued calls wait for the restart or fail. */
  #pump(): void {
    if (this.#current !== undefined) return;
    const live = this.#live;
    if (live === undefined && this.#queue.length > 0) {
      if (this.state === 'degraded' && !this.closing) return; // the restart pumps once its worker serves
      this.#failQueue(this.unavailable());
    }
    const next = this.#queue.shift();
    if (next === undefined || live === undefined) {
      this.#idle?.();
      return;
    }
    this.#current = next;
    next.posted = true;
    live.postMessage(next.msg);
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

  #failQueue(err: PlugbayError): void {
    for (const p of this.#queue.splice(0)) this.#settle(p, undefined, err);
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

  /** The running call `p` overran its own budget: end its worker (a crash) and restart for the calls queued. */
  #endStuck(p: Pending, reason: PlugbayError): void {
    if (this.#current !== p) return;
    const w = this.#worker;
    if (w !== undefined) this.#endWorker(w);
    this.#crashed(
      new PlugbayError('PLUGBAY_PLUGIN_CRASHED', `wasm worker ended: ${p.msg.fn} overran its budget`, {
        ...this.#source,
        details: { reason: 'unresponsive', fn: p.msg.fn },
        cause: reason,
      }),
    );
    this.#settle(p, undefined, reason);
  }

  /** Terminates `worker` as ours to end: its exit is no crash to report. */
  #endWorker(worker: Worker): void {
    if (this.#worker === worker) {
      this.#worker = undefined;
      this.#live = undefined;
    }
    worker.removeAllListeners('exit');
    worker.removeAllListeners('error');
    worker.on('error', () => {});
    void worker.terminate();
  }

  /** The worker died on its own (out of memory, a bug in the host side): fail the call in flight, restart. */
  #onWorkerGone(worker: Worker, err: Error): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    this.#live = undefined;
    const crash = new PlugbayError('PLUGBAY_PLUGIN_CRASHED', `wasm worker died: ${err.message}`, {
      ...this.#source,
      cause: err,
    });
    const p = this.#current;
    this.#crashed(crash);
    if (p !== undefined) this.#settle(p, undefined, crash);
  }

  /** Reports a crash; a serving instance restarts under its supervisor (while starting, start() fails instead). */
  #crashed(crash: PlugbayError): void {
    this.emit('exit', crash);
    if (this.closing || (this.state !== 'ready' && this.state !== 'degraded')) return;
    this.#supervisor.crashed();
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
export function toPlugbayError(
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
