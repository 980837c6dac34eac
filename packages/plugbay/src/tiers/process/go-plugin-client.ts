/**
 * A plain go-plugin gRPC plugin with its own service (`protocol: "go-plugin"`): its unary methods are the
 * plugin's functions, and JSON in and out is converted to and from protobuf strictly by the proto3 JSON mapping
 * (proto-service.ts, proto-json.ts): a value the message cannot hold is refused with its field, never coerced.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Health } from '@plugbay/sdk';
import { type ErrorSource, PlugbayError } from '../../core/errors.js';
import type { CallContext } from '../../core/types.js';
import { type Carrier, type Described, type Lost, noBytesFunctions } from './carrier.js';
import { callMetadata, callUnary, GoPluginServices, grpcClient, Inflight } from './grpc-client.js';
import type { GrpcSession } from './grpc-session.js';
import { codecOf, type Method, ProtoLoadError, readService } from './proto-service.js';

/** Reads the plugin's service from its .proto; throws PLUGBAY_LOAD_FAILED naming what is wrong. */
export function loadService(
  protoPath: string,
  service: string,
  source: ErrorSource,
  options: { emitDefaults?: boolean } = {},
): Map<string, Method> {
  const dir = path.dirname(protoPath);
  const read = (file: string) => {
    try {
      return fs.readFileSync(path.join(dir, file), 'utf8');
    } catch {
      return undefined;
    }
  };
  let methods: ReturnType<typeof readService>['methods'];
  try {
    methods = readService(path.basename(protoPath), service, read).methods;
  } catch (err) {
    if (!(err instanceof ProtoLoadError)) throw err;
    throw new PlugbayError('PLUGBAY_LOAD_FAILED', err.message, {
      ...source,
      details: { field: err.field, rule: err.rule, ...err.details },
    });
  }
  const codecs = new Map<string, Method>();
  for (const [name, m] of methods) {
    codecs.set(name, codecOf(m, { emitDefaults: options.emitDefaults ?? false, source }));
  }
  return codecs;
}

export class GoPluginCarrier implements Carrier {
  readonly kind = 'go-plugin';
  onLost: Lost | undefined;
  bytesFunctions: ReadonlySet<string> = noBytesFunctions;
  readonly #session: GrpcSession;
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
    this.#session = grpcClient(socketPath);
    this.#services = new GoPluginServices(this.#session, source);
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
    // Encoded and decoded here, before anything is sent and as the answer arrives: these throw
    // PLUGBAY_INVALID_INPUT / PLUGBAY_INVALID_OUTPUT naming the field (a gRPC status would blame the plugin).
    let request: Uint8Array;
    try {
      request = m.serialize(input ?? {});
    } catch (err) {
      return Promise.reject(err);
    }
    return callUnary(
      this.#session,
      this.#inflight,
      m.path,
      request,
      { deadline: ctx.deadline, metadata: callMetadata(ctx) },
      ctx,
      m.deserialize,
      this.#source,
      this.onLost,
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
