// A client that keeps a request open by sending its body a byte at a time (a slow or hostile client).
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

export interface SlowBody {
  socket: Socket;
  /** Resolves once the server has read the request's headers (it answered `100 Continue`). */
  started: Promise<void>;
  /** Resolves when the connection is closed, by either side. */
  closed: Promise<void>;
}

/**
 * Opens a connection to 127.0.0.1:`port`, sends the headers of a `POST path` with a 1000-byte body and
 * `expect: 100-continue` (so the server's answer says it has read them), then a byte every `everyMs`.
 */
export function slowBody(port: number, path: string, everyMs = 100): SlowBody {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(
    `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n` +
      'expect: 100-continue\r\n\r\n',
  );
  let drip: NodeJS.Timeout | undefined;
  const started = new Promise<void>((resolve) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      if (!seen.startsWith('HTTP/1.1 100')) return;
      socket.off('data', onData);
      drip = setInterval(() => socket.write(' '), everyMs);
      resolve();
    };
    socket.on('data', onData);
  });
  const closed = once(socket, 'close').then(() => clearInterval(drip));
  return { socket, started, closed };
}
