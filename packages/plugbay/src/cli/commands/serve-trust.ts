// The trust and contract options of `plugbay serve` (declared in serve-options.ts), turned into host options here.
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type ContractSnapshot, readSnapshotFile } from '../../contract/snapshot.js';
import { PlugbayError } from '../../core/errors.js';
import type { CheckedPlugin, TierKind } from '../../core/types.js';
import type { HostOptions } from '../../host/types.js';
import { checkGrants, type GrantRule } from '../../trust/grants.js';
import { type Keyring, type KeyringProblem, loadKeyring } from '../../trust/keyring.js';
import { defaultTrustPolicy, type PolicyTrustLevel } from '../../trust/policy.js';
import { UsageError } from '../io.js';

export interface ServeTrustValues {
  keyring?: string | undefined;
  signatures?: string | undefined;
  'allow-unsigned'?: string | undefined;
  exports?: string | undefined;
  contracts?: string | undefined;
  grants?: string | undefined;
  inline?: string | undefined;
  dev?: boolean | undefined;
  'dev-tier'?: string | undefined;
}

/** The tiers production places a Node plugin in (thread when its key is trusted, process otherwise). */
const devTiers: readonly TierKind[] = ['thread', 'process'];

export interface ServeTrust {
  /** For createHost: trust, contracts, and tierFor when --inline names plugins. */
  hostOptions: Pick<HostOptions, 'trust' | 'contracts' | 'tierFor' | 'grants'>;
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
  const devTier = values['dev-tier'] as TierKind | undefined;
  if (devTier !== undefined && values.dev !== true)
    throw new UsageError('--dev-tier needs --dev: a production gateway places plugins by their signature');
  if (devTier !== undefined && !devTiers.includes(devTier))
    throw new UsageError(`--dev-tier must be ${devTiers.join(' or ')}, got "${devTier}"`);
  let keyring: Keyring | undefined;
  if (values.keyring !== undefined) keyring = await usage(() => loadKeyring(resolve(values.keyring!)));
  const contracts = values.contracts === undefined ? [] : await readContracts(resolve(values.contracts));
  const grants = values.grants === undefined ? [] : await readGrants(resolve(values.grants));
  const hostOptions: ServeTrust['hostOptions'] = {
    trust: {
      signatures,
      allowUnsigned,
      exports: exportsMode,
      ...(keyring ? { keyring } : {}),
      // --dev-tier: every trust level may use the named tier, so an unsigned build runs where production runs it.
      ...(devTier === undefined ? {} : { tiers: devTrustTiers(devTier) }),
    },
    contracts,
    grants,
  };
  if (inline.length > 0 || devTier !== undefined) {
    // The others are the host's choice, so it can place each in a tier its trust level allows.
    hostOptions.tierFor = (plugin: CheckedPlugin): TierKind | undefined =>
      inline.includes(plugin.manifest.name)
        ? 'inline'
        : devTier !== undefined && plugin.manifest.runtime === 'node'
          ? devTier
          : undefined;
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
      ...(devTier === undefined ? {} : { devTier }),
      contracts: contracts.map((c) => `${c.name}@${c.version}`),
      grants: grants.map(
        (g) => `${g.plugin}${g.versions === undefined ? '' : `@${g.versions}`}: ${g.capabilities.join(', ')}`,
      ),
    },
  };
}

function devTrustTiers(devTier: TierKind): Record<PolicyTrustLevel, TierKind[]> {
  const { tiers } = defaultTrustPolicy;
  const withDev = (list: readonly TierKind[]) => (list.includes(devTier) ? [...list] : [...list, devTier]);
  return {
    trusted: withDev(tiers.trusted),
    community: withDev(tiers.community),
    unsigned: withDev(tiers.unsigned),
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

/** The --grants file: JSON checked by checkGrants; a bad field is a usage error naming the file and the field. */
async function readGrants(file: string): Promise<GrantRule[]> {
  const text = await usage(() => readFile(file, 'utf8'));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--grants ${file} is not JSON: ${(err as Error).message}`);
  }
  try {
    return checkGrants(value);
  } catch (err) {
    throw new UsageError(`--grants ${file}: ${(err as Error).message}`);
  }
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
