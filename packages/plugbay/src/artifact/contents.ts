import { createHash } from 'node:crypto';
import { PlugbayError } from '../core/errors.js';
import { canonicalJson } from '../trust/canonical.js';
import { compareStrings, type FileEntry, resolveListed } from '../trust/files.js';

/**
 * The most bytes one version may hold (its files together, the packed file itself, what it inflates to): checked
 * before anything is read whole into memory.
 */
export const maxVersionBytes = 1024 * 1024 * 1024;

/** One regular file of a version, as read once into memory. */
export interface ContentFile {
  readonly bytes: Buffer;
  readonly sha256: string;
  /** The owner's executable bit (a native `exec` entry needs it); part of the digest. */
  readonly executable: boolean;
  /** The mode the store writes: the source's read and execute bits, never a write bit (not part of the digest). */
  readonly mode: number;
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

/** A file of `bytes` whose source had permission bits `sourceMode`. */
export function contentFile(bytes: Buffer, sourceMode: number): ContentFile {
  const mode = sourceMode & 0o555;
  return {
    bytes,
    executable: (mode & 0o100) !== 0,
    mode,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
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
  const found = resolveListed(contents.files, path);
  return found !== undefined && contents.files.has(found) ? found : undefined;
}

function sortedPaths(contents: VersionContents): string[] {
  return [...contents.files.keys()].sort(compareStrings);
}

/** PLUGBAY_ARTIFACT_INVALID about `source`, with the rule broken and the path concerned. */
export function invalid(
  source: string,
  rule: string,
  message: string,
  extra: { path?: string; limit?: number; cause?: unknown } = {},
): PlugbayError {
  const { cause, ...where } = extra;
  return new PlugbayError('PLUGBAY_ARTIFACT_INVALID', message, {
    details: { source, rule, ...where },
    ...(cause === undefined ? {} : { cause }),
  });
}
