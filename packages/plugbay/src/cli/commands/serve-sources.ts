import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { resolveCached } from '../../artifact/oci/cache.js';
import { parseOciReference } from '../../artifact/oci/reference.js';
import { PlugbayError } from '../../core/errors.js';
import type { PluginHost } from '../../host/types.js';
import { createKeyring, type Keyring } from '../../trust/keyring.js';
import { UsageError } from '../io.js';

/** The --source references, checked before anything starts (a malformed one is a usage error). */
export function sourcesOf(values: { source?: string[] | undefined }) {
  return (values.source ?? []).map((text) => {
    try {
      return parseOciReference(text, '--source');
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  });
}

/**
 * Loads each --source plugin: resolved through the registry or the gateway's cache (artifact/oci/cache.ts, in
 * `oci/` beside the state file), then loaded by the host like a packed file in the directory, so the trust gate,
 * grants and rollout rules are the same. A source that fails is logged and skipped, like a broken folder.
 */
export async function loadSources(options: {
  host: PluginHost;
  sources: ReturnType<typeof sourcesOf>;
  stateFile: string;
  keyring: Keyring | undefined;
  insecure: boolean;
  logger: Logger;
}): Promise<string[]> {
  const loaded: string[] = [];
  for (const ref of options.sources) {
    try {
      const cached = await resolveCached(ref, {
        dir: join(dirname(options.stateFile), 'oci'),
        keyring: options.keyring ?? createKeyring([]),
        // Unsigned passes the pull; the host's trust gate then applies --signatures and --allow-unsigned to it as
        // to a folder. A bad signature never passes the pull.
        allowUnsigned: true,
        insecure: options.insecure,
      });
      if (cached.registryError !== undefined) {
        options.logger.warn(
          { source: cached.reference, digest: cached.digest, err: cached.registryError },
          `registry unreachable: serving the cached ${cached.digest} of ${cached.reference}`,
        );
      }
      const status = await options.host.load(cached.file);
      options.logger.info(
        {
          source: cached.reference,
          digest: cached.digest,
          from: cached.from,
          plugin: status.plugin,
          version: status.version,
        },
        `loaded ${status.plugin}@${status.version} from ${cached.reference}`,
      );
      loaded.push(`${status.plugin}@${status.version}`);
    } catch (err) {
      const error = PlugbayError.from(err, 'PLUGBAY_LOAD_FAILED');
      options.logger.error(
        { source: ref, code: error.code, details: error.details, err: error },
        `cannot load --source: ${error.message}`,
      );
    }
  }
  return loaded;
}
