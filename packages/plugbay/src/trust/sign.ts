import { type KeyObject, sign } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { PlugbayError } from '../core/errors.js';
import { fileSetOf } from '../core/file-set.js';
import { type Manifest, validateManifest } from '../core/manifest.js';
import { writeFileAtomic } from '../core/write-file-atomic.js';
import { canonicalJson } from './canonical.js';
import {
  type FileEntry,
  type ListOptions,
  linkLeaving,
  listPluginFiles,
  signatureFileName,
} from './files.js';
import { type KeyId, keyIdOf, parsePrivateKey } from './keys.js';

/** Version of the signature file layout; a verifier refuses formats it does not know. */
export const signatureFormat = 1;

/** The content of `plugin.sig.json`. Everything but `signature` is covered by the signature. */
export interface SignatureDocument {
  format: typeof signatureFormat;
  /** The manifest's name and version at signing time: a signature copied to another plugin does not verify. */
  name: string;
  version: string;
  /** Every file of the plugin, sorted by path. */
  files: FileEntry[];
  keyId: KeyId;
  /** ISO 8601 time of signing. */
  signedAt: string;
  /** Ed25519 signature over `signedBytes(document)`, base64. */
  signature: string;
}

export type SignedPayload = Omit<SignatureDocument, 'signature'>;

/** The exact bytes the Ed25519 signature covers: deterministic JSON of every field but `signature`. */
export function signedBytes(payload: SignedPayload): Buffer {
  const { format, name, version, files, keyId, signedAt } = payload;
  return Buffer.from(canonicalJson({ format, name, version, files, keyId, signedAt }), 'utf8');
}

export interface SignOptions extends ListOptions {
  /** Ed25519 private key (KeyObject or PEM). */
  privateKey: KeyObject | string | Buffer;
  /** Signing time recorded in the file. Default: now. */
  signedAt?: Date;
}

/**
 * Signs a plugin directory: hashes every file, binds the manifest's name and version, and writes
 * `plugin.sig.json`. Refuses (PLUGBAY_MANIFEST_INVALID / PLUGBAY_INVALID_ARGUMENT) when the manifest is broken, a
 * file cannot be recorded or a symlink leaves the folder (`symlink-outside`), so that nothing unverifiable gets
 * signed.
 */
export async function signPlugin(
  dir: string,
  options: SignOptions,
): Promise<{ path: string; document: SignatureDocument }> {
  const privateKey =
    typeof options.privateKey === 'object' && !Buffer.isBuffer(options.privateKey)
      ? options.privateKey
      : parsePrivateKey(options.privateKey);
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', 'options.privateKey must be an Ed25519 private key');
  }
  const manifest = await readManifestIdentity(dir);
  const { name, version } = manifest;
  // Exactly the files pack packs (core/file-set.ts): node_modules, sources and litter are not signed.
  const { files, problems } = await listPluginFiles(dir, { ...options, fileSet: fileSetOf(manifest) });
  if (problems.length > 0) {
    const list = problems.map((p) => `${p.path} (${p.message})`).join(', ');
    throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', `cannot sign ${dir}: cannot record ${list}`, {
      details: { problems },
    });
  }
  const entry = posix.normalize(manifest.entry);
  if (!files.some((f) => f.path === entry) && (await isTypeScriptProject(dir))) {
    throw new PlugbayError(
      'PLUGBAY_INVALID_ARGUMENT',
      `cannot sign ${dir}: its entry ${entry} is missing: run plugbay build first, then sign`,
      { details: { field: 'entry', rule: 'built' } },
    );
  }
  const leaving = linkLeaving(new Map(files.map((f) => [f.path, f])));
  if (leaving !== undefined) {
    throw new PlugbayError(
      'PLUGBAY_INVALID_ARGUMENT',
      `cannot sign ${dir}: ${leaving.path} is a symlink to ${leaving.symlink}, outside the plugin folder`,
      { details: { path: leaving.path, rule: 'symlink-outside' } },
    );
  }
  const payload: SignedPayload = {
    format: signatureFormat,
    name,
    version,
    files,
    keyId: keyIdOf(privateKey),
    signedAt: (options.signedAt ?? new Date()).toISOString(),
  };
  const document: SignatureDocument = {
    ...payload,
    signature: sign(null, signedBytes(payload), privateKey).toString('base64'),
  };
  const path = join(dir, signatureFileName);
  // Write then rename: rename replaces a planted symlink instead of writing through it.
  try {
    await writeFileAtomic(path, `${JSON.stringify(document, null, 2)}\n`);
  } catch (err) {
    throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', `cannot write ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return { path, document };
}

async function readManifestIdentity(dir: string): Promise<Manifest> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(dir, 'plugin.json'), 'utf8'));
  } catch (err) {
    // A TypeScript project before its first build has no plugin.json yet: the build writes it.
    const unbuilt = (err as NodeJS.ErrnoException).code === 'ENOENT' && (await isTypeScriptProject(dir));
    const message = unbuilt
      ? `${dir} has no plugin.json yet: run plugbay build first (it writes plugin.json and dist/plugin.js), then sign`
      : `cannot read plugin.json in ${dir}: ${(err as Error).message}`;
    throw new PlugbayError('PLUGBAY_MANIFEST_INVALID', message, {
      cause: err,
      details: { field: 'plugin.json', rule: unbuilt ? 'built' : 'readable' },
    });
  }
  const result = validateManifest(raw);
  if (!('manifest' in result)) {
    const list = result.problems.map((p) => `${p.field}: ${p.message}`).join('; ');
    throw new PlugbayError('PLUGBAY_MANIFEST_INVALID', `plugin.json in ${dir} is invalid: ${list}`, {
      details: { problems: result.problems },
    });
  }
  return result.manifest;
}

/** A folder `plugbay build` makes a plugin of (src/index.ts): what it lacks, the build writes. */
function isTypeScriptProject(dir: string): Promise<boolean> {
  return access(join(dir, 'src/index.ts')).then(
    () => true,
    () => false,
  );
}
