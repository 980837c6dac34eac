import { pathToFileURL } from 'node:url';
import type { Health } from '@plugbay/sdk';
import { type CallScope, PluginRuntime, resolveDefinition } from '@plugbay/sdk/runtime';
import { type ErrorSource, PlugbayError } from '../../core/errors.js';
import type { CallContext, CheckedPlugin, Instance, PluginLoggerSink } from '../../core/types.js';
import { InstanceBase } from '../base.js';
import { traceLogger } from '../logger.js';
import { untilAborted } from '../signals.js';
import { type FaultSink, retainFaultHandlers, scope } from './attribution.js';
import { type FaultOrigin, faultError, pluginError } from './errors.js';
import { type Leak, trackLeaks } from './leaks.js';

// ES modules cannot be unloaded: a second import of the same file returns the first module (and a cache-busted
// one would leak it). We reuse it and warn, so the user knows edits are not picked up here.
const importedEntries = new Set<string>();

function invoke(runtime: PluginRuntime, fn: string, input: unknown, ctx: CallScope): unknown {
  return runtime.invoke(fn, input, ctx);
}

/**
 * A plugin running on the host thread: calls cost an AsyncLocalStorage scope on top of the handler itself.
 * It cannot be stopped by force; destroy() stops taking calls and drops every reference to the plugin.
 */
export class InlineInstance extends InstanceBase implements Instance {
  exportedFunctions: readonly string[] = [];
  readonly #source: ErrorSource;
  readonly #log: PluginLoggerSink;
  readonly #sink: FaultSink;
  readonly #releaseHandlers: () => void;
  readonly #onRejected: (error: unknown) => never;
  #runtime: PluginRuntime | undefined;
  #accepting = false;
  readonly #leakReport: () => Promise<Leak[]>;
  #leaks: Leak[] | undefined;

  constructor(plugin: CheckedPlugin, log: PluginLoggerSink, attributeErrors: boolean) {
    super(plugin, 'inline');
    this.#source = { plugin: plugin.manifest.name, version: plugin.manifest.version };
    this.#log = log;
    this.#sink = { fault: (value, origin) => this.#fault(value, origin) };
    this.#releaseHandlers = attributeErrors ? retainFaultHandlers() : () => {};
    this.#onRejected = (error) => {
      throw pluginError(error, this.#source);
    };
    this.#leakReport = trackLeaks(this.#sink);
  }

  /**
   * Timers, intervals, sockets and servers the plugin created and left alive, known once the instance is closed
   * (undefined before). The inline tier cannot reclaim them: they keep running on the host thread.
   */
  get leaks(): readonly Leak[] | undefined {
    return this.#leaks;
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
        scope.run(this.#sink, () => import(url) as Promise<unknown>),
        signal,
      );
      const definition = resolveDefinition(ns);
      this.#runtime = new PluginRuntime(definition, {
        logger: (traceparent) => traceLogger(this.#log, traceparent),
      });
      this.exportedFunctions = this.#runtime.functionNames;
    } catch (error) {
      await this.destroy();
      throw loadError(error, this.#source);
    }
  }

  async start(opts: { signal: AbortSignal; config: unknown }): Promise<void> {
    const runtime = this.#runtime;
    if (runtime === undefined || !this.setState('starting')) throw this.unavailable();
    try {
      await untilAborted(
        scope.run(this.#sink, () => runtime.start(opts.config, opts.signal)),
        opts.signal,
      );
    } catch (error) {
      this.setState('failed');
      throw new PlugbayError('PLUGBAY_START_FAILED', `start() failed: ${messageOf(error)}`, {
        ...this.#source,
        cause: error,
      });
    }
    // A fault during start() (its own timer threw) already failed the instance: it stays failed.
    if (this.setState('ready')) this.#accepting = true;
  }

  call(fn: string, input: unknown, ctx: CallContext): Promise<unknown> {
    const runtime = this.#runtime;
    if (runtime === undefined || !this.#accepting) return Promise.reject(this.unavailable());
    let result: unknown;
    try {
      result = scope.run(this.#sink, invoke, runtime, fn, input, ctx);
    } catch (error) {
      return Promise.reject(pluginError(error, this.#source));
    }
    if (result instanceof Promise) return result.then(undefined, this.#onRejected);
    if (isThenable(result)) return Promise.resolve(result).then(undefined, this.#onRejected);
    return Promise.resolve(result);
  }

  async health(signal: AbortSignal): Promise<Health> {
    const runtime = this.#runtime;
    if (runtime === undefined || this.state === 'failed' || this.state === 'closed') {
      return { status: 'failing', message: `instance is ${this.state}` };
    }
    try {
      return await untilAborted(
        scope.run(this.#sink, () => runtime.health(signal)),
        signal,
      );
    } catch (error) {
      return { status: 'failing', message: `health() failed: ${messageOf(error)}` };
    }
  }

  protected async onClose(timeoutMs: number): Promise<void> {
    this.#accepting = false;
    const runtime = this.#runtime;
    if (runtime === undefined) return;
    const controller = new AbortController();
    const timer = setTimeout(
      () =>
        controller.abort(new PlugbayError('PLUGBAY_TIMEOUT', `stop() did not finish within ${timeoutMs} ms`)),
      timeoutMs,
    );
    try {
      await untilAborted(
        scope.run(this.#sink, () => runtime.stop(controller.signal)),
        controller.signal,
      );
    } catch (error) {
      this.#log.warn(`stop() failed: ${messageOf(error)}`, { code: pluginError(error, this.#source).code });
    } finally {
      clearTimeout(timer);
    }
  }

  protected async onDestroy(): Promise<void> {
    // Plugin code on this thread cannot be interrupted: stop serving and let the garbage collector have it.
    this.#accepting = false;
    this.#runtime = undefined;
    this.#releaseHandlers();
    this.#leaks = await this.#leakReport();
    if (this.#leaks.length > 0) {
      this.#log.warn(
        `inline instance closed with ${this.#leaks.length} resource(s) still alive: ${this.#leaks.map((l) => l.kind).join(', ')}`,
        { leaks: this.#leaks },
      );
    }
  }

  #fault(value: unknown, origin: FaultOrigin): void {
    const error = faultError(value, origin, this.#source);
    this.#accepting = false;
    this.#log.error(`plugin error outside any call (${origin}); instance failed: ${error.message}`, {
      code: error.code,
      origin,
      stack: error.stack,
    });
    this.setState('failed');
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

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function'
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
