import { signatureFileName } from '../core/file-set.js';
import type { TierKind } from '../core/types.js';
import type { FileEntry } from './files.js';
import { createKeyring, type Keyring } from './keyring.js';
import { decide, type PolicyDecision, type TrustPolicy } from './policy.js';
import { type Verification, verifySignatureText } from './verify.js';

const emptyKeyring = createKeyring([]);

/**
 * The load-time trust step for the host: verify (skipped under `signatures: 'off'`) and decide whether the plugin
 * may run in `tier`. It verifies the version as read into memory (its signature text and the listing of the very
 * bytes that will be stored and run), never the folder again. Call it before any plugin code is read into a
 * runtime. Without a keyring every signature is from an unknown key.
 */
export async function trustGate(input: {
  /** The text of plugin.sig.json as read with the version; undefined: none. */
  signature: string | undefined;
  /** The version's files as read (artifact/contents.ts `fileEntries`). */
  files: FileEntry[];
  manifest: { name: string; version: string };
  tier: TierKind;
  policy: TrustPolicy;
  keyring?: Keyring;
}): Promise<{ verification: Verification | undefined; decision: PolicyDecision }> {
  if (input.policy.signatures === 'off') {
    return { verification: undefined, decision: { allowed: true, trustLevel: 'trusted', warnings: [] } };
  }
  const verification: Verification =
    input.signature === undefined
      ? {
          status: 'unsigned',
          reasons: [{ rule: 'signature-missing', message: `${signatureFileName} is missing` }],
        }
      : await verifySignatureText(input.signature, {
          keyring: input.keyring ?? emptyKeyring,
          manifest: input.manifest,
          files: async () => ({ files: input.files, problems: [] }),
        });
  return { verification, decision: decide(input.policy, verification, input.tier, input.manifest.name) };
}
