// The trust module's public surface: signing, verification, keyring, policy, export audit.
export { auditExports, type ExportAudit, ignoredExports } from './audit.js';
export { canonicalJson } from './canonical.js';
export { type FileEntry, listPluginFiles, signatureFileName, type WalkProblem } from './files.js';
export { trustGate } from './gate.js';
export {
  checkCapability,
  checkGrants,
  type Denial,
  decideGrants,
  type GrantDecision,
  type GrantRule,
} from './grants.js';
export {
  createKeyring,
  type KeyLookup,
  type Keyring,
  type KeyringKey,
  type KeyringProblem,
  keyringConfigFile,
  loadKeyring,
  type TrustLevel,
} from './keyring.js';
export {
  type GeneratedKeys,
  generateKeys,
  type KeyId,
  keygen,
  keyIdOf,
  parsePrivateKey,
  parsePublicKey,
} from './keys.js';
export {
  createTrustPolicy,
  decide,
  defaultTrustPolicy,
  type PolicyDecision,
  type PolicyTrustLevel,
  type TrustPolicy,
  type TrustPolicyOptions,
} from './policy.js';
export {
  type SignatureDocument,
  type SignOptions,
  signatureFormat,
  signedBytes,
  signPlugin,
} from './sign.js';
export {
  type Verification,
  type VerificationReason,
  type VerificationRule,
  type VerificationStatus,
  type VerifyOptions,
  verifyPlugin,
  verifySignatureText,
} from './verify.js';
