import type { KeyObject } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PlugbayError } from '../core/errors.js';
import { type KeyId, keyIdOf, keyIdPattern, parsePublicKey } from './keys.js';

/** How far a signing key is trusted; the policy maps each level to the tiers it may use. */
export type TrustLevel = 'trusted' | 'community';
export const trustLevels: readonly TrustLevel[] = ['trusted', 'community'];

export interface KeyringKey {
  keyId: KeyId;
  publicKey: KeyObject;
  trust: TrustLevel;
  /** Where the key came from (`alice.pub`, or `memory`). */
  source: string;
}

/** A problem with one key file or keyring.json entry; the key is skipped, the rest of the keyring works. */
export interface KeyringProblem {
  source: string;
  message: string;
}

export type KeyLookup =
  | { status: 'known'; key: KeyringKey }
  | { status: 'revoked'; keyId: KeyId; source: string }
  | { status: 'unknown'; keyId: KeyId };

export interface Keyring {
  /** Usable keys by id (revoked keys are not here). */
  readonly keys: ReadonlyMap<KeyId, KeyringKey>;
  /** Revoked key ids, with where the revocation was found. */
  readonly revoked: ReadonlyMap<KeyId, string>;
  readonly problems: readonly KeyringProblem[];
  lookup(keyId: string): KeyLookup;
}

export const keyringConfigFile = 'keyring.json';

interface KeyConfig {
  trust?: TrustLevel;
  revoked?: true;
}

/** A keyring built in code: each key with its trust (default `community`) and revocation. */
export function createKeyring(
  entries: readonly {
    publicKey: KeyObject | string;
    trust?: TrustLevel;
    revoked?: boolean;
    source?: string;
  }[],
): Keyring {
  const keys = new Map<KeyId, KeyringKey>();
  const revoked = new Map<KeyId, string>();
  for (const [i, entry] of entries.entries()) {
    const publicKey = typeof entry.publicKey === 'string' ? parsePublicKey(entry.publicKey) : entry.publicKey;
    const trust = entry.trust ?? 'community';
    if (!trustLevels.includes(trust)) {
      throw new PlugbayError(
        'PLUGBAY_INVALID_ARGUMENT',
        `keys[${i}].trust must be one of ${trustLevels.join(', ')}`,
      );
    }
    const keyId = keyIdOf(publicKey);
    const source = entry.source ?? 'memory';
    if (entry.revoked) revoked.set(keyId, source);
    else keys.set(keyId, { keyId, publicKey, trust, source });
  }
  return makeKeyring(keys, revoked, []);
}

/**
 * Loads a keyring directory: every `*.pub` is a key, trusted at `community` unless `keyring.json` says otherwise:
 * `{ "keys": { "<file or keyId>": { "trust": "trusted" | "community", "revoked": true } } }`.
 * A broken keyring.json throws PLUGBAY_INVALID_ARGUMENT (ignoring it could un-revoke a key); a broken .pub file
 * is skipped and reported in `problems`.
 */
export async function loadKeyring(dir: string): Promise<Keyring> {
  let names: string[];
  try {
    // Symlinks count: operators often link keys into the keyring; the keyring is theirs, not a plugin's.
    names = (await readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isFile() || e.isSymbolicLink())
      .map((e) => e.name);
  } catch (err) {
    throw new PlugbayError(
      'PLUGBAY_INVALID_ARGUMENT',
      `keyring directory ${dir} cannot be read: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const config = names.includes(keyringConfigFile) ? await readConfig(join(dir, keyringConfigFile)) : {};
  const problems: KeyringProblem[] = [];
  const keys = new Map<KeyId, KeyringKey>();
  const revoked = new Map<KeyId, string>();
  const used = new Set<string>();
  for (const file of names.filter((n) => n.endsWith('.pub')).sort()) {
    let publicKey: KeyObject;
    try {
      publicKey = parsePublicKey(await readFile(join(dir, file)));
    } catch (err) {
      problems.push({ source: file, message: (err as Error).message });
      continue;
    }
    const keyId = keyIdOf(publicKey);
    const stem = file.slice(0, -'.pub'.length);
    const matches = [file, stem, keyId].filter((k) => Object.hasOwn(config, k));
    for (const m of matches) used.add(m);
    const settings: KeyConfig = Object.assign({}, ...matches.map((m) => config[m]));
    if (settings.revoked || revoked.has(keyId)) {
      revoked.set(keyId, `${keyringConfigFile} (${file})`);
      keys.delete(keyId);
      continue;
    }
    if (keys.has(keyId)) {
      problems.push({ source: file, message: `same key as ${keys.get(keyId)!.source}; ignored` });
      continue;
    }
    keys.set(keyId, { keyId, publicKey, trust: settings.trust ?? 'community', source: file });
  }
  for (const [name, settings] of Object.entries(config)) {
    if (used.has(name)) continue;
    if (keyIdPattern.test(name) && settings.revoked) {
      revoked.set(name, keyringConfigFile); // revoking a key whose .pub is gone is the normal case
      keys.delete(name);
    } else {
      problems.push({ source: keyringConfigFile, message: `keys.${name} matches no .pub file or key id` });
    }
  }
  return makeKeyring(keys, revoked, problems);
}

function makeKeyring(
  keys: Map<KeyId, KeyringKey>,
  revoked: Map<KeyId, string>,
  problems: KeyringProblem[],
): Keyring {
  return {
    keys,
    revoked,
    problems,
    lookup(keyId) {
      const revokedAt = revoked.get(keyId);
      if (revokedAt !== undefined) return { status: 'revoked', keyId, source: revokedAt };
      const key = keys.get(keyId);
      return key ? { status: 'known', key } : { status: 'unknown', keyId };
    },
  };
}

async function readConfig(path: string): Promise<Record<string, KeyConfig>> {
  const fail = (message: string): never => {
    throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', `${path}: ${message}`, { details: { path } });
  };
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    return fail(`cannot be read as JSON: ${(err as Error).message}`);
  }
  if (!isObject(raw)) return fail('must be an object');
  if (raw.keys === undefined) return {};
  if (!isObject(raw.keys)) return fail('keys must be an object');
  const out: Record<string, KeyConfig> = Object.create(null); // a "__proto__" key must stay a plain entry
  for (const [name, value] of Object.entries(raw.keys)) {
    if (!isObject(value)) return fail(`keys.${name} must be an object`);
    for (const k of Object.keys(value)) {
      if (k !== 'trust' && k !== 'revoked') fail(`keys.${name}.${k} is not allowed (trust, revoked)`);
    }
    if (value.trust !== undefined && !trustLevels.includes(value.trust as TrustLevel)) {
      fail(`keys.${name}.trust must be one of ${trustLevels.join(', ')}`);
    }
    if (value.revoked !== undefined && value.revoked !== true)
      fail(`keys.${name}.revoked must be true when present`);
    const settings: KeyConfig = {};
    if (value.trust !== undefined) settings.trust = value.trust as TrustLevel;
    if (value.revoked === true) settings.revoked = true;
    out[name] = settings;
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
