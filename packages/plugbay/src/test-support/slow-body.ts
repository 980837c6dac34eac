// A client that keeps a request open by sending its body a byte at a time (a slow or hostile client).
import { connect, type Socket } from 'node:net';

export interface SlowBody {
  socket: Socket;
  /** Resolves once the server has read the request's headers (it answered `100 Continue`); rejects otherwise. */
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
  // Any other answer, or a closed connection, fails at once: a test waiting on `started` must not hang.
  const started = new Promise<void>((resolve, reject) => {
    let seen = '';
    const onClose = () =>
      reject(new Error(`slowBody: connection closed before 100 Continue (read: ${seen})`));
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      if (!seen.includes('\r\n')) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      if (!seen.startsWith('HTTP/1.1 100')) {
        reject(new Error(`slowBody: the server answered ${seen.split('\r\n')[0]} instead of 100 Continue`));
        return;
      }
      drip = setInterval(() => socket.write(' '), everyMs);
      resolve();
    };
    socket.on('data', onData);
    socket.once('close', onClose);
  });
  // Not events.once: it rejects on the socket's 'error', and a server cutting a connection with unread bytes makes
  // the kernel send a reset (ECONNRESET) — the drip would then never stop and keep the test process alive.
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve())).then(() =>
    clearInterval(drip),
  );
  return { socket, started, closed };
}
