/** The process tier: each loaded plugin version runs in its own child process (DESIGN.md "Process tier protocol"). */
import fs from 'node:fs';
import { PlugbayError } from '../../core/errors.js';
import type { CheckedPlugin, LoadOptions, Tier } from '../../core/types.js';
import { ProcessInstance } from './instance.js';
import { type ProcessTierOptions, type ResolvedProcessTierOptions, resolveOptions } from './options.js';
import { makeSocketDir } from './socket-dir.js';

export class ProcessTier implements Tier {
  readonly kind = 'process' as const;
  readonly options: ResolvedProcessTierOptions;
  readonly #instances = new Set<ProcessInstance>();
  #socketDir: string | undefined;
  #closed = false;

  constructor(options: ProcessTierOptions = {}) {
    this.options = resolveOptions(options);
  }

  /** The per-host socket dir, made (and stale ones cleaned) on first use. */
  get socketDir(): string {
    this.#socketDir ??= makeSocketDir(this.options.socketRoot);
    return this.#socketDir;
  }

  async load(plugin: CheckedPlugin, opts: LoadOptions): Promise<ProcessInstance> {
    if (this.#closed) throw new PlugbayError('PLUGBAY_CLOSED', 'the process tier is closed');
    const instance = new ProcessInstance(plugin, this.options, opts, this.socketDir);
    this.#instances.add(instance);
    instance.on('state', (state) => {
      if (state === 'closed') this.#instances.delete(instance);
    });
    try {
      return await instance.load();
    } catch (err) {
      this.#instances.delete(instance);
      throw err;
    }
  }

  /** Kills what is still running and removes the socket dir; idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#instances].map((i) => i.destroy()));
    if (this.#socketDir !== undefined) fs.rmSync(this.#socketDir, { recursive: true, force: true });
  }
}

export function createProcessTier(options?: ProcessTierOptions): ProcessTier {
  return new ProcessTier(options);
}
