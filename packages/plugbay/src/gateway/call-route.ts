/**
 * `POST /v1/call/:plugin/:fn`: the one route every plugin call takes, answered by CallRoute.answer.
 *
 * On the traffic listener's sockets it is served straight from node:http, in front of fastify (`front`): fastify's
 * router, hooks, body parser and Request/Reply objects cost a call more than the host does (bench/observe.ts
 * `gateway`: through fastify 0.69× the requests per second of a bare fastify route). Only a plain POST to the call
 * path is served there; any other request, an odd one included (an encoded path, an over-long name), goes on to
 * fastify, where the same route is registered for the route list, the OpenAPI document and `inject()`, and answers
 * through the same `answer`.
 */

import { setMaxListeners } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { traceIdOf } from '@plugbay/sdk/runtime';
import { errorCodes } from 'fastify';
import type { Logger } from 'pino';
import { abortWatchers, type WatchedSignal } from '../core/call.js';
import { PlugbayError } from '../core/errors.js';
import type { CallOptions, PluginHost } from '../host/types.js';
import { errorAnswer } from './errors.js';
import { GatewayTracing } from './observe-routes.js';
import type { OriginPolicy } from './origin.js';

/** Headers a caller may send on `POST /v1/call/:plugin/:fn`. */
export const callHeaders = {
  key: 'x-plugbay-key',
  version: 'x-plugbay-version',
  timeoutMs: 'x-plugbay-timeout-ms',
  traceparent: 'traceparent',
} as const;

/** Headers the gateway sets on a successful call. */
export const resultHeaders = { servedBy: 'x-plugbay-served-by', arm: 'x-plugbay-arm' } as const;

/** An HTTP answer: what fastify's reply and node's response are given alike. */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

export interface CallRouteOptions {
  host: PluginHost;
  maxTimeoutMs: number;
  bodyLimit: number;
  logger: Logger | undefined;
  /** True once the gateway closes: answers then end their connection. */
  isClosing: () => boolean;
}

const prefix = '/v1/call/';
/**
 * Content types served in front as they are; any other (another spelling, parameters, a malformed one) goes on to
 * fastify, which judges it (415 for a malformed one) before its catch-all parser reads the body alike.
 */
const plainTypes = new Set([
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'text/plain; charset=utf-8',
  'application/octet-stream',
  'application/x-www-form-urlencoded',
]);
/** find-my-way's default: a longer path parameter matches no route (fastify answers 404). */
const maxParamLength = 100;
const jsonType = 'application/json; charset=utf-8';
const noBody = new Uint8Array(0);

export class CallRoute {
  readonly #options: CallRouteOptions;
  readonly #tracing = new GatewayTracing();

  constructor(options: CallRouteOptions) {
    this.#options = options;
  }

  /**
   * Calls `plugin`.`fn` with the request's headers and body (no body is an empty one: `{}` for a JSON function).
   * Never rejects: an error is its HTTP answer.
   */
  async answer(
    plugin: string,
    fn: string,
    headers: IncomingHttpHeaders,
    body: Uint8Array,
    socket: Socket,
    url: string,
  ): Promise<HttpAnswer> {
    let span: ReturnType<GatewayTracing['start']>['span'];
    try {
      const options = callOptionsOf(headers, this.#options.maxTimeoutMs);
      options.signal = connectionSignal(socket);
      options.rawInput = true;
      if (this.#tracing.enabled) {
        const traced = this.#tracing.start(plugin, fn, options.traceparent);
        options.traceparent = traced.traceparent;
        span = traced.span;
      } else options.newTrace = true; // made only if the call reads it (a log line, a tier passing it on)
      const result = await this.#options.host.callDetailed(plugin, fn, body, options);
      this.#tracing.end(span);
      const answerHeaders: Record<string, string> = {
        [resultHeaders.servedBy]: `${result.plugin}@${result.version}`,
        [resultHeaders.arm]: result.arm,
      };
      if (result.contentType !== undefined) {
        const out = result.output as Uint8Array;
        answerHeaders['content-type'] = result.contentType;
        return {
          status: 200,
          headers: answerHeaders,
          body: Buffer.from(out.buffer, out.byteOffset, out.byteLength),
        };
      }
      // Serialised here: a plain string output is sent as a JSON string, not as text.
      answerHeaders['content-type'] = jsonType;
      return { status: 200, headers: answerHeaders, body: JSON.stringify(result.output ?? null) };
    } catch (err) {
      this.#tracing.end(span, err);
      return this.#failure(err, plugin, url);
    }
  }

  #failure(err: unknown, plugin: string | undefined, url: string): HttpAnswer {
    return errorAnswer(err, plugin, this.#options.logger, url);
  }

  /**
   * node:http's request listener for the traffic listener: serves a POST to the call path, hands every other
   * request to fastify's (`next`). `origin` is the listener's policy, checked first, as fastify's onRequest hook
   * does for its routes.
   */
  front(
    origin: OriginPolicy,
    next: (req: IncomingMessage, res: ServerResponse) => void,
  ): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => {
      const params = req.method === 'POST' ? callParamsOf(req.url ?? '') : undefined;
      const type = req.headers['content-type'];
      if (params === undefined || (type !== undefined && !plainTypes.has(type))) {
        next(req, res);
        return;
      }
      const [plugin, fn] = params;
      const url = req.url ?? '';
      const refused = origin.check('POST', req.headers);
      if (refused !== undefined) {
        this.#send(res, this.#failure(refused, plugin, url), url);
        return;
      }
      this.#readBody(req, (error, body) => {
        if (error !== undefined) {
          const refusal = this.#failure(error, plugin, url);
          // As fastify does: the client may still be sending the rest of the body.
          refusal.headers.connection = 'close';
          this.#send(res, refusal, url);
          return;
        }
        this.answer(plugin, fn, req.headers, body, req.socket, url)
          .then((answer) => this.#send(res, answer, url))
          // answer() only rejects if a tracer's span throws as it ends; #send never throws.
          .catch((err: unknown) => this.#send(res, this.#failure(err, plugin, url), url));
      });
    };
  }

  /**
   * The body as bytes, read as fastify's parser reads it (content-type-parser.js rawBody): a declared length over
   * the limit is refused before reading, a body growing past it as it comes; the bytes are copied out of the
   * socket's read buffers, so that a plugin keeping its input keeps no more.
   */
  #readBody(req: IncomingMessage, done: (error: Error | undefined, body: Uint8Array) => void): void {
    const limit = this.#options.bodyLimit;
    const declared = Number(req.headers['content-length']);
    if (declared > limit) {
      done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE(), noBody);
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    const finish = (error: Error | undefined) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      if (error !== undefined) done(error, noBody);
      else if (!Number.isNaN(declared) && received !== declared)
        done(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH(), noBody);
      else done(undefined, received === 0 ? noBody : Buffer.concat(chunks, received));
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) finish(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      else chunks.push(chunk);
    };
    const onEnd = () => finish(undefined);
    // A stream error is the request's fault (400), as fastify has it; the client is usually gone already.
    const onError = (error: Error & { statusCode?: number }) => {
      error.statusCode = 400;
      finish(error);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  }

  /** Writes the answer; one that node refuses (a header it cannot send) becomes a 500, never a throw. */
  #send(res: ServerResponse, answer: HttpAnswer, url: string): void {
    if (res.headersSent || res.destroyed) return;
    const headers: Record<string, string | number> = answer.headers;
    headers['content-length'] = Buffer.byteLength(answer.body);
    // While closing, answers end their connection: a keep-alive socket would hold close() until its idle timeout.
    if (this.#options.isClosing()) headers.connection = 'close';
    try {
      res.writeHead(answer.status, headers);
    } catch (err) {
      if (answer.status !== 500) this.#send(res, this.#failure(err, undefined, url), url);
      else res.destroy();
      return;
    }
    res.end(answer.body);
  }
}

/**
 * `[plugin, fn]` of a plain call path (`/v1/call/<plugin>/<fn>`, a query or fragment ignored), decoded; undefined for
 * anything else, which fastify's router then judges.
 */
function callParamsOf(url: string): [plugin: string, fn: string] | undefined {
  if (!url.startsWith(prefix)) return undefined;
  // find-my-way ends the path at `?` or `#`.
  let end = url.length;
  for (let i = prefix.length; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 0x3f || c === 0x23) {
      end = i;
      break;
    }
  }
  const path = url.slice(0, end);
  const slash = path.indexOf('/', prefix.length);
  if (slash === -1 || path.indexOf('/', slash + 1) !== -1) return undefined;
  const plugin = paramOf(path.slice(prefix.length, slash));
  const fn = paramOf(path.slice(slash + 1));
  return plugin === undefined || fn === undefined ? undefined : [plugin, fn];
}

function paramOf(raw: string): string | undefined {
  if (raw.length === 0 || raw.length > maxParamLength) return undefined;
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

const connectionAbort = Symbol('plugbay.connectionAbort');

/**
 * One abort signal per client connection, fired when the client hangs up: the calls still running for it are
 * cancelled (PLUGBAY_CANCELLED reaches the plugin). Per connection rather than per request because a fresh
 * AbortController with a listener costs ~13 µs on Node 20, a quarter of a whole gateway request; HTTP/1.1 has one
 * request in flight per connection anyway. Its calls wait in a Set, not as listeners (core/call.ts `abortWatchers`).
 */
function connectionSignal(socket: Socket): AbortSignal {
  const holder = socket as Socket & { [connectionAbort]?: WatchedSignal };
  let signal = holder[connectionAbort];
  if (signal === undefined) {
    const controller = new AbortController();
    const created: WatchedSignal = controller.signal;
    // The calls in flight on the connection, kept in a Set rather than as one abort listener each (core/call.ts).
    const calls = new Set<{ handleEvent(): void }>();
    created[abortWatchers] = calls;
    // Pipelined requests share the signal: no leak warning for more than 10 listeners.
    setMaxListeners(0, created);
    signal = created;
    holder[connectionAbort] = created;
    socket.once('close', () => {
      controller.abort(new PlugbayError('PLUGBAY_CANCELLED', 'the client closed the connection'));
      for (const call of calls) call.handleEvent();
      calls.clear();
    });
  }
  return signal;
}

/** Reads the call headers into host call options; a malformed header is the caller's error. */
function callOptionsOf(headers: IncomingHttpHeaders, maxTimeoutMs: number): CallOptions {
  const options: CallOptions = {};
  const key = headers[callHeaders.key];
  if (typeof key === 'string') options.key = key;
  // A version that is neither a version nor a range is refused by the host's router (PLUGBAY_INVALID_ARGUMENT).
  const version = headers[callHeaders.version];
  if (typeof version === 'string') options.version = version;
  // W3C trace context: a malformed traceparent is ignored (the call starts a new trace), never passed on.
  const traceparent = headers[callHeaders.traceparent];
  if (typeof traceparent === 'string' && traceIdOf(traceparent) !== undefined)
    options.traceparent = traceparent;
  const timeout = headers[callHeaders.timeoutMs];
  if (typeof timeout === 'string') {
    const ms = Number(timeout);
    if (!/^\d+$/.test(timeout) || ms < 1 || !Number.isSafeInteger(ms)) {
      throw new PlugbayError(
        'PLUGBAY_INVALID_ARGUMENT',
        `${callHeaders.timeoutMs} must be a positive integer, got "${timeout}"`,
        {
          details: {
            header: callHeaders.timeoutMs,
            field: callHeaders.timeoutMs,
            rule: 'a positive integer',
          },
        },
      );
    }
    if (ms > maxTimeoutMs) {
      const rule = `at most ${maxTimeoutMs} (the gateway's --max-timeout-ms)`;
      throw new PlugbayError(
        'PLUGBAY_INVALID_ARGUMENT',
        `${callHeaders.timeoutMs} must be ${rule}, got ${ms}`,
        {
          details: { header: callHeaders.timeoutMs, field: callHeaders.timeoutMs, rule, max: maxTimeoutMs },
        },
      );
    }
    options.timeoutMs = ms;
  }
  return options;
}
