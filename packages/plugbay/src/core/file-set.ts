import { posix } from 'node:path';
import picomatch from 'picomatch';

/** The name of the signature file at the root of a plugin directory; never part of what it signs. */
export const signatureFileName = 'plugin.sig.json';
export const manifestFileName = 'plugin.json';

/**
 * Which files make up a plugin version: what `plugbay pack` packs, `sign` signs, `verify` checks and the host
 * copies into its store. One rule, so that the four always agree. Paths are relative and '/'-separated.
 */
export interface FileSet {
  /** True when the file at `path` belongs to the version. */
  includes(path: string): boolean;
  /** False when nothing below the directory `path` can belong to the version (it is not walked). */
  mayContain(path: string): boolean;
}

/** The manifest fields the rule reads; a manifest that does not parse gets the default rule. */
export interface FileSetManifest {
  entry?: unknown;
  proto?: unknown;
  files?: unknown;
}

/** Editor and OS litter never packed by default. */
const litter = picomatch(['**/*~', '**/*.swp', '**/*.swo', '**/#*#', '**/Thumbs.db', '**/desktop.ini']);

/**
 * The rule for a manifest. Always in: plugin.json, the entry and (exec) the proto. With `files`: the paths that
 * match one of its globs; a path under `node_modules/` only when the glob itself names node_modules, dot-files
 * only when the glob names the dot (picomatch's rule). Without `files`, everything except `node_modules/`,
 * dot-files and dot-folders, a top-level `src/` and editor litter (`*~`, `*.swp`, `*.swo`, `#*#`, `Thumbs.db`).
 * The signature file is never in the set: it is added beside it.
 */
export function fileSetOf(manifest: FileSetManifest | undefined): FileSet {
  const always = new Set([manifestFileName]);
  for (const p of [manifest?.entry, manifest?.proto]) {
    if (typeof p === 'string') always.add(posix.normalize(p));
  }
  const globs = Array.isArray(manifest?.files)
    ? manifest.files.filter((g): g is string => typeof g === 'string')
    : undefined;
  const base = (path: string) => path !== signatureFileName;
  if (globs === undefined) {
    const excluded = (path: string) => {
      const parts = path.split('/');
      return parts.some((s) => s.startsWith('.') || s === 'node_modules') || parts[0] === 'src';
    };
    return {
      includes: (path) => base(path) && (always.has(path) || (!excluded(path) && !litter(path))),
      mayContain: (dir) => !excluded(dir) || [...always].some((p) => p.startsWith(`${dir}/`)),
    };
  }
  const namesModules = (g: string) => g.split('/').includes('node_modules');
  const plain = picomatch(globs.filter((g) => !namesModules(g)));
  const modules = globs.some(namesModules) ? picomatch(globs.filter(namesModules)) : () => false;
  const inModules = (path: string) => path.split('/').includes('node_modules');
  const dotted = (path: string) => path.split('/').some((s) => s.startsWith('.'));
  const walkModules = globs.some(namesModules);
  const walkDotted = globs.some(dotted);
  // The static prefix of each glob (`dist` of `dist/**`): directories off every prefix are not walked.
  const bases = globs.map((g) => picomatch.scan(g).base);
  const underGlob = (dir: string) =>
    bases.some((b) => b === '' || b === dir || b.startsWith(`${dir}/`) || dir.startsWith(`${b}/`));
  return {
    includes: (path) => base(path) && (always.has(path) || (inModules(path) ? modules(path) : plain(path))),
    mayContain: (dir) =>
      [...always].some((p) => p.startsWith(`${dir}/`)) ||
      ((walkModules || !inModules(dir)) && (walkDotted || !dotted(dir)) && underGlob(dir)),
  };
}
