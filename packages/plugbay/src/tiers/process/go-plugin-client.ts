/**
 * A plain go-plugin gRPC plugin with its own service (`protocol: "go-plugin"`): its unary methods are the
 * plugin's functions, and JSON in and out is converted to and from protobuf by proto-loader (proto3 JSON mapping:
 * bytes as base64, 64-bit integers as strings, enums by name).
 */
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Health } from '@plugbay/sdk';
import { type ErrorSource, PlugbayError } from '../../core/errors.js';
import type { CallContext } from '../../core/types.js';
import { type Carrier, type Described, type Lost, noBytesFunctions } from './carrier.js';
import { asBuffer, callMetadata, GoPluginServices, grpcClient, Inflight, unary } from './grpc-client.js';

interface Method {
  path: string;
  serialize: (v: object) => Buffer;
  deserialize: (b: Buffer) => unknown;
}

/** Reads the plugin's service from its .proto; throws PLUGBAY_LOAD_FAILED naming what is missing. */
export function loadService(protoPath: string, service: string, source: ErrorSource): Map<string, Method> {
  let def: protoLoader.PackageDefinition;
  try {
    def = protoLoader.loadSync(protoPath, {
      keepCase: false,
      longs: String,
      enums: String,
      bytes: String,
      defaults: true,
      oneofs: true,
      includeDirs: [path.dirname(protoPath)],
    });
  } catch (err) {
    throw new PlugbayError('PLUGBAY_LOAD_FAILED', `cannot read ${protoPath}: ${(err as Error).message}`, {
      ...source,
      cause: err,
    });
  }
  const svc = def[service];
  if (svc === undefined || 'format' in svc) {
    throw new PlugbayError(
      'PLUGBAY_LOAD_FAILED',
      `service ${service} is not defined in ${path.basename(protoPath)}`,
      {
        ...source,
        details: { field: 'service', services: Object.keys(def) },
      },
    );
  }
  const methods = new Map<string, Method>();
  for (const [name, m] of Object.entries(svc as grpc.ServiceDefinition)) {
    if (m.requestStream || m.responseStream) continue; // streaming methods are not functions
    methods.set(name, {
      path: m.path,
      serialize: m.requestSerialize as (v: object) => Buffer,
      deserialize: m.responseDeserialize as (b: Buffer) => unknown,
    });
  }
  return methods;
}

export class GoPluginCarrier implements Carrier {
  readonly kind = 'go-plugin';
  onLost: Lost | undefined;
  bytesFunctions: ReadonlySet<string> = noBytesFunctions;
  readonly #client: grpc.Client;
  readonly #services: GoPluginServices;
  readonly #methods: Map<string, Method>;
  readonly #source: ErrorSource;
  readonly #described: Described;
  readonly #inflight = new Inflight();

  constructor(
    socketPath: string,
    methods: Map<string, Method>,
    described: Omit<Described, 'functions'>,
    source: ErrorSource,
  ) {
    this.#client = grpcClient(socketPath);
    this.#services = new GoPluginServices(this.#client, source);
    this.#methods = methods;
    this.#source = source;
    this.#described = { ...described, functions: [...methods.keys()] };
  }

  get services(): GoPluginServices {
    return this.#services;
  }

  async describe(): Promise<Described> {
    return this.#described;
  }

  // A go-plugin service has no start/stop of its own: config is not passed, and Controller.Shutdown stops it.
  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  call(fn: string, input: unknown, ctx: CallContext): Promise<unknown> {
    if (this.#inflight.closedWith) return Promise.reject(this.#inflight.closedWith);
    const m = this.#methods.get(fn);
    if (m === undefined) {
      return Promise.reject(
        new PlugbayError('PLUGBAY_UNKNOWN_FUNCTION', `service has no unary method ${fn}`, this.#source),
      );
    }
    // Encoded here, not by grpc-js, which would turn a failure into an INTERNAL status (the plugin's fault).
    let request: Buffer;
    try {
      request = m.serialize((input ?? {}) as object);
    } catch (err) {
      return Promise.reject(
        new PlugbayError(
          'PLUGBAY_INVALID_INPUT',
          `input does not fit the request message: ${(err as Error).message}`,
          { ...this.#source, cause: err },
        ),
      );
    }
    return this.#inflight.track(
      unary(this.#client, m.path, asBuffer, m.deserialize, request, {
        deadline: ctx.deadline,
        source: this.#source,
        metadata: callMetadata(ctx),
        onAbort: (l) => ctx.onAbort(l),
        lost: this.onLost,
      }),
    );
  }

  health(timeoutMs: number): Promise<Health> {
    return this.#services.health(timeoutMs);
  }

  shutdown(timeoutMs: number): Promise<void> {
    return this.#services.shutdown(timeoutMs);
  }

  destroy(err: Error): void {
    if (this.#inflight.close(err)) this.#services.close();
  }
}
