/**
 * `plugbay build --watch`: esbuild's incremental rebuild on every save of a plugin's sources, then plugin.json
 * written again from the new bundle (as `plugbay build` does). Under `plugbay serve --dev` a rebuilt version is
 * loaded by the gateway's watcher (a new version in the same folder). No typecheck here: run tsc --watch or your
 * editor beside it; `plugbay build` typechecks.
 */
import { type FSWatcher, watch } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { context } from 'esbuild';
import { PlugbayError } from '../core/errors.js';
import { type BuildOutcome, bundleErrors, bundleOptions, sourceEntry, writeManifest } from './build.js';

export interface PluginWatch {
  /** Stops watching. Idempotent. */
  close(): Promise<void>;
}

/** Builds `dir` now and after every change of its sources; `onOutcome` hears each build's result. */
export async function watchPlugin(
  dir: string,
  onOutcome: (outcome: BuildOutcome) => void,
): Promise<PluginWatch> {
  const root = resolve(dir);
  await mkdir(join(root, 'dist'), { recursive: true });
  // One rebuild's manifest at a time, in order: a save during a describe waits for it.
  let queue = Promise.resolve();
  const ctx = await context({
    ...bundleOptions(root),
    plugins: [
      {
        name: 'plugbay-manifest',
        setup(build) {
          build.onEnd((result) => {
            queue = queue.then(async () => {
              if (result.errors.length > 0) {
                const text = bundleErrors(result.errors);
                const error = new PlugbayError(
                  'PLUGBAY_LOAD_FAILED',
                  `bundling ${join(root, sourceEntry)} failed: ${text.join('; ')}`,
                  { details: { errors: text } },
                );
                onOutcome({ dir: root, status: 'failed', error });
                return;
              }
              try {
                onOutcome({ status: 'built', ...(await writeManifest(root)) });
              } catch (err) {
                onOutcome({
                  dir: root,
                  status: 'failed',
                  error: PlugbayError.from(err, 'PLUGBAY_LOAD_FAILED'),
                });
              }
            });
            return queue;
          });
        },
      },
    ],
  });
  await ctx.watch();
  // esbuild's watch polls (a change can take a second or two to be seen); an inotify watch of src/ starts the
  // rebuild at once. esbuild's own watch stays for inputs outside src/. A rebuild of unchanged sources writes the
  // same bytes, which the gateway's watcher ignores (same digest).
  let soon: NodeJS.Timeout | undefined;
  let sources: FSWatcher | undefined;
  try {
    sources = watch(join(root, 'src'), { recursive: true, persistent: false }, () => {
      clearTimeout(soon);
      // Editors write a file in several steps: one rebuild after they are done.
      soon = setTimeout(() => void ctx.rebuild().catch(() => {}), 20);
    });
    sources.on('error', () => sources?.close());
  } catch {
    // No inotify here: esbuild's polling alone.
  }
  let closing: Promise<void> | undefined;
  return {
    close() {
      clearTimeout(soon);
      sources?.close();
      closing ??= ctx.dispose().then(() => queue);
      return closing;
    },
  };
}
