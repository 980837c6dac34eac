import { realpathSync } from 'node:fs';
import path from 'node:path';
import { type ErrorSource, PlugbayError } from './errors.js';

/** The real path of `p`, following symlinks as far as the path exists (the rest is appended as written). */
export function realPath(p: string): string {
  const abs = path.resolve(p);
  try {
    return realpathSync(abs);
  } catch {
    const parent = path.dirname(abs);
    return parent === abs ? abs : path.join(realPath(parent), path.basename(abs));
  }
}

/**
 * A granted host path (`field` names the manifest entry), checked when a tier (re)starts a plugin: the host hands the
 * tiers the real paths the grants were decided on, so one that no longer is its own real path had a symlink swapped
 * into it since, and would open something nobody decided on. PLUGBAY_PERMISSION_DENIED (`path-changed`) then.
 */
export function unchangedPath(p: string, field: string, source: ErrorSource = {}): string {
  const now = realPath(p);
  if (now === p) return p;
  throw pathChanged(p, now, field, source);
}

/** The error of unchangedPath, for a caller that found `p` leading to `now` some other way (an opened descriptor). */
export function pathChanged(p: string, now: string, field: string, source: ErrorSource = {}): PlugbayError {
  return new PlugbayError(
    'PLUGBAY_PERMISSION_DENIED',
    `${field}: ${p} now leads to ${now} (a symlink replaced part of it since its grant was decided); ` +
      'load the version again to decide anew',
    { ...source, details: { field, rule: 'path-changed', path: p, now } },
  );
}
