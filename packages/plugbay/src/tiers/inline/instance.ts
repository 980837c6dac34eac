import { pathToFileURL } from 'node:url';
import type { Health } from '@plugbay/sdk';
import {
  batchedRecorder,
  type CallScope,
  PluginRuntime,
  resolveDefinition,
  type SpanRecorder,
} from '@plugbay/sdk/runtime';
import { type ErrorSource, isThenable, messageOf, PlugbayError } from '../../core/errors.js';
import type { CallContext, CheckedPlugin, Instance, PluginLoggerSink, SyncOutput } from '../../core/types.js';
import { dropWarning, type SpanRelay, spanRelayFor } from '../../observe/span-relay.js';
import { InstanceBase } from '../base.js';
import { traceLogger } from '../logger.js';
import { untilAborted } from '../signals.js';
import { type FaultSink, registerFaultSink, scope } from './attribution.js';
import { type FaultOrigin, faultError, pluginError } from './errors.js';
import { type Leak, trackLeaks } from './leaks.js';
import type { Attribution } from './tier.js';

// ES modules cannot be unloaded: a second import of the same file returns the first module (and a cache-busted
// one would leak it). We reuse it and warn, so the user knows edits are not picked up here.
const importedEntries = new Set<string>();

function invoke(runtime: PluginRuntime, fn: string, input: unknown, ctx: CallScope): unknown {
  return runtime.invoke(fn, input, ctx);
}

/** The call's scope with ctx.span()'s recorder, made only while the host exports traces. */
class TracedScope implements CallScope {
  readonly #ctx: CallContext;
  readonly recordSpan: SpanRecorder;
  constructor(ctx: CallContext, record: SpanRecorder) {
    this.#ctx = ctx;
    this.recordSpan = record;
  }
  get signal(): AbortSignal {
    return this.#ctx.signal;
  }
  get deadline(): number {
    return this.#ctx.deadline;
  }
  get traceparent(): string | undefined {
    return this.#ctx.traceparent;
  }
  get key(): string | undefined {
    return this.#ctx.key;
  }
}

/**
 * A plugin running on the host thread: a call costs the handler plus, in `async-context` attribution, one
 * AsyncLocalStorage scope.
 * It cannot be stopped by force; destroy() stops taking calls and drops every reference to the plugin.
 */
export class InlineInstance extends InstanceBase implements Instance {
  #exported: readonly string[] = [];
  readonly #source: ErrorSource;
  readonly #log: PluginLoggerSink;
  /** The async-context scope value of this instance; undefined unless attribution is `async-context`. */
  readonly #sink: FaultSink | undefined;
  readonly #releaseHandlers: () => void;
  /** Each answer still to come, by its reject: destroy() fails them. */
  readonly #pending = new Set<(error: unknown) => void>();
  /** Set while close() waits for the answers still to come. */
  #idle: (() => void) | undefined;
  #runtime: PluginRuntime | undefined;
  #accepting = false;
  readonly #leakReport: () => Promise<Leak[]>;
  /** With host tracing on: ctx.span()'s recorder and the relay its spans pass (observe/span-relay.ts). */
  readonly #spans: { relay: SpanRelay; record: SpanRecorder } | undefined;
  #leaks: Leak[] | undefined;
  /** #track rejects each answer when its call aborts: the host adds no race of its own (one promise less). */
  readonly settlesOnAbort = true;

  constructor(plugin: CheckedPlugin, log: PluginLoggerSink, attribution: Attribution) {
    super(plugin, 'inline');
    this.#source = { plugin: plugin.manifest.name, version: plugin.manifest.version };
    this.#log = log;
    const sink: FaultSink = { fault: (value, origin) => this.#fault(value, origin) };
    this.#sink = attribution === 'async-context' ? sink : undefined;
    this.#releaseHandlers = attribution === 'off' ? () => {} : registerFaultSink(sink, plugin.dir);
    // Leaks are found through the async context, so only the async-context attribution can report them.
    this.#leakReport = this.#sink === undefined ? async () => [] : trackLeaks(this.#sink);
    const relay = spanRelayFor({ name: plugin.manifest.name, version: plugin.manifest.version });
    if (relay !== undefined) {
      const warn = dropWarning(log);
      const record = batchedRecorder((spans) => warn(relay.relaySpans(spans)));
      this.#spans = { relay, record };
    }
  }

  /**
   * Timers, intervals, sockets and servers the plugin created and left alive, known once the instance is closed
   * (undefined before). The inline tier cannot reclaim them: they keep running on the host thread.
   */
  get leaks(): readonly Leak[] | undefined {
    return this.#leaks;
  }

  /** The functions the loaded code defines (known once load() resolved). */
  get exportedFunctions(): readonly string[] {
    return this.#exported;
  }

  /** Imports the plugin (inside the attribution scope: its top-level timers are blamed on it too). */
  async init(signal: AbortSignal): Promise<void> {
    const url = pathToFileURL(this.plugin.entryPath).href;
    if (importedEntries.has(url)) {
      this.#log.warn(
        'inline tier: this entry was imported before; ES modules cannot be unloaded, so the old module ' +
          'is reused (module state shared, file changes not picked up). Use the thread tier to reload plugins.',
        {
          entry: this.plugin.entryPath,
        },
      );
    }
    importedEntries.add(url);
    try {
      const ns = await untilAborted(
        this.#inScope(() => import(url) as Promise<unknown>),
        signal,
      );
      const definition = resolveDefinition(ns);
      this.#runtime = new PluginRuntime(definition, {
        logger: (traceparent) => traceLogger(this.#log, traceparent),
      });
      this.#exported = this.#runtime.functionNames;
    } catch (error) {
      await this.destroy();
      throw loadError(error, this.#source);
    }
  }

  async start(opts: { signal: AbortSignal; config: unknown }): Promise<void> {
    const runtime = this.#runtime;
    if (runtime === undefined || !this.moveIfAllowed('starting')) throw this.unavailable();
    try {
      await untilAborted(
        this.#inScope(() => runtime.start(opts.config, opts.signal)),
        opts.signal,
      );
    } catch (error) {
      this.moveIfAllowed('failed');
      throw new PlugbayError('PLUGBAY_START_FAILED', `start() failed: ${messageOf(error)}`, {
        ...this.#source,
        cause: error,
      });
    }
    // A fault while start() ran (its own timer threw) already failed the instance: start() fails too.
    if (!this.moveIfAllowed('ready')) {
      throw new PlugbayError('PLUGBAY_START_FAILED', `instance became ${this.state} while starting`, {
        ...this.#source,
        details: { state: this.state },
      });
    }
    this.#accepting = true;
  }

  call(fn: string, input: unknown, ctx: CallContext): Promise<unknown> | SyncOutput {
    const runtime = this.#runtime;
    if (runtime === undefined || !this.#accepting) return Promise.reject(this.unavailable());
    let result: unknown;
    try {
      const sink = this.#sink;
      const spans = this.#spans;
      let scoped: CallScope = ctx;
      if (spans !== undefined) {
        spans.relay.allow(ctx.traceparent);
        scoped = new TracedScope(ctx, spans.record);
      }
      result =
        sink === undefined
          ? runtime.invoke(fn, input, scoped)
          : scope.run(sink, invoke, runtime, fn, input, scoped);
    } catch (error) {
      return Promise.reject(pluginError(error, this.#source));
    }
    if (result instanceof Promise) return this.#track(result, ctx);
    if (isThenable(result)) return this.#track(Promise.resolve(result), ctx);
    return result;
  }

  /**
   * An answer still to come: it rejects when the call aborts (deadline or caller), close() waits for it,
   * destroy() fails it. The plugin's code runs on regardless.
   */
  #track(result: Promise<unknown>, ctx: CallContext): Promise<unknown> {
    const pending = this.#pending;
    return new Promise((resolve, reject) => {
      pending.add(reject);
      ctx.onAbort(reject);
      result.then(
        (value) => {
          this.#settled(reject);
          resolve(value);
        },
        (error: unknown) => {
          this.#settled(reject);
          reject(pluginError(error, this.#source));
        },
      );
    });
  }

  #settled(reject: (error: unknown) => void): void {
    const pending = this.#pending;
    pending.delete(reject);
    if (pending.size === 0) this.#idle?.();
  }

  async health(signal: AbortSignal): Promise<Health> {
    const runtime = this.#runtime;
    if (runtime === undefined || this.state === 'failed' || this.state === 'closed') {
      return { status: 'failing', message: `instance is ${this.state}` };
    }
    try {
      return await untilAborted(
        this.#inScope(() => runtime.health(signal)),
        signal,
      );
    } catch (error) {
      return { status: 'failing', message: `health() failed: ${messageOf(error)}` };
    }
  }

  /**
   * Lets the calls in flight finish first, for up to half the budget (the rest is stop()'s): one still running
   * then fails with PLUGBAY_CLOSED when destroy() follows.
   */
  protected async onClose(timeoutMs: number): Promise<void> {
    this.#accepting = false;
    const runtime = this.#runtime;
    if (runtime === undefined) return;
    const began = Date.now();
    await this.#drained(timeoutMs / 2);
    const stopMs = Math.max(1, timeoutMs - (Date.now() - began));
    const controller = new AbortController();
    const timer = setTimeout(
      () =>
        controller.abort(new PlugbayError('PLUGBAY_TIMEOUT', `stop() did not finish within ${stopMs} ms`)),
      stopMs,
    );
    try {
      await untilAborted(
        this.#inScope(() => runtime.stop(controller.signal)),
        controller.signal,
      );
    } catch (error) {
      this.#log.warn(`stop() failed: ${messageOf(error)}`, { code: pluginError(error, this.#source).code });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves once no answer is still to come, or after `ms`. */
  #drained(ms: number): Promise<void> {
    if (this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#idle = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#idle = done;
    });
  }

  protected async onDestroy(reason: Error | undefined): Promise<void> {
    // Plugin code on this thread cannot be interrupted: stop serving, fail what its callers still wait for, and
    // let the garbage collector have it.
    this.#accepting = false;
    this.#runtime = undefined;
    const error = new PlugbayError('PLUGBAY_CLOSED', `instance ${this.id} was closed`, {
      ...this.#source,
      cause: reason,
    });
    const pending = [...this.#pending];
    this.#pending.clear();
    for (const reject of pending) reject(error);
    this.#idle?.();
    this.#releaseHandlers();
    this.#leaks = await this.#leakReport();
    if (this.#leaks.length > 0) {
      this.#log.warn(
        `inline instance closed with ${this.#leaks.length} resource(s) still alive: ${this.#leaks.map((l) => l.kind).join(', ')}`,
        { leaks: this.#leaks },
      );
    }
  }

  /** Runs plugin code inside this instance's attribution scope (when attribution is on). */
  #inScope<T>(work: () => T): T {
    return this.#sink === undefined ? work() : scope.run(this.#sink, work);
  }

  #fault(value: unknown, origin: FaultOrigin): void {
    const error = faultError(value, origin, this.#source);
    this.#accepting = false;
    this.#log.error(`plugin error outside any call (${origin}); instance failed: ${error.message}`, {
      code: error.code,
      origin,
      stack: error.stack,
    });
    this.moveIfAllowed('failed'); // a fault after close (a leaked timer) leaves it closed
    this.emit('fault', error);
  }
}

function loadError(error: unknown, source: ErrorSource): PlugbayError {
  if (error instanceof PlugbayError && error.code === 'PLUGBAY_LOAD_FAILED') {
    error.plugin ??= source.plugin;
    error.version ??= source.version;
    return error;
  }
  return new PlugbayError('PLUGBAY_LOAD_FAILED', `import failed: ${messageOf(error)}`, {
    ...source,
    cause: error,
  });
}
