/**
 * An in-memory tier for tests of what sits above the tiers (routing, circuits, drain, hot swap): plugin functions
 * are plain handler functions run on the test's own thread, and each instance has controls that make the next call
 * fail, crash or hang, hold a call until the test releases it, and tell how many calls are in flight. No worker,
 * no process, no timers of its own except the restart delay: a test waits on promises and events, never on time.
 * The idea is connect-es's `createRouterTransport`.
 */
import type { Health, PluginLogger } from '@plugbay/sdk';
import { type ErrorCode, type ErrorSource, isThenable, PlugbayError, toWireError } from '../core/errors.js';
import { OptionChecker } from '../core/options.js';
import type { RestartOptions } from '../core/restart.js';
import type {
  CallContext,
  CheckedPlugin,
  Instance,
  LoadOptions,
  PluginLoggerSink,
  Tier,
  TierKind,
} from '../core/types.js';
import { InstanceBase } from '../tiers/base.js';
import { traceLogger } from '../tiers/logger.js';
import { Supervisor } from '../tiers/supervisor.js';

/** What a handler gets besides its input. */
export interface MemoryCallContext {
  readonly signal: AbortSignal;
  readonly deadline: number;
  readonly key: string | undefined;
  readonly traceparent: string | undefined;
  /** The trace id of `traceparent`, as a plugin's ctx.traceId. */
  readonly traceId: string | undefined;
  /** The plugin's log (the host's logger, bound to plugin, version and tier; lines carry the traceparent). */
  readonly log: PluginLogger;
  /** Crashes the instance now, as a dying worker would: this call and every other in flight fail. */
  crash(): void;
}

/** One plugin function: its answer, or a promise of it. A throw becomes the call's error as in the real tiers. */
export type MemoryHandler = (input: unknown, ctx: MemoryCallContext) => unknown;

export interface MemoryTierOptions {
  /**
   * The handlers, by plugin: `name@version` for one version, `name` for every version without its own entry.
   * A plugin the tier has no handlers for fails to load (PLUGBAY_LOAD_FAILED).
   */
  plugins: Record<string, Record<string, MemoryHandler>>;
  /**
   * The kind the tier stands in for; the host places plugins by kind. Default `thread`, where the host puts node
   * plugins by default.
   */
  kind?: TierKind;
  /** Backoff and crash loops after a crash (core/restart.ts). Default: restart after 1 ms, its other defaults. */
  restart?: RestartOptions;
}

/** What a held call offers the test (see MemoryInstance.holdNext). */
export interface HeldCall {
  /** Resolves with the call's function and input once the call arrived. */
  readonly arrived: Promise<{ fn: string; input: unknown }>;
  /** Runs the handler now (the call answers what it answers). */
  release(): void;
  /** Answers the call with `value` without running the handler. */
  resolve(value?: unknown): void;
  /** Fails the call with `error`. */
  reject(error: PlugbayError): void;
}

type Next =
  | { kind: 'fail'; error: PlugbayError }
  | { kind: 'crash' }
  | { kind: 'hang' }
  | { kind: 'hold'; arrived: (call: { fn: string; input: unknown }) => void; gate: Promise<Gate> };
type Gate = { run: true } | { value: unknown } | { error: PlugbayError };

/** A call the instance has not answered yet. */
interface Pending {
  settled: boolean;
  resolve(value: unknown): void;
  reject(error: PlugbayError): void;
}

/** One loaded version in memory; `tier.instance('name@version')` finds the one the host loaded. */
export class MemoryInstance extends InstanceBase implements Instance {
  /** Every answer rejects as soon as its ctx aborts. */
  readonly settlesOnAbort = true;
  readonly exportedFunctions: readonly string[];
  /** Every call that reached the instance, in order. */
  readonly calls: { fn: string; input: unknown }[] = [];
  readonly #handlers: Record<string, MemoryHandler>;
  readonly #log: PluginLoggerSink;
  readonly #source: ErrorSource;
  readonly #supervisor: Supervisor;
  readonly #inflight = new Set<Pending>();
  readonly #next: Next[] = [];
  /** Calls that arrived while the instance restarts: they run once it is ready. */
  #waiting: { pending: Pending; run(): void }[] = [];
  #watchers: { count: number; resolve(): void }[] = [];
  /** Resolved when no call is in flight any more (close() waits for it). */
  #drained: (() => void)[] = [];
  #health: Health = { status: 'ok' };
  constructor(
    plugin: CheckedPlugin,
    kind: TierKind,
    handlers: Record<string, MemoryHandler>,
    opts: LoadOptions,
    restart: RestartOptions,
  ) {
    super(plugin, kind);
    this.#handlers = handlers;
    this.exportedFunctions = Object.keys(handlers);
    this.#log = opts.log;
    this.#source = { plugin: plugin.manifest.name, version: plugin.manifest.version };
    this.#supervisor = new Supervisor(
      this,
      restart,
      {
        move: (next) => this.setState(next),
        restart: async () => this.#restarted(),
        crashloop: () => this.#failWaiting(),
      },
      opts.log,
    );
  }

  /** Calls in flight now (waiting for a restart included). */
  get inflight(): number {
    return this.#inflight.size;
  }

  /** Resolves once `count` calls are in flight (at once if they are). */
  whenInFlight(count: number): Promise<void> {
    if (this.#inflight.size >= count) return Promise.resolve();
    return new Promise((resolve) => this.#watchers.push({ count, resolve }));
  }

  /** The next call fails with `error` (a code makes a PlugbayError of it) without running its handler. */
  failNext(error: PlugbayError | ErrorCode = 'PLUGBAY_PLUGIN_ERROR'): void {
    const e = typeof error === 'string' ? new PlugbayError(error, 'failed by the test', this.#source) : error;
    this.#next.push({ kind: 'fail', error: e });
  }

  /** The next call crashes the instance (see crash()). */
  crashNext(): void {
    this.#next.push({ kind: 'crash' });
  }

  /** The next call never answers by itself: only its deadline, its caller's abort or a crash or destroy end it. */
  hangNext(): void {
    this.#next.push({ kind: 'hang' });
  }

  /** The next call waits, in flight, until the test releases, resolves or rejects it. */
  holdNext(): HeldCall {
    let arrived!: (call: { fn: string; input: unknown }) => void;
    let open!: (gate: Gate) => void;
    const gate = new Promise<Gate>((resolve) => {
      open = resolve;
    });
    const seen = new Promise<{ fn: string; input: unknown }>((resolve) => {
      arrived = resolve;
    });
    this.#next.push({ kind: 'hold', arrived, gate });
    return {
      arrived: seen,
      release: () => open({ run: true }),
      resolve: (value) => open({ value }),
      reject: (error) => open({ error }),
    };
  }

  /** What health() answers while the instance is ready. */
  setHealth(health: Health): void {
    this.#health = health;
  }

  /**
   * Crashes the instance as a dying worker would: 'exit' with PLUGBAY_PLUGIN_CRASHED, every call in flight fails
   * with it, and the instance restarts (degraded meanwhile; new calls wait) or enters a crash loop.
   */
  crash(): void {
    const state = this.state;
    if (state !== 'ready' && state !== 'degraded') return;
    const error = new PlugbayError('PLUGBAY_PLUGIN_CRASHED', `instance ${this.id} crashed (test)`, {
      ...this.#source,
      details: { reason: 'test' },
    });
    this.emit('exit', error);
    const waiting = new Set(this.#waiting.map((w) => w.pending)); // not running: they wait for the restart
    for (const pending of [...this.#inflight]) if (!waiting.has(pending)) pending.reject(error);
    this.#supervisor.crashed(); // a crash while restarting: the restart starts over
  }

  async start(_opts: { signal: AbortSignal; config: unknown }): Promise<void> {
    if (this.state !== 'loading') throw this.unavailable();
    this.setState('starting');
    this.#supervisor.started();
    this.setState('ready');
  }

  call(fn: string, input: unknown, ctx: CallContext): Promise<unknown> {
    const state = this.state;
    if ((state !== 'ready' && state !== 'degraded') || this.closing)
      return Promise.reject(this.unavailable());
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        settled: false,
        resolve: (value) => this.#settle(pending, () => resolve(value)),
        reject: (error) => this.#settle(pending, () => reject(error)),
      };
      this.#inflight.add(pending);
      for (const w of this.#watchers.filter((w) => this.#inflight.size >= w.count)) {
        this.#watchers.splice(this.#watchers.indexOf(w), 1);
        w.resolve();
      }
      ctx.onAbort((reason) => pending.reject(reason));
      const run = (): void => {
        if (!pending.settled) this.#run(fn, input, ctx, pending);
      };
      if (this.state === 'degraded') this.#waiting.push({ pending, run });
      else run();
    });
  }

  async health(_signal: AbortSignal): Promise<Health> {
    if (this.state === 'ready') return this.#health;
    if (this.state === 'degraded') return { status: 'degraded', message: 'restarting' };
    return { status: 'failing', message: `instance is ${this.state}` };
  }

  recover(): Promise<void> {
    return this.#supervisor.recover();
  }

  /** Waits for the calls in flight to finish (bounded by `timeoutMs`); destroy() fails what is left. */
  protected async onClose(timeoutMs: number): Promise<void> {
    this.#failWaiting(); // no restart comes for them any more
    if (this.#inflight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
      new Promise<void>((resolve) => this.#drained.push(resolve)),
    ]);
    clearTimeout(timer);
  }

  protected async onDestroy(reason: Error | undefined): Promise<void> {
    this.#supervisor.stop();
    const error = new PlugbayError('PLUGBAY_CLOSED', `instance ${this.id} was closed`, {
      ...this.#source,
      cause: reason,
    });
    this.#waiting = [];
    this.#failAll(error);
  }

  #run(fn: string, input: unknown, ctx: CallContext, pending: Pending): void {
    this.calls.push({ fn, input });
    const next = this.#next.shift();
    switch (next?.kind) {
      case 'fail':
        pending.reject(next.error);
        return;
      case 'crash':
        this.crash();
        return;
      case 'hang':
        return;
      case 'hold':
        next.arrived({ fn, input });
        void next.gate.then((gate) => {
          if ('error' in gate) pending.reject(gate.error);
          else if ('value' in gate) pending.resolve(gate.value);
          else this.#handle(fn, input, ctx, pending);
        });
        return;
      default:
        this.#handle(fn, input, ctx, pending);
    }
  }

  #handle(fn: string, input: unknown, ctx: CallContext, pending: Pending): void {
    const handler = this.#handlers[fn];
    if (handler === undefined) {
      pending.reject(
        new PlugbayError('PLUGBAY_UNKNOWN_FUNCTION', `${this.plugin.id} has no function ${fn}`, this.#source),
      );
      return;
    }
    const context: MemoryCallContext = {
      get signal() {
        return ctx.signal;
      },
      deadline: ctx.deadline,
      key: ctx.key,
      traceparent: ctx.traceparent,
      traceId: ctx.traceparent?.split('-')[1],
      log: traceLogger(this.#log, ctx.traceparent),
      crash: () => this.crash(),
    };
    try {
      const answer = handler(input, context);
      if (isThenable(answer)) {
        Promise.resolve(answer).then(pending.resolve, (error: unknown) => pending.reject(this.#error(error)));
      } else pending.resolve(answer);
    } catch (error) {
      pending.reject(this.#error(error));
    }
  }

  /** A handler's throw as the real tiers report it: its PlugbayError kept, anything else PLUGBAY_PLUGIN_ERROR. */
  #error(value: unknown): PlugbayError {
    if (value instanceof PlugbayError) {
      value.plugin ??= this.#source.plugin;
      value.version ??= this.#source.version;
      return value;
    }
    return PlugbayError.fromWire(toWireError(value), this.#source);
  }

  #settle(pending: Pending, answer: () => void): void {
    if (pending.settled) return;
    pending.settled = true;
    this.#inflight.delete(pending);
    answer();
    if (this.#inflight.size === 0) for (const resolve of this.#drained.splice(0)) resolve();
  }

  #failAll(error: PlugbayError): void {
    for (const pending of [...this.#inflight]) pending.reject(error);
  }

  /** Calls waiting for a restart fail: the instance entered a crash loop, or closes. */
  #failWaiting(): void {
    const error = this.unavailable();
    for (const { pending } of this.#waiting.splice(0)) pending.reject(error);
  }

  #restarted(): void {
    if (this.closing || this.state !== 'degraded') return;
    this.#supervisor.started();
    this.setState('ready');
    for (const { run } of this.#waiting.splice(0)) run();
  }
}

/** The in-memory tier (see the file comment); `instances` lists every instance it loaded, oldest first. */
export class MemoryTier implements Tier {
  readonly kind: TierKind;
  readonly instances: MemoryInstance[] = [];
  readonly #plugins: Record<string, Record<string, MemoryHandler>>;
  readonly #restart: RestartOptions;

  constructor(options: MemoryTierOptions) {
    const check = new OptionChecker('memory tier');
    if (typeof options?.plugins !== 'object' || options.plugins === null)
      check.fail('plugins', 'must be an object');
    check.oneOf('kind', options?.kind, ['inline', 'thread', 'process', 'wasm']);
    check.restart('restart', options?.restart);
    check.done();
    this.kind = options.kind ?? 'thread';
    this.#plugins = options.plugins;
    this.#restart = { initialDelayMs: 1, maxDelayMs: 1, ...options.restart };
  }

  async load(plugin: CheckedPlugin, opts: LoadOptions): Promise<MemoryInstance> {
    const { name } = plugin.manifest;
    const handlers = this.#plugins[plugin.id] ?? this.#plugins[name];
    if (handlers === undefined) {
      throw new PlugbayError('PLUGBAY_LOAD_FAILED', `the memory tier has no handlers for ${plugin.id}`, {
        plugin: name,
        version: plugin.manifest.version,
      });
    }
    opts.signal.throwIfAborted();
    const instance = new MemoryInstance(plugin, this.kind, handlers, opts, this.#restart);
    this.instances.push(instance);
    return instance;
  }

  /** The instance of `name@version` loaded last (PLUGBAY_NO_INSTANCE when there is none). */
  instance(id: string): MemoryInstance {
    const found = this.instances.findLast((i) => i.plugin.id === id);
    if (found === undefined) throw new PlugbayError('PLUGBAY_NO_INSTANCE', `no instance of ${id} was loaded`);
    return found;
  }

  async close(): Promise<void> {
    await Promise.all(this.instances.map((i) => i.destroy()));
  }
}

/**
 * An in-memory Tier for tests of a host integration: pass it as a host tier (`tiers: { thread: tier }`, or its
 * `kind`), with handlers per plugin, and drive the instances the host loads from the test:
 *
 * ```ts
 * const tier = createMemoryTier({ plugins: { 'svc@1.0.0': { who: () => '1.0.0' } } });
 * const host = createHost({ tiers: { thread: tier } });
 * await host.load(dir); // a folder with svc's plugin.json (its entry file is never run)
 * tier.instance('svc@1.0.0').crashNext();
 * ```
 */
export function createMemoryTier(options: MemoryTierOptions): MemoryTier {
  return new MemoryTier(options);
}
