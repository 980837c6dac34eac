import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { PlugbayError } from '../core/errors.js';
import { canonicalJson } from '../trust/canonical.js';
import type { FileEntry } from '../trust/files.js';
import { compareStrings } from '../trust/files.js';

/** One regular file of a version, as read once into memory. */
export interface ContentFile {
  readonly bytes: Buffer;
  readonly sha256: string;
  /** The owner's executable bit (a native `exec` entry needs it); the store writes 0555 or 0444. */
  readonly executable: boolean;
}

/** A symlink of a folder version, recorded with its target; it must resolve inside the version. */
export interface ContentLink {
  readonly symlink: string;
}

/**
 * The files of one plugin version, read once: everything the host verifies, checks and stores comes from these
 * bytes, never from the folder again.
 */
export interface VersionContents {
  /** Where the version was read from: a plugin folder or a packed file. */
  readonly source: string;
  readonly kind: 'folder' | 'packed';
  /** The version's file set (core/file-set.ts) by relative '/'-path. */
  readonly files: ReadonlyMap<string, ContentFile | ContentLink>;
  /** The text of plugin.sig.json, when the version has one. */
  readonly signature: string | undefined;
}

export function contentFile(bytes: Buffer, executable: boolean): ContentFile {
  return { bytes, executable, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** The listing a signature covers (trust/verify.ts compares it with the signed one). */
export function fileEntries(contents: VersionContents): FileEntry[] {
  return sortedPaths(contents).map((path) => {
    const f = contents.files.get(path)!;
    return 'symlink' in f ? { path, symlink: f.symlink } : { path, sha256: f.sha256, size: f.bytes.length };
  });
}

/**
 * The version's content address: sha256 of the canonical JSON of its listing (path, sha256, executable bit;
 * symlinks with their target). The signature file is not part of it: the same bytes signed twice are one digest.
 */
export function digestOf(contents: VersionContents): string {
  const listing = sortedPaths(contents).map((path) => {
    const f = contents.files.get(path)!;
    return 'symlink' in f
      ? { path, symlink: f.symlink }
      : { path, sha256: f.sha256, executable: f.executable };
  });
  return createHash('sha256').update(canonicalJson(listing)).digest('hex');
}

/**
 * Follows symlinks of the version inside the version (at most 40 hops, like the kernel): the path of the regular
 * file `path` stands for, or undefined when it is missing, loops, or leaves the version.
 */
export function resolveInside(contents: VersionContents, path: string): string | undefined {
  let current = posix.normalize(path);
  for (let hops = 0; hops <= 40; hops++) {
    // A path through a symlinked directory: follow the first segment that is a link.
    const parts = current.split('/');
    let linked = -1;
    for (let i = 0; i < parts.length; i++) {
      const f = contents.files.get(parts.slice(0, i + 1).join('/'));
      if (f !== undefined && 'symlink' in f) {
        linked = i;
        break;
      }
    }
    if (linked === -1) return contents.files.has(current) ? current : undefined;
    const at = parts.slice(0, linked + 1).join('/');
    const link = (contents.files.get(at) as ContentLink).symlink;
    if (link.startsWith('/')) return undefined;
    const target = posix.normalize(posix.join(posix.dirname(at), link, ...parts.slice(linked + 1)));
    if (target === '..' || target.startsWith('../') || target === '.') return undefined;
    current = target;
  }
  return undefined;
}

function sortedPaths(contents: VersionContents): string[] {
  return [...contents.files.keys()].sort(compareStrings);
}

/** PLUGBAY_ARTIFACT_INVALID about `source`, with the rule broken and the path concerned. */
export function invalid(
  source: string,
  rule: string,
  message: string,
  extra: { path?: string; cause?: unknown } = {},
): PlugbayError {
  return new PlugbayError('PLUGBAY_ARTIFACT_INVALID', message, {
    details: { source, rule, ...(extra.path === undefined ? {} : { path: extra.path }) },
    ...(extra.cause === undefined ? {} : { cause: extra.cause }),
  });
}
