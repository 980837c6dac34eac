/**
 * The worker side of the thread tier: imports the plugin, runs it through PluginRuntime and answers the host's
 * requests (thread/protocol.ts). A throw in the plugin's own timer is deliberately not caught: the worker dies,
 * which is the boundary, and the host restarts it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { PluginLogger } from '@plugbay/sdk';
import type * as SdkRuntime from '@plugbay/sdk/runtime';
import type { CallScope } from '@plugbay/sdk/runtime';
import type * as CoreErrors from '../../core/errors.js';
import type { WireError } from '../../core/errors.js';
import type { PluginLogLine } from '../../core/types.js';
import {
  callStride,
  type HostMessage,
  maxBatch,
  ToHost,
  ToWorker,
  type WorkerInit,
  type WorkerRequest,
} from './protocol.js';

const init = workerData as WorkerInit;
// By the URL the host resolved once: resolving the package specifier again in each fresh worker took ~1 ms
// (2 %) of a thread plugin's load → first call (paired rounds, one process).
const sdkRuntime = (await import(init.sdkRuntimeUrl)) as typeof SdkRuntime;
const { PluginRuntime, resolveDefinition } = sdkRuntime;
// The SDK's runtime entry exports its errors (no TypeBox: a faster worker start). An SDK built before it did
// lacks them; then the main entry serves (it loads TypeBox too).
type Errors = Pick<typeof CoreErrors, 'PlugbayError' | 'toWireError'>;
const { PlugbayError, toWireError }: Errors =
  'PlugbayError' in sdkRuntime ? (sdkRuntime as unknown as Errors) : await import('../../core/errors.js');

const port = parentPort!;

// Loaded only for a plugin with a cap: node:v8 and node:vm add about 1 ms to every other worker's start.
const memory =
  init.memoryMb === undefined
    ? undefined
    : new (await import('./memory-watch.js')).MemoryWatch(init.memoryMb * 2 ** 20, (bytes) =>
        post([ToHost.OverMemory, bytes]),
      );

/** ctx.span()'s recorder, only when the host exports traces (one Spans message per turn); otherwise none. */
const recordSpan: SdkRuntime.SpanRecorder | undefined =
  // An SDK built before ctx.span() has no recorder to make (and its ctx has no span() to call).
  init.traceSpans === true && typeof sdkRuntime.batchedRecorder === 'function'
    ? sdkRuntime.batchedRecorder((spans) => post([ToHost.Spans, spans]))
    : undefined;

/** Outputs not posted yet: one Results message for every output ready at the same moment (protocol.ts). */
let results: unknown[] | undefined;

function flushResults(): void {
  const batch = results;
  results = undefined;
  if (batch === undefined) return;
  try {
    port.postMessage(batch);
  } catch {
    // structured clone refused one output (a function, a class with private state …): it alone fails
    for (let i = 1; i < batch.length; i += 2) postResult(batch[i] as number, batch[i + 1]);
  }
  memory?.check();
}

function postResult(id: number, value: unknown): void {
  try {
    port.postMessage([ToHost.Result, id, value]);
  } catch (error) {
    const message = `output cannot cross the worker boundary: ${error instanceof Error ? error.message : String(error)}`;
    port.postMessage([ToHost.Failure, id, wire(new PlugbayError('PLUGBAY_INVALID_OUTPUT', message))]);
  }
}

/** Posts any other message, after the outputs waiting before it. */
function post(message: HostMessage): void {
  if (results !== undefined) flushResults();
  port.postMessage(message);
}

function wire(error: unknown): WireError {
  const w = toWireError(error);
  w.plugin ??= init.plugin;
  w.version ??= init.version;
  return w;
}

function log(
  level: PluginLogLine['level'],
  msg: string,
  fields: Record<string, unknown> | undefined,
  tp?: string,
): void {
  try {
    post([ToHost.Log, level, String(msg), fields, tp]);
  } catch {
    // fields that structured clone refuses (functions, symbols …): keep what JSON keeps
    post([ToHost.Log, level, String(msg), jsonSafe(fields), tp]);
  }
}

function logger(traceparent?: string): PluginLogger {
  return {
    trace: (msg, fields) => log('trace', msg, fields, traceparent),
    debug: (msg, fields) => log('debug', msg, fields, traceparent),
    info: (msg, fields) => log('info', msg, fields, traceparent),
    warn: (msg, fields) => log('warn', msg, fields, traceparent),
    error: (msg, fields) => log('error', msg, fields, traceparent),
  };
}

/** One request in progress; its AbortSignal is made only if plugin code reads it. */
class Scope implements CallScope {
  readonly deadline: number;
  readonly traceparent: string | undefined;
  readonly key: string | undefined;
  #controller: AbortController | undefined;
  #reason: unknown;

  constructor(deadline: number, traceparent: string | undefined, key: string | undefined) {
    this.deadline = deadline;
    this.traceparent = traceparent;
    this.key = key;
  }

  get recordSpan(): SdkRuntime.SpanRecorder | undefined {
    return recordSpan;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#reason !== undefined) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  cancel(reason: unknown): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

const scopes = new Map<number, Scope>();
let runtime: SdkRuntime.PluginRuntime;
/** The id of the last request read from the port. Ids grow in the order the host sends them. */
let lastReceived = 0;

/** Queues an output; a batch of calls flushes when it is done, a later answer at the end of its microtasks. */
function settle(id: number, value: unknown): void {
  scopes.delete(id);
  if (results !== undefined) {
    results.push(id, value);
    if (results.length >= 1 + 2 * maxBatch) flushResults(); // bounded: protocol.ts
    return;
  }
  results = [ToHost.Result, id, value];
  if (!inBatch) queueMicrotask(flushResults);
}

function fail(id: number, error: unknown): void {
  scopes.delete(id);
  post([ToHost.Failure, id, wire(error)]);
}

/** Answers request `id` with `result`: at once for a plain value, when it settles for a promise. */
function reply(id: number, result: unknown): void {
  if (
    result !== null &&
    typeof result === 'object' &&
    typeof (result as PromiseLike<unknown>).then === 'function'
  ) {
    (result as PromiseLike<unknown>).then(
      (value) => settle(id, value),
      (error: unknown) => fail(id, error),
    );
  } else {
    settle(id, result);
  }
}

/** Runs a lifecycle hook for request `id` with its own cancellable signal. */
function lifecycle(id: number, hook: (signal: AbortSignal) => Promise<unknown>): void {
  const scope = new Scope(Number.POSITIVE_INFINITY, undefined, undefined);
  scopes.set(id, scope);
  let result: unknown;
  try {
    result = hook(scope.signal);
  } catch (error) {
    fail(id, error);
    return;
  }
  reply(id, result);
}

/** True while a Calls message runs: an output is posted before the next call starts, or when the batch ends. */
let inBatch = false;

/** The hot path: no closure per call; the scope is kept only so that a Cancel can find it. */
function runCall(
  id: number,
  fn: string,
  input: unknown,
  traceparent: string | undefined,
  deadline: number,
  key: string | undefined,
): void {
  lastReceived = id;
  const scope = new Scope(deadline, traceparent, key);
  scopes.set(id, scope);
  let result: unknown;
  try {
    result = runtime.invoke(fn, input, scope);
  } catch (error) {
    fail(id, error);
    return;
  }
  reply(id, result);
}

function onRequest(m: WorkerRequest): void {
  switch (m[0]) {
    case ToWorker.Call: {
      inBatch = true;
      try {
        for (let i = 1; i < m.length; i += callStride) {
          // An output leaves before the next call starts: a slow synchronous call later in the batch must not
          // hold it past its deadline (or lose it, if that call turns out stuck and the worker is killed).
          if (results !== undefined) flushResults();
          runCall(
            m[i] as number,
            m[i + 1] as string,
            m[i + 2],
            m[i + 3] as string | undefined,
            m[i + 4] as number,
            m[i + 5] as string | undefined,
          );
        }
      } finally {
        inBatch = false;
      }
      flushResults();
      return;
    }
    case ToWorker.Warm: {
      inBatch = true;
      for (let id = m[1]; id < m[1] + m[2]; id++) {
        lastReceived = id;
        settle(id, null);
      }
      inBatch = false;
      flushResults();
      return;
    }
    case ToWorker.Cancel:
      scopes.get(m[1])?.cancel(PlugbayError.fromWire(m[2]));
      return;
    case ToWorker.Ping:
      lastReceived = m[1];
      post([ToHost.Pong, m[1]]);
      return;
    case ToWorker.Start: {
      lastReceived = m[1];
      const config = m[2];
      lifecycle(m[1], (signal) => runtime.start(config, signal));
      return;
    }
    case ToWorker.Stop:
      lastReceived = m[1];
      lifecycle(m[1], (signal) => runtime.stop(signal));
      return;
    case ToWorker.Health:
      lastReceived = m[1];
      lifecycle(m[1], (signal) => runtime.health(signal));
      return;
  }
}

function jsonSafe(fields: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  try {
    return fields === undefined ? undefined : (JSON.parse(JSON.stringify(fields)) as Record<string, unknown>);
  } catch {
    return { unserializable: true };
  }
}

// Tell the host how far the plugin got when the worker dies: later requests never reached it.
process.on('exit', () => {
  try {
    post([ToHost.Exiting, lastReceived]);
  } catch {
    // the port is gone: the host fails every request it had sent, as when V8 runs out of memory
  }
});

try {
  runtime = new PluginRuntime(resolveDefinition(await sdkRuntime.importPlugin(init.entryUrl)), { logger });
  port.on('message', onRequest);
  post([ToHost.Loaded, runtime.functionNames]);
} catch (error) {
  post([ToHost.LoadFailed, wire(error)]);
}
