// The trust and contract options of `plugbay serve`: parsed here so that serve.ts only spreads them in.
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type ContractSnapshot, readSnapshotFile } from '../../contract/snapshot.js';
import { PlugbayError } from '../../core/errors.js';
import type { CheckedPlugin, TierKind } from '../../core/types.js';
import { defaultTierFor } from '../../host/host.js';
import type { HostOptions } from '../../host/types.js';
import { type Keyring, type KeyringProblem, loadKeyring } from '../../trust/keyring.js';
import { UsageError } from '../io.js';

/** parseArgs options; serve.ts spreads them into its own. */
export const serveTrustOptions = {
  keyring: { type: 'string' },
  signatures: { type: 'string' },
  'allow-unsigned': { type: 'string' },
  exports: { type: 'string' },
  contracts: { type: 'string' },
  inline: { type: 'string' },
  // The same definition as the rollout side's (serve-rollout.ts): one flag, read by both (rollout activate,
  // signatures warn). Either spread may supply it.
  dev: { type: 'boolean' },
} as const;

export const serveTrustUsage = `Trust and contracts:
  --keyring <dir>            public keys (*.pub) trusted to sign plugins; keyring.json gives a key the "trusted"
                             level or revokes it (default level: community)
  --signatures <mode>        required (default): only validly signed plugins load; warn: unsigned, modified or
                             badly signed plugins load at the "unsigned" level with a warning; off: not checked
  --dev                      development defaults: --signatures warn
  --allow-unsigned <names>   comma-separated plugin names (or @scope/*) that may load unsigned under required
  --exports <mode>           warn (default) or strict: refuse a plugin exporting functions its manifest lacks
  --contracts <dir>          contract snapshot files (*.json, from plugbay contract snapshot) that plugins may
                             claim in "implements"; a plugin that does not fit its contract is not loaded
  --inline <names>           run these plugins in the inline tier (the gateway's own thread); only plugins
                             signed by a "trusted" key may
Levels and tiers: trusted → inline, thread, process, wasm; community → thread, process, wasm; unsigned → process, wasm.`;

export interface ServeTrustValues {
  keyring?: string | undefined;
  signatures?: string | undefined;
  'allow-unsigned'?: string | undefined;
  exports?: string | undefined;
  contracts?: string | undefined;
  inline?: string | undefined;
  dev?: boolean | undefined;
}

export interface ServeTrust {
  /** For createHost: trust, contracts, and tierFor when --inline names plugins. */
  hostOptions: Pick<HostOptions, 'trust' | 'contracts' | 'tierFor'>;
  /** Keys skipped while reading the keyring. */
  keyringProblems: readonly KeyringProblem[];
  /** What serve logs as warnings at start: skipped keys, and a policy that can load nothing signed. */
  warnings: string[];
  /** What the policy is, for the startup log line. */
  summary: Record<string, unknown>;
}

/** Reads the keyring and contract files named by the options; every bad value is a UsageError naming the option. */
export async function serveTrust(values: ServeTrustValues): Promise<ServeTrust> {
  const signatures = values.signatures ?? (values.dev ? 'warn' : 'required');
  if (signatures !== 'required' && signatures !== 'warn' && signatures !== 'off') {
    throw new UsageError(`--signatures must be required, warn or off, got "${signatures}"`);
  }
  const exportsMode = values.exports ?? 'warn';
  if (exportsMode !== 'warn' && exportsMode !== 'strict') {
    throw new UsageError(`--exports must be warn or strict, got "${exportsMode}"`);
  }
  const allowUnsigned = names('--allow-unsigned', values['allow-unsigned']);
  const inline = names('--inline', values.inline);
  let keyring: Keyring | undefined;
  if (values.keyring !== undefined) keyring = await usage(() => loadKeyring(resolve(values.keyring!)));
  const contracts = values.contracts === undefined ? [] : await readContracts(resolve(values.contracts));
  const hostOptions: ServeTrust['hostOptions'] = {
    trust: { signatures, allowUnsigned, exports: exportsMode, ...(keyring ? { keyring } : {}) },
    contracts,
  };
  if (inline.length > 0) {
    hostOptions.tierFor = (plugin: CheckedPlugin): TierKind =>
      inline.includes(plugin.manifest.name) ? 'inline' : defaultTierFor(plugin);
  }
  const keyringProblems = keyring?.problems ?? [];
  const warnings = keyringProblems.map((p) => `keyring: ${p.source}: ${p.message}; skipped`);
  if (keyring === undefined && signatures !== 'off') {
    warnings.push(
      `signatures ${signatures} but no --keyring: every signature is from an unknown key${signatures === 'required' ? ', so only --allow-unsigned plugins can load' : ''}`,
    );
  }
  return {
    hostOptions,
    keyringProblems,
    warnings,
    summary: {
      signatures,
      exports: exportsMode,
      keyring: values.keyring === undefined ? null : resolve(values.keyring),
      keys: keyring === undefined ? 0 : keyring.keys.size,
      revoked: keyring === undefined ? 0 : keyring.revoked.size,
      allowUnsigned,
      inline,
      contracts: contracts.map((c) => `${c.name}@${c.version}`),
    },
  };
}

function names(option: string, value: string | undefined): string[] {
  if (value === undefined) return [];
  const list = value.split(',').map((n) => n.trim());
  if (list.some((n) => n === ''))
    throw new UsageError(`${option} must be a comma-separated list of plugin names`);
  return list;
}

/** Every *.json file of the directory is one contract snapshot. */
async function readContracts(dir: string): Promise<ContractSnapshot[]> {
  const files = await usage(() => readdir(dir)).then((all) => all.filter((f) => f.endsWith('.json')).sort());
  const out: ContractSnapshot[] = [];
  for (const f of files) out.push(await usage(() => readSnapshotFile(join(dir, f))));
  return out;
}

/** A keyring or contract file that cannot be used is the operator's input error: exit 2 with the message. */
async function usage<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof PlugbayError || (err as NodeJS.ErrnoException).code !== undefined) {
      throw new UsageError((err as Error).message);
    }
    throw err;
  }
}
