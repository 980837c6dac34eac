import { constants, type Dirent } from 'node:fs';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PlugbayError } from '../core/errors.js';
import { fileSetOf, manifestFileName, signatureFileName } from '../core/file-set.js';
import {
  type ContentFile,
  type ContentLink,
  contentFile,
  invalid,
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
  const stat = await lstat(source).catch((err: Error) => {
    throw invalid(source, 'readable', `cannot read ${source}: ${err.message}`, { cause: err });
  });
  if (stat.isDirectory()) return readFolder(source);
  if (stat.isFile() && isPackedFile(source)) return readPacked(source);
  throw invalid(source, 'kind', `${source} is neither a plugin folder nor a packed plugin (*.plugbay.tgz)`);
}

/** Reads the file set of a folder: plugin.json first (it says which files belong), then the rest, each once. */
export async function readFolder(dir: string): Promise<VersionContents> {
  const files = new Map<string, ContentFile | ContentLink>();
  const manifestBytes = await readRegular(dir, manifestFileName, Number.POSITIVE_INFINITY).catch((err) => {
    throw new PlugbayError('PLUGBAY_MANIFEST_INVALID', `${manifestFileName} cannot be read: ${err.message}`, {
      cause: err,
      details: { source: dir, field: manifestFileName, rule: 'readable' },
    });
  });
  let fields: Record<string, unknown> | undefined;
  if (manifestBytes !== undefined) {
    files.set(manifestFileName, manifestBytes);
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
      } else {
        throw invalid(dir, 'file-type', `${path} is not a regular file, directory or symlink`, { path });
      }
    }
  }
  for (const path of regular) {
    const file = await readRegular(dir, path, Number.POSITIVE_INFINITY);
    if (file === undefined) throw invalid(dir, 'readable', `${path} vanished while reading`, { path });
    files.set(path, file);
  }
  const signature = await readRegular(dir, signatureFileName, maxSignatureBytes);
  return { source: dir, kind: 'folder', files, signature: signature?.bytes.toString('utf8') };
}

/** One regular file, read whole without following a symlink; undefined when it does not exist. */
async function readRegular(dir: string, path: string, max: number): Promise<ContentFile | undefined> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(join(dir, path), openFlags);
    const stat = await handle.stat();
    if (!stat.isFile()) throw invalid(dir, 'file-type', `${path} is not a regular file`, { path });
    if (stat.size > max) throw invalid(dir, 'size', `${path} is larger than ${max} bytes`, { path });
    return contentFile(await handle.readFile(), (stat.mode & 0o100) !== 0);
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
