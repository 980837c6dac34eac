/** A blocking HTTP client for host functions (see http-worker.ts). One helper worker per sandbox, made on first use. */
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { HttpRequestMessage, HttpResponseMessage } from './http-worker.js';

export class SyncHttp {
  #worker: Worker | undefined;
  #port: MessagePort | undefined;
  #ctrl: Int32Array | undefined;

  request(req: HttpRequestMessage): HttpResponseMessage {
    if (this.#worker === undefined) {
      const sab = new SharedArrayBuffer(4);
      const { port1, port2 } = new MessageChannel();
      this.#worker = new Worker(new URL('./http-worker.js', import.meta.url), {
        workerData: { ctrl: sab, port: port2 },
        transferList: [port2],
      });
      this.#worker.unref();
      this.#port = port1;
      this.#ctrl = new Int32Array(sab);
    }
    const ctrl = this.#ctrl!;
    Atomics.store(ctrl, 0, 0);
    this.#worker.postMessage(req);
    if (Atomics.wait(ctrl, 0, 0, req.timeoutMs + 5000) === 'timed-out') {
      this.close(); // a stuck helper is replaced next time
      return { error: `no response within ${req.timeoutMs} ms` };
    }
    const msg = receiveMessageOnPort(this.#port!);
    return msg === undefined
      ? { error: 'the HTTP helper sent no response' }
      : (msg.message as HttpResponseMessage);
  }

  close(): void {
    void this.#worker?.terminate();
    this.#port?.close();
    this.#worker = undefined;
    this.#port = undefined;
  }
}
