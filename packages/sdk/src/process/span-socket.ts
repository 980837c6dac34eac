/**
 * ctx.span() in the process tier: when the host exports traces it names a unix socket in PLUGBAY_OTLP_TRACES_SOCKET
 * (plugbay's tiers/process/span-socket.ts) that takes OTLP/HTTP JSON. Spans recorded in one turn of the event loop
 * go in one request; past `maxPending` waiting spans more are dropped here (the host bounds what it takes anyway).
 * Failures are ignored: a plugin's spans never fail its calls.
 */
import { request } from 'node:http';
import type { OtlpJsonSpan, SpanRecorder } from '../spans.js';

const maxPending = 1000;

export function socketRecorder(socketPath: string | undefined): SpanRecorder | undefined {
  if (socketPath === undefined || socketPath === '') return undefined;
  let pending: OtlpJsonSpan[] | undefined;
  const flush = () => {
    const spans = pending;
    pending = undefined;
    if (spans === undefined) return;
    const body = JSON.stringify({
      resourceSpans: [{ scopeSpans: [{ scope: { name: 'ctx.span' }, spans }] }],
    });
    const req = request(
      { socketPath, path: '/v1/traces', method: 'POST', headers: { 'content-type': 'application/json' } },
      (res) => res.resume(),
    );
    req.on('error', () => {});
    req.end(body);
  };
  return (span) => {
    if (pending === undefined) {
      pending = [span];
      setImmediate(flush);
    } else if (pending.length < maxPending) pending.push(span);
  };
}
