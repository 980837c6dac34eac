import os from 'node:os';
import { PlugbayError } from '../../core/errors.js';
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

const positive = (name: string, value: number | undefined, fallback: number): number => {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) {
    throw new PlugbayError(
      'PLUGBAY_INVALID_ARGUMENT',
      `options.${name} must be a positive integer, got ${String(value)}`,
      {
        details: { option: name, rule: 'positive-integer' },
      },
    );
  }
  return value;
};

export function resolveOptions(o: ProcessTierOptions = {}): ResolvedProcessTierOptions {
  if (o.nodeCarrier !== undefined && o.nodeCarrier !== 'frames' && o.nodeCarrier !== 'grpc') {
    throw new PlugbayError(
      'PLUGBAY_INVALID_ARGUMENT',
      `options.nodeCarrier must be "frames" or "grpc", got ${String(o.nodeCarrier)}`,
      {
        details: { option: 'nodeCarrier', rule: 'enum' },
      },
    );
  }
  return {
    socketRoot: o.socketRoot ?? os.tmpdir(),
    sdkEntry: o.sdkEntry,
    nodeCarrier: o.nodeCarrier ?? 'frames',
    nodePath: o.nodePath ?? process.execPath,
    startTimeoutMs: positive('startTimeoutMs', o.startTimeoutMs, 10_000),
    pluginStartTimeoutMs: positive('pluginStartTimeoutMs', o.pluginStartTimeoutMs, 30_000),
    healthIntervalMs: positive('healthIntervalMs', o.healthIntervalMs, 5000),
    healthTimeoutMs: positive('healthTimeoutMs', o.healthTimeoutMs, 2000),
    unresponsiveMs: positive('unresponsiveMs', o.unresponsiveMs, 1000),
    failureThreshold: positive('failureThreshold', o.failureThreshold, 3),
    stopTimeoutMs: positive('stopTimeoutMs', o.stopTimeoutMs, 5000),
    restart: o.restart ?? {},
    sandbox: o.sandbox ?? true,
  };
}
