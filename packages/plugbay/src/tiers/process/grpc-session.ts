/**
 * A lean gRPC client on node:http2 over the plugin's unix socket: unary calls and the one server stream go-plugin
 * has (StreamStdio). HTTP/2 framing is Node's; this file adds only gRPC's part: the request headers, the 5-byte
 * message prefix, `grpc-timeout`, and the status from trailers (or from the headers of a trailers-only answer).
 *
 * Why not grpc-js: its channel stack (resolver, load balancer, retry and filter layers, a Metadata object and
 * several promises per call) cost ~5× the HTTP/2 stream under it, and a plugin's socket needs none of it.
 *
 * Per call: one stream, one small state object hung on it, listeners shared by every call (they read the state
 * through `this`), no promise and no timer unless the caller gives a deadline without a cancel hook. A callback
 * runs exactly once, unless the caller cancels first (then never: the caller has settled already).
 */
import { AsyncResource } from 'node:async_hooks';
import http2 from 'node:http2';
import net from 'node:net';
import { GrpcStatus } from './errors.js';

const {
  HTTP2_HEADER_STATUS,
  NGHTTP2_CANCEL,
  NGHTTP2_REFUSED_STREAM,
  NGHTTP2_ENHANCE_YOUR_CALM,
  NGHTTP2_INADEQUATE_SECURITY,
} = http2.constants;

/** The largest message either way (as grpc-js was configured before: 64 MiB). */
export const maxMessageBytes = 64 * 1024 * 1024;
/**
 * Flow-control windows. Per stream: 4 MiB, so that a response up to go-plugin's usual 4 MiB message limit arrives
 * without waiting for a WINDOW_UPDATE round trip; per connection: 64 MiB, room for many such streams at once. The
 * HTTP/2 default (64 KiB) made every larger message stall once per 64 KiB.
 */
export const streamWindowBytes = 4 * 1024 * 1024;
export const connectionWindowBytes = 64 * 1024 * 1024;

export interface Status {
  code: number;
  details: string;
}

/** Extra request headers (gRPC metadata): lowercase names, printable ASCII values. */
export type Metadata = Readonly<Record<string, string>>;

export interface CallOptions {
  /** Epoch ms; Infinity for none. Sent as `grpc-timeout`; enforced here too when `timer` is set. */
  deadline: number;
  metadata?: Metadata | undefined;
  /**
   * Arm a local timer for the deadline (DEADLINE_EXCEEDED when it fires). Callers that abort the call themselves
   * when the deadline passes (the host's deadline list) leave it off: a timer per call is measurable.
   */
  timer?: boolean;
}

/** A unary answer: the response message, or the status it failed with (never both). */
export type UnaryCallback = (status: Status | undefined, response: Buffer | undefined) => void;

/** What a caller keeps of a call in flight. */
export interface CallHandle {
  /** Sends RST_STREAM(CANCEL) (the server sees the call cancelled); the callback will not run. */
  cancel(): void;
}

type Stream = http2.ClientHttp2Stream & { [kCall]?: CallState };

const kCall = Symbol('plugbay.grpcCall');

/** One HTTP/2 connection and how many calls use it (referenced while any does, so they keep Node alive). */
interface Connection {
  h2: http2.ClientHttp2Session;
  active: number;
}

/** A call in flight; it is also the caller's handle (no closure per call). */
class CallState implements CallHandle {
  done = false;
  stream: Stream | undefined = undefined;
  /** From trailers, or trailers-only headers; or a status decided here (protocol error, local deadline). */
  status: Status | undefined = undefined;
  httpStatus = 0;
  /** The response's bytes not yet cut into messages. */
  chunks: Buffer[] | undefined = undefined;
  buffered = 0;
  /** Length of the message being read, once its prefix is in; -1 while waiting for a prefix. */
  need = -1;
  message: Buffer | undefined = undefined;
  messages = 0;
  timer: NodeJS.Timeout | undefined = undefined;
  streamError: Error | undefined = undefined;
  constructor(
    readonly connection: Connection,
    readonly onDone: UnaryCallback,
    /** Server streaming: each message as it arrives (then onDone gets no response). */
    readonly onMessage: ((message: Buffer) => void) | undefined,
  ) {}

  cancel(): void {
    if (this.done) return;
    this.done = true;
    this.stream?.close(NGHTTP2_CANCEL);
  }
}

export class GrpcSession {
  readonly #socketPath: string;
  #connection: Connection | undefined;
  #closed = false;
  #opened = 0;

  constructor(socketPath: string) {
    this.#socketPath = socketPath;
  }

  /** How many connections this session has opened (one, unless the server went away and came back). */
  get connectionsOpened(): number {
    return this.#opened;
  }

  /** One unary call: `request` is the serialized message (the prefix is added here). */
  unary(path: string, request: Uint8Array, opts: CallOptions, done: UnaryCallback): CallHandle {
    return this.#start(path, request, opts, done, undefined);
  }

  /** A server-streaming call: `onMessage` per message, then `done` with the final status (OK: no response). */
  serverStream(
    path: string,
    request: Uint8Array,
    opts: CallOptions,
    onMessage: (message: Buffer) => void,
    done: (status: Status | undefined) => void,
  ): CallHandle {
    return this.#start(path, request, opts, done, onMessage);
  }

  /** Ends the connection now: calls in flight fail UNAVAILABLE (unless cancelled), new ones at once. */
  close(): void {
    this.#closed = true;
    this.#connection?.h2.destroy();
    this.#connection = undefined;
  }

  #start(
    path: string,
    request: Uint8Array,
    opts: CallOptions,
    done: UnaryCallback,
    onMessage: ((message: Buffer) => void) | undefined,
  ): CallHandle {
    if (this.#closed) return failSoon(done, GrpcStatus.UNAVAILABLE, 'the connection to the plugin is closed');
    if (request.length > maxMessageBytes) {
      return failSoon(
        done,
        GrpcStatus.RESOURCE_EXHAUSTED,
        `request message of ${request.length} bytes is over the limit of ${maxMessageBytes}`,
      );
    }
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
    };
    if (Number.isFinite(opts.deadline)) headers['grpc-timeout'] = grpcTimeout(opts.deadline - Date.now());
    if (opts.metadata !== undefined) Object.assign(headers, opts.metadata);
    let stream: Stream;
    let connection: Connection;
    try {
      connection = this.#connect();
      stream = openStream(connection.h2, headers);
    } catch (first) {
      // A header Node refuses is our mistake, not the connection's: the call fails, the connection stays.
      if (!retryable.has((first as NodeJS.ErrnoException).code ?? '')) {
        return failSoon(done, GrpcStatus.INTERNAL, `cannot send the request: ${(first as Error).message}`);
      }
      // The connection got GOAWAY or ran out of stream ids between our look and the request: it ends once its
      // calls have, and this one gets a fresh connection.
      this.#connection?.h2.close();
      this.#connection = undefined;
      try {
        connection = this.#connect();
        stream = openStream(connection.h2, headers);
      } catch (err) {
        return failSoon(done, GrpcStatus.UNAVAILABLE, (err as Error).message);
      }
    }
    const call = new CallState(connection, done, onMessage);
    call.stream = stream;
    stream[kCall] = call;
    if (connection.active++ === 0) connection.h2.ref();
    stream.on('response', onResponse);
    stream.on('trailers', onTrailers);
    stream.on('data', onData);
    stream.on('error', onError);
    stream.on('close', onClose);
    const frame = Buffer.allocUnsafe(5 + request.length);
    frame[0] = 0; // not compressed
    frame.writeUInt32BE(request.length, 1);
    frame.set(request, 5);
    stream.end(frame);
    if (opts.timer === true && Number.isFinite(opts.deadline)) {
      call.timer = setTimeout(
        expire,
        Math.max(0, opts.deadline - Date.now()),
        stream,
        call,
      ) as NodeJS.Timeout;
    }
    return call;
  }

  #connect(): Connection {
    const current = this.#connection;
    if (current !== undefined && !current.h2.closed && !current.h2.destroyed) return current;
    const socketPath = this.#socketPath;
    const h2 = http2.connect('http://localhost', {
      createConnection: () => net.connect(socketPath),
      settings: { initialWindowSize: streamWindowBytes, enablePush: false },
      // Node's default (10 MB) refuses streams once that much is buffered; messages here may be 64 MiB.
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
    });
    const connection: Connection = { h2, active: 0 };
    this.#opened++;
    h2.unref(); // referenced only while calls use it
    // 'connect' is emitted on the next tick: a plugin that died meanwhile has destroyed the session already, and
    // setLocalWindowSize on it would throw out of an event handler (uncaught: the gateway would go down).
    h2.once('connect', () => {
      if (!h2.destroyed) h2.setLocalWindowSize(connectionWindowBytes);
    });
    // A failed connect or a broken socket reaches every call as its stream closing: nothing to do here but listen
    // (an 'error' without a listener would be thrown).
    h2.on('error', () => {});
    // GOAWAY: calls under way finish on this connection; new ones open another (a plugin that is stopping refuses
    // it, and they fail UNAVAILABLE).
    const drop = () => {
      if (this.#connection === connection) this.#connection = undefined;
    };
    h2.once('goaway', drop);
    h2.once('close', drop);
    this.#connection = connection;
    return connection;
  }
}

type Bind = (this: AsyncResource, fn: (...args: unknown[]) => unknown, thisArg?: unknown) => unknown;
const nodeBind = AsyncResource.prototype.bind as unknown as Bind;

/**
 * AsyncResource#bind as Node defines it, less its deprecated `asyncResource` accessors (DEP0172): Node 20's
 * ClientHttp2Session#request binds one function per request, and each accessor is made by util.deprecate, whose
 * Object.setPrototypeOf gives every wrapper a hidden class of its own. Measured on the host.call path: ~20 % of the
 * host's CPU (half of it in the garbage collector, collecting those classes).
 */
const leanBind: Bind = function (this: AsyncResource, fn, thisArg) {
  if (thisArg !== undefined) return this.runInAsyncScope.bind(this, fn, thisArg);
  const resource = this;
  return function (this: unknown, ...args: unknown[]) {
    return resource.runInAsyncScope(fn, this, ...args);
  };
};

/** session.request with leanBind in place for its duration (all synchronous: no other code sees it). */
function openStream(h2: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders): Stream {
  const proto = AsyncResource.prototype as unknown as { bind: Bind };
  proto.bind = leanBind;
  try {
    return h2.request(headers);
  } finally {
    proto.bind = nodeBind;
  }
}

function onResponse(this: Stream, headers: http2.IncomingHttpHeaders): void {
  const call = this[kCall] as CallState;
  call.httpStatus = Number(headers[HTTP2_HEADER_STATUS] ?? 0);
  // Trailers-only: an error with no message carries its status in the headers.
  if (headers['grpc-status'] !== undefined) call.status ??= readStatus(headers);
}

function onTrailers(this: Stream, trailers: http2.IncomingHttpHeaders): void {
  const call = this[kCall] as CallState;
  call.status ??= readStatus(trailers);
}

function onData(this: Stream, chunk: Buffer): void {
  const call = this[kCall] as CallState;
  // cancelled, or failed here already (a status comes before data only in a violation: trailers follow data)
  if (call.done || call.status !== undefined) return;
  if (call.chunks === undefined) call.chunks = [chunk];
  else call.chunks.push(chunk);
  call.buffered += chunk.length;
  const problem = readMessages(call);
  if (problem !== undefined) {
    call.status = problem;
    call.chunks = undefined;
    this.close(NGHTTP2_CANCEL);
  }
}

/** Cuts the buffered bytes into messages; a status when the server broke the protocol. */
function readMessages(call: CallState): Status | undefined {
  for (;;) {
    if (call.need < 0) {
      if (call.buffered < 5) return undefined;
      const prefix = take(call, 5);
      if (prefix[0] !== 0)
        return { code: GrpcStatus.INTERNAL, details: 'compressed message (none negotiated)' };
      const length = prefix.readUInt32BE(1);
      if (length > maxMessageBytes) {
        return {
          code: GrpcStatus.RESOURCE_EXHAUSTED,
          details: `response message of ${length} bytes is over the limit of ${maxMessageBytes}`,
        };
      }
      call.need = length;
    }
    if (call.buffered < call.need) return undefined;
    const message = take(call, call.need);
    call.need = -1;
    if (call.onMessage !== undefined) call.onMessage(message);
    else if (++call.messages > 1)
      return { code: GrpcStatus.INTERNAL, details: 'more than one response message' };
    else call.message = message;
  }
}

const empty = Buffer.alloc(0);

/** The next `n` buffered bytes: a view of the first chunk when it holds them (the usual case), else a copy. */
function take(call: CallState, n: number): Buffer {
  if (n === 0) return empty; // an empty message (google.protobuf.Empty and the like)
  const chunks = call.chunks as Buffer[];
  call.buffered -= n;
  const first = chunks[0] as Buffer;
  if (first.length >= n) {
    if (first.length === n) chunks.shift();
    else chunks[0] = first.subarray(n);
    return first.subarray(0, n);
  }
  const out = Buffer.allocUnsafe(n);
  let offset = 0;
  while (offset < n) {
    const chunk = chunks[0] as Buffer;
    const size = Math.min(chunk.length, n - offset);
    chunk.copy(out, offset, 0, size);
    if (size === chunk.length) chunks.shift();
    else chunks[0] = chunk.subarray(size);
    offset += size;
  }
  return out;
}

function onError(this: Stream, err: Error): void {
  (this[kCall] as CallState).streamError ??= err;
}

function onClose(this: Stream): void {
  const call = this[kCall] as CallState;
  const connection = call.connection;
  if (--connection.active === 0 && !connection.h2.destroyed) connection.h2.unref();
  if (call.timer !== undefined) clearTimeout(call.timer);
  if (call.done) return;
  call.done = true;
  let status = call.status ?? statusWithout(this, call);
  if (status.code === GrpcStatus.OK && call.onMessage === undefined && call.message === undefined) {
    status = { code: GrpcStatus.INTERNAL, details: 'the server answered OK without a response message' };
  }
  if (status.code === GrpcStatus.OK) call.onDone(undefined, call.message);
  else call.onDone(status, undefined);
}

/** A stream that ended without a gRPC status: what its reset code, HTTP status or connection say (grpc-js's table). */
function statusWithout(stream: Stream, call: CallState): Status {
  const h2 = call.connection.h2;
  const code = stream.rstCode;
  if (code === NGHTTP2_REFUSED_STREAM)
    return { code: GrpcStatus.UNAVAILABLE, details: 'stream refused by the server' };
  // The connection broke (the plugin exited, or the socket was closed): Node resets its streams with CANCEL or
  // INTERNAL_ERROR. UNAVAILABLE is what tells the carrier the process is going away.
  if (h2.destroyed || h2.closed || isConnectionError(call.streamError)) {
    return {
      code: GrpcStatus.UNAVAILABLE,
      details: `connection to the plugin lost${reason(call.streamError)}`,
    };
  }
  if (code === NGHTTP2_CANCEL) return { code: GrpcStatus.CANCELLED, details: 'call cancelled by the server' };
  if (code === NGHTTP2_ENHANCE_YOUR_CALM) {
    return {
      code: GrpcStatus.RESOURCE_EXHAUSTED,
      details: 'the server found the call too demanding (ENHANCE_YOUR_CALM)',
    };
  }
  if (code === NGHTTP2_INADEQUATE_SECURITY)
    return { code: GrpcStatus.PERMISSION_DENIED, details: 'inadequate security' };
  if (call.httpStatus !== 0 && call.httpStatus !== 200) return httpStatusToGrpc(call.httpStatus);
  return {
    code: GrpcStatus.INTERNAL,
    details: `the call ended without a gRPC status (RST_STREAM code ${code ?? 'none'})${reason(call.streamError)}`,
  };
}

/** What session.request() throws when the connection, not the request, is at fault. */
const retryable = new Set([
  'ERR_HTTP2_GOAWAY_SESSION',
  'ERR_HTTP2_INVALID_SESSION',
  'ERR_HTTP2_OUT_OF_STREAMS',
]);

const connectionErrors = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ENOENT',
  'EPIPE',
  'ETIMEDOUT',
  'ERR_HTTP2_GOAWAY_SESSION',
]);

function isConnectionError(err: Error | undefined): boolean {
  return err !== undefined && connectionErrors.has((err as NodeJS.ErrnoException).code ?? '');
}

const reason = (err: Error | undefined): string => (err === undefined ? '' : `: ${err.message}`);

/** gRPC's mapping of HTTP statuses for answers that carry no grpc-status (a proxy or a non-gRPC server). */
function httpStatusToGrpc(http: number): Status {
  const code =
    http === 400
      ? GrpcStatus.INTERNAL
      : http === 401
        ? GrpcStatus.UNAUTHENTICATED
        : http === 403
          ? GrpcStatus.PERMISSION_DENIED
          : http === 404
            ? GrpcStatus.UNIMPLEMENTED
            : http === 429 || http === 502 || http === 503 || http === 504
              ? GrpcStatus.UNAVAILABLE
              : GrpcStatus.UNKNOWN;
  return { code, details: `the server answered HTTP ${http} without a gRPC status` };
}

function readStatus(headers: http2.IncomingHttpHeaders): Status {
  const raw = headers['grpc-status'];
  const code = Number(raw);
  const message = headers['grpc-message'];
  const details = typeof message === 'string' ? percentDecode(message) : '';
  if (!Number.isInteger(code) || code < 0) {
    return {
      code: GrpcStatus.UNKNOWN,
      details: `malformed grpc-status ${String(raw)}${details ? `: ${details}` : ''}`,
    };
  }
  return { code, details };
}

/**
 * grpc-message is percent-encoded UTF-8. A malformed encoding is shown as it came (the spec: never fail on it).
 */
export function percentDecode(message: string): string {
  if (!message.includes('%')) return message;
  try {
    return decodeURIComponent(message);
  } catch {
    return message;
  }
}

/** `grpc-timeout` for a budget in ms: at most 8 digits, so milliseconds up to ~27 hours, then seconds. */
export function grpcTimeout(ms: number): string {
  const whole = Math.max(1, Math.ceil(ms));
  if (whole < 100_000_000) return `${whole}m`;
  return `${Math.min(99_999_999, Math.ceil(whole / 1000))}S`;
}

function expire(stream: Stream, call: CallState): void {
  call.timer = undefined;
  if (call.done) return;
  call.status = { code: GrpcStatus.DEADLINE_EXCEEDED, details: 'deadline exceeded' };
  stream.close(NGHTTP2_CANCEL);
}

/** Fails a call that never reached the wire, after the caller has its handle (as a real failure would). */
function failSoon(done: UnaryCallback, code: number, details: string): CallHandle {
  let cancelled = false;
  process.nextTick(() => {
    if (!cancelled) done({ code, details }, undefined);
  });
  return {
    cancel: () => {
      cancelled = true;
    },
  };
}
