// `plugbay client`: writes a typed TypeScript client of the gateway's call API (gateway/client-gen.ts), from the
// manifests of a plugins folder or from a running gateway's /v1/openapi.json.
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import semver from 'semver';
import type { Manifest } from '../../core/manifest.js';
import { generateClient } from '../../gateway/client-gen.js';
import { type OpenApiDocument, openApiDocument } from '../../gateway/openapi.js';
import { discover } from '../../host/discover.js';
import { parseCommandArgs } from '../args.js';
import { type Command, UsageError } from '../io.js';

export const clientCommand: Command = {
  name: 'client',
  usage: `plugbay client --out <file.ts> [--plugins <dir> | --url <gateway>]

Writes a typed TypeScript client of every function: createClient(baseUrl).<plugin>.<fn>(input) posts to
/v1/call/<plugin>/<fn> and resolves with the output; a refused call rejects with PlugbayCallError (code, status).
Types are generated from the functions' JSON Schemas (json-schema-to-typescript); bytes functions take and return
Uint8Array. The schemas come from the plugins folder (default ./plugins; the newest release of each plugin) or,
with --url, from the gateway's /v1/openapi.json (what it has loaded now).
Exit codes: 0 written, 1 no functions or the gateway unreachable, 2 usage.`,
  async run(args, io) {
    const { positionals, values } = parseCommandArgs(args, {
      out: { type: 'string' },
      plugins: { type: 'string' },
      url: { type: 'string' },
    });
    if (positionals.length > 0) throw new UsageError(`takes no positional argument, got "${positionals[0]}"`);
    if (values.out === undefined) throw new UsageError('--out <file.ts> is required');
    if (values.plugins !== undefined && values.url !== undefined)
      throw new UsageError('takes --plugins or --url, not both');
    let document: OpenApiDocument;
    try {
      document =
        values.url === undefined
          ? await documentOfFolder(values.plugins ?? 'plugins')
          : await documentOfGateway(values.url);
    } catch (err) {
      io.err(`plugbay client: ${(err as Error).message}`);
      return 1;
    }
    if (Object.keys(document.paths).length === 0) {
      io.err('plugbay client: no functions found (no plugin loaded or valid there)');
      return 1;
    }
    const source = await generateClient(document);
    await writeFile(resolve(values.out), source);
    io.out(`wrote ${values.out} (${Object.keys(document.paths).length} functions)`);
    return 0;
  },
};

/** The document of a plugins folder: each plugin's newest release (newest prerelease when it has only those). */
export async function documentOfFolder(dir: string): Promise<OpenApiDocument> {
  const { plugins } = await discover(resolve(dir));
  const newest = new Map<string, Manifest>();
  for (const { manifest } of plugins) {
    const seen = newest.get(manifest.name);
    const release = (v: string) => semver.prerelease(v) === null;
    if (
      seen === undefined ||
      (release(manifest.version) && !release(seen.version)) ||
      (release(manifest.version) === release(seen.version) && semver.gt(manifest.version, seen.version))
    )
      newest.set(manifest.name, manifest);
  }
  return openApiDocument([...newest.values()].sort((a, b) => a.name.localeCompare(b.name)));
}

async function documentOfGateway(url: string): Promise<OpenApiDocument> {
  const target = new URL('/v1/openapi.json', url);
  let res: Response;
  try {
    res = await fetch(target);
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause;
    throw new Error(`cannot reach ${target.origin}: ${cause?.message ?? (err as Error).message}`);
  }
  if (!res.ok) throw new Error(`${target.href} answered ${res.status}`);
  return (await res.json()) as OpenApiDocument;
}
