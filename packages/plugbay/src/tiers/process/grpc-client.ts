/**
 * The gRPC carrier, host side (grpc-js over the unix socket): plugbay.v1.Plugin with protobufjs codecs, plus what
 * every go-plugin server has: grpc.health.v1 Check for "plugin", plugin.GRPCController/Shutdown and
 * plugin.GRPCStdio/StreamStdio (absent in go-plugin 1.0.1: UNIMPLEMENTED is expected and ignored).
 */
import * as grpc from '@grpc/grpc-js';
import type { Health } from '@plugbay/sdk';
import { decodeCallResponse, encodeCallRequest } from '@plugbay/sdk/process';
import type protobuf from 'protobufjs';
import type { ErrorSource, PlugbayError } from '../../core/errors.js';
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
import { type ErrorMessage, protocolTypes } from './proto.js';

const encoder = new TextEncoder();

/** The identity serializer, for requests encoded before the call. */
export const asBuffer = (b: Buffer): Buffer => b;
/** What grpc-js accepts as a metadata value. */
const headerSafe = /^[\x20-\x7e]*$/;
const serializer = (type: protobuf.Type) => (value: object) =>
  Buffer.from(type.encode(type.fromObject(value)).finish());
const deserializer = (type: protobuf.Type) => (buf: Buffer) =>
  type.decode(buf) as unknown as Record<string, unknown>;

export function grpcClient(socketPath: string): grpc.Client {
  // No retries or reconnect backoff games: a broken plugin connection is the supervisor's business.
  return new grpc.Client(`unix:${socketPath}`, grpc.credentials.createInsecure(), {
    'grpc.enable_retries': 0,
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
  });
}

const noOptions: grpc.CallOptions = Object.freeze({});

/** Traceparent and routing key as gRPC metadata, for plugins on their own gRPC stack. */
export function callMetadata(ctx: CallContext): grpc.Metadata {
  const metadata = new grpc.Metadata();
  // Metadata values must be printable ASCII; anything else travels only in the message.
  if (ctx.traceparent !== undefined && headerSafe.test(ctx.traceparent))
    metadata.set('traceparent', ctx.traceparent);
  if (ctx.key !== undefined && headerSafe.test(ctx.key)) metadata.set('x-plugbay-key', ctx.key);
  return metadata;
}

/**
 * client.makeUnaryRequest without the caller stack grpc-js captures for every call (`new Error()`, kept only to
 * decorate a failed status, which we map to a PLUGBAY_* error anyway): behind host.call the stack is deep, and
 * capturing it cost ~5 µs a call. The limit is restored before anything else runs (all of this is synchronous).
 */
export function unaryCall<Req, Res>(
  client: grpc.Client,
  path: string,
  serialize: (v: Req) => Buffer,
  deserialize: (b: Buffer) => Res,
  request: Req,
  options: grpc.CallOptions,
  callback: grpc.requestCallback<Res>,
  metadata?: grpc.Metadata,
): grpc.ClientUnaryCall {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return metadata === undefined
      ? client.makeUnaryRequest(path, serialize, deserialize, request, options, callback)
      : client.makeUnaryRequest(path, serialize, deserialize, request, metadata, options, callback);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * A call's failure as a PLUGBAY_* error. UNAVAILABLE (the connection broke) and CANCELLED (by the server: ours
 * settle the call before grpc-js reports it) say the process is going away: they go through `lost` first.
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

/** One unary call that honours a deadline and a cancel hook; rejects with a PLUGBAY_* error. */
export function unary<Res, Req extends object = object>(
  client: grpc.Client,
  path: string,
  serialize: (v: Req) => Buffer,
  deserialize: (b: Buffer) => Res,
  request: Req,
  opts: {
    deadline: number;
    source: ErrorSource;
    metadata?: grpc.Metadata;
    onAbort?: CallContext['onAbort'];
    lost?: Lost | undefined;
  },
): Promise<Res> {
  return new Promise((resolve, reject) => {
    let aborted = false;
    const call = unaryCall(
      client,
      path,
      serialize,
      deserialize,
      request,
      Number.isFinite(opts.deadline) ? { deadline: opts.deadline } : noOptions,
      (err, res) => {
        if (aborted) return;
        if (err) reject(callFailure(err, opts.source, opts.lost));
        else resolve(res as Res);
      },
      opts.metadata,
    );
    opts.onAbort?.((reason) => {
      aborted = true;
      call.cancel(); // the plugin sees the call cancelled
      reject(reason);
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
  readonly #client: grpc.Client;
  readonly #source: ErrorSource;
  readonly #types = protocolTypes();
  #stdio: grpc.ClientReadableStream<unknown> | undefined;

  constructor(client: grpc.Client, source: ErrorSource) {
    this.#client = client;
    this.#source = source;
  }

  async health(timeoutMs: number): Promise<Health> {
    const t = this.#types;
    const res = await unary(
      this.#client,
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
      this.#client,
      '/plugin.GRPCController/Shutdown',
      serializer(t.ControllerEmpty),
      deserializer(t.ControllerEmpty),
      {},
      { deadline: Date.now() + timeoutMs, source: this.#source },
    );
  }

  /**
   * Reads the plugin's stdout/stderr stream at once (newer go-plugin servers block on stdout until someone does).
   * go-plugin 1.0.1 and plugbay's SDK have no such service: UNIMPLEMENTED ends it quietly.
   */
  streamStdio(onData: (channel: 'stdout' | 'stderr', data: Uint8Array) => void): void {
    const t = this.#types;
    const stream = this.#client.makeServerStreamRequest(
      '/plugin.GRPCStdio/StreamStdio',
      serializer(t.Empty),
      deserializer(t.StdioData),
      {},
    );
    this.#stdio = stream;
    stream.on('data', (d: { channel?: number; data?: Uint8Array }) => {
      if (d.data && d.data.length > 0) onData(d.channel === 2 ? 'stderr' : 'stdout', d.data);
    });
    stream.on('error', () => {}); // UNIMPLEMENTED (no GRPCStdio), or the process went away
  }

  close(): void {
    this.#stdio?.cancel();
    this.#client.close();
  }
}

export class GrpcCarrier implements Carrier {
  readonly kind = 'grpc';
  onLost: Lost | undefined;
  bytesFunctions: ReadonlySet<string> = noBytesFunctions;
  readonly #client: grpc.Client;
  readonly #source: ErrorSource;
  readonly #services: GoPluginServices;
  readonly #types = protocolTypes();
  readonly #inflight = new Inflight();

  /** Whether calls also carry deadline and metadata the standard gRPC way (see call()); default true. */
  readonly #grpcNative: boolean;

  constructor(socketPath: string, source: ErrorSource, opts: { grpcNative: boolean } = { grpcNative: true }) {
    this.#client = grpcClient(socketPath);
    this.#source = source;
    this.#grpcNative = opts.grpcNative;
    this.#services = new GoPluginServices(this.#client, source);
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
        this.#client,
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
   * routing key and deadline itself, and SDK plugins read them there: no grpc.Metadata per call (it cost ~10 % of a
   * raw grpc-js call) and no gRPC deadline (grpc-js arms a timer per call on each side for it, ~8 %). When the
   * deadline passes, the host's deadline list aborts the call and the cancel reaches the plugin (RST_STREAM → its
   * 'cancelled' event), as the cancel frame does over frames. Exec plugins (`grpcNative`) run their own gRPC stack,
   * whose interceptors and contexts expect both the standard way, so they get them as metadata and gRPC deadline too.
   */
  call(fn: string, input: unknown, ctx: CallContext): Promise<unknown> {
    if (this.#inflight.closedWith) return Promise.reject(this.#inflight.closedWith);
    let req: Buffer;
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
    return new Promise((resolve, reject) => {
      // Registered here rather than through Inflight.track: one promise per call instead of three.
      const inflight = this.#inflight;
      let settled = false;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        inflight.delete(fail);
        reject(err);
      };
      inflight.add(fail);
      const native = this.#grpcNative;
      const call = unaryCall(
        this.#client,
        '/plugbay.v1.Plugin/Call',
        asBuffer,
        decodeCallResponse,
        req,
        native && Number.isFinite(ctx.deadline) ? { deadline: ctx.deadline } : noOptions,
        (err, res) => {
          if (settled) return;
          if (err || res === undefined) return fail(callFailure(err ?? {}, this.#source, this.onLost));
          settled = true;
          inflight.delete(fail);
          try {
            if (res.error !== undefined) reject(fromErrorMessage(res.error, this.#source));
            else resolve(outputValue(res.output, this.#source, this.bytesFunctions.has(fn)));
          } catch (e) {
            reject(e);
          }
        },
        native ? callMetadata(ctx) : undefined,
      );
      ctx.onAbort((reason) => {
        if (settled) return;
        call.cancel(); // the plugin sees the call cancelled
        fail(reason);
      });
    });
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
