import { join } from 'node:path';
import type { Logger } from 'pino';
import { resolveCached } from '../../artifact/oci/cache.js';
import { parseOciReference } from '../../artifact/oci/reference.js';
import { PlugbayError } from '../../core/errors.js';
import type { PluginHost } from '../../host/types.js';
import type { DirectoryWatcher } from '../../host/watch.js';
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

/** --source-poll-ms: a whole number of ms, 0 for none. */
export function sourcePollOf(values: { 'source-poll-ms'?: string | undefined }): number {
  const text = values['source-poll-ms'] ?? '30000';
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`--source-poll-ms must be an integer of 0 or more (ms), got "${text}"`);
  }
  return Number(text);
}

/**
 * Resolves each --source tag again every `intervalMs` (one round at a time; a round still running skips the
 * tick). A digest not seen before is handed to the watcher, which loads and rolls it out like a new folder.
 * Failures are logged and retried at the next tick. `close()` stops it and waits for a running round.
 */
export function pollSources(options: {
  sources: ReturnType<typeof sourcesOf>;
  intervalMs: number;
  /** This gateway's own folder (serve-rollout.ts localDirOf): pulled plugins are cached in its `oci/`. */
  localDir: string;
  keyring: Keyring | undefined;
  insecure: boolean;
  watcher: DirectoryWatcher;
  logger: Logger;
  /** The digest each reference serves now (from loadSources). */
  current: Map<string, string>;
}): { close(): Promise<void> } {
  const tags = options.sources.filter((ref) => ref.digest === undefined);
  if (options.intervalMs === 0 || tags.length === 0) return { close: async () => {} };
  let round: Promise<void> | undefined;
  const poll = async () => {
    for (const ref of tags) {
      try {
        const cached = await resolveCached(ref, cacheOptions(options));
        if (cached.from !== 'registry' || options.current.get(cached.reference) === cached.digest) continue;
        options.current.set(cached.reference, cached.digest);
        options.logger.info(
          { source: cached.reference, digest: cached.digest },
          `new digest for ${cached.reference}: ${cached.digest}`,
        );
        await options.watcher.addVersion(cached.file, cached.reference);
      } catch (err) {
        const error = PlugbayError.from(err, 'PLUGBAY_LOAD_FAILED');
        options.logger.warn({ source: ref, code: error.code, err: error }, `--source poll: ${error.message}`);
      }
    }
  };
  const timer = setInterval(() => {
    round ??= poll().finally(() => {
      round = undefined;
    });
  }, options.intervalMs);
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
      await round;
    },
  };
}

function cacheOptions(options: { localDir: string; keyring: Keyring | undefined; insecure: boolean }) {
  return {
    dir: join(options.localDir, 'oci'),
    keyring: options.keyring ?? createKeyring([]),
    // Unsigned passes the pull; the host's trust gate then applies --signatures and --allow-unsigned to it as
    // to a folder. A bad signature never passes the pull.
    allowUnsigned: true,
    insecure: options.insecure,
  };
}

/**
 * Loads each --source plugin: resolved through the registry or the gateway's cache (artifact/oci/cache.ts, in
 * `oci/` beside the state file), then loaded by the host like a packed file in the directory, so the trust gate,
 * grants and rollout rules are the same. A source that fails is logged and skipped, like a broken folder.
 */
export async function loadSources(options: {
  host: PluginHost;
  sources: ReturnType<typeof sourcesOf>;
  /** This gateway's own folder (serve-rollout.ts localDirOf): pulled plugins are cached in its `oci/`. */
  localDir: string;
  keyring: Keyring | undefined;
  insecure: boolean;
  logger: Logger;
  /** Filled with the digest each reference resolved to. */
  current: Map<string, string>;
}): Promise<string[]> {
  const loaded: string[] = [];
  for (const ref of options.sources) {
    try {
      const cached = await resolveCached(ref, cacheOptions(options));
      options.current.set(cached.reference, cached.digest);
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
