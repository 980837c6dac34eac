import { readFile } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import semver from 'semver';
import type { ContractRegistry } from '../contract/implements.js';
import { checkDeclaredContracts } from '../contract/implements.js';
import { type ContractSnapshot, parseSnapshot, snapshotOf } from '../contract/snapshot.js';
import { PlugbayError } from '../core/errors.js';
import type { CheckedPlugin, Leak, TierKind } from '../core/types.js';
import { defaultTiers } from '../host/default-tiers.js';
import { checkPluginDir } from '../host/discover.js';
import type { HostOptions } from '../host/types.js';
import { createInlineTier } from '../tiers/inline/index.js';
import { clearLeak } from '../tiers/inline/leaks.js';
import { fixFor } from './fixes.js';
import { testPlugin } from './test-plugin.js';

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

/** One conformance check. A failed one says what is wrong (`problem`) and what to change (`fix`). */
export interface ConformanceCheck {
  id: 'manifest' | 'load' | 'health' | 'exports' | 'examples' | 'stop' | 'leaks' | 'contract';
  title: string;
  status: CheckStatus;
  problem?: string;
  fix?: string;
  /** Notes on a passed or skipped check (e.g. which examples ran). */
  notes?: string[];
}

export interface ConformanceReport {
  ok: boolean;
  dir: string;
  plugin?: string;
  version?: string;
  tier?: TierKind;
  checks: ConformanceCheck[];
}

export interface ConformanceOptions {
  /** Tier to run the plugin in. Default: the host's choice for the runtime (node → thread). */
  tier?: TierKind;
  /** Contracts for `implements`: snapshots, or paths of snapshot files (`plugbay contract snapshot`). */
  contracts?: ContractRegistry | string[];
  /** How long stop() may take. Default 2 000 ms. */
  stopTimeoutMs?: number;
  /** Deadline of start(). Default 10 000 ms. */
  startTimeoutMs?: number;
  /** Deadline of each example call. Default 10 000 ms. */
  callTimeoutMs?: number;
  /** Config passed to start(). */
  config?: unknown;
}

const titles: Record<ConformanceCheck['id'], string> = {
  manifest: 'manifest is valid',
  contract: 'declared contracts are satisfied',
  load: 'loads and starts',
  exports: 'exports only declared functions',
  health: 'health check answers',
  examples: 'examples produce valid (and expected) outputs',
  stop: 'stops cleanly within its timeout',
  leaks: 'leaves no timers behind (inline)',
};

/**
 * Runs the checks every plugin must pass, in a real host. Never throws for a plugin's problem: each check in the
 * report says pass, fail (with problem and fix), warn or skip. `ok` is true when no check failed.
 */
export async function conformance(dir: string, options: ConformanceOptions = {}): Promise<ConformanceReport> {
  const root = resolve(dir);
  const checks: ConformanceCheck[] = [];
  const add = (id: ConformanceCheck['id'], status: CheckStatus, extra: Partial<ConformanceCheck> = {}) => {
    checks.push({ id, title: titles[id], status, ...extra });
  };
  const report = (): ConformanceReport => ({
    ok: checks.every((c) => c.status !== 'fail'),
    dir: root,
    ...(plugin ? { plugin: plugin.manifest.name, version: plugin.manifest.version } : {}),
    ...(options.tier ? { tier: options.tier } : {}),
    checks,
  });

  const { plugin, diagnostics } = await checkPluginDir(root);
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (plugin === undefined || errors.length > 0) {
    add('manifest', 'fail', {
      problem: errors.map((d) => `${d.field ? `${d.field}: ` : ''}${d.message}`).join('; '),
      fix: errors.map((d) => fixFor(d.code, { field: d.field, rule: d.rule })).join(' '),
    });
    return report();
  }
  const warnings = diagnostics.map((d) => d.message);
  add('manifest', warnings.length > 0 ? 'warn' : 'pass', warnings.length > 0 ? { notes: warnings } : {});

  await checkContract(plugin, options, add);
  const tier = options.tier;
  const stopTimeoutMs = options.stopTimeoutMs ?? 2_000;
  const runsInline = tier === 'inline';
  const leaks = await runLifecycle(plugin, root, options, stopTimeoutMs, add);
  // The leak report is the inline tier's (host.leaks): only there does plugin code share the host's event loop.
  if (runsInline) leakCheck(plugin, root, leaks, add);
  // Node plugins share the host's event loop when inline: check that separately when the main run was elsewhere.
  else if (plugin.manifest.runtime === 'node')
    await inlineLeakCheck(plugin, root, options, stopTimeoutMs, add);
  else add('leaks', 'skip', { notes: [`${plugin.manifest.runtime} plugins do not run inline`] });
  return report();
}

type Add = (id: ConformanceCheck['id'], status: CheckStatus, extra?: Partial<ConformanceCheck>) => void;

async function runLifecycle(
  plugin: CheckedPlugin,
  root: string,
  options: ConformanceOptions,
  stopTimeoutMs: number,
  add: Add,
): Promise<Leak[]> {
  const { name, version } = plugin.manifest;
  let tested: Awaited<ReturnType<typeof testPlugin>>;
  try {
    tested = await testPlugin(root, {
      ...(options.tier ? { tier: options.tier } : {}),
      host: {
        tiers: leakReportingTiers(),
        contracts: standInContracts(plugin),
        stopTimeoutMs,
        startTimeoutMs: options.startTimeoutMs ?? 10_000,
        callTimeoutMs: options.callTimeoutMs ?? 10_000,
        ...(options.config === undefined ? {} : { config: { [name]: options.config } }),
      },
    });
  } catch (err) {
    const e = PlugbayError.from(err, 'PLUGBAY_LOAD_FAILED');
    // A process that died says why on stderr: show its last line, unless the launch named the rule it broke (its
    // message quotes stderr where that helps; go-plugin's cookie refusal ends with an unhelpful line).
    const stderr = e.details?.stderrTail as string[] | undefined;
    const last = e.details?.rule === undefined ? stderr?.at(-1)?.slice(0, 300) : undefined;
    const { runtime, protocol } = plugin.manifest;
    add('load', 'fail', {
      problem: `${e.code}: ${e.message}${last && !e.message.includes(last) ? ` (stderr: ${last})` : ''}`,
      fix: fixFor(e.code, { details: e.details, runtime, protocol }),
    });
    for (const id of ['exports', 'health', 'examples', 'stop'] as const) {
      add(id, 'skip', { notes: ['the plugin did not load'] });
    }
    return [];
  }
  try {
    add('load', 'pass', { notes: [`tier ${tested.status.tier}`] });
    const undeclared = tested.status.undeclaredExports;
    if (undeclared.length > 0) {
      add('exports', 'fail', {
        problem: `the code exports ${undeclared.join(', ')}, which plugin.json does not declare (a strict host refuses it: PLUGBAY_EXPORTS_UNDECLARED)`,
        fix: fixFor('PLUGBAY_EXPORTS_UNDECLARED', { details: { undeclared } }),
      });
    } else add('exports', 'pass');

    try {
      await tested.host.activate(name, version);
      add('health', 'pass');
    } catch (err) {
      const e = PlugbayError.from(err, 'PLUGBAY_START_FAILED');
      add('health', 'fail', {
        problem: `${e.code}: ${e.message}`,
        fix: 'make health() resolve quickly with { status: "ok" } (or "degraded") while the plugin can serve.',
      });
    }

    await runExamples(plugin, (fn, input) => tested.call(fn, input), add);

    const started = performance.now();
    await tested.host.unload(name, version);
    const took = Math.round(performance.now() - started);
    if (took >= stopTimeoutMs) {
      add('stop', 'fail', {
        problem: `stop() did not finish within its ${stopTimeoutMs} ms timeout (unload took ${took} ms); the host had to cut it short`,
        fix: fixFor('PLUGBAY_TIMEOUT', { details: { phase: 'stop' } }),
      });
    } else add('stop', 'pass', { notes: [`unloaded in ${took} ms`] });
  } finally {
    await tested.close();
  }
  return reportedLeaks(tested, name);
}

/** What the host reported left alive when it closed the plugin's instances (only the inline tier reports). */
function reportedLeaks(tested: { host: { leaks(name: string): { leaks: Leak[] }[] } }, name: string): Leak[] {
  return tested.host.leaks(name).flatMap((r) => r.leaks);
}

async function runExamples(
  plugin: CheckedPlugin,
  call: (fn: string, input: unknown) => Promise<unknown>,
  add: Add,
): Promise<void> {
  const problems: string[] = [];
  const fixes = new Set<string>();
  const notes: string[] = [];
  const without: string[] = [];
  for (const [fn, spec] of Object.entries(plugin.manifest.functions)) {
    const examples = spec.examples ?? [];
    if (examples.length === 0) without.push(fn);
    for (const [i, example] of examples.entries()) {
      const label = `${fn} example ${i + 1}`;
      let output: unknown;
      try {
        output = await call(fn, example.input);
      } catch (err) {
        const e = PlugbayError.from(err, 'PLUGBAY_PLUGIN_ERROR');
        problems.push(`${label}: ${e.code}: ${e.message}`);
        fixes.add(fixFor(e.code, { field: `functions.${fn}`, runtime: plugin.manifest.runtime }));
        continue;
      }
      if ('output' in example && !isDeepStrictEqual(output, example.output)) {
        problems.push(
          `${label}: output ${JSON.stringify(output)} differs from the expected ${JSON.stringify(example.output)}`,
        );
        fixes.add(
          `Fix the handler of ${fn} so it returns the expected output, or correct functions.${fn}.examples[${i}].output in the plugin definition (plugin.json).`,
        );
        continue;
      }
      notes.push(`${label} ok`);
    }
  }
  if (without.length > 0) notes.push(`no examples for ${without.join(', ')}: add some so they are exercised`);
  if (problems.length > 0)
    add('examples', 'fail', { problem: problems.join('; '), fix: [...fixes].join(' '), notes });
  else add('examples', without.length > 0 ? 'warn' : 'pass', { notes });
}

/** Reports what the plugin left alive, then clears its timers so that they cannot keep this process alive. */
function leakCheck(plugin: CheckedPlugin, root: string, leaks: Leak[], add: Add): void {
  for (const leak of leaks) clearLeak(leak);
  if (leaks.length === 0) {
    add('leaks', 'pass');
    return;
  }
  add('leaks', 'fail', {
    problem: `${leaks.length} resource(s) still alive after the plugin was closed: ${leaks
      .map((l) => `${l.kind} created at ${createdAt(l, root, plugin.digest)}`)
      .join('; ')}`,
    fix: 'Keep the handle of every setTimeout/setInterval/setImmediate you start and clear it in stop() (clearInterval(handle)), or pass ctx.signal and clear it on abort.',
  });
}

/** The first frame in the plugin's folder, or in its copy in the host's store (`<store>/<digest>/`, shown as the folder). */
function createdAt(leak: Leak, root: string, digest: string | undefined): string {
  const stored = digest === undefined ? undefined : new RegExp(`(file://)?[^\\s(]*/${digest}/`);
  const frames = leak.stack.split('\n').map((line) => line.trim().replace(/^at /, ''));
  const frame = frames.find((f) => f.includes(root) || stored?.test(f)) ?? frames[0] ?? 'an unknown place';
  return stored === undefined ? frame : frame.replace(stored, root + sep);
}

async function inlineLeakCheck(
  plugin: CheckedPlugin,
  root: string,
  options: ConformanceOptions,
  stopTimeoutMs: number,
  add: Add,
) {
  const leaks = await conformanceInline(plugin, root, options, stopTimeoutMs);
  if (leaks === undefined) add('leaks', 'skip', { notes: ['the plugin did not load inline'] });
  else leakCheck(plugin, root, leaks, add);
}

/** The default tiers, with the inline one reporting leaks: they are found through the async context (tiers/inline/leaks.ts), whatever the default attribution. */
function leakReportingTiers(): HostOptions['tiers'] {
  return { ...defaultTiers(), inline: createInlineTier({ attribution: 'async-context' }) };
}

/** Loads, starts, runs the examples and closes the plugin inline; the leaks reported, or undefined when it did not load. */
async function conformanceInline(
  plugin: CheckedPlugin,
  root: string,
  options: ConformanceOptions,
  stopTimeoutMs: number,
): Promise<Leak[] | undefined> {
  let tested: Awaited<ReturnType<typeof testPlugin>>;
  try {
    tested = await testPlugin(root, {
      tier: 'inline',
      host: {
        tiers: leakReportingTiers(),
        contracts: standInContracts(plugin),
        stopTimeoutMs,
        startTimeoutMs: options.startTimeoutMs ?? 10_000,
      },
    });
  } catch {
    return undefined;
  }
  try {
    for (const [fn, spec] of Object.entries(plugin.manifest.functions)) {
      for (const example of spec.examples ?? []) await tested.call(fn, example.input).catch(() => {});
    }
  } finally {
    await tested.close();
  }
  return reportedLeaks(tested, plugin.manifest.name);
}

/**
 * The host refuses a plugin whose `implements` it cannot prove. The contract check above reports that on its own;
 * the other checks run against stand-ins (the plugin's own functions, at the lowest version of each claimed range)
 * so that one failure does not hide the rest.
 */
function standInContracts(plugin: CheckedPlugin): ContractSnapshot[] {
  return Object.entries(plugin.manifest.implements ?? {}).map(([name, range]) => ({
    ...snapshotOf(plugin.manifest),
    name,
    version: semver.minVersion(range)?.version ?? '0.0.0',
  }));
}

async function checkContract(plugin: CheckedPlugin, options: ConformanceOptions, add: Add): Promise<void> {
  const claimed = Object.keys(plugin.manifest.implements ?? {});
  if (claimed.length === 0) {
    add('contract', 'skip', { notes: ['the manifest declares no `implements`'] });
    return;
  }
  let registry: ContractRegistry;
  try {
    registry = await contractsOf(options.contracts ?? []);
  } catch (err) {
    const e = PlugbayError.from(err, 'PLUGBAY_INVALID_ARGUMENT');
    add('contract', 'fail', {
      problem: e.message,
      fix: 'Pass a snapshot written by `plugbay contract snapshot`.',
    });
    return;
  }
  const error = checkDeclaredContracts(plugin.manifest, registry);
  if (error === undefined) {
    add('contract', 'pass', { notes: claimed.map((c) => `implements ${c}`) });
    return;
  }
  const differences = (error.details?.differences ?? []) as { rule: string }[];
  const unknown = differences.every((d) => d.rule === 'contract.unknown');
  add('contract', 'fail', {
    problem: error.message,
    fix: unknown
      ? `Pass the contract's snapshot: plugbay test <dir> --contract <snapshot.json> (or conformance(dir, { contracts })).`
      : fixFor('PLUGBAY_CONTRACT_MISMATCH'),
  });
}

async function contractsOf(source: ContractRegistry | string[]): Promise<ContractRegistry> {
  if (!Array.isArray(source) || source.every((s) => typeof s !== 'string')) return source as ContractRegistry;
  const snapshots: ContractSnapshot[] = [];
  for (const path of source as string[]) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new PlugbayError(
        'PLUGBAY_INVALID_ARGUMENT',
        `contract ${path} cannot be read: ${(err as Error).message}`,
      );
    }
    snapshots.push(parseSnapshot(JSON.parse(text), path));
  }
  return snapshots;
}
