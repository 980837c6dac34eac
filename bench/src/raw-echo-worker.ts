// The raw baseline of the thread boundary: a worker that answers each [id, payload] message with the payload.
import { parentPort } from 'node:worker_threads';

const port = parentPort!;
port.on('message', (msg: [number, unknown]) => port.postMessage(msg));
