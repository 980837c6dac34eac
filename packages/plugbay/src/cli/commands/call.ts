// `plugbay call <plugin>.<fn> '<json>'`: one call, against a running gateway (--url) or in-process on a plugins
// folder (--plugins): prints the output; a failure is one line with its code, exit 1.
import { resolve } from 'node:path';
import { pino } from 'pino';
import { PlugbayError } from '../../core/errors.js';
import { createHost } from '../../host/host.js';
import { parseCommandArgs } from '../args.js';
import { type CliIo, type Command, UsageError } from '../io.js';

export const callCommand: Command = {
  name: 'call',
  usage: `plugbay call <plugin>.<fn> ['<json input>'] [--url <gateway> | --plugins <dir>] [--version <v|range>] [--key <k>] [--timeout <ms>] [--raw]

Calls one function and prints its output as JSON (a bytes function's output as it is). The input is JSON (default
{}); with --raw it is sent as bytes, unparsed (for codec "bytes" functions). Against the gateway at --url (default
$PLUGBAY_URL or http://127.0.0.1:7070), or, with --plugins, in this process on the plugins of a folder (a
throwaway host: every plugin is loaded as plugbay serve --dev would: unsigned allowed).
Exit codes: 0 the output was printed, 1 the call failed ("<CODE>: <message>" on stderr), 2 usage.`,
  async run(args, io) {
    const { positionals, values } = parseCommandArgs(args, {
      url: { type: 'string' },
      plugins: { type: 'string' },
      version: { type: 'string' },
      key: { type: 'string' },
      timeout: { type: 'string' },
      raw: { type: 'boolean' },
    });
    const [target, text, extra] = positionals;
    if (target === undefined || extra !== undefined)
      throw new UsageError("expects <plugin>.<fn> and at most one input ('<json>')");
    const dot = target.lastIndexOf('.');
    if (dot <= 0 || dot === target.length - 1)
      throw new UsageError(`the function is <plugin>.<fn>, got "${target}"`);
    const plugin = target.slice(0, dot);
    const fn = target.slice(dot + 1);
    if (values.url !== undefined && values.plugins !== undefined)
      throw new UsageError('takes --url or --plugins, not both');
    const timeout = values.timeout;
    if (timeout !== undefined && !/^[1-9]\d*$/.test(timeout))
      throw new UsageError(`--timeout must be a positive integer (ms), got "${timeout}"`);
    const body = Buffer.from(text ?? (values.raw ? '' : '{}'), 'utf8');
    const call: OneCall = {
      plugin,
      fn,
      body,
      ...(values.version === undefined ? {} : { version: values.version }),
      ...(values.key === undefined ? {} : { key: values.key }),
      ...(timeout === undefined ? {} : { timeoutMs: Number(timeout) }),
    };
    if (!values.raw && text !== undefined) {
      try {
        JSON.parse(text);
      } catch (err) {
        throw new UsageError(`the input is not JSON (${(err as Error).message}); --raw sends it as bytes`);
      }
    }
    const outcome =
      values.plugins === undefined
        ? await viaGateway(values.url, call)
        : await inProcess(values.plugins, call);
    return print(outcome, io);
  },
};

interface OneCall {
  plugin: string;
  fn: string;
  body: Uint8Array;
  version?: string;
  key?: string;
  timeoutMs?: number;
}

type Outcome =
  | { ok: true; output: unknown; bytes?: Uint8Array }
  | { ok: false; code: string; message: string };

function print(outcome: Outcome, io: CliIo): number {
  if (!outcome.ok) {
    io.err(`${outcome.code}: ${outcome.message.replaceAll('\n', ' ')}`);
    return 1;
  }
  if (outcome.bytes !== undefined) process.stdout.write(outcome.bytes);
  else io.out(JSON.stringify(outcome.output, null, 2));
  return 0;
}

async function viaGateway(url: string | undefined, call: OneCall): Promise<Outcome> {
  const base = url ?? process.env.PLUGBAY_URL ?? 'http://127.0.0.1:7070';
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (call.version !== undefined) headers['x-plugbay-version'] = call.version;
  if (call.key !== undefined) headers['x-plugbay-key'] = call.key;
  if (call.timeoutMs !== undefined) headers['x-plugbay-timeout-ms'] = String(call.timeoutMs);
  let res: Response;
  try {
    const path = `/v1/call/${encodeURIComponent(call.plugin)}/${encodeURIComponent(call.fn)}`;
    res = await fetch(new URL(path, base), { method: 'POST', headers, body: call.body });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return {
      ok: false,
      code: cause?.code ?? 'UNREACHABLE',
      message: `cannot reach ${base}: ${cause?.message ?? (err as Error).message}`,
    };
  }
  const type = res.headers.get('content-type') ?? '';
  if (res.ok && !type.startsWith('application/json'))
    return { ok: true, output: undefined, bytes: new Uint8Array(await res.arrayBuffer()) };
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, code: 'NOT_JSON', message: `${base} answered ${res.status}: ${text.slice(0, 200)}` };
  }
  if (res.ok) return { ok: true, output: parsed };
  const error = (parsed as { error?: { code?: string; message?: string } }).error;
  return { ok: false, code: error?.code ?? `HTTP_${res.status}`, message: error?.message ?? text };
}

async function inProcess(dir: string, call: OneCall): Promise<Outcome> {
  const host = createHost({ logger: pino({ level: 'silent' }) });
  try {
    const report = await host.loadDirectory(resolve(dir));
    const refused = report.diagnostics.find((d) => d.plugin === call.plugin && d.severity === 'error');
    if (refused !== undefined && !report.loaded.some((v) => v.plugin === call.plugin))
      return { ok: false, code: refused.code, message: `${call.plugin} did not load: ${refused.message}` };
    const result = await host.callDetailed(call.plugin, call.fn, call.body, {
      rawInput: true,
      ...(call.version === undefined ? {} : { version: call.version }),
      ...(call.key === undefined ? {} : { key: call.key }),
      ...(call.timeoutMs === undefined ? {} : { timeoutMs: call.timeoutMs }),
    });
    if (result.contentType !== undefined)
      return { ok: true, output: undefined, bytes: result.output as Uint8Array };
    return { ok: true, output: result.output ?? null };
  } catch (err) {
    const e = PlugbayError.from(err, 'PLUGBAY_INTERNAL');
    return { ok: false, code: e.code, message: e.message };
  } finally {
    await host.close();
  }
}
