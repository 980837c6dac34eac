// A small client of the gateway's admin API for `plugbay routes|activate|rollback|audit|grant|revoke|grants`.
import { readFile } from 'node:fs/promises';
import { parseCommandArgs } from '../args.js';
import type { CliIo } from '../io.js';
import { UsageError } from '../io.js';

export const defaultUrl = 'http://127.0.0.1:7070';

export const adminOptionsUsage = `Options: --url <gateway> (default $PLUGBAY_URL or http://127.0.0.1:7070; the --admin-port listener if the
gateway has one), --token <admin token> (default $PLUGBAY_ADMIN_TOKEN; sent as "authorization: Bearer"),
--json (print the server's JSON), --actor <name> (audit log; default cli), --reason <text>.
Exit codes: 0 done, 1 refused by the gateway (its error code is printed) or gateway unreachable, 2 usage.`;

/** The environment variable the admin commands read the gateway's admin token from (besides `--token`). */
export const adminTokenEnv = 'PLUGBAY_ADMIN_TOKEN';

/** parseArgs options every admin command takes. */
export const clientOptions = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  actor: { type: 'string' },
  reason: { type: 'string' },
  token: { type: 'string' },
} as const;

export interface ClientValues {
  url?: string | undefined;
  json?: boolean | undefined;
  actor?: string | undefined;
  reason?: string | undefined;
  token?: string | undefined;
}

/** An admin command's arguments: the client options and from `min` to `max` positionals (`what` names them). */
export function parseAdminArgs(
  args: string[],
  what: string,
  min: number,
  max = min,
): { positionals: string[]; values: ClientValues } {
  const { positionals, values } = parseCommandArgs(args, clientOptions);
  if (positionals.length < min || positionals.length > max) throw new UsageError(`expects ${what}`);
  return { positionals, values };
}

/** The answer of one admin request: the parsed JSON body and the status. */
export interface Answer {
  status: number;
  body: unknown;
}

/** Sends one request; a gateway that cannot be reached is reported as status 0 with the cause. */
export async function request(
  values: ClientValues,
  method: 'GET' | 'PUT' | 'POST',
  path: string,
  body?: string,
): Promise<Answer> {
  const base = baseUrl(values.url);
  const headers: Record<string, string> = { 'x-plugbay-actor': values.actor ?? 'cli' };
  if (values.reason !== undefined) headers['x-plugbay-reason'] = values.reason;
  // An empty variable is no token, so that `PLUGBAY_ADMIN_TOKEN= plugbay ...` clears it.
  const token = values.token ?? (process.env[adminTokenEnv] || undefined);
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(new URL(path, base), { method, headers, ...(body === undefined ? {} : { body }) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return {
      status: 0,
      body: {
        error: {
          code: cause?.code ?? 'UNREACHABLE',
          message: `cannot reach ${base}: ${cause?.message ?? (err as Error).message}`,
        },
      },
    };
  }
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as unknown };
  } catch {
    return {
      status: res.status,
      body: {
        error: { code: 'NOT_JSON', message: `${base} answered ${res.status} with: ${text.slice(0, 200)}` },
      },
    };
  }
}

/** POST /v1/plugins/<plugin>/<action> with a JSON body: grant, revoke, activate, rollback. */
export function postToPlugin(
  values: ClientValues,
  plugin: string,
  action: string,
  body: object,
): Promise<Answer> {
  return request(values, 'POST', `/v1/plugins/${encodeURIComponent(plugin)}/${action}`, JSON.stringify(body));
}

function baseUrl(url: string | undefined): string {
  const text = url ?? process.env.PLUGBAY_URL ?? defaultUrl;
  try {
    const u = new URL(text);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
    return u.href;
  } catch {
    throw new UsageError(`--url must be an http(s) URL such as ${defaultUrl}, got "${text}"`);
  }
}

/**
 * Prints the answer: on success `render(body)` (or the JSON with --json) and exit 0; a refusal prints the
 * server's error code, message and the fields it names, exit 1.
 */
export function finish(
  io: CliIo,
  values: ClientValues,
  answer: Answer,
  render: (body: never) => string,
): number {
  const ok = answer.status >= 200 && answer.status < 300;
  if (values.json) {
    (ok ? io.out : io.err)(JSON.stringify(answer.body, null, 2));
    return ok ? 0 : 1;
  }
  if (ok) {
    io.out(render(answer.body as never));
    return 0;
  }
  io.err(describeError(answer));
  return 1;
}

function describeError(answer: Answer): string {
  const error = (
    answer.body as { error?: { code?: string; message?: string; details?: Record<string, unknown> } }
  ).error;
  const status = answer.status === 0 ? '' : ` (HTTP ${answer.status})`;
  const lines = [
    `error ${error?.code ?? 'UNKNOWN'}${status}: ${error?.message ?? JSON.stringify(answer.body)}`,
  ];
  const problems = error?.details?.problems;
  if (Array.isArray(problems)) {
    for (const p of problems as { field?: string; message?: string }[])
      lines.push(`  ${p.field}: ${p.message}`);
  } else if (typeof error?.details?.field === 'string') {
    lines.push(`  field: ${error.details.field}`);
  }
  if (answer.status === 401) {
    lines.push(`  send the gateway's admin token: --token <token> or ${adminTokenEnv}=<token>`);
  }
  return lines.join('\n');
}

/** A route argument: inline JSON, or `@file` to read it from a file (`@-`: stdin). */
export async function routeArgument(text: string): Promise<string> {
  let json = text;
  if (text.startsWith('@')) {
    const file = text.slice(1);
    try {
      json = file === '-' ? await readStdin() : await readFile(file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
    }
  }
  // Sent as it is: the gateway refuses malformed JSON with its own error (PLUGBAY_INVALID_ARGUMENT, field (root)).
  return json;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
