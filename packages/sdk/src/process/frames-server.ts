/** Serves the protocol as length-prefixed frames over a unix socket (the fast carrier). */
import net from 'node:net';
import type { PluginHandlers } from './handlers.js';
import { encodeError, encodeFrame, FrameKind, FrameReader } from './wire.js';

export function serveFrames(
  socketPath: string,
  handlers: PluginHandlers,
  onShutdown: () => void,
): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    const inflight = new Map<number, AbortController>();
    const reply = (kind: number, id: number, payload: Uint8Array): void => {
      if (!socket.destroyed) socket.write(encodeFrame(kind | FrameKind.reply, id, payload));
    };
    const settle = (kind: number, id: number, work: Promise<Uint8Array>): void => {
      work.then(
        (payload) => reply(kind, id, payload),
        (err: unknown) => {
          const message = err instanceof Error ? err.message : String(err);
          if (!socket.destroyed) {
            socket.write(
              encodeFrame(
                FrameKind.transportError,
                id,
                encodeError({ code: 'PLUGBAY_INTERNAL', message, details: '' }),
              ),
            );
          }
        },
      );
    };
    const reader = new FrameReader((kind, id, payload) => {
      switch (kind) {
        case FrameKind.call: {
          const ac = new AbortController();
          inflight.set(id, ac);
          const work = handlers.call(payload, ac.signal);
          work.finally(() => inflight.delete(id)).catch(() => {});
          settle(kind, id, work);
          return;
        }
        case FrameKind.cancel:
          inflight.get(id)?.abort();
          return;
        case FrameKind.describe:
          reply(kind, id, handlers.describe());
          return;
        case FrameKind.start:
          settle(kind, id, handlers.start(payload));
          return;
        case FrameKind.stop:
          settle(kind, id, handlers.stop());
          return;
        case FrameKind.health:
          settle(kind, id, handlers.health(payload));
          return;
        case FrameKind.shutdown:
          // Reply first, then exit: the host waits for the reply or for the exit, whichever comes.
          socket.write(encodeFrame(kind | FrameKind.reply, id, new Uint8Array(0)), onShutdown);
          return;
        default:
          socket.write(
            encodeFrame(
              FrameKind.transportError,
              id,
              encodeError({ code: 'PLUGBAY_INTERNAL', message: `unknown frame kind ${kind}`, details: '' }),
            ),
          );
      }
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch {
        socket.destroy(); // a broken peer: drop the connection rather than guess where the next frame starts
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      for (const ac of inflight.values()) ac.abort();
      inflight.clear();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
