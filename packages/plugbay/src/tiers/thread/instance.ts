import { pathToFileURL } from 'node:url';
import type { WorkerOptions } from 'node:worker_threads';
import type { Health } from '@plugbay/sdk';
import { type ErrorSource, messageOf, PlugbayError } from '../../core/errors.js';
import type { CallContext, CheckedPlugin, Instance, PluginLoggerSink } from '../../core/types.js';
import { dropWarning, type RelayOutcome, type SpanRelay, spanRelayFor } from '../../observe/span-relay.js';
import { InstanceBase } from '../base.js';
import { declaredEnv } from '../env.js';
import { timeoutSignal } from '../signals.js';
import { Supervisor } from '../supervisor.js';
import { type UnstartedCall, WorkerChannel } from './channel.js';
import { crashError, type WorkerEnd } from './errors.js';
import { ToWorker, type WorkerInit } from './protocol.js';
import type { ThreadTierConfig } from './tier.js';

const sdkRuntimeUrl = import.meta.resolve('@plugbay/sdk/runtime');

/** A call that arrived while the worker restarts; it waits for the new worker, bounded by its own deadline. */
class Waiting {
  done = false;
  constructor(
    readonly fn: string,
    readonly input: unknown,
    readonly ctx: CallContext,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: unknown) => void,
  ) {}
}

/**
 * A plugin in its own worker thread. The worker is restarted (with backoff, see core/restart.ts) when it dies or
 * gets stuck; the plugin's start() runs again with the same config; calls made meanwhile wait for it.
 */
export class ThreadInstance extends InstanceBase implements Instance {
  /** Every answer rejects when its ctx aborts: the channel and the restart queue listen with ctx.onAbort. */
  readonly settlesOnAbort = true;
  #exported: readonly string[] = [];
  readonly #config: ThreadTierConfig;
  readonly #log: PluginLoggerSink;
  readonly #source: ErrorSource;
  readonly #init: WorkerInit;
  /** With host tracing on: the rules the plugin's ctx.span() spans pass (observe/span-relay.ts). */
  readonly #spans: { relay: SpanRelay; warn: (out: RelayOutcome) => void } | undefined;
  readonly #workerOptions: WorkerOptions;
  readonly #supervisor: Supervisor;
  /** The current worker (also while it loads after a restart). */
  #channel: WorkerChannel | undefined;
  /** The worker that takes calls: set once it is loaded and started. */
  #live: WorkerChannel | undefined;
  #waiting: Waiting[] = [];
  #started = false;
  #pluginConfig: unknown;
  #lastCrash: PlugbayError | undefined;

  constructor(plugin: CheckedPlugin, log: PluginLoggerSink, config: ThreadTierConfig) {
    super(plugin, 'thread');
    this.#config = config;
    this.#log = log;
    this.#source = { plugin: plugin.manifest.name, version: plugin.manifest.version };
    const memoryMb = plugin.permissions.memoryMb;
    this.#init = {
      entryUrl: pathToFileURL(plugin.entryPath).href,
      sdkRuntimeUrl,
      ...(this.#source as Required<ErrorSource>),
      ...(memoryMb === undefined ? {} : { memoryMb }),
    };
    const relay = spanRelayFor({ name: this.#init.plugin, version: this.#init.version });
    this.#spans = relay === undefined ? undefined : { relay, warn: dropWarning(log) };
    if (relay !== undefined) this.#init.traceSpans = true;
    this.#workerOptions = {
      // V8's heap cap; ArrayBuffers/Buffers, which it does not count, are watched by the worker (memory-watch.ts).
      ...(memoryMb === undefined ? {} : { resourceLimits: { maxOldGenerationSizeMb: memoryMb } }),
      env: config.env === 'inherit' ? process.env : declaredEnv(plugin.permissions.env ?? []),
      stdout: config.console === 'log',
      stderr: config.console === 'log',
    };
    this.#supervisor = new Supervisor(
      this,
      config.restart,
      {
        move: (state) => this.setState(state),
        restart: () => this.#restart(),
        crashloop: (decision) =>
          this.#failWaiting(
            new PlugbayError('PLUGBAY_PLUGIN_CRASHED', `instance ${this.id} is in a crash loop`, {
              ...this.#source,
              details: { state: 'crashloop', crashes: decision.crashes },
              cause: this.#lastCrash,
            }),
          ),
      },
      log,
    );
  }

  /** The functions the loaded code defines (known once load() resolved). */
  get exportedFunctions(): readonly string[] {
    return this.#exported;
  }

  /** What can be measured from the host side: the current worker's event loop utilisation. */
  resources(): { eventLoopUtilization?: number } {
    const channel = this.#live;
    return channel === undefined ? {} : { eventLoopUtilization: channel.eventLoopUtilization() };
  }

  /** Spawns the first worker and waits until it imported the plugin. */
  async init(signal: AbortSignal): Promise<void> {
    const channel = this.#spawn();
    const onAbort = (): void => void this.destroy(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      if (signal.aborted) throw signal.reason;
      this.#exported = await channel.loaded;
    } catch (error) {
      await this.destroy();
      throw error instanceof PlugbayError && error.code === 'PLUGBAY_LOAD_FAILED'
        ? error
        : new PlugbayError('PLUGBAY_LOAD_FAILED', `loading failed: ${messageOf(error)}`, {
            ...this.#source,
            cause: error,
          });
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async start(opts: { signal: AbortSignal; config: unknown }): Promise<void> {
    const channel = this.#channel;
    if (channel === undefined || !this.moveIfAllowed('starting')) {
      if (this.#lastCrash === undefined) throw this.unavailable();
      throw new PlugbayError(
        'PLUGBAY_START_FAILED',
        `worker died before start(): ${this.#lastCrash.message}`,
        {
          ...this.#source,
          cause: this.#lastCrash,
        },
      );
    }
    try {
      await channel.loaded;
      await this.#request(channel, ToWorker.Start, opts.signal, opts.config);
    } catch (error) {
      this.moveIfAllowed('failed');
      throw new PlugbayError('PLUGBAY_START_FAILED', `start() failed: ${messageOf(error)}`, {
        ...this.#source,
        cause: error,
      });
    }
    this.#started = true;
    this.#pluginConfig = opts.config;
    this.#supervisor.started();
    if (this.moveIfAllowed('ready')) this.#live = channel;
  }

  call(fn: string, input: unknown, ctx: CallContext): Promise<unknown> {
    this.#spans?.relay.allow(ctx.traceparent);
    const live = this.#live;
    if (live !== undefined) return live.call(fn, input, ctx, this.#config.unresponsiveMs);
    if (this.state === 'degraded' && !this.closing) return this.#wait(fn, input, ctx);
    return Promise.reject(this.unavailable());
  }

  /** Before traffic moves onto this instance (rollout): see WorkerChannel.warm. */
  async warm(opts: { inflight: number }): Promise<number> {
    const live = this.#live;
    return live === undefined ? 0 : live.warm(opts.inflight);
  }

  async health(signal: AbortSignal): Promise<Health> {
    const live = this.#live;
    if (live === undefined) {
      return this.state === 'degraded'
        ? { status: 'degraded', message: 'worker is restarting' }
        : { status: 'failing', message: `instance is ${this.state}` };
    }
    try {
      return (await this.#request(live, ToWorker.Health, signal)) as Health;
    } catch (error) {
      return { status: 'failing', message: `health() failed: ${messageOf(error)}` };
    }
  }

  protected async onClose(timeoutMs: number): Promise<void> {
    const live = this.#live;
    this.#live = undefined;
    this.#failWaiting(closedError(this.id, this.#source));
    if (live === undefined || !this.#started) return;
    const deadline = timeoutSignal(
      timeoutMs,
      () => new PlugbayError('PLUGBAY_TIMEOUT', `stop() did not finish within ${timeoutMs} ms`, this.#source),
    );
    try {
      await this.#request(live, ToWorker.Stop, deadline.signal);
    } catch (error) {
      this.#log.warn(`stop() failed: ${messageOf(error)}`, { code: (error as PlugbayError).code });
    } finally {
      deadline.cleanup();
    }
  }

  protected async onDestroy(reason: Error | undefined): Promise<void> {
    this.#live = undefined;
    this.#supervisor.stop();
    const error = closedError(this.id, this.#source, reason);
    this.#failWaiting(error);
    const channel = this.#channel;
    this.#channel = undefined;
    await channel?.close(error);
  }

  #spawn(): WorkerChannel {
    const channel = new WorkerChannel(this.#init, this.#workerOptions, {
      log: (line) => this.#log.line(line),
      end: (ch, end, unstarted) => this.#onWorkerEnd(ch, end, unstarted),
      spans: (spans) => {
        const s = this.#spans;
        if (s !== undefined) s.warn(s.relay.relaySpans(spans));
      },
    });
    this.#channel = channel;
    return channel;
  }

  /** A start/stop/health request; an abort of `signal` cancels it in the worker and checks the worker's liveness. */
  async #request(
    channel: WorkerChannel,
    tag: typeof ToWorker.Start | typeof ToWorker.Stop | typeof ToWorker.Health,
    signal: AbortSignal,
    config?: unknown,
  ): Promise<unknown> {
    const { id, answer } = channel.request(tag, config);
    const onAbort = (): void =>
      channel.abort(id, PlugbayError.from(signal.reason, 'PLUGBAY_CANCELLED'), this.#config.unresponsiveMs);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await answer;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** The worker died or was killed as stuck: fail its calls (done by the channel), report, and restart it. */
  #onWorkerEnd(channel: WorkerChannel, end: WorkerEnd, unstarted: UnstartedCall[]): void {
    // Calls the plugin never saw wait for the next worker like calls made during the restart (or fail with them).
    for (const c of unstarted) this.#enqueue(c.fn, c.input, c.ctx, c.resolve, c.reject);
    if (unstarted.length > 0) {
      this.#log.info(`${unstarted.length} calls the worker had not started wait for its restart`, {
        calls: unstarted.length,
      });
    }
    if (channel !== this.#channel) return;
    this.#channel = undefined;
    this.#live = undefined;
    if (this.closing) return;
    const error = crashError(end, this.#source);
    this.#log.error(`worker crashed: ${error.message}`, {
      code: error.code,
      ...error.details,
      stack: error.stack,
    });
    this.emit('exit', error);
    this.#lastCrash = error;
    if (!this.#started || (this.state !== 'ready' && this.state !== 'degraded')) {
      // Died before its start() succeeded: a broken plugin, not a crash to restart from. start() reports it.
      this.moveIfAllowed('failed');
      this.#failWaiting(error);
      return;
    }
    this.#supervisor.crashed();
  }

  recover(): Promise<void> {
    return this.#supervisor.recover();
  }

  /** Brings up a new worker: import, then the plugin's start() with the config of the first start. */
  async #restart(): Promise<void> {
    if (this.closing || this.state !== 'degraded') return;
    const channel = this.#spawn();
    try {
      await channel.loaded;
    } catch {
      return; // the worker died or could not import the plugin: the channel reports that end as a crash
    }
    const { startTimeoutMs } = this.#config;
    const deadline = timeoutSignal(startTimeoutMs, () => startTimeout(startTimeoutMs, this.#source));
    try {
      await this.#request(channel, ToWorker.Start, deadline.signal, this.#pluginConfig);
    } catch (error) {
      // A worker whose start() fails is as useless as a dead one: count it as another crash.
      channel.kill({ error, failedIn: 'start' });
      return;
    } finally {
      deadline.cleanup();
    }
    if (channel !== this.#channel || this.closing) return;
    this.#supervisor.started();
    this.#log.info('worker restarted', {});
    this.#live = channel;
    this.setState('ready');
    this.#flushWaiting(channel);
  }

  #wait(fn: string, input: unknown, ctx: CallContext): Promise<unknown> {
    return new Promise((resolve, reject) => this.#enqueue(fn, input, ctx, resolve, reject));
  }

  #enqueue(
    fn: string,
    input: unknown,
    ctx: CallContext,
    resolve: (value: unknown) => void,
    reject: (error: unknown) => void,
  ): void {
    const waiting = new Waiting(fn, input, ctx, resolve, reject);
    this.#waiting.push(waiting);
    ctx.onAbort((reason) => {
      if (waiting.done) return;
      waiting.done = true;
      this.#waiting = this.#waiting.filter((w) => w !== waiting);
      reject(reason);
    });
  }

  #flushWaiting(channel: WorkerChannel): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) {
      if (w.done) continue;
      w.done = true;
      channel.call(w.fn, w.input, w.ctx, this.#config.unresponsiveMs).then(w.resolve, w.reject);
    }
  }

  #failWaiting(error: PlugbayError): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) {
      if (w.done) continue;
      w.done = true;
      w.reject(error);
    }
  }
}

function startTimeout(ms: number, source: ErrorSource): PlugbayError {
  return new PlugbayError(
    'PLUGBAY_TIMEOUT',
    `start() did not finish within ${ms} ms after a restart`,
    source,
  );
}

function closedError(id: string, source: ErrorSource, cause?: Error): PlugbayError {
  return new PlugbayError('PLUGBAY_CLOSED', `instance ${id} was closed`, { ...source, cause });
}
