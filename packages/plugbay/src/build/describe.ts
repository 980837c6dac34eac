import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PlugbayError, type WireError } from '../core/errors.js';

/** A plugin definition as plain JSON: what `plugbay build` turns into plugin.json. */
export interface DescribedPlugin {
  name: string;
  version: string;
  description?: string;
  implements?: Record<string, string>;
  config?: unknown;
  permissions?: Record<string, unknown>;
  engines?: { plugbay?: string; node?: string };
  functions: Record<
    string,
    {
      description?: string;
      input: unknown;
      output: unknown;
      timeoutMs?: number;
      idempotent?: boolean;
      examples?: { input: unknown; output?: unknown }[];
    }
  >;
}

export type DescribeReply = { ok: true; definition: DescribedPlugin } | { ok: false; error: WireError };

const childScript = fileURLToPath(new URL('./describe-child.js', import.meta.url));

/** Imports a bundled plugin in a child process and returns its definition as JSON. */
export function describeBundle(
  bundlePath: string,
  options: { timeoutMs?: number } = {},
): Promise<DescribedPlugin> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = fork(childScript, [bundlePath], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
      timeout: timeoutMs,
    });
    let stderr = '';
    let reply: DescribeReply | undefined;
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < 8192) stderr += chunk;
    });
    child.once('message', (message) => {
      reply = message as DescribeReply;
    });
    child.once('error', (err) => reject(PlugbayError.from(err, 'PLUGBAY_LOAD_FAILED')));
    child.once('exit', (code, signal) => {
      if (reply?.ok === true) resolve(reply.definition);
      else if (reply?.ok === false) {
        const { code: pluginCode, ...rest } = reply.error;
        reject(
          PlugbayError.fromWire({
            ...rest,
            code: 'PLUGBAY_LOAD_FAILED',
            details: { ...rest.details, pluginCode },
          }),
        );
      } else {
        const how = signal === null ? `exit code ${code}` : `signal ${signal}`;
        reject(
          new PlugbayError(
            'PLUGBAY_LOAD_FAILED',
            `importing ${bundlePath} failed (${how}): ${stderr.trim()}`,
            {
              details: { code, signal, stderr },
            },
          ),
        );
      }
    });
  });
}
