/**
 * The plugin side of the protocol, carrier-neutral: each handler takes an encoded request and returns an encoded
 * response, so the frames and gRPC servers differ only in how bytes move.
 */
import { PlugbayError, toWireError } from '../errors.js';
import type { PluginRuntime } from '../runtime.js';
import type { SpanRecorder } from '../spans.js';
import { socketRecorder } from './span-socket.js';
import {
  type CallRequestMessage,
  decodeCallRequest,
  decodeHealthCheckRequest,
  decodeStartRequest,
  encodeCallResponse,
  encodeDescribeResponse,
  encodeErrorOnly,
  encodeHealthCheckResponse,
  ServingStatus,
  type WireErrorMessage,
} from './wire.js';

export interface PluginHandlers {
  describe(): Uint8Array;
  start(req: Uint8Array): Promise<Uint8Array>;
  /**
   * `abort.signal` (read lazily) aborts when the host cancels or the deadline passes. A handler that answers
   * synchronously gets its response back synchronously: no promise hops on the plugin's side of the call.
   */
  call(req: Uint8Array, abort: { readonly signal: AbortSignal }): Uint8Array | Promise<Uint8Array>;
  stop(): Promise<Uint8Array>;
  health(req: Uint8Array): Promise<Uint8Array>;
}

const decoder = new TextDecoder();
const noSignal = new AbortController().signal;

/** Maps what a handler threw to the wire. Node's permission model throws ERR_ACCESS_DENIED: that is a denial. */
export function errorToMessage(err: unknown): WireErrorMessage {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ERR_ACCESS_DENIED') {
    const e = err as { message: string; permission?: unknown; resource?: unknown };
    return {
      code: 'PLUGBAY_PERMISSION_DENIED',
      message: e.message,
      details: JSON.stringify({ permission: e.permission ?? null, resource: e.resource ?? null }),
    };
  }
  const wire = toWireError(err);
  const out: WireErrorMessage = {
    code: wire.code,
    message: wire.message,
    details: wire.details === undefined ? '' : safeJson(wire.details),
  };
  if (err instanceof PlugbayError) out.retryable = err.retryable;
  return out;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return '';
  }
}

/** ctx.span()'s recorder, when the host exports traces (it then names the relay socket). */
const recordSpan: SpanRecorder | undefined = socketRecorder(process.env.PLUGBAY_OTLP_TRACES_SOCKET);

/** The call's scope as the plugin runtime sees it (a class: an object literal with a getter costs ~1 µs a call). */
class WireCallScope {
  readonly deadline: number;
  readonly traceparent: string | undefined;
  readonly key: string | undefined;
  readonly #abort: { readonly signal: AbortSignal };

  constructor(r: CallRequestMessage, abort: { readonly signal: AbortSignal }) {
    this.deadline = r.deadlineUnixMs === 0 ? Number.POSITIVE_INFINITY : r.deadlineUnixMs;
    this.traceparent = r.traceparent === '' ? undefined : r.traceparent;
    this.key = r.routingKey === '' ? undefined : r.routingKey;
    this.#abort = abort;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get recordSpan(): SpanRecorder | undefined {
    return recordSpan;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function callAnswered(output: unknown): Uint8Array {
  try {
    return encodeCallResponse(JSON.stringify(output ?? null), undefined);
  } catch (err) {
    return callFailed(err); // an output JSON cannot hold (a cycle, a BigInt)
  }
}

function callFailed(err: unknown): Uint8Array {
  return encodeCallResponse(undefined, errorToMessage(err));
}

export function createHandlers(runtime: PluginRuntime): PluginHandlers {
  let config: unknown;
  return {
    describe() {
      const d = runtime.definition;
      return encodeDescribeResponse({ name: d.name, version: d.version, functions: runtime.functionNames });
    },
    async start(req) {
      try {
        const { config: raw } = decodeStartRequest(req);
        config = raw.length === 0 ? undefined : JSON.parse(decoder.decode(raw));
        await runtime.start(config, noSignal);
        return encodeErrorOnly(undefined);
      } catch (err) {
        return encodeErrorOnly(errorToMessage(err));
      }
    },
    call(req, abort) {
      let result: unknown;
      try {
        const r = decodeCallRequest(req);
        const input = r.input.length === 0 ? undefined : JSON.parse(decoder.decode(r.input));
        result = runtime.invoke(r.function, input, new WireCallScope(r, abort));
      } catch (err) {
        return callFailed(err);
      }
      if (result instanceof Promise) return result.then(callAnswered, callFailed);
      if (isThenable(result)) return Promise.resolve(result).then(callAnswered, callFailed);
      return callAnswered(result);
    },
    async stop() {
      try {
        await runtime.stop(noSignal);
        return encodeErrorOnly(undefined);
      } catch (err) {
        return encodeErrorOnly(errorToMessage(err));
      }
    },
    async health(req) {
      const { service } = decodeHealthCheckRequest(req);
      if (service !== '' && service !== 'plugin')
        return encodeHealthCheckResponse(ServingStatus.SERVICE_UNKNOWN);
      try {
        const h = await runtime.health(noSignal);
        // grpc.health.v1 has no "degraded": a degraded plugin still serves.
        return encodeHealthCheckResponse(
          h.status === 'failing' ? ServingStatus.NOT_SERVING : ServingStatus.SERVING,
        );
      } catch {
        return encodeHealthCheckResponse(ServingStatus.NOT_SERVING);
      }
    },
  };
}
