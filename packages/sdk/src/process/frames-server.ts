/** Serves the protocol as length-prefixed frames over a unix socket (the fast carrier). */
import net from 'node:net';
import type { PluginHandlers } from './handlers.js';
import { encodeError, encodeFrame, FrameKind, FrameReader } from './wire.js';

/** An abort signal made on first read: most calls never look at ctx.signal, and an AbortController is not free. */
export class LazyAbort {
  #controller: AbortController | undefined;
  #aborted = false;

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort();
    }
    return this.#controller.signal;
  }

  abort(): void {
    this.#aborted = true;
    this.#controller?.abort();
  }
}

export function serveFrames(
  socketPath: string,
  handlers: PluginHandlers,
  onShutdown: () => void,
): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    // Calls in flight; the AbortController is made only when the handler reads ctx.signal or a cancel arrives.
    const inflight = new Map<number, LazyAbort>();
    // Replies written in one tick leave in one syscall.
    let corked = false;
    const uncork = (): void => {
      corked = false;
      socket.uncork();
    };
    const reply = (kind: number, id: number, payload: Uint8Array): void => {
      if (socket.destroyed) return;
      if (!corked) {
        corked = true;
        socket.cork();
        process.nextTick(uncork);
      }
      socket.write(encodeFrame(kind | FrameKind.reply, id, payload));
    };
    const transportError = (id: number, err: unknown): void => {
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
    };
    const settle = (kind: number, id: number, work: Uint8Array | Promise<Uint8Array>): void => {
      if (!(work instanceof Promise)) {
        if (kind === FrameKind.call) inflight.delete(id);
        reply(kind, id, work);
        return;
      }
      work.then(
        (payload) => {
          if (kind === FrameKind.call) inflight.delete(id);
          reply(kind, id, payload);
        },
        (err: unknown) => {
          if (kind === FrameKind.call) inflight.delete(id);
          transportError(id, err);
        },
      );
    };
    const reader = new FrameReader((kind, id, payload) => {
      switch (kind) {
        case FrameKind.call: {
          const abort = new LazyAbort();
          inflight.set(id, abort);
          let answer: Uint8Array | Promise<Uint8Array>;
          try {
            answer = handlers.call(payload, abort);
          } catch (err) {
            answer = Promise.reject(err); // only this call fails, never the connection
          }
          settle(kind, id, answer);
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
          transportError(id, `unknown frame kind ${kind}`);
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
      for (const abort of inflight.values()) abort.abort();
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
