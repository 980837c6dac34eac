import semver from 'semver';
import { PlugbayError } from '../core/errors.js';
import { type Change, diffSchemas } from './diff.js';
import type { ContractSnapshot } from './snapshot.js';

export interface ImplementsOptions {
  /** Accept `unknown` differences instead of counting them as mismatches. Default false. */
  allowUnknown?: boolean;
}

export interface ImplementsResult {
  ok: boolean;
  /** Each way the plugin fails the contract (function missing, input narrower, output wider, unprovable). */
  differences: Change[];
}

/**
 * Checks a plugin's functions against a contract: every contract function present, the plugin's input accepting
 * all the contract may send (contract input → plugin input is not narrowing) and the plugin's output staying
 * within what the contract promises (contract output → plugin output is not widening). Each side's `$ref`s are
 * resolved in its own document, as in `diffSchemas`: a plugin cannot hide a narrowing behind a `$defs` entry.
 */
export function checkImplements(
  contract: Pick<ContractSnapshot, 'functions'>,
  plugin: { functions: Record<string, { input: unknown; output: unknown }> },
  options: ImplementsOptions = {},
): ImplementsResult {
  const differences: Change[] = [];
  for (const fn of Object.keys(contract.functions).sort()) {
    const want = contract.functions[fn]!;
    const have = Object.hasOwn(plugin.functions, fn) ? plugin.functions[fn] : undefined;
    if (have === undefined) {
      differences.push({
        function: fn,
        path: '',
        rule: 'function.missing',
        verdict: 'breaking',
        message: `function ${fn} is missing`,
      });
      continue;
    }
    const changes = [
      ...diffSchemas(want.input, have.input as typeof want.input, 'input', fn),
      ...diffSchemas(want.output, have.output as typeof want.output, 'output', fn),
    ];
    differences.push(
      ...changes.filter(
        (c) => c.verdict === 'breaking' || (c.verdict === 'unknown' && !options.allowUnknown),
      ),
    );
  }
  return { ok: differences.length === 0, differences };
}

/** Registered contracts by name; each name may have several versions. */
export type ContractRegistry = ReadonlyMap<string, readonly ContractSnapshot[]> | readonly ContractSnapshot[];

/**
 * Checks every contract a manifest claims (`implements: { images: "^1.2.0" }`) against the highest registered
 * version in range. Returns PLUGBAY_CONTRACT_MISMATCH listing each difference, or undefined when all hold.
 */
export function checkDeclaredContracts(
  manifest: {
    name: string;
    version: string;
    implements?: Record<string, string>;
    functions: Record<string, { input: unknown; output: unknown }>;
  },
  registry: ContractRegistry,
  options: ImplementsOptions = {},
): PlugbayError | undefined {
  const all = Array.isArray(registry)
    ? registry
    : [...(registry as ReadonlyMap<string, readonly ContractSnapshot[]>).values()].flat();
  const differences: (Change & { contract: string })[] = [];
  for (const [contract, range] of Object.entries(manifest.implements ?? {})) {
    const candidates = all.filter((c) => c.name === contract && semver.satisfies(c.version, range));
    const best = candidates.sort((x, y) => semver.rcompare(x.version, y.version))[0];
    if (best === undefined) {
      const known = all.filter((c) => c.name === contract).map((c) => c.version);
      differences.push({
        contract,
        function: '',
        path: '',
        rule: known.length === 0 ? 'contract.unknown' : 'contract.version-unsatisfied',
        verdict: 'breaking',
        message:
          known.length === 0
            ? `contract ${contract} is not registered`
            : `no registered version of ${contract} satisfies ${range} (have ${known.join(', ')})`,
      });
      continue;
    }
    const result = checkImplements(best, manifest, options);
    differences.push(...result.differences.map((d) => ({ ...d, contract: `${contract}@${best.version}` })));
  }
  if (differences.length === 0) return undefined;
  const lines = differences.map((d) => `${d.contract}: ${d.message} [${d.rule}]`);
  return new PlugbayError(
    'PLUGBAY_CONTRACT_MISMATCH',
    `${manifest.name}@${manifest.version} does not implement what it claims: ${lines.join('; ')}`,
    { plugin: manifest.name, version: manifest.version, details: { differences } },
  );
}
