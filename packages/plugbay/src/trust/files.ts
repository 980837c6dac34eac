import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { type FileHandle, open, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { type FileSet, fileSetOf, manifestFileName, signatureFileName } from '../core/file-set.js';

export { signatureFileName };

/** One entry of a plugin directory as the signature records it. Paths use '/' and are relative to the plugin dir. */
export type FileEntry = RegularFileEntry | SymlinkEntry;
export interface RegularFileEntry {
  path: string;
  sha256: string;
  size: number;
}
/** A symlink is recorded with its target and never followed: pointing it elsewhere is a modification. */
export interface SymlinkEntry {
  path: string;
  symlink: string;
}

/** Something in the directory that cannot be recorded: a FIFO, socket or device, or an unreadable entry. */
export interface WalkProblem {
  path: string;
  reason: 'unsupported-type' | 'unreadable';
  message: string;
}

export interface ListOptions {
  /** Files hashed at once. Default 8: enough to keep the libuv pool busy while the main thread hashes. */
  concurrency?: number;
  /** Which files belong to the plugin. Default: the rule of the directory's plugin.json (core/file-set.ts). */
  fileSet?: FileSet;
}

// O_NOFOLLOW: a file swapped for a symlink between readdir and open is refused, not followed.
// O_NONBLOCK: opening a FIFO someone planted cannot block; fstat then tells us it is not a regular file.
const openFlags = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);
const chunkSize = 1024 * 1024;

/**
 * Lists every file of a plugin directory's file set (what pack packs) with its sha256 (symlinks with their
 * target), sorted by path; the signature file is never in it. Directories nothing of the set can be in (e.g.
 * node_modules/) are not walked. Files are streamed through the hash in 1 MiB chunks with bounded parallelism.
 * Never throws for what it finds on disk: anything it cannot record becomes a problem.
 */
export async function listPluginFiles(
  dir: string,
  options: ListOptions = {},
): Promise<{ files: FileEntry[]; problems: WalkProblem[] }> {
  const concurrency = options.concurrency ?? 8;
  const fileSet = options.fileSet ?? fileSetOf(await readManifestFields(dir));
  const files: FileEntry[] = [];
  const problems: WalkProblem[] = [];
  const toHash: string[] = [];
  const pending: string[] = [''];
  while (pending.length > 0) {
    const rel = pending.pop()!;
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(rel === '' ? dir : join(dir, rel), { withFileTypes: true });
    } catch (err) {
      problems.push({ path: rel || '.', reason: 'unreadable', message: (err as Error).message });
      continue;
    }
    for (const entry of entries) {
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory() ? !fileSet.mayContain(path) : !fileSet.includes(path)) continue;
      if (entry.isSymbolicLink()) {
        try {
          files.push({ path, symlink: await readlink(join(dir, path)) });
        } catch (err) {
          problems.push({ path, reason: 'unreadable', message: (err as Error).message });
        }
      } else if (entry.isDirectory()) {
        pending.push(path);
      } else if (entry.isFile()) {
        toHash.push(path);
      } else {
        problems.push({
          path,
          reason: 'unsupported-type',
          message: 'is not a regular file, directory or symlink',
        });
      }
    }
  }
  let next = 0;
  const worker = async () => {
    const buffer = Buffer.allocUnsafe(chunkSize);
    while (next < toHash.length) {
      const path = toHash[next++]!;
      const result = await hashFile(join(dir, path), buffer);
      if ('problem' in result) problems.push({ path, ...result.problem });
      else files.push({ path, sha256: result.sha256, size: result.size });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, toHash.length)) }, worker));
  files.sort((a, b) => compareStrings(a.path, b.path));
  problems.sort((a, b) => compareStrings(a.path, b.path));
  return { files, problems };
}

async function hashFile(
  path: string,
  buffer: Buffer,
): Promise<{ sha256: string; size: number } | { problem: Omit<WalkProblem, 'path'> }> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, openFlags);
    const stat = await handle.stat();
    if (!stat.isFile()) {
      return {
        problem: { reason: 'unsupported-type', message: 'is not a regular file, directory or symlink' },
      };
    }
    const hash = createHash('sha256');
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      // update() consumes the bytes synchronously, so the buffer can be reused for the next read.
      hash.update(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead));
      size += bytesRead;
      if (bytesRead < buffer.length) break; // a short read of a regular file means end of file
    }
    return { sha256: hash.digest('hex'), size };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ELOOP: the path became a symlink after readdir (O_NOFOLLOW refused it).
    const reason = code === 'ELOOP' ? 'unsupported-type' : 'unreadable';
    return { problem: { reason, message: (err as Error).message } };
  } finally {
    await handle?.close().catch(() => {});
  }
}

/**
 * Reads an open file from its start, up to `size` bytes (the size fstat gave: bytes appended meanwhile are not
 * read); fewer when it shrank meanwhile.
 */
export async function readUpTo(handle: FileHandle, size: number): Promise<Buffer> {
  const bytes = Buffer.alloc(size);
  let filled = 0;
  while (filled < bytes.length) {
    const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return bytes.subarray(0, filled);
}

/** The manifest's fields the file set depends on; undefined when plugin.json cannot be read (default rule). */
export async function readManifestFields(dir: string): Promise<Record<string, unknown> | undefined> {
  try {
    const raw: unknown = JSON.parse(await readFile(join(dir, manifestFileName), 'utf8'));
    return typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Plain code-unit order, the same in every locale (localeCompare is not). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A version's files by path, as a listing, a folder read or a store holds them: an entry with `symlink` is a link
 * (its directories are implied by the paths).
 */
export type Listing = ReadonlyMap<string, object | { readonly symlink: string }>;
const outside = Symbol('outside');

/**
 * The first symlink of a listing (by path) that is absolute or resolves outside the version, if any: such a link
 * would run or read whatever its target becomes, which no signature covers.
 */
export function linkLeaving(files: Listing): { path: string; symlink: string } | undefined {
  for (const path of [...files.keys()].sort(compareStrings)) {
    const target = symlinkOf(files.get(path));
    if (target !== undefined && resolveIn(files, path) === outside) return { path, symlink: target };
  }
  return undefined;
}

/** The path inside the version that `path` stands for after its links, or undefined when it leaves it or loops. */
export function resolveListed(files: Listing, path: string): string | undefined {
  const found = resolveIn(files, path);
  return typeof found === 'string' ? found : undefined;
}

/**
 * Resolves `path` as the kernel would in the version's folder: segment by segment, each link replaced by its target
 * where it stands, so that `..` after a link climbs from the link's target. `outside` when it climbs above the
 * version or meets an absolute link; undefined after 40 links (a loop).
 */
function resolveIn(files: Listing, path: string): string | typeof outside | undefined {
  const resolved: string[] = [];
  const todo = path.split('/').reverse();
  let hops = 0;
  while (todo.length > 0) {
    const part = todo.pop()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (resolved.length === 0) return outside;
      resolved.pop();
      continue;
    }
    resolved.push(part);
    const target = symlinkOf(files.get(resolved.join('/')));
    if (target === undefined) continue;
    if (target.startsWith('/')) return outside;
    if (++hops > 40) return undefined;
    resolved.pop();
    todo.push(...target.split('/').reverse());
  }
  return resolved.join('/');
}

function symlinkOf(entry: object | undefined): string | undefined {
  return entry !== undefined && 'symlink' in entry && typeof entry.symlink === 'string'
    ? entry.symlink
    : undefined;
}
