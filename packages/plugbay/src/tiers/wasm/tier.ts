/**
 * The wasm tier: Extism-ABI plugins on raw WebAssembly (DESIGN.md "WASM tier").
 *
 * Three ways to run an instance (the tier's `run` option, or the plugin's manifest `wasm.run`):
 * - `metered` (default): the sandbox lives in the host's thread and the module carries a fuel meter
 *   (module-meter.ts) whose refill import traps the call at its deadline (PLUGBAY_TIMEOUT); the sandbox is then
 *   re-instantiated from the compiled module before the next call. A call blocks the event loop while it runs, up
 *   to its deadline: functions whose calls may run longer than ~10 ms belong in `worker`.
 * - `worker`: the sandbox lives in a worker thread; a call that overruns its deadline gets the worker terminated
 *   and a fresh one spawned for the next call. Calls are queued on the host side and sent one at a time, so a
 *   timeout kills only the call that overran. The event loop stays free while a call runs.
 * - `host-thread`: the host's thread without the meter. Cheapest, but nothing can stop a runaway loop: for trusted
 *   plugins only. A manifest may ask for it only when the operator set the tier's `run` to `host-thread`.
 */
import * as path from 'node:path';
import type { ErrorSource } from '../../core/errors.js';
import { PlugbayError } from '../../core/errors.js';
import { OptionChecker } from '../../core/options.js';
import type { RestartOptions } from '../../core/restart.js';
import type { CheckedPlugin, Instance, LoadOptions, Tier } from '../../core/types.js';
import { declaredEnv } from '../env.js';
import { loadFailure } from './errors.js';
import type { ExtismLogLevel } from './host-env.js';
import { toPlugbayError, WasmInstance } from './instance.js';
import { kernelWasmBase64 } from './kernel-wasm.js';
import { capMemory, WASM_PAGE } from './module-binary.js';
import { checkModule, defaultWasmMemoryMb, meterFuel } from './module-check.js';
import type { WasiMount } from './wasi.js';
import type { EngineConfig } from './worker.js';

export type WasmRunMode = 'metered' | 'worker' | 'host-thread';

export interface WasmTierOptions {
  /** Where calls run when the manifest does not say (`wasm.run`); see the file comment. Default `metered`. */
  run?: WasmRunMode;
  /** `json` (default): inputs are serialised to UTF-8 JSON and outputs parsed. `bytes`: Uint8Array (or string) in, Uint8Array out. */
  codec?: 'json' | 'bytes';
  /** What WASI clocks report: `real` (default) or a fixed time. */
  clock?: 'real' | { fixedMs: number };
  /** WASI random_get: `real` (default, crypto) or a seeded deterministic stream. */
  random?: 'real' | { seed: number };
  /** Lowest Extism log level passed on to the plugin log. Default `info`. */
  logLevel?: ExtismLogLevel;
  /** Memory cap of a plugin whose manifest sets no `permissions.memoryMb`. Default 256. */
  defaultMemoryMb?: number;
  /** Cap of the kernel memory (input, output, handles). Default: the plugin's memory cap. */
  kernelMemoryMb?: number;
  /** Size limit of a plugin's Extism vars. Default 1 MiB (as Extism). */
  maxVarBytes?: number;
  /** Extism config given to the plugin when start() gets none. Default `{}`. */
  config?: Record<string, string>;
  /** Backoff and crash-loop detection for worker restarts (core/restart.ts); its defaults apply. */
  restart?: RestartOptions;
}

/** The normalised options. */
export type Settings = Required<Omit<WasmTierOptions, 'config' | 'restart'>> & {
  config: Record<string, string>;
  restart: RestartOptions;
};

const levels = ['trace', 'debug', 'info', 'warn', 'error'] as const;

function settingsOf(o: WasmTierOptions): Settings {
  const check = new OptionChecker('wasm tier');
  check.oneOf('run', o.run, ['metered', 'worker', 'host-thread']);
  check.oneOf('codec', o.codec, ['json', 'bytes']);
  if (
    !(
      o.clock === undefined ||
      o.clock === 'real' ||
      Number.isFinite((o.clock as { fixedMs?: unknown }).fixedMs)
    )
  )
    check.fail('clock', 'must be "real" or { fixedMs: number }');
  if (
    !(
      o.random === undefined ||
      o.random === 'real' ||
      Number.isInteger((o.random as { seed?: unknown }).seed)
    )
  )
    check.fail('random', 'must be "real" or { seed: integer }');
  check.oneOf('logLevel', o.logLevel, levels);
  check.integer('defaultMemoryMb', o.defaultMemoryMb, 1, 4096);
  check.integer('kernelMemoryMb', o.kernelMemoryMb, 1, 4096);
  check.integer('maxVarBytes', o.maxVarBytes, 0);
  check.object('config', o.config);
  check.restart('restart', o.restart);
  check.done();
  return {
    run: o.run ?? 'metered',
    codec: o.codec ?? 'json',
    clock: o.clock ?? 'real',
    random: o.random ?? 'real',
    logLevel: o.logLevel ?? 'info',
    defaultMemoryMb: o.defaultMemoryMb ?? defaultWasmMemoryMb,
    kernelMemoryMb: o.kernelMemoryMb ?? 0,
    maxVarBytes: o.maxVarBytes ?? 1024 * 1024,
    config: o.config ?? {},
    restart: { ...o.restart },
  };
}

export function createWasmTier(options: WasmTierOptions = {}): Tier {
  const settings = settingsOf(options);
  const kernels = new Map<number, Promise<WebAssembly.Module>>();
  const kernelFor = (pages: number) => {
    let k = kernels.get(pages);
    if (k === undefined) {
      k = WebAssembly.compile(capMemory(Buffer.from(kernelWasmBase64, 'base64'), pages).bytes);
      kernels.set(pages, k);
    }
    return k;
  };
  return {
    kind: 'wasm',
    async load(plugin: CheckedPlugin, opts: LoadOptions): Promise<Instance> {
      const source: ErrorSource = { plugin: plugin.manifest.name, version: plugin.manifest.version };
      try {
        opts.signal.throwIfAborted();
        const run = runModeOf(plugin, settings.run);
        const metered = run === 'metered';
        const { module, audit, memoryMb } = await checkModule(plugin, settings.defaultMemoryMb, metered);
        const kernelPages = Math.floor(((settings.kernelMemoryMb || memoryMb) * 1024 * 1024) / WASM_PAGE);
        const kernel = await kernelFor(kernelPages);
        opts.signal.throwIfAborted();
        const config: Omit<EngineConfig, 'config'> = {
          plugin: module,
          kernel,
          logLevel: settings.logLevel,
          net: plugin.permissions.net ?? [],
          maxVarBytes: settings.maxVarBytes,
          ...(metered ? { meterFuel } : {}),
          wasi: {
            args: [],
            env: declaredEnv(plugin.permissions.env ?? []),
            mounts: mountsOf(plugin, source),
            clock: settings.clock,
            random: settings.random,
          },
        };
        return new WasmInstance(plugin, opts, { ...settings, run }, config, audit.functions, source);
      } catch (err) {
        throw toPlugbayError(loadFailure(err, plugin.manifest.entry), source, 'PLUGBAY_LOAD_FAILED');
      }
    },
  };
}

/** The manifest's `wasm.run`, else the tier's; a manifest cannot lift the CPU cap the operator keeps. */
function runModeOf(plugin: CheckedPlugin, tierRun: WasmRunMode): WasmRunMode {
  const asked = plugin.manifest.wasm?.run;
  if (asked === 'host-thread' && tierRun !== 'host-thread') {
    throw new PlugbayError(
      'PLUGBAY_LOAD_FAILED',
      'wasm.run "host-thread" runs without a CPU cap: allowed only when the wasm tier runs with run: "host-thread"',
      {
        plugin: plugin.manifest.name,
        version: plugin.manifest.version,
        details: { field: 'wasm.run', rule: 'host-thread-not-allowed' },
      },
    );
  }
  return asked ?? tierRun;
}

/** Mounts from `permissions.fs.mounts`; host paths are relative to the plugin directory unless absolute. */
function mountsOf(plugin: CheckedPlugin, source: ErrorSource): WasiMount[] {
  return (plugin.permissions.fs?.mounts ?? []).map((m, i) => {
    if (!m.guest.startsWith('/')) {
      throw new PlugbayError(
        'PLUGBAY_LOAD_FAILED',
        `permissions.fs.mounts.${i}.guest must be an absolute guest path`,
        {
          ...source,
          details: { field: `permissions.fs.mounts.${i}.guest`, rule: 'absolute' },
        },
      );
    }
    return { host: path.resolve(plugin.dir, m.host), guest: m.guest, readOnly: m.readOnly ?? false };
  });
}
