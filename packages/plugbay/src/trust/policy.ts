import type { ErrorCode } from '../core/errors.js';
import { PlugbayError } from '../core/errors.js';
import type { TierKind } from '../core/types.js';
import type { Verification } from './verify.js';

/** `trusted` and `community` come from the keyring; `unsigned` is a plugin allowed to run without a good signature. */
export type PolicyTrustLevel = 'trusted' | 'community' | 'unsigned';

export interface TrustPolicy {
  /**
   * - `required` (gateway default): only `valid` plugins load, plus unsigned ones named in `allowUnsigned`.
   * - `warn` (`--dev`): unsigned, modified and badly signed plugins load at the `unsigned` level, with a warning;
   *   a revoked key is still refused.
   * - `off`: signatures are not looked at; every tier is allowed.
   */
  signatures: 'required' | 'warn' | 'off';
  /** Plugin names that may load unsigned under `required` (exact names, or `@scope/*`). Default none. */
  allowUnsigned: string[];
  /**
   * Tiers each trust level may use. Default: trusted → all; community and unsigned → process, wasm. `inline` and
   * `thread` share the gateway's process, and with it all its authority (files, environment, admin API): Node's
   * permission model is per process, so nothing confines them. They are for trusted code only.
   */
  tiers: Record<PolicyTrustLevel, TierKind[]>;
  /** What to do with exports beyond the manifest's functions. Default `warn`. */
  exports: 'warn' | 'strict';
}

export const allTiers: readonly TierKind[] = ['inline', 'thread', 'process', 'wasm'];

export const defaultTrustPolicy: Readonly<TrustPolicy> = Object.freeze<TrustPolicy>({
  signatures: 'required',
  allowUnsigned: [],
  tiers: {
    trusted: ['inline', 'thread', 'process', 'wasm'],
    community: ['process', 'wasm'],
    unsigned: ['process', 'wasm'],
  },
  exports: 'warn',
});

export type TrustPolicyOptions = Partial<Omit<TrustPolicy, 'tiers'>> & {
  tiers?: Partial<Record<PolicyTrustLevel, TierKind[]>>;
};

/** Fills the defaults and checks every option at once; a PLUGBAY_INVALID_ARGUMENT error lists each broken rule. */
export function createTrustPolicy(options: TrustPolicyOptions = {}): TrustPolicy {
  if (typeof options !== 'object' || options === null) {
    throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', 'trust policy options must be an object');
  }
  const problems: string[] = [];
  const signatures = options.signatures ?? defaultTrustPolicy.signatures;
  if (!['required', 'warn', 'off'].includes(signatures))
    problems.push('signatures must be "required", "warn" or "off"');
  const allowUnsigned = options.allowUnsigned ?? [];
  if (!Array.isArray(allowUnsigned) || allowUnsigned.some((n) => typeof n !== 'string' || n === '')) {
    problems.push('allowUnsigned must be an array of plugin names');
  }
  const exportsMode = options.exports ?? defaultTrustPolicy.exports;
  if (exportsMode !== 'warn' && exportsMode !== 'strict') problems.push('exports must be "warn" or "strict"');
  const tiers = { ...defaultTrustPolicy.tiers };
  for (const [level, list] of Object.entries(options.tiers ?? {})) {
    if (!Object.hasOwn(tiers, level)) {
      problems.push(`tiers.${level} is not a trust level (trusted, community, unsigned)`);
    } else if (!Array.isArray(list) || list.some((t) => !allTiers.includes(t))) {
      problems.push(`tiers.${level} must be an array of ${allTiers.join(', ')}`);
    } else {
      tiers[level as PolicyTrustLevel] = [...list];
    }
  }
  if (problems.length > 0) {
    throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', `invalid trust policy: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  return { signatures, allowUnsigned: [...allowUnsigned], tiers, exports: exportsMode };
}

export type PolicyDecision =
  | {
      allowed: true;
      /** The level the plugin runs at (`trusted` also under `signatures: off`). */
      trustLevel: PolicyTrustLevel;
      /** Non-fatal findings (e.g. unsigned under `warn`). */
      warnings: string[];
    }
  | {
      allowed: false;
      trustLevel: PolicyTrustLevel | undefined;
      /** PLUGBAY_SIGNATURE_INVALID or PLUGBAY_TIER_NOT_ALLOWED, with the reason in message and details. */
      error: PlugbayError & {
        code: Extract<ErrorCode, 'PLUGBAY_SIGNATURE_INVALID' | 'PLUGBAY_TIER_NOT_ALLOWED'>;
      };
    };

/**
 * Decides whether a plugin with this verification may run in `requestedTier`. Pure: the caller verified already.
 */
export function decide(
  policy: TrustPolicy,
  verification: Verification,
  requestedTier: TierKind,
  pluginName: string,
): PolicyDecision {
  if (policy.signatures === 'off') return { allowed: true, trustLevel: 'trusted', warnings: [] };
  const warnings: string[] = [];
  const why = verification.reasons.map((r) => r.message).join('; ');
  const refuse = (message: string): PolicyDecision => ({
    allowed: false,
    trustLevel: undefined,
    error: signatureError(message, verification, pluginName),
  });
  let level: PolicyTrustLevel;
  if (verification.status === 'valid') {
    level = verification.trust ?? 'community';
  } else if (verification.status === 'unsigned') {
    if (policy.signatures === 'required' && !isAllowedUnsigned(policy.allowUnsigned, pluginName)) {
      return refuse(`${pluginName} is unsigned and signatures are required (allowUnsigned does not name it)`);
    }
    if (policy.signatures === 'warn')
      warnings.push(`${pluginName} is unsigned; running it at the unsigned level`);
    level = 'unsigned';
  } else {
    const revoked = verification.reasons.some((r) => r.rule === 'key-revoked');
    if (policy.signatures === 'required' || revoked) {
      return refuse(
        `${pluginName} has a${verification.status === 'invalid' ? 'n invalid' : ' modified'} signature: ${why}`,
      );
    }
    warnings.push(
      `${pluginName} signature is ${verification.status} (${why}); running it at the unsigned level`,
    );
    level = 'unsigned';
  }
  const allowed = policy.tiers[level];
  if (!allowed.includes(requestedTier)) {
    const keyText = verification.keyId ? ` (key ${verification.keyId})` : '';
    const message = `${pluginName} is ${level}${keyText}: tier ${requestedTier} is not allowed for ${level} plugins; allowed: ${allowed.join(', ') || 'none'}`;
    return {
      allowed: false,
      trustLevel: level,
      error: new PlugbayError('PLUGBAY_TIER_NOT_ALLOWED', message, {
        plugin: pluginName,
        details: { tier: requestedTier, trustLevel: level, allowedTiers: allowed, keyId: verification.keyId },
      }) as PlugbayError & { code: 'PLUGBAY_TIER_NOT_ALLOWED' },
    };
  }
  return { allowed: true, trustLevel: level, warnings };
}

function signatureError(message: string, verification: Verification, plugin: string) {
  return new PlugbayError('PLUGBAY_SIGNATURE_INVALID', message, {
    plugin,
    details: { status: verification.status, reasons: verification.reasons, keyId: verification.keyId },
  }) as PlugbayError & { code: 'PLUGBAY_SIGNATURE_INVALID' };
}

function isAllowedUnsigned(list: readonly string[], name: string): boolean {
  return list.some((pattern) =>
    pattern.endsWith('/*') && pattern.startsWith('@')
      ? name.startsWith(pattern.slice(0, -1))
      : pattern === name,
  );
}
