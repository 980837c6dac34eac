import { verify as ed25519Verify } from 'node:crypto';
import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import {
  compareStrings,
  type FileEntry,
  type ListOptions,
  linkLeaving,
  listPluginFiles,
  readUpTo,
  signatureFileName,
  type WalkProblem,
} from './files.js';
import type { Keyring, TrustLevel } from './keyring.js';
import { keyIdPattern } from './keys.js';
import { type SignatureDocument, signatureFormat, signedBytes } from './sign.js';

/**
 * - `valid`: signed by a known, unrevoked key, and every file is as signed.
 * - `unsigned`: there is no signature file.
 * - `invalid`: the signature cannot be trusted: malformed or truncated file, unknown or revoked key, bad signature,
 *   it was made for another plugin (manifest name/version differ), or it lists a symlink leaving the plugin.
 * - `modified`: the signature is good but a file changed, was added or removed, or a symlink was swapped.
 */
export type VerificationStatus = 'valid' | 'unsigned' | 'invalid' | 'modified';

/** Why a plugin got its status; stable ids to match on. */
export type VerificationRule =
  | 'signature-missing'
  | 'signature-unreadable'
  | 'signature-too-large'
  | 'signature-malformed'
  | 'format-unsupported'
  | 'key-unknown'
  | 'key-revoked'
  | 'signature-bad'
  | 'manifest-mismatch'
  | 'file-changed'
  | 'file-added'
  | 'file-removed'
  | 'symlink-changed'
  | 'symlink-outside'
  | 'file-unreadable'
  | 'file-unsupported';

export interface VerificationReason {
  rule: VerificationRule;
  message: string;
  /** The plugin file concerned (for file rules). */
  path?: string;
  /** The signing key concerned (for key rules). */
  keyId?: string;
  /** The signature-file field concerned (for malformed files), e.g. `files[3].sha256`. */
  field?: string;
}

export interface Verification {
  status: VerificationStatus;
  /** Empty only when `valid`. */
  reasons: VerificationReason[];
  /** From the signature file, once it parsed. */
  keyId?: string;
  /** The key's trust level, when the key is known and the signature good. */
  trust?: TrustLevel;
  /** The keyring file of the key (e.g. `alice.pub`). */
  keySource?: string;
  name?: string;
  version?: string;
  signedAt?: string;
}

export interface VerifyOptions extends ListOptions {
  keyring: Keyring;
  /** The manifest's name and version if the caller already parsed it; otherwise plugin.json is read. */
  manifest?: { name: unknown; version: unknown };
  /** Larger signature files are `invalid`. Default 32 MiB (about 250k files). */
  maxSignatureBytes?: number;
}

const defaultMaxSignatureBytes = 32 * 1024 * 1024;
const readFlags = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/**
 * Verifies a plugin directory against its `plugin.sig.json`. Never throws: whatever the directory holds becomes a
 * status with reasons. Files are hashed only once the signature itself is proven good.
 */
export async function verifyPlugin(dir: string, options: VerifyOptions): Promise<Verification> {
  try {
    const read = await readSmallFile(
      join(dir, signatureFileName),
      options.maxSignatureBytes ?? defaultMaxSignatureBytes,
    );
    if ('missing' in read) {
      return {
        status: 'unsigned',
        reasons: [{ rule: 'signature-missing', message: `${signatureFileName} is missing` }],
      };
    }
    if ('problem' in read) return { status: 'invalid', reasons: [read.problem] };
    const manifest = options.manifest ?? (await readManifestIdentity(dir));
    return await verifySignatureText(read.text, {
      keyring: options.keyring,
      manifest,
      files: () => listPluginFiles(dir, options),
    });
  } catch (err) {
    // Unreachable by design; kept so that a bug can never turn into an exception at load time.
    return {
      status: 'invalid',
      reasons: [
        { rule: 'signature-unreadable', message: `verification failed: ${(err as Error)?.message ?? err}` },
      ],
    };
  }
}

/**
 * The I/O-free core of verification: the signature file's text, the keyring, the manifest identity, and a function
 * listing the plugin's files (called only when the signature is good). Never throws.
 */
export async function verifySignatureText(
  text: string,
  input: {
    keyring: Keyring;
    manifest: { name: unknown; version: unknown } | undefined;
    files: () => Promise<{ files: FileEntry[]; problems: WalkProblem[] }>;
  },
): Promise<Verification> {
  const checked = checkSignatureText(text, input.keyring, input.manifest);
  if (checked.status === 'invalid') return checked;
  const { document } = checked;
  // A signed link that leaves the version would run whatever its target becomes: nothing signed covers it.
  const leaving = linkLeaving(new Map(document.files.map((f) => [f.path, f])));
  if (leaving !== undefined) {
    const message = `${leaving.path} is signed as a symlink to ${leaving.symlink}, outside the plugin folder`;
    return {
      ...checked.verification,
      status: 'invalid',
      reasons: [{ rule: 'symlink-outside', path: leaving.path, message }],
    };
  }
  const actual = await input.files();
  const reasons = compareFiles(document.files, actual.files, actual.problems);
  return {
    ...checked.verification,
    status: reasons.length === 0 ? 'valid' : 'modified',
    reasons,
  };
}

/** Parses the signature text and checks key, signature and manifest identity (not the files). Never throws. */
export function checkSignatureText(
  text: string,
  keyring: Keyring,
  manifest: { name: unknown; version: unknown } | undefined,
):
  | { status: 'invalid'; reasons: VerificationReason[]; keyId?: string }
  | {
      status: 'signature-ok';
      document: SignatureDocument;
      verification: Omit<Verification, 'status' | 'reasons'>;
    } {
  const parsed = parseSignatureDocument(text);
  if ('reasons' in parsed) return { status: 'invalid', reasons: parsed.reasons };
  const document = parsed.document;
  const about = {
    keyId: document.keyId,
    name: document.name,
    version: document.version,
    signedAt: document.signedAt,
  };
  const invalid = (reason: VerificationReason) => ({
    status: 'invalid' as const,
    ...about,
    reasons: [reason],
  });
  const found = keyring.lookup(document.keyId);
  if (found.status === 'revoked') {
    return invalid({
      rule: 'key-revoked',
      keyId: document.keyId,
      message: `key ${document.keyId} is revoked (${found.source})`,
    });
  }
  if (found.status === 'unknown') {
    return invalid({
      rule: 'key-unknown',
      keyId: document.keyId,
      message: `key ${document.keyId} is not in the keyring`,
    });
  }
  let good = false;
  try {
    good = ed25519Verify(
      null,
      signedBytes(document),
      found.key.publicKey,
      Buffer.from(document.signature, 'base64'),
    );
  } catch {
    good = false;
  }
  if (!good) {
    return invalid({
      rule: 'signature-bad',
      keyId: document.keyId,
      message: `the signature does not verify with key ${document.keyId} (${found.key.source})`,
    });
  }
  // A good signature made for another plugin: the file list may even match (a copied directory), the identity not.
  if (manifest !== undefined && (manifest.name !== document.name || manifest.version !== document.version)) {
    return invalid({
      rule: 'manifest-mismatch',
      keyId: document.keyId,
      message: `signed for ${document.name}@${document.version}, but plugin.json is ${String(manifest.name)}@${String(manifest.version)}`,
    });
  }
  return {
    status: 'signature-ok',
    document,
    verification: { ...about, trust: found.key.trust, keySource: found.key.source },
  };
}

/** Every difference between the signed file list and the directory, sorted by path. */
export function compareFiles(
  expected: FileEntry[],
  actual: FileEntry[],
  problems: WalkProblem[],
): VerificationReason[] {
  const reasons: VerificationReason[] = [];
  const now = new Map(actual.map((f) => [f.path, f]));
  for (const want of expected) {
    const have = now.get(want.path);
    now.delete(want.path);
    if (have === undefined) {
      if (!problems.some((p) => p.path === want.path)) {
        reasons.push({ rule: 'file-removed', path: want.path, message: `${want.path} was removed` });
      }
    } else if ('symlink' in want || 'symlink' in have) {
      const wantText = 'symlink' in want ? `a symlink to ${want.symlink}` : 'a regular file';
      const haveText = 'symlink' in have ? `a symlink to ${have.symlink}` : 'a regular file';
      if (wantText !== haveText) {
        reasons.push({
          rule: 'symlink-changed',
          path: want.path,
          message: `${want.path} was ${wantText}, now ${haveText}`,
        });
      }
    } else if (want.sha256 !== have.sha256 || want.size !== have.size) {
      reasons.push({
        rule: 'file-changed',
        path: want.path,
        message: `${want.path} changed (sha256 differs)`,
      });
    }
  }
  for (const extra of now.keys())
    reasons.push({ rule: 'file-added', path: extra, message: `${extra} was added` });
  for (const p of problems) {
    const rule = p.reason === 'unsupported-type' ? 'file-unsupported' : 'file-unreadable';
    reasons.push({ rule, path: p.path, message: `${p.path} ${p.message}` });
  }
  return reasons.sort((a, b) => compareStrings(a.path ?? '', b.path ?? ''));
}

const topLevelKeys = new Set(['format', 'name', 'version', 'files', 'keyId', 'signedAt', 'signature']);

/** Checks the shape of a signature file field by field; the first broken rule is the reason. Never throws. */
export function parseSignatureDocument(
  text: string,
): { document: SignatureDocument } | { reasons: VerificationReason[] } {
  const malformed = (field: string, message: string) => ({
    reasons: [
      { rule: 'signature-malformed' as const, field, message: `${signatureFileName}: ${field} ${message}` },
    ],
  });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    // A truncated file lands here too: JSON.parse reports the unexpected end.
    return malformed('(root)', `is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(raw)) return malformed('(root)', 'must be an object');
  for (const key of Object.keys(raw)) {
    if (!topLevelKeys.has(key)) return malformed(key, 'is not allowed (not covered by the signature)');
  }
  if (raw.format !== signatureFormat) {
    if (typeof raw.format === 'number') {
      return {
        reasons: [
          {
            rule: 'format-unsupported',
            field: 'format',
            message: `${signatureFileName}: format ${raw.format} is not supported (this plugbay reads ${signatureFormat})`,
          },
        ],
      };
    }
    return malformed('format', `must be ${signatureFormat}`);
  }
  if (!isText(raw.name, 214)) return malformed('name', 'must be a non-empty string of at most 214 chars');
  if (!isText(raw.version, 256))
    return malformed('version', 'must be a non-empty string of at most 256 chars');
  if (typeof raw.keyId !== 'string' || !keyIdPattern.test(raw.keyId)) {
    return malformed('keyId', 'must be 16 lowercase hex chars');
  }
  if (!isText(raw.signedAt, 64) || Number.isNaN(Date.parse(raw.signedAt))) {
    return malformed('signedAt', 'must be an ISO 8601 time');
  }
  if (typeof raw.signature !== 'string' || !/^[A-Za-z0-9+/]{86}==$/.test(raw.signature)) {
    return malformed('signature', 'must be a base64 Ed25519 signature (64 bytes)');
  }
  if (!Array.isArray(raw.files)) return malformed('files', 'must be an array');
  const files: FileEntry[] = [];
  let previous: string | undefined;
  for (const [i, entry] of raw.files.entries()) {
    const field = `files[${i}]`;
    if (!isObject(entry)) return malformed(field, 'must be an object');
    const keys = Object.keys(entry).sort().join(',');
    if (keys !== 'path,sha256,size' && keys !== 'path,symlink') {
      return malformed(field, 'must have exactly path, sha256, size (a file) or path, symlink (a symlink)');
    }
    const pathProblem = relativePathProblem(entry.path);
    if (pathProblem !== undefined) return malformed(`${field}.path`, pathProblem);
    const path = entry.path as string;
    if (previous !== undefined && compareStrings(previous, path) >= 0) {
      return malformed(`${field}.path`, 'must be sorted and unique');
    }
    previous = path;
    if ('symlink' in entry) {
      if (!isText(entry.symlink, 4096) || entry.symlink.includes('\0')) {
        return malformed(`${field}.symlink`, 'must be a non-empty string without NUL');
      }
      files.push({ path, symlink: entry.symlink });
    } else {
      if (typeof entry.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(entry.sha256)) {
        return malformed(`${field}.sha256`, 'must be 64 lowercase hex chars');
      }
      if (!Number.isSafeInteger(entry.size) || (entry.size as number) < 0) {
        return malformed(`${field}.size`, 'must be a non-negative integer');
      }
      files.push({ path, sha256: entry.sha256, size: entry.size as number });
    }
  }
  return {
    document: {
      format: signatureFormat,
      name: raw.name,
      version: raw.version,
      files,
      keyId: raw.keyId,
      signedAt: raw.signedAt,
      signature: raw.signature,
    },
  };
}

function relativePathProblem(path: unknown): string | undefined {
  if (!isText(path, 4096)) return 'must be a non-empty string of at most 4096 chars';
  if (path.includes('\0')) return 'must not contain NUL';
  if (path.startsWith('/')) return 'must be relative';
  if (path.split('/').some((s) => s === '' || s === '.' || s === '..'))
    return 'must not have empty, "." or ".." segments';
  if (path === signatureFileName) return `must not be ${signatureFileName} itself`;
  return undefined;
}

async function readManifestIdentity(dir: string): Promise<{ name: unknown; version: unknown } | undefined> {
  // When plugin.json is missing or broken the identity check is skipped: the file comparison reports it.
  const read = await readSmallFile(join(dir, 'plugin.json'), 16 * 1024 * 1024);
  if (!('text' in read)) return undefined;
  try {
    const raw: unknown = JSON.parse(read.text);
    return isObject(raw) ? { name: raw.name, version: raw.version } : undefined;
  } catch {
    return undefined;
  }
}

/** Reads a regular file without following a symlink or blocking on a FIFO, up to `max` bytes. */
async function readSmallFile(
  path: string,
  max: number,
): Promise<{ text: string } | { missing: true } | { problem: VerificationReason }> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, readFlags);
    const stat = await handle.stat();
    if (!stat.isFile()) {
      return {
        problem: { rule: 'signature-unreadable', message: `${signatureFileName} is not a regular file` },
      };
    }
    if (stat.size > max) {
      return {
        problem: { rule: 'signature-too-large', message: `${signatureFileName} is larger than ${max} bytes` },
      };
    }
    return { text: (await readUpTo(handle, stat.size)).toString('utf8') };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { missing: true };
    const message =
      code === 'ELOOP'
        ? `${signatureFileName} is a symlink`
        : `${signatureFileName} cannot be read: ${(err as Error).message}`;
    return { problem: { rule: 'signature-unreadable', message } };
  } finally {
    await handle?.close().catch(() => {});
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isText(v: unknown, max: number): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= max;
}
