/**
 * The OTLP/HTTP receiver a process-tier plugin sends its own spans to when the host exports traces: a unix
 * socket in the launch's own socket dir (the only directory the sandboxed plugin may write), named to the plugin
 * by PLUGBAY_OTLP_TRACES_SOCKET. It takes OTLP/JSON (`POST /v1/traces`, what examples/go-plugins/plugbay-echo
 * sends) and hands the spans to the instance's SpanRelay, which checks and bounds them (observe/span-relay.ts).
 * Being per launch, the socket says which plugin sent a span: the plugin cannot claim to be another one.
 */
import { chmodSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { PluginLoggerSink } from '../../core/types.js';
import { dropWarning, relayLimits, type SpanRelay } from '../../observe/span-relay.js';

export const spanSocketEnv = 'PLUGBAY_OTLP_TRACES_SOCKET';

export interface SpanSocket {
  readonly path: string;
  close(): void;
}

/** Listens on `<dir>/otlp.sock`; resolves once it accepts connections. */
export function listenSpanSocket(dir: string, relay: SpanRelay, log: PluginLoggerSink): Promise<SpanSocket> {
  const path = join(dir, 'otlp.sock');
  const warn = dropWarning(log);
  const server: Server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/traces') {
      res.writeHead(404).end();
      req.resume();
      return;
    }
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      res.writeHead(415).end();
      req.resume();
      return;
    }
    if (relay.spent) {
      // over its rate: refused unread (reading and parsing it is the work the rate bounds)
      res.writeHead(429, { connection: 'close', 'retry-after': '1' }).end();
      req.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > relayLimits.maxRequestBytes) {
        res.writeHead(413, { connection: 'close' }).end();
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > relayLimits.maxRequestBytes) return;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400).end();
        return;
      }
      const out = relay.relay(body, size);
      warn(out);
      const rejected = out.dropped.trace + out.dropped.malformed + out.dropped.rate;
      // OTLP's partial success: the sender learns how many spans were refused, and must not retry them.
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(
          JSON.stringify(
            rejected === 0
              ? {}
              : { partialSuccess: { rejectedSpans: String(rejected), errorMessage: 'dropped by the host' } },
          ),
        );
    });
  });
  server.maxConnections = 4;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      // The sandboxed plugin may run as another uid and needs write permission to connect; the launch dir
      // (0700, its owner the plugin's uid) keeps everyone else out.
      chmodSync(path, 0o666);
      resolve({ path, close: () => server.close() });
    });
  });
}
