/**
 * Runs a plugin definition. Every tier that executes JavaScript plugins (inline, thread, process) drives a
 * definition through this one class, so plugin code behaves the same wherever it runs.
 */
import type {
  CallContext,
  Health,
  LifecycleContext,
  PluginDefinition,
  PluginLogger,
  PluginSpan,
  SpanAttributes,
} from './define.js';
import { PlugbayError } from './errors.js';
import { runSpan, type SpanRecorder } from './spans.js';

// Re-exported here so that code running plugins (the thread tier's worker) gets the errors without loading the
// main entry, whose `Type` export pulls in all of TypeBox (about 10x the import time of this module).
export { PlugbayError, toWireError } from './errors.js';
export type { OtlpJsonSpan, SpanRecorder } from './spans.js';
export { batchedRecorder } from './spans.js';

/** What the tier knows about a call in progress. `signal` may be a lazy getter: most calls never read it. */
export interface CallScope {
  readonly signal: AbortSignal;
  readonly deadline: number;
  readonly traceparent: string | undefined;
  readonly key: string | undefined;
  /** Where ctx.span() records spans; absent when the host does not trace (then ctx.span only runs the work). */
  readonly recordSpan?: SpanRecorder | undefined;
}

export interface RuntimeOptions {
  /** Makes the logger plugin code sees; `traceparent` is set for lines logged during a call. */
  logger(traceparent?: string): PluginLogger;
}

export class PluginRuntime {
  readonly definition: PluginDefinition;
  readonly #options: RuntimeOptions;
  readonly #log: PluginLogger;
  #config: unknown;

  constructor(definition: PluginDefinition, options: RuntimeOptions) {
    this.definition = definition;
    this.#options = options;
    this.#log = options.logger();
  }

  get functionNames(): string[] {
    return Object.keys(this.definition.functions);
  }

  async start(config: unknown, signal: AbortSignal): Promise<void> {
    this.#config = config;
    await this.definition.start?.(this.#lifecycle(signal));
  }

  async stop(signal: AbortSignal): Promise<void> {
    await this.definition.stop?.(this.#lifecycle(signal));
  }

  async health(signal: AbortSignal): Promise<Health> {
    const health = this.definition.health;
    return health ? await health(this.#lifecycle(signal)) : { status: 'ok' };
  }

  /** Runs a handler. Returns what the handler returns (a value or a promise); throws what it throws. */
  invoke(fn: string, input: unknown, scope: CallScope): unknown {
    const def = Object.hasOwn(this.definition.functions, fn) ? this.definition.functions[fn] : undefined;
    if (def === undefined) {
      throw new PlugbayError(
        'PLUGBAY_UNKNOWN_FUNCTION',
        `plugin ${this.definition.name} has no function ${fn}`,
        {
          details: { function: fn },
        },
      );
    }
    return def.handler(
      input as never,
      new Context(scope, this.#config, this.#options) as unknown as CallContext<never>,
    );
  }

  #lifecycle(signal: AbortSignal): LifecycleContext<never> {
    return { signal, log: this.#log, config: this.#config as never };
  }
}

/** The per-call ctx handed to handlers; log and trace id are made on first use to keep the call path cheap. */
class Context implements CallContext {
  readonly #scope: CallScope;
  readonly #options: RuntimeOptions;
  readonly config: unknown;
  #log: PluginLogger | undefined;

  constructor(scope: CallScope, config: unknown, options: RuntimeOptions) {
    this.#scope = scope;
    this.config = config;
    this.#options = options;
  }

  get signal(): AbortSignal {
    return this.#scope.signal;
  }
  get deadline(): number {
    return this.#scope.deadline;
  }
  get key(): string | undefined {
    return this.#scope.key;
  }
  get traceparent(): string | undefined {
    return this.#scope.traceparent;
  }
  get traceId(): string | undefined {
    return traceIdOf(this.#scope.traceparent);
  }
  get log(): PluginLogger {
    this.#log ??= this.#options.logger(this.#scope.traceparent);
    return this.#log;
  }
  span<T>(name: string, work: (span: PluginSpan) => T, attributes?: SpanAttributes): T {
    return runSpan(this.#scope.recordSpan, this.#scope.traceparent, name, work, attributes);
  }
}

const traceparentPattern = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

/** The trace id of a W3C traceparent header, or undefined when it is absent or malformed. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  if (traceparent === undefined) return undefined;
  const m = traceparentPattern.exec(traceparent);
  return m === null || m[1] === '00000000000000000000000000000000' ? undefined : m[1];
}

/** The span id of a W3C traceparent header, or undefined. */
export function spanIdOf(traceparent: string | undefined): string | undefined {
  if (traceparent === undefined) return undefined;
  return traceparentPattern.exec(traceparent)?.[2];
}

/**
 * Imports a plugin's entry module. A throw at import becomes PLUGBAY_LOAD_FAILED that says where: the first frame
 * of the plugin's own code, mapped back to its TypeScript source when the bundle carries a source map (plugbay
 * build writes one inline), and the original message. `details.stack` keeps the whole (mapped) stack.
 */
export async function importPlugin(entryUrl: string): Promise<unknown> {
  // Stacks are mapped only when enabled before the module is loaded; it is per process (and per worker thread).
  process.setSourceMapsEnabled(true);
  try {
    return await import(entryUrl);
  } catch (err) {
    if (err instanceof PlugbayError) throw err;
    const error = err instanceof Error ? err : new Error(String(err));
    const at = pluginFrame(error.stack ?? '', entryUrl);
    const where = at === undefined ? 'importing the plugin' : `at ${at}, importing the plugin`;
    throw new PlugbayError('PLUGBAY_LOAD_FAILED', `${where} threw ${error.name}: ${error.message}`, {
      cause: err,
      details: { ...(at === undefined ? {} : { at }), stack: error.stack ?? String(err) },
    });
  }
}

/**
 * The first stack frame in the plugin's folder (`src/index.ts:12:7`, relative to it), or in the entry itself;
 * frames of bundled dependencies (`node_modules/`) are skipped.
 */
function pluginFrame(stack: string, entryUrl: string): string | undefined {
  const entry = entryUrl.startsWith('file:') ? new URL(entryUrl).pathname : entryUrl;
  const folder = entry.replace(/\/dist\/[^/]*$/, '/').replace(/\/[^/]*$/, '/');
  for (const line of stack.split('\n').slice(1)) {
    const frame = /\(?((?:file:\/\/)?\/[^()\s]+:\d+:\d+)\)?\s*$/.exec(line)?.[1];
    if (frame === undefined) continue;
    const path = frame.replace(/^file:\/\//, '');
    if (path.includes('/node_modules/') || !path.startsWith(folder)) continue;
    return path.slice(folder.length);
  }
  return undefined;
}

/**
 * Finds the plugin definition in an imported module: its default export, or the module itself when it was
 * bundled to CommonJS. Throws PLUGBAY_LOAD_FAILED naming what is wrong.
 */
export function resolveDefinition(moduleNamespace: unknown): PluginDefinition {
  const ns = moduleNamespace as { default?: unknown };
  const candidate = ns !== null && typeof ns === 'object' && 'default' in ns ? ns.default : ns;
  const def = (candidate as { default?: unknown } | undefined)?.default ?? candidate;
  const problems: string[] = [];
  if (def === null || typeof def !== 'object') {
    problems.push('the module has no default export made with definePlugin()');
  } else {
    const d = def as Partial<PluginDefinition>;
    if (typeof d.name !== 'string') problems.push('name must be a string');
    if (typeof d.version !== 'string') problems.push('version must be a string');
    if (d.functions === null || typeof d.functions !== 'object') problems.push('functions must be an object');
    else {
      for (const [fn, f] of Object.entries(d.functions)) {
        if (typeof f?.handler !== 'function') problems.push(`functions.${fn}.handler must be a function`);
      }
    }
    for (const hook of ['start', 'stop', 'health'] as const) {
      if (d[hook] !== undefined && typeof d[hook] !== 'function') problems.push(`${hook} must be a function`);
    }
  }
  if (problems.length > 0) {
    throw new PlugbayError('PLUGBAY_LOAD_FAILED', `not a plugin definition: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  return def as PluginDefinition;
}
