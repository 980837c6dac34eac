/**
 * `plugbay serve --dev --watch`: every TypeScript plugin folder of the served directory (one with src/index.ts) is
 * rebuilt on save (build/watch.ts, esbuild's incremental build), and once a build has written the folder the
 * watcher checks it at once (no settle wait). The watcher runs with replaceInPlace, so the rebuilt bytes of a
 * loaded version take its place (host.replaceInPlace: new instance, one-step switch, old one drained).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { isTsPlugin } from '../../build/build.js';
import { type PluginWatch, watchPlugin } from '../../build/watch.js';
import type { DirectoryWatcher } from '../../host/watch.js';

export interface DevBuilds {
  /** The folders being rebuilt on save. */
  readonly dirs: readonly string[];
  close(): Promise<void>;
}

/**
 * Starts one incremental build per TypeScript plugin folder of `dir` (folders added later are not watched) and
 * resolves once each first build is built and checked by the watcher.
 */
export async function startDevBuilds(options: {
  dir: string;
  watcher: DirectoryWatcher;
  logger: Logger;
}): Promise<DevBuilds> {
  const { dir, watcher, logger } = options;
  const folders: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.') || !e.isDirectory()) continue;
    const folder = join(dir, e.name);
    if (await isTsPlugin(folder)) folders.push(folder);
  }
  const watches: PluginWatch[] = [];
  const firstBuilds: Promise<void>[] = [];
  for (const folder of folders) {
    let first: (() => void) | undefined;
    firstBuilds.push(new Promise<void>((resolve) => (first = resolve)));
    const done = () => {
      first?.();
      first = undefined;
    };
    watches.push(
      await watchPlugin(folder, (outcome) => {
        if (outcome.status === 'skipped') return done();
        if (outcome.status === 'failed') {
          logger.error(
            { dir: folder, err: outcome.error },
            `dev: rebuilding ${folder} failed; the running version stays`,
          );
          return done();
        }
        logger.info({ dir: folder }, `dev: built ${folder}`);
        watcher
          .built(folder)
          .catch((err: unknown) => logger.error({ err, dir: folder }, 'dev: scan failed'))
          .finally(done);
      }),
    );
  }
  // Ready means the sources as they are now are built and served (a stale dist/ was swapped already).
  await Promise.all(firstBuilds);
  if (folders.length > 0)
    logger.info({ dirs: folders }, `dev: rebuilding ${folders.length} TypeScript plugin(s) on save`);
  return {
    dirs: folders,
    async close() {
      await Promise.all(watches.map((w) => w.close()));
    },
  };
}
