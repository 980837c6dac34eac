import { OptionChecker } from '../../core/options.js';
import type { RestartOptions } from '../../core/restart.js';
import type { CheckedPlugin, Instance, LoadOptions, Tier } from '../../core/types.js';
import { ThreadInstance } from './instance.js';

export interface ThreadTierOptions {
  /**
   * After a call is aborted (deadline or caller), the worker must answer a ping within this time or it is taken
   * as stuck (busy loop, blocking call), terminated and restarted. Default 1000 ms.
   */
  unresponsiveMs?: number;
  /** Deadline of the plugin's start() when it runs again in a restarted worker. Default 10 000 ms. */
  startTimeoutMs?: number;
  /** Backoff and crash-loop detection for restarts (core/restart.ts); its defaults apply. */
  restart?: RestartOptions;
  /**
   * The worker's `process.env`: `declared` gives it only the variables the manifest lists in `permissions.env`
   * (the rest of the host's environment stays invisible to the plugin); `inherit` a copy of the host's. Default
   * `declared`.
   */
  env?: 'declared' | 'inherit';
  /**
   * What the plugin prints on stdout/stderr (console.log …): `log` turns each line into a log line of the plugin
   * (info / warn, with `stream`), so it carries plugin, version and tier like the rest; `inherit` lets it through
   * to the host's own stdout/stderr unchanged. Default `log`.
   */
  console?: 'log' | 'inherit';
}

/** The normalised options. */
export interface ThreadTierConfig {
  unresponsiveMs: number;
  startTimeoutMs: number;
  restart: RestartOptions;
  env: 'declared' | 'inherit';
  console: 'log' | 'inherit';
}

/**
 * Runs each plugin version in its own worker thread: a crash, a busy loop or an out-of-memory ends that worker
 * only; the instance restarts it. `permissions.memoryMb` becomes the worker's heap limit, and the worker watches its
 * ArrayBuffers/Buffers against it too (memory-watch.ts). Code here runs in the gateway's process, with its authority:
 * the thread tier is for trusted plugins only.
 */
export class ThreadTier implements Tier {
  readonly kind = 'thread' as const;
  readonly config: ThreadTierConfig;

  constructor(options: ThreadTierOptions = {}) {
    const check = new OptionChecker('thread tier');
    check.positiveInteger('unresponsiveMs', options.unresponsiveMs);
    check.positiveInteger('startTimeoutMs', options.startTimeoutMs);
    check.restart('restart', options.restart);
    check.oneOf('env', options.env, ['declared', 'inherit']);
    check.oneOf('console', options.console, ['log', 'inherit']);
    check.done();
    this.config = {
      unresponsiveMs: options.unresponsiveMs ?? 1000,
      startTimeoutMs: options.startTimeoutMs ?? 10_000,
      restart: { ...options.restart },
      env: options.env ?? 'declared',
      console: options.console ?? 'log',
    };
  }

  async load(plugin: CheckedPlugin, opts: LoadOptions): Promise<Instance> {
    const instance = new ThreadInstance(plugin, opts.log, this.config);
    await instance.init(opts.signal);
    return instance;
  }
}

export function createThreadTier(options?: ThreadTierOptions): ThreadTier {
  return new ThreadTier(options);
}
