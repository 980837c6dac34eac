// The call path: select → input check → lease → tier call under a deadline → release → output check, with the
// circuit, the one retry of an idempotent call whose instance crashed, metrics, channels and (when a
// TracerProvider is registered) spans. Performance-critical: see docs/ARCHITECTURE.md "Call path".
import { performance } from 'node:perf_hooks';
import {
  context as otelContext,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import secureJson from 'secure-json-parse';
import { Call, cancelled } from '../core/call.js';
import { Deadlines } from '../core/deadlines.js';
import { isThenable, messageOf, PlugbayError } from '../core/errors.js';
import { violationsOf } from '../core/schema.js';
import { channels } from '../observe/channels.js';
import { parentContext, registeredTracer, traceparentOf } from '../observe/tracing.js';
import { describeViolations, type FunctionEntry, type LoadedVersion } from './loaded.js';
import type { HostSettings } from './options.js';
import type { ActiveRoute, Rollout } from './rollout.js';
import { type NotSelected, selectionError, selectVersion } from './router/index.js';
import type { HostState } from './state.js';
import type { CallOptions, CallResult, PluginClient } from './types.js';
import type { PluginEntry } from './versions.js';

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

const noOptions: CallOptions = Object.freeze({});

/** The arguments of one call as the host passes them on (`detailed`: callDetailed). */
type CallArgs = [name: string, fn: string, input: unknown, options: CallOptions, detailed: boolean];

export class Invoker {
  readonly #s: HostState;
  readonly #rollout: Rollout;
  /** The version set's map, read directly on every call. */
  readonly #plugins: Map<string, PluginEntry>;
  readonly #callTimeoutMs: number;
  readonly #circuit: HostSettings['circuit'];
  readonly #deadlines = new Deadlines();
  /** Set when a TracerProvider was registered at creation; the call path checks only this field. */
  readonly #tracer: Tracer | undefined;
  readonly #clients = new Map<string, object>();

  constructor(state: HostState, rollout: Rollout) {
    this.#s = state;
    this.#rollout = rollout;
    this.#plugins = state.versions.plugins;
    this.#callTimeoutMs = state.settings.callTimeoutMs;
    this.#circuit = state.settings.circuit;
    this.#tracer = state.settings.tracing === 'auto' ? registeredTracer() : undefined;
  }

  call(
    name: string,
    fn: string,
    input: unknown,
    options: CallOptions | undefined,
    detailed: boolean,
  ): Promise<unknown> {
    if (this.#tracer !== undefined) return this.#traced(name, fn, input, options ?? noOptions, detailed);
    return this.#invoke(name, fn, input, options ?? noOptions, detailed);
  }

  /** One client per plugin name, one method per function name: both made once. */
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
              m = (input, options) => this.call(name, fn, input, options, false);
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

  /** Clears the deadline timers (the host is closing). */
  close(): void {
    this.#deadlines.clear();
  }

  /**
   * The call path with spans (only when a TracerProvider was registered): a `plugbay.route` span for the whole
   * call, child of the caller's traceparent, made active while the call runs; #invoke adds the instance span.
   */
  async #traced(...[name, fn, input, options, detailed]: CallArgs): Promise<unknown> {
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
    if (this.#s.closed) throw new PlugbayError('PLUGBAY_CLOSED', 'the host is closed and takes no calls');
    if (options.signal?.aborted) throw cancelled(options.signal);
    const active = this.#rollout.active(name);
    let [target, arm] = this.#select(name, active, options, undefined);
    let retried = false;
    for (;;) {
      active.decisions?.count(arm);
      if (channels.routeDecision.hasSubscribers)
        channels.routeDecision.publish({ plugin: name, version: target.version, arm, key: options.key });
      const f = functionOf(target, fn);
      const value = options.rawInput === true && f.codec === 'json' ? bodyValue(input, target, fn) : input;
      if (!f.validateInput(value)) {
        if (target.metrics !== undefined) target.metrics.validationFailures.input++;
        throw invalid('PLUGBAY_INVALID_INPUT', 'input', target, fn, f.validateInput);
      }
      const ownTimeoutMs = f.timeoutMs ?? this.#callTimeoutMs;
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
        options.newTrace === true,
      );
      if (channels.callStart.hasSubscribers)
        channels.callStart.publish(callMessage(target, fn, arm, call.traceparent));
      target.inflight++;
      let output: unknown;
      let failure: PlugbayError | undefined;
      try {
        const answer = target.instance.call(fn, value, call);
        if (answer instanceof Promise)
          output = await (target.instance.settlesOnAbort === true ? call.arm(answer) : call.run(answer));
        else if (isThenable(answer))
          output = await call.run(Promise.resolve(answer)); // a custom tier's promise
        else output = answer;
      } catch (err) {
        failure = this.#callFailed(target, f, fn, arm, started, span, err, call);
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
        const ended = performance.now();
        cells.observe((ended - started) / 1000, ended);
      }
      if (channels.callEnd.hasSubscribers)
        channels.callEnd.publish({
          ...callMessage(target, fn, arm, call.traceparent),
          durationMs: performance.now() - started,
        });
      span?.end();
      if (!f.validateOutput(output)) {
        if (target.metrics !== undefined) target.metrics.validationFailures.output++;
        // calls_total counted it ok (the tier answered); the ring counts it as the version's failure.
        f.cells?.series.fail('PLUGBAY_INVALID_OUTPUT');
        throw invalid('PLUGBAY_INVALID_OUTPUT', 'output', target, fn, f.validateOutput);
      }
      if (!detailed) return output;
      const result: CallResult = {
        output,
        plugin: target.name,
        version: target.version,
        arm,
        routeRevision: active.revision,
      };
      if (f.contentType !== undefined) result.contentType = f.contentType;
      return result;
    }
  }

  /** The bookkeeping of a failed tier call (metrics, channels, span, circuit); returns the attributed error. */
  #callFailed(
    target: LoadedVersion,
    f: FunctionEntry,
    fn: string,
    arm: string,
    started: number,
    span: Span | undefined,
    err: unknown,
    call: Call,
  ): PlugbayError {
    const e = attribute(err, target);
    const cells = f.cells;
    if (cells !== undefined) {
      const ended = performance.now();
      cells.observe((ended - started) / 1000, ended);
      cells.fail(e.code);
    }
    if (channels.callError.hasSubscribers) {
      const durationMs = performance.now() - started;
      channels.callError.publish({ ...callMessage(target, fn, arm, call.traceparent), durationMs, error: e });
    }
    if (span !== undefined) {
      failSpan(span, e);
      span.end();
    }
    const circuit = this.#circuit;
    if (
      countsForCircuit(e, call) &&
      target.failed(circuit.failureThreshold, circuit.coolDownMs, circuit.maxCoolDownMs, e)
    ) {
      this.#s.log.warn(
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
    if (!selection.ok)
      throw crashloopError(name, entry, selection) ?? selectionError(name, selection, options.version);
    return [entry.versions.get(selection.version)!, selection.arm];
  }
}

/**
 * No version can answer and the one the route chose first (the default: the newest release) is in a crash loop
 * (or in the half-open retry out of one):
 * the call gets PLUGBAY_PLUGIN_CRASHED, `details.state: "crashloop"` and, when the tier said, `retryInMs` until
 * the automatic retry (the gateway's Retry-After), rather than the generic PLUGBAY_NO_INSTANCE.
 */
function crashloopError(name: string, entry: PluginEntry, selection: NotSelected): PlugbayError | undefined {
  if (selection.reason !== 'no-instance') return undefined;
  const first = selection.skipped[0];
  const chosen =
    first?.version === undefined
      ? entry.newestFirst.find((v) => v.stable)
      : entry.versions.get(first.version);
  // The whole episode counts, its half-open retry too (degraded, and refused by the circuit the crashes opened).
  if (chosen === undefined || (chosen.instance.state !== 'crashloop' && !chosen.crashlooped))
    return undefined;
  const skipped = selection.skipped.map((s, i) => {
    // The default choice has no version in the router's answer: it was `chosen`.
    const version = s.version ?? (i === 0 ? chosen.version : undefined);
    const state = version === undefined ? undefined : entry.versions.get(version)?.instance.state;
    return state === undefined ? { ...s } : { ...s, version, state };
  });
  const loop = chosen.crashloop;
  const retryInMs = loop === undefined ? undefined : Math.max(0, loop.retryAt - Date.now());
  const others = skipped.length > 1 ? '; no other version of the route can answer' : '';
  return new PlugbayError(
    'PLUGBAY_PLUGIN_CRASHED',
    `${chosen.plugin.id} is in a crash loop and takes no calls${retryInMs === undefined ? '' : `: it retries by itself in ${retryInMs} ms`} (activate it to retry now)${others}`,
    {
      plugin: name,
      version: chosen.version,
      details: { state: 'crashloop', ...(retryInMs === undefined ? {} : { retryInMs }), skipped },
    },
  );
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

/** A JSON function's input from raw body bytes (CallOptions.rawInput); blank is `{}`, as `curl -X POST` sends. */
function bodyValue(body: unknown, v: LoadedVersion, fn: string): unknown {
  if (!(body instanceof Uint8Array)) {
    throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', 'rawInput: the input must be a Uint8Array', {
      details: { field: 'rawInput', rule: 'a Uint8Array input' },
    });
  }
  // The gateway passes a Buffer already: decode it without making another view of it.
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const text = bytes.toString('utf8');
  if (text.trim() === '') return {};
  try {
    // Refuses __proto__ and constructor.prototype keys, as fastify's JSON parser does.
    return secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (err) {
    throw new PlugbayError(
      'PLUGBAY_INVALID_INPUT',
      `input of ${v.name}.${fn} is not valid JSON: ${messageOf(err)}`,
      {
        plugin: v.name,
        version: v.version,
        details: { function: fn, rule: 'json' },
      },
    );
  }
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
  return new PlugbayError(
    code,
    `${side} of ${v.name}.${fn} is invalid: ${describeViolations(violations, side)}`,
    {
      plugin: v.name,
      version: v.version,
      details: { function: fn, violations },
    },
  );
}
