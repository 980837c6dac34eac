// Shared by the gateway's HTTP rollout tests: a gateway on a loopback port, real plugins from temp dirs,
// keep-alive clients.
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import type { TestContext } from 'node:test';
import { pino } from 'pino';
import { createHost } from '../host/host.js';
import { manifest, tempDir, writePlugin } from '../test-support/plugins.js';
import { createInlineTier } from '../tiers/index.js';
import { createGateway, type GatewayOptions } from './server.js';

const quiet = pino({ level: 'silent' });
const any = {};

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** A gateway on port 0 serving svc@1.0.0 and svc@1.1.0 (inline tier: the HTTP path is what is tested here). */
export async function start(t: TestContext, options: Omit<GatewayOptions, 'host' | 'port'> = {}) {
  const root = await tempDir(t);
  for (const version of ['1.0.0', '1.1.0']) {
    await writePlugin(root, `svc@${version}`, {
      manifest: manifest({ name: 'svc', version, functions: { who: { input: any, output: any } } }),
      files: {
        'index.mjs': `export default { name: 'svc', version: '${version}', functions: {
          who: { input: {}, output: {}, handler: () => '${version}' } } };\n`,
      },
    });
  }
  const host = createHost({ logger: quiet, tierFor: () => 'inline', tiers: { inline: createInlineTier() } });
  await host.loadDirectory(root);
  const gateway = createGateway({ ...options, host, port: 0 });
  const { port, admin } = await gateway.listen();
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  t.after(async () => {
    agent.destroy();
    await gateway.close();
    await host.close();
  });
  const sendTo =
    (to: number) =>
    (method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Reply> =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: to, method, path, agent, headers }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed(text) }),
          );
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(body);
      });
  // `send` reaches the traffic listener, `sendAdmin` the admin API's (the same one unless `adminPort` is set).
  const send = sendTo(port);
  const sendAdmin = sendTo(admin.port);
  return { host, gateway, send, sendAdmin, port, adminPort: admin.port };
}

/** An answer's body: JSON, or the text when it is not JSON (`/metrics`, the dashboard); null when empty. */
function parsed(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Sends one call per key, 32 at a time; returns, per key, the served-by and arm headers. */
export async function callAll(send: Awaited<ReturnType<typeof start>>['send'], keys: string[]) {
  const out = new Map<string, { servedBy: string; arm: string }>();
  let next = 0;
  const lane = async () => {
    while (next < keys.length) {
      const key = keys[next++]!;
      const r = await send('POST', '/v1/call/svc/who', '{}', { 'x-plugbay-key': key });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const servedBy = r.headers['x-plugbay-served-by'] as string;
      assert.equal(r.body, servedBy.slice('svc@'.length), 'the body comes from the version the header names');
      out.set(key, { servedBy, arm: r.headers['x-plugbay-arm'] as string });
    }
  };
  await Promise.all(Array.from({ length: 32 }, lane));
  return out;
}
