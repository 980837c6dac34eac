import type { TierKind } from '../core/types.js';
import { createKeyring, type Keyring } from './keyring.js';
import { decide, type PolicyDecision, type TrustPolicy } from './policy.js';
import { type Verification, verifyPlugin } from './verify.js';

const emptyKeyring = createKeyring([]);

/**
 * The load-time trust step for the host: verify (skipped under `signatures: 'off'`, so nothing is hashed) and
 * decide whether the plugin may run in `tier`. Call it before any plugin code is read into a runtime.
 * Without a keyring every signature is from an unknown key.
 */
export async function trustGate(input: {
  dir: string;
  manifest: { name: string; version: string };
  tier: TierKind;
  policy: TrustPolicy;
  keyring?: Keyring;
}): Promise<{ verification: Verification | undefined; decision: PolicyDecision }> {
  if (input.policy.signatures === 'off') {
    return { verification: undefined, decision: { allowed: true, trustLevel: 'trusted', warnings: [] } };
  }
  const verification = await verifyPlugin(input.dir, {
    keyring: input.keyring ?? emptyKeyring,
    manifest: input.manifest,
  });
  return { verification, decision: decide(input.policy, verification, input.tier, input.manifest.name) };
}
