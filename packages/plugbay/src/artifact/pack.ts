/**
 * The packed plugin: one gzip'd ustar file (`<name>@<version>.plugbay.tgz`) with the version's file set and its
 * signature file. Made deterministic (sorted entries, mtime 0, uid/gid 0, mode 0644 or 0755, no owner names), so
 * that packing the same files twice gives the same bytes. Read in memory only: never extracted to disk by its paths.
 */
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Header, Pack, Parser, ReadEntry } from 'tar';
import { fileSetOf, manifestFileName, signatureFileName } from '../core/file-set.js';
import { compareStrings } from '../trust/files.js';
import { type ContentFile, contentFile, invalid, type VersionContents } from './contents.js';

export const packedExtension = '.plugbay.tgz';

/** Larger packed files are refused before they are inflated, and so is what they inflate to beyond this. */
const maxPackedBytes = 1024 * 1024 * 1024;

export function isPackedFile(path: string): boolean {
  return path.endsWith(packedExtension);
}

/** The bytes of the packed file of `contents` (its file set and signature file). Symlinks cannot be packed. */
export async function packVersion(contents: VersionContents): Promise<Buffer> {
  const entries: [string, Buffer, number][] = [];
  for (const [path, file] of contents.files) {
    if ('symlink' in file) {
      throw invalid(
        contents.source,
        'symlink',
        `${path} is a symlink; a packed plugin holds regular files only`,
        {
          path,
        },
      );
    }
    entries.push([path, file.bytes, file.executable ? 0o755 : 0o644]);
  }
  if (contents.signature !== undefined) {
    entries.push([signatureFileName, Buffer.from(contents.signature, 'utf8'), 0o644]);
  }
  entries.sort((a, b) => compareStrings(a[0], b[0]));
  const pack = new Pack({ portable: true, mtime: new Date(0) });
  const chunks: Buffer[] = [];
  pack.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const [path, bytes, mode] of entries) {
    const header = new Header({
      path,
      mode,
      size: bytes.length,
      type: 'File',
      mtime: new Date(0),
      uid: 0,
      gid: 0,
    });
    const entry = new ReadEntry(header);
    entry.end(bytes);
    pack.add(entry);
  }
  pack.end();
  await done;
  // zlib writes mtime 0 and no file name in the gzip header: the same tar gives the same bytes.
  return gzipSync(Buffer.concat(chunks), { level: 9 });
}

export async function readPacked(file: string): Promise<VersionContents> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw invalid(file, 'readable', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parsePacked(bytes, file);
}

/**
 * Parses a packed plugin in memory. Refused with PLUGBAY_ARTIFACT_INVALID (`details.rule`): anything but regular
 * files and directories (`link`), absolute paths (`absolute-path`), `..` segments (`parent-path`), the same path
 * twice (`duplicate`), a corrupt archive (`format`). Files outside the manifest's file set are dropped.
 */
export async function parsePacked(packed: Buffer, source: string): Promise<VersionContents> {
  if (packed.length > maxPackedBytes)
    throw invalid(source, 'size', `${source} is larger than ${maxPackedBytes} bytes`);
  let tarBytes: Buffer;
  try {
    tarBytes = gunzipSync(packed, { maxOutputLength: maxPackedBytes });
  } catch (err) {
    throw invalid(source, 'format', `${source} is not a gzip'd tar: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const files = new Map<string, ContentFile>();
  let signature: string | undefined;
  let problem: Error | undefined;
  const reads: Promise<void>[] = [];
  const parser = new Parser({ strict: true });
  parser.on('entry', (entry: ReadEntry) => {
    const refuse = (rule: string, message: string) => {
      problem ??= invalid(source, rule, `${source}: ${message}`, { path: entry.path });
      entry.resume();
    };
    const raw = entry.path;
    if (entry.type === 'Directory') return void entry.resume();
    if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'ContiguousFile') {
      return refuse('link', `${raw} is a ${entry.type} entry; only regular files are accepted`);
    }
    if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw) || raw.includes('\\')) {
      return refuse('absolute-path', `${raw} is an absolute path`);
    }
    if (raw.includes('\0') || raw.split('/').includes('..'))
      return refuse('parent-path', `${raw} leaves the plugin`);
    const path = posix.normalize(raw);
    if (path === '.' || files.has(path) || (path === signatureFileName && signature !== undefined)) {
      return refuse('duplicate', `${raw} is in the archive twice`);
    }
    const executable = ((entry.mode ?? 0) & 0o100) !== 0;
    reads.push(
      entry.concat().then((bytes: Buffer) => {
        if (path === signatureFileName) signature = bytes.toString('utf8');
        else files.set(path, contentFile(bytes, executable));
      }),
    );
  });
  parser.on('warn', (code: string, message: string | Error) => {
    problem ??= invalid(source, 'format', `${source}: ${code}: ${String(message)}`);
  });
  const ended = new Promise<void>((resolve) => parser.on('end', resolve));
  parser.end(tarBytes);
  await ended;
  await Promise.all(reads);
  if (problem !== undefined) throw problem;
  // The same rule as for a folder: only the set the manifest declares is part of the version.
  const manifest = files.get(manifestFileName);
  let fields: Record<string, unknown> | undefined;
  try {
    fields = manifest === undefined ? undefined : JSON.parse(manifest.bytes.toString('utf8'));
  } catch {
    fields = undefined;
  }
  const fileSet = fileSetOf(fields);
  for (const path of files.keys()) if (!fileSet.includes(path)) files.delete(path);
  return { source, kind: 'packed', files, signature };
}
