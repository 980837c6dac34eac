/**
 * Serves the protocol over gRPC (grpc-js, loaded only when asked for): plugbay.v1.Plugin, grpc.health.v1.Health
 * and go-plugin's plugin.GRPCController. Messages stay encoded bytes end to end (identity serializers).
 */
import { LazyAbort } from './frames-server.js';
import type { PluginHandlers } from './handlers.js';

type Bytes = Uint8Array;

export async function serveGrpc(
  socketPath: string,
  handlers: PluginHandlers,
  onShutdown: () => void,
  grpcModule?: string,
): Promise<{ close(): void }> {
  // The host may name grpc-js's real file: under the permission model the resolver cannot follow a symlinked
  // node_modules that lies outside the paths the plugin may read.
  const grpc = (await import(grpcModule ?? '@grpc/grpc-js')) as typeof import('@grpc/grpc-js');
  const server = new grpc.Server();
  const method = (path: string) => ({
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Bytes) => Buffer.from(b),
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Bytes) => Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    responseDeserialize: (b: Buffer) => b,
  });
  type Unary = (
    call: { request: Bytes; getDeadline(): unknown; on(e: 'cancelled', f: () => void): void },
    cb: (err: Error | null, res?: Bytes) => void,
  ) => void;
  const unary =
    (work: (req: Bytes, call: Parameters<Unary>[0]) => Promise<Bytes> | Bytes): Unary =>
    (call, cb) => {
      const fail = (err: unknown) => cb(err instanceof Error ? err : new Error(String(err)));
      let res: Promise<Bytes> | Bytes;
      try {
        res = work(call.request, call);
      } catch (err) {
        fail(err);
        return;
      }
      if (res instanceof Promise) res.then((r) => cb(null, r), fail);
      else cb(null, res);
    };
  server.addService(
    {
      Describe: method('/plugbay.v1.Plugin/Describe'),
      Start: method('/plugbay.v1.Plugin/Start'),
      Call: method('/plugbay.v1.Plugin/Call'),
      Stop: method('/plugbay.v1.Plugin/Stop'),
    },
    {
      Describe: unary(() => handlers.describe()),
      Start: unary((req) => handlers.start(req)),
      Call: unary((req, call) => {
        const abort = new LazyAbort();
        call.on('cancelled', () => abort.abort()); // deadline passed or the host cancelled
        return handlers.call(req, abort);
      }),
      Stop: unary(() => handlers.stop()),
    },
  );
  server.addService(
    { Check: method('/grpc.health.v1.Health/Check') },
    { Check: unary((req) => handlers.health(req)) },
  );
  server.addService(
    { Shutdown: method('/plugin.GRPCController/Shutdown') },
    {
      Shutdown: unary(() => {
        setImmediate(onShutdown);
        return new Uint8Array(0);
      }),
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix:${socketPath}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    );
  });
  return { close: () => server.forceShutdown() };
}
