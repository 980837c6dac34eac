/**
 * The process entry of plugins built with @plugbay/sdk: runs a `definePlugin` module in its own process and serves
 * the plugbay protocol go-plugin style (magic cookie, `PLUGIN_PROTOCOL_VERSIONS`, one handshake line on stdout,
 * logs as hclog JSON on stderr). It watches its parent and exits when the host is gone.
 */
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PluginLogger } from '../define.js';
import { importPlugin, PluginRuntime, resolveDefinition } from '../runtime.js';
import { serveFrames } from './frames-server.js';
import { serveGrpc } from './grpc-server.js';
import { createHandlers } from './handlers.js';

/** The env var and value a host sets so that the entry knows it was launched as a plugin (go-plugin's MagicCookie). */
export const magicCookieKey = 'PLUGBAY_PLUGIN_MAGIC_COOKIE';
export const magicCookieValue = 'd7f0c3a6e2b94c1f8a5e6b7d9c0a1f2e';
/** The app protocol version this entry speaks. */
export const appProtocolVersion = 1;
/** Env vars of the launch protocol; removed from process.env before plugin code runs. */
export const launchEnv = [
  magicCookieKey,
  'PLUGIN_PROTOCOL_VERSIONS',
  'PLUGIN_UNIX_SOCKET_DIR',
  'PLUGBAY_PLUGIN_ENTRY',
  'PLUGBAY_CARRIER',
  'PLUGBAY_GRPC_MODULE',
] as const;

export type Carrier = 'frames' | 'grpc';

export interface ServeOptions {
  entry: string;
  carrier: Carrier;
  socketDir: string;
}

/** hclog's JSON line format, which the host (and go-plugin hosts) parse. */
function stderrLogger(traceparent?: string): PluginLogger {
  const line = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    const record: Record<string, unknown> = {
      '@level': level,
      '@message': msg,
      '@timestamp': new Date().toISOString(),
    };
    if (traceparent !== undefined) record.traceparent = traceparent;
    try {
      process.stderr.write(`${JSON.stringify(fields === undefined ? record : { ...fields, ...record })}\n`);
    } catch {
      process.stderr.write(`${JSON.stringify(record)}\n`);
    }
  };
  return {
    trace: line('trace'),
    debug: line('debug'),
    info: line('info'),
    warn: line('warn'),
    error: line('error'),
  };
}

/** Reads and checks the launch environment. Exits like a go-plugin binary does when not launched by a host. */
export function optionsFromEnv(env: NodeJS.ProcessEnv): ServeOptions {
  if (env[magicCookieKey] !== magicCookieValue) {
    process.stderr.write(
      'This binary is a plugbay plugin. It is not meant to be run directly: a plugbay host launches it.\n',
    );
    process.exit(1);
  }
  const versions = (env.PLUGIN_PROTOCOL_VERSIONS ?? '').split(',').map((v) => v.trim());
  if (!versions.includes(String(appProtocolVersion))) {
    process.stderr.write(
      `[ERROR] protocol version mismatch: host offers "${env.PLUGIN_PROTOCOL_VERSIONS ?? ''}", plugin speaks ${appProtocolVersion}\n`,
    );
    process.exit(1);
  }
  const entry = env.PLUGBAY_PLUGIN_ENTRY;
  if (entry === undefined || entry === '') {
    process.stderr.write('[ERROR] PLUGBAY_PLUGIN_ENTRY is not set\n');
    process.exit(1);
  }
  const carrier = env.PLUGBAY_CARRIER === 'grpc' ? 'grpc' : 'frames';
  return { entry, carrier, socketDir: env.PLUGIN_UNIX_SOCKET_DIR || os.tmpdir() };
}

export async function servePlugin(options: ServeOptions): Promise<void> {
  const grpcModule = process.env.PLUGBAY_GRPC_MODULE;
  for (const key of launchEnv) delete process.env[key];
  const definition = resolveDefinition(await importPlugin(pathToFileURL(options.entry).href));
  const runtime = new PluginRuntime(definition, { logger: stderrLogger });
  const handlers = createHandlers(runtime);
  // pid plus a random suffix keeps names apart; the socket dir is private to the host, so no need for
  // node:crypto (loading it costs the start-up ~6 ms).
  const suffix = Math.floor(Math.random() * 0x100000000)
    .toString(16)
    .padStart(8, '0');
  const socketPath = path.join(options.socketDir, `plugin-${process.pid}-${suffix}.sock`);

  let closeServer: () => void = () => {};
  // Closing the server unlinks the socket file (libuv does it for bound pipes), so no stale file is left behind.
  const exit = (code: number): void => {
    closeServer();
    process.exit(code);
  };
  if (options.carrier === 'grpc') {
    const server = await serveGrpc(socketPath, handlers, () => exit(0), grpcModule);
    closeServer = () => server.close();
  } else {
    const server = await serveFrames(socketPath, handlers, () => exit(0));
    closeServer = () => server.close();
  }
  // The handshake first: the host connects while we set up the rest. Writes to a pipe are synchronous and nothing
  // else runs before this function returns, so no signal or host exit can slip in between.
  process.stdout.write(`1|${appProtocolVersion}|unix|${socketPath}|${options.carrier}|\n`);
  process.on('SIGTERM', () => exit(0));
  process.on('SIGINT', () => exit(0));
  process.on('unhandledRejection', (reason) => {
    stderrLogger().error('unhandled rejection in plugin', {
      error: reason instanceof Error ? reason.message : String(reason),
    });
  });
  watchParent(() => exit(0));
}

/**
 * Exits when the host is gone: the host holds our stdin pipe open, so its end means the host died; a changed
 * ppid is the backstop when stdin is not a pipe.
 */
function watchParent(onGone: () => void): void {
  const parent = process.ppid;
  if (!process.stdin.isTTY) {
    process.stdin.on('end', onGone);
    process.stdin.on('error', onGone);
    process.stdin.resume();
  }
  const timer = setInterval(() => {
    if (process.ppid !== parent) onGone();
  }, 500);
  timer.unref();
}
