import os from 'node:os';
import { OptionChecker } from '../../core/options.js';
import type { RestartOptions } from '../../core/restart.js';

export interface ProcessTierOptions {
  /** Where the per-host socket directory is made. Default os.tmpdir(). */
  socketRoot?: string;
  /** The SDK's process entry that runs Node plugins. Default: resolved from `@plugbay/sdk/process/main`. */
  sdkEntry?: string;
  /** The carrier Node plugins serve. Default 'frames' (the fast one); 'grpc' for interoperability checks. */
  nodeCarrier?: 'frames' | 'grpc';
  /** Node binary for Node plugins. Default process.execPath. */
  nodePath?: string;
  /** Launch to handshake, and connect. Default 10 000 ms. */
  startTimeoutMs?: number;
  /** The plugin's start() over the protocol. Default 30 000 ms. */
  pluginStartTimeoutMs?: number;
  /** Default 5000 ms. */
  healthIntervalMs?: number;
  /** Default 2000 ms. */
  healthTimeoutMs?: number;
  /**
   * Grace after a cancelled call's own budget: a process that cannot answer a health probe within it is stuck
   * (busy loop) and is killed and restarted. Default 1000 ms.
   */
  unresponsiveMs?: number;
  /** Failed probes in a row that make the supervisor restart the process. Default 3. */
  failureThreshold?: number;
  /** Graceful stop budget: Stop RPC, Shutdown, SIGTERM; SIGKILL after it. Default 5000 ms. */
  stopTimeoutMs?: number;
  restart?: RestartOptions;
  /** OS layers (bubblewrap, prlimit) for exec plugins. Default true; pdeathsig applies regardless. */
  sandbox?: boolean;
}

export type ResolvedProcessTierOptions = Required<Omit<ProcessTierOptions, 'sdkEntry'>> & {
  sdkEntry: string | undefined;
};

/** Every option checked at once (one PLUGBAY_INVALID_ARGUMENT lists all the problems), then the defaults filled in. */
export function resolveOptions(o: ProcessTierOptions = {}): ResolvedProcessTierOptions {
  const check = new OptionChecker('process tier');
  check.oneOf('nodeCarrier', o.nodeCarrier, ['frames', 'grpc']);
  for (const name of [
    'startTimeoutMs',
    'pluginStartTimeoutMs',
    'healthIntervalMs',
    'healthTimeoutMs',
    'unresponsiveMs',
    'failureThreshold',
    'stopTimeoutMs',
  ] as const)
    check.positiveInteger(name, o[name]);
  check.boolean('sandbox', o.sandbox);
  check.restart('restart', o.restart);
  check.done();
  return {
    socketRoot: o.socketRoot ?? os.tmpdir(),
    sdkEntry: o.sdkEntry,
    nodeCarrier: o.nodeCarrier ?? 'frames',
    nodePath: o.nodePath ?? process.execPath,
    startTimeoutMs: o.startTimeoutMs ?? 10_000,
    pluginStartTimeoutMs: o.pluginStartTimeoutMs ?? 30_000,
    healthIntervalMs: o.healthIntervalMs ?? 5000,
    healthTimeoutMs: o.healthTimeoutMs ?? 2000,
    unresponsiveMs: o.unresponsiveMs ?? 1000,
    failureThreshold: o.failureThreshold ?? 3,
    stopTimeoutMs: o.stopTimeoutMs ?? 5000,
    restart: o.restart ?? {},
    sandbox: o.sandbox ?? true,
  };
}
