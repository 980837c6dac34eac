/**
 * ctx.span() in the process tier: when the host exports traces it names a unix socket in PLUGBAY_OTLP_TRACES_SOCKET
 * (plugbay's tiers/process/span-socket.ts) that takes OTLP/HTTP JSON. Spans recorded in one turn of the event loop
 * go in one request; past 1000 waiting spans more are dropped here (the host bounds what it takes anyway).
 * Failures are ignored: a plugin's spans never fail its calls.
 */
import { request } from 'node:http';
import { batchedRecorder, type SpanRecorder } from '../spans.js';

export function socketRecorder(socketPath: string | undefined): SpanRecorder | undefined {
  if (socketPath === undefined || socketPath === '') return undefined;
  return batchedRecorder((spans) => {
    const body = JSON.stringify({
      resourceSpans: [{ scopeSpans: [{ scope: { name: 'ctx.span' }, spans }] }],
    });
    const req = request(
      { socketPath, path: '/v1/traces', method: 'POST', headers: { 'content-type': 'application/json' } },
      (res) => res.resume(),
    );
    req.on('error', () => {});
    req.end(body);
  }, setImmediate);
}
