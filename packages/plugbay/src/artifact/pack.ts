import { readFile } from 'node:fs/promises';
import { join, posix, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Header, Pack, Parser, ReadEntry } from 'tar';
import { PlugbayError } from '../core/errors.js';
import { fileSetOf, manifestFileName, signatureFileName } from '../core/file-set.js';
import { validateManifest } from '../core/manifest.js';
import { writeFileAtomic } from '../core/write-file-atomic.js';
import { compareStrings } from '../trust/files.js';
import {
  type ContentFile,
  contentFile,
  digestOf,
  invalid,
  maxVersionBytes,
  type VersionContents,
} from './contents.js';
import { readFolder } from './read.js';

export const packedExtension = '.plugbay.tgz';

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

export interface PackResult {
  /** The packed file written. */
  path: string;
  /** `<name>@<version>`. */
  id: string;
  /** The content address the version will have in a host's store. */
  digest: string;
  /** Paths packed (the signature file included when there is one). */
  files: string[];
  signed: boolean;
}

/**
 * `plugbay pack`: reads a plugin folder's file set (core/file-set.ts) once and writes it, with its signature file,
 * as one deterministic `<name>@<version>.plugbay.tgz` (in `options.out`, default the current directory; a path
 * ending in .plugbay.tgz is the file itself). PLUGBAY_MANIFEST_INVALID when plugin.json is broken.
 */
export async function packPlugin(dir: string, options: { out?: string } = {}): Promise<PackResult> {
  const contents = await readFolder(resolve(dir));
  const manifestFile = contents.files.get(manifestFileName);
  let raw: unknown;
  try {
    raw =
      manifestFile !== undefined && 'bytes' in manifestFile
        ? JSON.parse(manifestFile.bytes.toString('utf8'))
        : undefined;
  } catch {
    raw = undefined;
  }
  const checked = validateManifest(raw);
  if (!('manifest' in checked) || raw === undefined) {
    const list =
      checked.problems.map((p) => `${p.field}: ${p.message}`).join('; ') ||
      `${manifestFileName} is missing or not JSON`;
    throw new PlugbayError('PLUGBAY_MANIFEST_INVALID', `cannot pack ${dir}: ${list}`, {
      details: { problems: checked.problems },
    });
  }
  const { name, version } = checked.manifest;
  const id = `${name}@${version}`;
  const fileName = `${id.replace('/', '+')}${packedExtension}`;
  const out = options.out ?? '.';
  const path = resolve(isPackedFile(out) ? out : join(out, fileName));
  const bytes = await packVersion(contents);
  try {
    await writeFileAtomic(path, bytes);
  } catch (err) {
    throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', `cannot write ${path}: ${(err as Error).message}`, {
      cause: err,
      details: { option: 'out' },
    });
  }
  const files = [...contents.files.keys(), ...(contents.signature === undefined ? [] : [signatureFileName])];
  return {
    path,
    id,
    digest: digestOf(contents),
    files: files.sort(compareStrings),
    signed: contents.signature !== undefined,
  };
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
  if (packed.length > maxVersionBytes)
    throw invalid(source, 'size', `${source} is larger than ${maxVersionBytes} bytes`);
  let tarBytes: Buffer;
  try {
    tarBytes = gunzipSync(packed, { maxOutputLength: maxVersionBytes });
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
    reads.push(
      entry.concat().then((bytes: Buffer) => {
        if (path === signatureFileName) signature = bytes.toString('utf8');
        else files.set(path, contentFile(bytes, entry.mode ?? 0o644));
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
