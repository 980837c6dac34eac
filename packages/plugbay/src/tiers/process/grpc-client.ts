/**
 * The gRPC carrier, host side (grpc-session.ts, node:http2 over the unix socket): plugbay.v1.Plugin with protobufjs
 * codecs, plus what every go-plugin server has: grpc.health.v1 Check for "plugin", plugin.GRPCController/Shutdown
 * and plugin.GRPCStdio/StreamStdio (absent in go-plugin 1.0.1: UNIMPLEMENTED is expected and ignored).
 */
import type { Health } from '@plugbay/sdk';
import { decodeCallResponse, encodeCallRequest } from '@plugbay/sdk/process';
import type protobuf from 'protobufjs';
import { type ErrorSource, PlugbayError } from '../../core/errors.js';
import type { CallContext } from '../../core/types.js';
import {
  type Carrier,
  type Described,
  inputJson,
  type Lost,
  noBytesFunctions,
  outputValue,
} from './carrier.js';
import { fromErrorMessage, fromGrpcStatus, GrpcStatus } from './errors.js';
import {
  type CallHandle,
  type CallOptions,
  GrpcSession,
  type Metadata,
  type Status,
} from './grpc-session.js';
import { type ErrorMessage, protocolTypes } from './proto.js';

const encoder = new TextEncoder();

/** What may travel as a header value (printable ASCII). */
const headerSafe = /^[\x20-\x7e]*$/;
const serializer = (type: protobuf.Type) => (value: object) => type.encode(type.fromObject(value)).finish();
const deserializer = (type: protobuf.Type) => (buf: Buffer) =>
  type.decode(buf) as unknown as Record<string, unknown>;

/** The connection to a plugin's gRPC server (one HTTP/2 session, opened on first use, reopened after GOAWAY). */
export function grpcClient(socketPath: string): GrpcSession {
  return new GrpcSession(socketPath);
}

/** Traceparent and routing key as gRPC metadata, for plugins on their own gRPC stack; undefined when neither fits. */
export function callMetadata(ctx: CallContext): Metadata | undefined {
  // Header values must be printable ASCII; anything else travels only in the message.
  const tp = ctx.traceparent !== undefined && headerSafe.test(ctx.traceparent) ? ctx.traceparent : undefined;
  const key = ctx.key !== undefined && headerSafe.test(ctx.key) ? ctx.key : undefined;
  if (tp === undefined && key === undefined) return undefined;
  const metadata: Record<string, string> = {};
  if (tp !== undefined) metadata.traceparent = tp;
  if (key !== undefined) metadata['x-plugbay-key'] = key;
  return metadata;
}

/**
 * A call's failure as a PLUGBAY_* error. UNAVAILABLE (the connection broke) and CANCELLED (by the server: ours
 * settle the call before the stream reports it) say the process is going away: they go through `lost` first.
 */
export function callFailure(
  status: { code?: number; details?: string; message?: string },
  source: ErrorSource,
  lost: Lost | undefined,
): PlugbayError {
  const err = fromGrpcStatus(status, source);
  const gone = status.code === GrpcStatus.UNAVAILABLE || status.code === GrpcStatus.CANCELLED;
  return gone && lost !== undefined ? lost(err) : err;
}

/** Response bytes the codec refuses: the server's fault, as a gRPC client reports it (INTERNAL). */
function unparsable(err: unknown): Status {
  return {
    code: GrpcStatus.INTERNAL,
    details: `response message cannot be parsed: ${(err as Error).message}`,
  };
}

/** One unary call outside the hot path (Describe, Start, Stop, health, Shutdown): a local timer enforces the deadline. */
export function unary<Res, Req extends object = object>(
  session: GrpcSession,
  path: string,
  serialize: (v: Req) => Uint8Array,
  deserialize: (b: Buffer) => Res,
  request: Req,
  opts: { deadline: number; source: ErrorSource; lost?: Lost | undefined },
): Promise<Res> {
  return new Promise((resolve, reject) => {
    session.unary(path, serialize(request), { deadline: opts.deadline, timer: true }, (status, response) => {
      if (status !== undefined) return reject(callFailure(status, opts.source, opts.lost));
      try {
        resolve(deserialize(response as Buffer));
      } catch (err) {
        reject(callFailure(unparsable(err), opts.source, undefined));
      }
    });
  });
}

/**
 * The hot path of both gRPC carriers, as one promise: registered with `inflight` (destroy() fails it at once),
 * cancelled on the wire when ctx aborts (deadline or caller), and `finish` turns the response bytes into the output
 * (what it throws rejects the call; an error that is not a PlugbayError means the bytes did not parse).
 */
export function callUnary(
  session: GrpcSession,
  inflight: Inflight,
  path: string,
  request: Uint8Array,
  options: CallOptions,
  ctx: CallContext,
  finish: (response: Buffer) => unknown,
  source: ErrorSource,
  lost: Lost | undefined,
): Promise<unknown> {
  if (inflight.closedWith) return Promise.reject(inflight.closedWith);
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      inflight.delete(fail);
      reject(err);
    };
    inflight.add(fail);
    const handle: CallHandle = session.unary(path, request, options, (status, response) => {
      if (settled) return;
      if (status !== undefined) return fail(callFailure(status, source, lost));
      settled = true;
      inflight.delete(fail);
      try {
        resolve(finish(response as Buffer));
      } catch (err) {
        reject(err instanceof PlugbayError ? err : callFailure(unparsable(err), source, undefined));
      }
    });
    ctx.onAbort((reason) => {
      if (settled) return;
      handle.cancel(); // RST_STREAM(CANCEL): the plugin sees the call cancelled
      fail(reason);
    });
  });
}

/**
 * The requests a gRPC carrier still waits for, so that destroy() fails them at once instead of waiting for grpc-js
 * to notice; once closed, new requests fail with the same error. Shared by the plugbay and go-plugin carriers.
 */
export class Inflight {
  readonly #rejects = new Set<(err: Error) => void>();
  #closedWith: Error | undefined;

  get closedWith(): Error | undefined {
    return this.#closedWith;
  }

  add(reject: (err: Error) => void): void {
    this.#rejects.add(reject);
  }

  delete(reject: (err: Error) => void): void {
    this.#rejects.delete(reject);
  }

  track<T>(work: Promise<T>): Promise<T> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    return new Promise<T>((resolve, reject) => {
      this.#rejects.add(reject);
      work.then(resolve, reject).finally(() => this.#rejects.delete(reject));
    });
  }

  /** Fails every request still waiting with `err`; false when it was closed already. */
  close(err: Error): boolean {
    if (this.#closedWith) return false;
    this.#closedWith = err;
    for (const reject of [...this.#rejects]) reject(err);
    this.#rejects.clear();
    return true;
  }
}

/** Health, Shutdown and StreamStdio: shared by the plugbay and go-plugin gRPC carriers. */
export class GoPluginServices {
  readonly #session: GrpcSession;
  readonly #source: ErrorSource;
  readonly #types = protocolTypes();
  #stdio: CallHandle | undefined;

  constructor(session: GrpcSession, source: ErrorSource) {
    this.#session = session;
    this.#source = source;
  }

  async health(timeoutMs: number): Promise<Health> {
    const t = this.#types;
    const res = await unary(
      this.#session,
      '/grpc.health.v1.Health/Check',
      serializer(t.HealthCheckRequest),
      deserializer(t.HealthCheckResponse),
      { service: 'plugin' },
      { deadline: Date.now() + timeoutMs, source: this.#source },
    );
    return res.status === 1
      ? { status: 'ok' }
      : { status: 'failing', message: `health status ${String(res.status ?? 0)}` };
  }

  async shutdown(timeoutMs: number): Promise<void> {
    const t = this.#types;
    await unary(
      this.#session,
      '/plugin.GRPCController/Shutdown',
      serializer(t.ControllerEmpty),
      deserializer(t.ControllerEmpty),
      {},
      { deadline: Date.now() + timeoutMs, source: this.#source },
    );
  }

  /**
   * Reads the plugin's stdout/stderr stream at once (newer go-plugin servers block on stdout until someone does).
   * go-plugin 1.0.1 and plugbay's SDK have no such service: UNIMPLEMENTED ends it quietly, as does the process
   * going away.
   */
  streamStdio(onData: (channel: 'stdout' | 'stderr', data: Uint8Array) => void): void {
    const t = this.#types;
    const decode = deserializer(t.StdioData);
    this.#stdio = this.#session.serverStream(
      '/plugin.GRPCStdio/StreamStdio',
      t.Empty.encode({}).finish(),
      { deadline: Number.POSITIVE_INFINITY },
      (message) => {
        let d: { channel?: number; data?: Uint8Array };
        try {
          d = decode(message);
        } catch {
          return; // a chunk of output we cannot read is not worth failing the plugin for
        }
        if (d.data && d.data.length > 0) onData(d.channel === 2 ? 'stderr' : 'stdout', d.data);
      },
      () => {},
    );
  }

  close(): void {
    this.#stdio?.cancel();
    this.#session.close();
  }
}

export class GrpcCarrier implements Carrier {
  readonly kind = 'grpc';
  onLost: Lost | undefined;
  bytesFunctions: ReadonlySet<string> = noBytesFunctions;
  readonly #session: GrpcSession;
  readonly #source: ErrorSource;
  readonly #services: GoPluginServices;
  readonly #types = protocolTypes();
  readonly #inflight = new Inflight();

  /** Whether calls also carry deadline and metadata the standard gRPC way (see call()); default true. */
  readonly #grpcNative: boolean;

  constructor(socketPath: string, source: ErrorSource, opts: { grpcNative: boolean } = { grpcNative: true }) {
    this.#session = grpcClient(socketPath);
    this.#source = source;
    this.#grpcNative = opts.grpcNative;
    this.#services = new GoPluginServices(this.#session, source);
  }

  get services(): GoPluginServices {
    return this.#services;
  }

  #unary<Res>(
    method: string,
    reqType: protobuf.Type,
    resType: protobuf.Type,
    req: object,
    timeoutMs: number,
  ): Promise<Res> {
    return this.#inflight.track(
      unary(
        this.#session,
        `/plugbay.v1.Plugin/${method}`,
        serializer(reqType),
        deserializer(resType) as (b: Buffer) => Res,
        req,
        {
          deadline: Date.now() + timeoutMs,
          source: this.#source,
        },
      ),
    );
  }

  async describe(timeoutMs: number): Promise<Described> {
    const t = this.#types;
    const d = await this.#unary<Partial<Described>>(
      'Describe',
      t.DescribeRequest,
      t.DescribeResponse,
      {},
      timeoutMs,
    );
    return { name: d.name ?? '', version: d.version ?? '', functions: d.functions ?? [] };
  }

  async start(config: unknown, timeoutMs: number): Promise<void> {
    const t = this.#types;
    const req = { config: config === undefined ? undefined : encoder.encode(JSON.stringify(config)) };
    const res = await this.#unary<{ error?: ErrorMessage }>(
      'Start',
      t.StartRequest,
      t.StartResponse,
      req,
      timeoutMs,
    );
    if (res.error) throw fromErrorMessage(res.error, this.#source);
  }

  /**
   * The hot path. The CallRequest (encoded by the SDK's codec, as frames-client.ts does) carries the traceparent,
   * routing key and deadline itself, and SDK plugins read them there: no metadata headers per call and no
   * `grpc-timeout` (grpc-js, on the SDK's side, arms a timer per call for it). When the deadline passes, the host's
   * deadline list aborts the call and the cancel reaches the plugin (RST_STREAM → its 'cancelled' event), as the
   * cancel frame does over frames. Exec plugins (`grpcNative`) run their own gRPC stack, whose interceptors and
   * contexts expect both the standard way, so they get them as metadata and `grpc-timeout` too.
   */
  call(fn: string, input: unknown, ctx: CallContext): Promise<unknown> {
    if (this.#inflight.closedWith) return Promise.reject(this.#inflight.closedWith);
    let req: Uint8Array;
    try {
      req = encodeCallRequest(
        fn,
        inputJson(input, this.#source, this.bytesFunctions.has(fn)),
        ctx.traceparent ?? '',
        ctx.key ?? '',
        ctx.deadline,
      );
    } catch (err) {
      return Promise.reject(err); // Instance.call rejects, never throws
    }
    const native = this.#grpcNative;
    return callUnary(
      this.#session,
      this.#inflight,
      '/plugbay.v1.Plugin/Call',
      req,
      native
        ? { deadline: ctx.deadline, metadata: callMetadata(ctx) }
        : { deadline: Number.POSITIVE_INFINITY },
      ctx,
      this.bytesFunctions.has(fn) ? this.#finishBytesCall : this.#finishCall,
      this.#source,
      this.onLost,
    );
  }

  /** A CallResponse: the plugin's error, or its output as a value. */
  readonly #finishCall = (response: Buffer): unknown => this.#finish(response, false);
  /** The same for a `codec: "bytes"` function: its output as raw bytes. */
  readonly #finishBytesCall = (response: Buffer): unknown => this.#finish(response, true);

  #finish(response: Buffer, bytes: boolean): unknown {
    const res = decodeCallResponse(response);
    if (res.error !== undefined) throw fromErrorMessage(res.error, this.#source);
    return outputValue(res.output, this.#source, bytes);
  }

  async stop(timeoutMs: number): Promise<void> {
    const t = this.#types;
    const res = await this.#unary<{ error?: ErrorMessage }>(
      'Stop',
      t.StopRequest,
      t.StopResponse,
      {},
      timeoutMs,
    );
    if (res.error) throw fromErrorMessage(res.error, this.#source);
  }

  health(timeoutMs: number): Promise<Health> {
    return this.#inflight.track(this.#services.health(timeoutMs));
  }

  shutdown(timeoutMs: number): Promise<void> {
    return this.#inflight.track(this.#services.shutdown(timeoutMs));
  }

  destroy(err: Error): void {
    if (this.#inflight.close(err)) this.#services.close();
  }
}
