import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PlugbayError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/write-file-atomic.js';
import type { Keyring } from '../../trust/keyring.js';
import { parsePacked } from '../pack.js';
import { verifyContents } from '../verify.js';
import { pullArtifact, sha256Digest } from './artifact.js';
import type { RegistryClientOptions } from './client.js';
import { formatOciReference, type OciReference } from './reference.js';

export interface CachedPlugin {
  /** The reference as asked for. */
  reference: string;
  /** The manifest digest it resolved to. */
  digest: string;
  /** The verified packed file, ready for the host (`*.plugbay.tgz`). */
  file: string;
  /** `registry`: pulled (or re-resolved) now; `cache`: from disk, the registry not asked or not reachable. */
  from: 'registry' | 'cache';
  /** Why the registry was not used, when `from` is `cache` for a tag. */
  registryError?: PlugbayError;
}

interface RefEntry {
  digest: string;
  layer: string;
}

export interface CacheOptions extends RegistryClientOptions {
  dir: string;
  keyring: Keyring;
  allowUnsigned?: boolean;
}

/** Resolves `ref` through the registry or the cache (rules above) and returns the verified packed file. */
export async function resolveCached(ref: OciReference, options: CacheOptions): Promise<CachedPlugin> {
  const reference = formatOciReference(ref);
  await mkdir(options.dir, { recursive: true });
  const refs = await readRefs(options.dir);
  const known = refs[reference];
  if (ref.digest !== undefined && known !== undefined) {
    return {
      reference,
      digest: known.digest,
      file: await checkCached(options, reference, known),
      from: 'cache',
    };
  }
  let pulled: Awaited<ReturnType<typeof pullArtifact>>;
  try {
    pulled = await pullArtifact(ref, options);
  } catch (err) {
    const unavailable =
      err instanceof PlugbayError && err.code === 'PLUGBAY_REGISTRY_FAILED' && err.retryable;
    if (!unavailable || known === undefined) throw err;
    const file = await checkCached(options, reference, known);
    return { reference, digest: known.digest, file, from: 'cache', registryError: err };
  }
  const entry = { digest: pulled.digest, layer: sha256Digest(pulled.packed) };
  const file = fileOf(options.dir, entry.digest);
  await writeAtomic(file, pulled.packed);
  // Re-read before writing: another reference may have been recorded meanwhile by this process.
  await writeAtomic(
    join(options.dir, 'refs.json'),
    Buffer.from(`${JSON.stringify({ ...(await readRefs(options.dir)), [reference]: entry }, null, 2)}\n`),
  );
  return { reference, digest: entry.digest, file, from: 'registry' };
}

function fileOf(dir: string, digest: string): string {
  return join(dir, `${digest.replace(/^sha256:/, '')}.plugbay.tgz`);
}

/** The cached file of `entry`, checked: PLUGBAY_ARTIFACT_INVALID when changed on disk, SIGNATURE_INVALID when bad. */
async function checkCached(options: CacheOptions, reference: string, entry: RefEntry): Promise<string> {
  const file = fileOf(options.dir, entry.digest);
  const bytes = await readFile(file).catch(() => undefined);
  const actual = bytes === undefined ? undefined : sha256Digest(bytes);
  if (bytes === undefined || actual !== entry.layer) {
    throw new PlugbayError(
      'PLUGBAY_ARTIFACT_INVALID',
      `${file}: the cached copy of ${reference} is ${bytes === undefined ? 'missing' : 'not the bytes pulled'}`,
      {
        details: {
          source: file,
          rule: 'digest-mismatch',
          digest: entry.layer,
          ...(actual === undefined ? {} : { actual }),
        },
      },
    );
  }
  const contents = await parsePacked(bytes, file);
  const verification = await verifyContents(contents, options.keyring);
  if (verification.status !== 'valid' && !(verification.status === 'unsigned' && options.allowUnsigned)) {
    throw new PlugbayError(
      'PLUGBAY_SIGNATURE_INVALID',
      `${file}: the cached copy of ${reference} is ${verification.status}`,
      {
        details: {
          source: file,
          rule: verification.reasons[0]?.rule ?? verification.status,
          status: verification.status,
        },
      },
    );
  }
  return file;
}

async function readRefs(dir: string): Promise<Record<string, RefEntry>> {
  const text = await readFile(join(dir, 'refs.json'), 'utf8').catch(() => '{}');
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, RefEntry>) : {};
  } catch {
    return {}; // a torn or foreign file: the registry is asked again, nothing is trusted from it
  }
}

async function writeAtomic(path: string, bytes: Buffer): Promise<void> {
  try {
    await writeFileAtomic(path, bytes);
  } catch (err) {
    throw new PlugbayError('PLUGBAY_LOAD_FAILED', `cannot write ${path}: ${(err as Error).message}`, {
      cause: err,
      details: { path },
    });
  }
}
