// The host's options, checked at once and filled in: every broken option is reported in one error, and the rest
// of the host reads only HostSettings.
import type { Logger } from 'pino';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { ContractRegistry } from '../contract/implements.js';
import { OptionChecker } from '../core/options.js';
import type { Tier, TierKind } from '../core/types.js';
import { defaultLogger } from '../observe/log.js';
import type { StateStore } from '../store/types.js';
import { checkGrants, type GrantRule } from '../trust/grants.js';
import type { Keyring } from '../trust/keyring.js';
import { createTrustPolicy, type TrustPolicy } from '../trust/policy.js';
import { defaultTiers } from './default-tiers.js';
import type { TierChoice } from './placement.js';
import { type RolloutScheduler, timerScheduler } from './progressive.js';
import type { HostOptions } from './types.js';

/** HostOptions with every default filled in. */
export interface HostSettings {
  tiers: Partial<Record<TierKind, Tier>>;
  /** The operator's placement; undefined: the host places every plugin (placement.ts). */
  tierFor: TierChoice | undefined;
  logger: Logger;
  callTimeoutMs: number;
  startTimeoutMs: number;
  stopTimeoutMs: number;
  drainTimeoutMs: number;
  config: Record<string, unknown>;
  /** Undefined: the host opens (and closes) its own in-memory store. */
  store: StateStore | undefined;
  rolloutScheduler: RolloutScheduler;
  artifactsDir: string | undefined;
  trust: { policy: TrustPolicy; keyring: Keyring | undefined };
  grants: GrantRule[];
  contracts: ContractRegistry;
  circuit: { failureThreshold: number; coolDownMs: number; maxCoolDownMs: number };
  registry: Registry;
  metrics: boolean;
  series: boolean;
  tracing: 'auto' | 'off';
  logLevels: Record<string, string>;
}

/** Checks every option, then fills in the defaults; throws one PLUGBAY_INVALID_ARGUMENT naming each broken one. */
export function normalise(o: HostOptions): HostSettings {
  const check = new OptionChecker('host');
  for (const name of ['callTimeoutMs', 'startTimeoutMs', 'stopTimeoutMs', 'drainTimeoutMs'] as const)
    check.positiveInteger(name, o[name]);
  check.object('circuit', o.circuit);
  for (const name of ['failureThreshold', 'coolDownMs', 'maxCoolDownMs'] as const)
    check.positiveInteger(`circuit.${name}`, o.circuit?.[name]);
  check.nonEmptyString('artifactsDir', o.artifactsDir);
  if (
    o.registry !== undefined &&
    typeof (o.registry as { registerMetric?: unknown } | null)?.registerMetric !== 'function'
  )
    check.fail('registry', 'must be a prom-client Registry');
  check.oneOf('tracing', o.tracing, ['auto', 'off']);
  check.boolean('metrics', o.metrics);
  check.boolean('series', o.series);
  const levels = [...Object.keys(pino.levels.values), 'silent'];
  for (const [name, level] of Object.entries(o.logLevels ?? {}))
    check.oneOf(`logLevels.${name}`, level, levels);
  const grants =
    o.grants === undefined ? [] : check.parsed('grants', () => checkGrants({ grants: o.grants }));
  const { keyring, ...policy } = o.trust ?? {};
  const trust = check.parsed('trust', () => createTrustPolicy({ signatures: 'off', ...policy }));
  check.done();
  return {
    tiers: o.tiers ?? defaultTiers(),
    tierFor: o.tierFor,
    logger: o.logger ?? defaultLogger(),
    callTimeoutMs: o.callTimeoutMs ?? 30_000,
    startTimeoutMs: o.startTimeoutMs ?? 10_000,
    stopTimeoutMs: o.stopTimeoutMs ?? 5_000,
    drainTimeoutMs: o.drainTimeoutMs ?? 10_000,
    config: o.config ?? {},
    store: o.store,
    rolloutScheduler: o.rolloutScheduler ?? timerScheduler,
    artifactsDir: o.artifactsDir,
    trust: { policy: trust!, keyring },
    grants: grants!,
    contracts: o.contracts ?? [],
    circuit: {
      failureThreshold: o.circuit?.failureThreshold ?? 5,
      coolDownMs: o.circuit?.coolDownMs ?? 10_000,
      maxCoolDownMs: o.circuit?.maxCoolDownMs ?? 300_000,
    },
    registry: o.registry ?? new Registry(),
    metrics: o.metrics ?? true,
    series: o.series ?? true,
    tracing: o.tracing ?? 'auto',
    logLevels: { ...o.logLevels },
  };
}
