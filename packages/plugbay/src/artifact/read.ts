import { constants, type Dirent } from 'node:fs';
import { type FileHandle, lstat, open, readdir, readlink, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PlugbayError } from '../core/errors.js';
import { fileSetOf, manifestFileName, signatureFileName } from '../core/file-set.js';
import { linkLeaving, readUpTo } from '../trust/files.js';
import {
  type ContentFile,
  type ContentLink,
  contentFile,
  invalid,
  maxVersionBytes,
  type VersionContents,
} from './contents.js';
import { isPackedFile, readPacked } from './pack.js';

// O_NOFOLLOW: a file swapped for a symlink after readdir is refused, not followed; O_NONBLOCK: a FIFO cannot block.
const openFlags = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);
/** Larger signature files are not read (the verifier's own limit). */
const maxSignatureBytes = 32 * 1024 * 1024;

/**
 * Reads a plugin version once into memory: a folder (its file set, core/file-set.ts) or a packed file
 * (`*.plugbay.tgz`). PLUGBAY_ARTIFACT_INVALID when something of the set cannot be read as it is.
 */
export async function readVersion(path: string): Promise<VersionContents> {
  const source = resolve(path);
  const kind = await lstat(source).catch((err: Error) => {
    throw invalid(source, 'readable', `cannot read ${source}: ${err.message}`, { cause: err });
  });
  if (kind.isDirectory()) return readFolder(source);
  if (kind.isFile() && isPackedFile(source)) return readPacked(source);
  throw invalid(source, 'kind', `${source} is neither a plugin folder nor a packed plugin (*.plugbay.tgz)`);
}

export interface ReadFolderOptions {
  /** Runs between the walk and the open of each regular file: a test's seam to change the folder there. */
  beforeOpen?: (path: string) => Promise<void>;
}

/**
 * Reads the file set of a folder: plugin.json first (it says which files belong), then the rest, each once. Refused
 * before any other body is read: a symlink that leaves the folder (`symlink-outside`), a file set over
 * maxVersionBytes (`size`). Each file opened must be the one inside the folder (`outside-folder`): a directory
 * swapped for a symlink after the walk is not followed.
 */
export async function readFolder(dir: string, options: ReadFolderOptions = {}): Promise<VersionContents> {
  const files = new Map<string, ContentFile | ContentLink>();
  const realDir = await realpath(dir).catch((err: Error) => {
    throw invalid(dir, 'readable', `cannot read ${dir}: ${err.message}`, { cause: err });
  });
  const read = (path: string, max: number) => readRegular(dir, realDir, path, max);
  const manifestBytes = await read(manifestFileName, maxVersionBytes).catch((err) => {
    throw new PlugbayError('PLUGBAY_MANIFEST_INVALID', `${manifestFileName} cannot be read: ${err.message}`, {
      cause: err,
      details: { source: dir, field: manifestFileName, rule: 'readable' },
    });
  });
  let fields: Record<string, unknown> | undefined;
  let total = 0;
  if (manifestBytes !== undefined) {
    files.set(manifestFileName, manifestBytes);
    total += manifestBytes.bytes.length;
    try {
      const raw: unknown = JSON.parse(manifestBytes.bytes.toString('utf8'));
      if (typeof raw === 'object' && raw !== null) fields = raw as Record<string, unknown>;
    } catch {
      // A broken manifest is the checker's to report; the default rule decides what else is read.
    }
  }
  const fileSet = fileSetOf(fields);
  const pending = [''];
  const regular: string[] = [];
  while (pending.length > 0) {
    const rel = pending.pop()!;
    let entries: Dirent[];
    try {
      entries = await readdir(rel === '' ? dir : join(dir, rel), { withFileTypes: true });
    } catch (err) {
      throw invalid(dir, 'readable', `cannot read ${rel || dir}: ${(err as Error).message}`, { path: rel });
    }
    for (const entry of entries) {
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory() ? !fileSet.mayContain(path) : !fileSet.includes(path)) continue;
      if (path === manifestFileName) continue;
      if (entry.isSymbolicLink()) {
        files.set(path, { symlink: await readlink(join(dir, path)) });
      } else if (entry.isDirectory()) {
        pending.push(path);
      } else if (entry.isFile()) {
        regular.push(path);
        // Sizes from the walk, before any body is read: a sparse 2 GB file costs nothing to refuse.
        const { size } = await lstat(join(dir, path));
        total += size;
        if (total > maxVersionBytes) throw tooLarge(dir, size > maxVersionBytes ? path : undefined);
      } else {
        throw invalid(dir, 'file-type', `${path} is not a regular file, directory or symlink`, { path });
      }
    }
  }
  const leaving = linkLeaving(files);
  if (leaving !== undefined) {
    throw invalid(
      dir,
      'symlink-outside',
      `${leaving.path} is a symlink to ${leaving.symlink}, outside the plugin folder; only links inside it are accepted`,
      { path: leaving.path },
    );
  }
  let budget = maxVersionBytes - (manifestBytes?.bytes.length ?? 0);
  for (const path of regular) {
    await options.beforeOpen?.(path);
    const file = await read(path, budget);
    if (file === undefined) throw invalid(dir, 'readable', `${path} vanished while reading`, { path });
    files.set(path, file);
    budget -= file.bytes.length;
  }
  const signature = await read(signatureFileName, maxSignatureBytes);
  return { source: dir, kind: 'folder', files, signature: signature?.bytes.toString('utf8') };
}

function tooLarge(dir: string, path: string | undefined): PlugbayError {
  const what = path === undefined ? `the files of ${dir} together are` : `${path} is`;
  return invalid(
    dir,
    'size',
    `${what} larger than ${maxVersionBytes} bytes, the limit of a plugin version (there is no option to raise it)`,
    { limit: maxVersionBytes, ...(path === undefined ? {} : { path }) },
  );
}

/**
 * One regular file, read without following a symlink, at most `max` bytes; undefined when it does not exist.
 * The file opened must be `path` inside the folder's real path `realDir`: O_NOFOLLOW guards only the last segment.
 */
async function readRegular(
  dir: string,
  realDir: string,
  path: string,
  max: number,
): Promise<ContentFile | undefined> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(join(dir, path), openFlags);
    if (!(await openedAt(handle, join(realDir, path)))) {
      throw invalid(dir, 'outside-folder', `${path} was opened outside ${dir} (a directory was swapped)`, {
        path,
      });
    }
    const info = await handle.stat();
    if (!info.isFile()) throw invalid(dir, 'file-type', `${path} is not a regular file`, { path });
    // Past the walk's sizes only when the file grew since (or for a too large signature file).
    if (info.size > max) {
      throw invalid(dir, 'size', `${path} is larger than the ${max} bytes left to it`, { path, limit: max });
    }
    return contentFile(await readUpTo(handle, info.size), info.mode);
  } catch (err) {
    if (err instanceof PlugbayError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    const message =
      code === 'ELOOP' ? `${path} is a symlink` : `cannot read ${path}: ${(err as Error).message}`;
    throw invalid(dir, code === 'ELOOP' ? 'symlink' : 'readable', message, { path });
  } finally {
    await handle?.close().catch(() => {});
  }
}

/**
 * True when `handle` is the file at `expected` (a real path). On Linux the kernel says where the descriptor is;
 * elsewhere the file now at `expected` must be the one opened (a swap undone in between is not seen there).
 */
async function openedAt(handle: FileHandle, expected: string): Promise<boolean> {
  if (process.platform === 'linux') return (await readlink(`/proc/self/fd/${handle.fd}`)) === expected;
  const [opened, there] = await Promise.all([handle.stat(), stat(expected)]);
  return opened.dev === there.dev && opened.ino === there.ino && (await realpath(expected)) === expected;
}
