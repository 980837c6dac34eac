import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TSchema, TypedPlugin } from '@plugbay/sdk';
import { pino } from 'pino';
import { PlugbayError } from '../core/errors.js';
import type { TierKind } from '../core/types.js';
import { createHost } from '../host/host.js';
import type { CallOptions, HostOptions, PluginClient, PluginHost, VersionStatus } from '../host/types.js';

type AnyPlugin = TypedPlugin<Record<string, TSchema>, Record<string, TSchema>>;

export interface TestPluginOptions {
  /** The tier to load the plugin in. Default: the host's choice (node → thread, wasm → wasm, exec → process). */
  tier?: TierKind;
  /** More host options (config, timeouts, trust …). Default logger: silent. */
  host?: Omit<HostOptions, 'tierFor'>;
}

/** A plugin loaded in a real host for a test. Close it (or `await using`) when done. */
export interface TestedPlugin<P> extends AsyncDisposable {
  /** One typed method per function: `await t.client.greet({ name: 'Ada' })`. */
  readonly client: PluginClient<P>;
  readonly host: PluginHost;
  readonly status: VersionStatus;
  call<T = unknown>(fn: string, input: unknown, options?: CallOptions): Promise<T>;
  /** Closes the host (stops the plugin) and removes what testPlugin wrote. Idempotent. */
  close(): Promise<void>;
}

const registryKey = Symbol.for('plugbay.testing.definitions');
type Registry = Map<string, AnyPlugin>;

/**
 * Loads a plugin in a real host (createHost) in the chosen tier. `source` is a plugin directory (any runtime), or
 * a definePlugin object, which runs inline only (a definition cannot be sent to a worker; pass its built
 * directory for the other tiers).
 */
export async function testPlugin<P extends AnyPlugin = AnyPlugin>(
  source: string | P,
  options: TestPluginOptions = {},
): Promise<TestedPlugin<P>> {
  const cleanups: (() => Promise<void>)[] = [];
  let dir: string;
  if (typeof source === 'string') dir = resolve(source);
  else {
    if (options.tier !== undefined && options.tier !== 'inline') {
      throw new PlugbayError(
        'PLUGBAY_INVALID_ARGUMENT',
        `options.tier: a definition runs only in the inline tier, got "${options.tier}"; build it and pass its directory`,
        { details: { option: 'tier' } },
      );
    }
    dir = await writeDefinition(source, cleanups);
  }
  const tier = options.tier ?? (typeof source === 'string' ? undefined : 'inline');
  const host = createHost({
    logger: pino({ level: 'silent' }),
    ...options.host,
    ...(tier === undefined ? {} : { tierFor: () => tier }),
  });
  const close = async () => {
    await host.close();
    for (const cleanup of cleanups.splice(0)) await cleanup();
  };
  let status: VersionStatus;
  try {
    status = await host.load(dir);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    client: host.client<P>(status.plugin),
    host,
    status,
    call: (fn, input, callOptions) => host.call(status.plugin, fn, input, callOptions),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Writes plugin.json and an entry that hands the in-memory definition to the inline tier. */
async function writeDefinition(definition: AnyPlugin, cleanups: (() => Promise<void>)[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'plugbay-testing-'));
  const global = globalThis as Record<symbol, unknown>;
  if (global[registryKey] === undefined) global[registryKey] = new Map();
  const registry = global[registryKey] as Registry;
  const id = dir;
  registry.set(id, definition);
  cleanups.push(async () => {
    registry.delete(id);
    await rm(dir, { recursive: true, force: true });
  });
  const functions: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(definition.functions)) {
    functions[name] = {
      ...(fn.description === undefined ? {} : { description: fn.description }),
      input: fn.input,
      output: fn.output,
      ...(fn.timeoutMs === undefined ? {} : { timeoutMs: fn.timeoutMs }),
      ...(fn.idempotent === undefined ? {} : { idempotent: fn.idempotent }),
      ...(fn.examples === undefined ? {} : { examples: fn.examples }),
    };
  }
  const manifest = {
    name: definition.name,
    version: definition.version,
    runtime: 'node',
    entry: 'plugin.mjs',
    functions,
    ...(definition.config === undefined ? {} : { config: definition.config }),
    ...(definition.implements === undefined ? {} : { implements: definition.implements }),
    ...(definition.permissions === undefined ? {} : { permissions: definition.permissions }),
  };
  // JSON.stringify drops TypeBox's symbol keys: what is left is the plain JSON Schema.
  await writeFile(join(dir, 'plugin.json'), JSON.stringify(manifest, null, 2));
  await writeFile(
    join(dir, 'plugin.mjs'),
    `export default globalThis[Symbol.for('plugbay.testing.definitions')].get(${JSON.stringify(id)});\n`,
  );
  return dir;
}
