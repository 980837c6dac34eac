/**
 * The worker side of the thread tier: imports the plugin, runs it through PluginRuntime and answers the host's
 * requests (thread/protocol.ts). A throw in the plugin's own timer is deliberately not caught: the worker dies,
 * which is the boundary, and the host restarts it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { PluginLogger } from '@plugbay/sdk';
import { type CallScope, PluginRuntime, resolveDefinition } from '@plugbay/sdk/runtime';
import { PlugbayError, toWireError, type WireError } from '../../core/errors.js';
import type { PluginLogLine } from '../../core/types.js';
import { type HostMessage, ToHost, ToWorker, type WorkerInit, type WorkerRequest } from './protocol.js';

const port = parentPort!;
const init = workerData as WorkerInit;

function post(message: HostMessage): void {
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
let runtime: PluginRuntime;
/** The id of the last request read from the port. Ids grow in the order the host sends them. */
let lastReceived = 0;

function settle(id: number, value: unknown): void {
  scopes.delete(id);
  try {
    post([ToHost.Result, id, value]);
  } catch (error) {
    // structured clone refused the value (a function, a class with private state …)
    const message = `output cannot cross the worker boundary: ${error instanceof Error ? error.message : String(error)}`;
    post([ToHost.Failure, id, wire(new PlugbayError('PLUGBAY_INVALID_OUTPUT', message))]);
  }
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

function onRequest(m: WorkerRequest): void {
  if (m[0] !== ToWorker.Cancel) lastReceived = m[1];
  switch (m[0]) {
    case ToWorker.Call: {
      // The hot path: no closure per call; the scope is kept only so that a Cancel can find it.
      const id = m[1];
      const scope = new Scope(m[5], m[4], m[6]);
      scopes.set(id, scope);
      let result: unknown;
      try {
        result = runtime.invoke(m[2], m[3], scope);
      } catch (error) {
        fail(id, error);
        return;
      }
      reply(id, result);
      return;
    }
    case ToWorker.Cancel:
      scopes.get(m[1])?.cancel(PlugbayError.fromWire(m[2]));
      return;
    case ToWorker.Ping:
      post([ToHost.Pong, m[1]]);
      return;
    case ToWorker.Start: {
      const config = m[2];
      lifecycle(m[1], (signal) => runtime.start(config, signal));
      return;
    }
    case ToWorker.Stop:
      lifecycle(m[1], (signal) => runtime.stop(signal));
      return;
    case ToWorker.Health:
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
  runtime = new PluginRuntime(resolveDefinition(await import(init.entryUrl)), { logger });
  port.on('message', onRequest);
  post([ToHost.Loaded, runtime.functionNames]);
} catch (error) {
  post([ToHost.LoadFailed, wire(error)]);
}
