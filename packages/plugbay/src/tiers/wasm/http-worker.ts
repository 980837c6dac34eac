/**
 * Runs the HTTP requests of a wasm plugin's http_request, which the plugin expects to be synchronous: the sandbox
 * thread posts a request and blocks on Atomics.wait; this worker fetches, posts the response on a MessagePort the
 * sandbox thread reads synchronously, and wakes it. Redirects are returned, not followed, so a redirect cannot lead
 * the plugin to a host outside its permissions.net.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';

export interface HttpRequestMessage {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
  timeoutMs: number;
  maxBytes: number;
}

export type HttpResponseMessage =
  | { status: number; headers: Record<string, string>; body: Uint8Array }
  | { error: string };

const data = workerData as { ctrl: SharedArrayBuffer; port: MessagePort } | null;
if (parentPort !== null && data !== null) {
  const ctrl = new Int32Array(data.ctrl);
  const reply = (m: HttpResponseMessage) => {
    data.port.postMessage(m);
    Atomics.store(ctrl, 0, 1);
    Atomics.notify(ctrl, 0);
  };
  parentPort.on('message', async (req: HttpRequestMessage) => {
    try {
      const res = await fetch(req.url, {
        method: req.method,
        headers: req.headers,
        ...(req.body === undefined ? {} : { body: req.body }),
        redirect: 'manual',
        signal: AbortSignal.timeout(req.timeoutMs),
      });
      const body = new Uint8Array(await res.arrayBuffer());
      if (body.length > req.maxBytes) {
        reply({ error: `response of ${body.length} bytes exceeds the limit of ${req.maxBytes}` });
        return;
      }
      const headers: Record<string, string> = {};
      res.headers.forEach((v, k) => {
        headers[k] = v;
      });
      reply({ status: res.status, headers, body });
    } catch (err) {
      reply({ error: (err as Error).message });
    }
  });
}
