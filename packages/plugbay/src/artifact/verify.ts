import { manifestFileName, signatureFileName } from '../core/file-set.js';
import type { Keyring } from '../trust/keyring.js';
import { type Verification, verifySignatureText } from '../trust/verify.js';
import { fileEntries, type VersionContents } from './contents.js';

/**
 * Verifies a version as read into memory (a folder's file set or a packed file): its signature text against the
 * listing of the bytes read. The manifest identity is taken from those bytes when not given. Never throws.
 */
export async function verifyContents(
  contents: VersionContents,
  keyring: Keyring,
  manifest?: { name: unknown; version: unknown },
): Promise<Verification> {
  if (contents.signature === undefined) {
    return {
      status: 'unsigned',
      reasons: [{ rule: 'signature-missing', message: `${signatureFileName} is missing` }],
    };
  }
  return verifySignatureText(contents.signature, {
    keyring,
    manifest: manifest ?? identityOf(contents),
    files: async () => ({ files: fileEntries(contents), problems: [] }),
  });
}

function identityOf(contents: VersionContents): { name: unknown; version: unknown } | undefined {
  const file = contents.files.get(manifestFileName);
  if (file === undefined || 'symlink' in file) return undefined;
  try {
    const raw: unknown = JSON.parse(file.bytes.toString('utf8'));
    return typeof raw === 'object' && raw !== null ? (raw as { name: unknown; version: unknown }) : undefined;
  } catch {
    return undefined;
  }
}
