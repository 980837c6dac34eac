// Grants: what community and unsigned plugins may do beyond their own folder. The operator's file (options.grants)
// and run-time grants (kept in the store) together decide each load; grant() and revoke() reload or unload the
// versions the change concerns.
import { PlugbayError } from '../core/errors.js';
import type { CheckedPlugin } from '../core/types.js';
import {
  capabilitiesFor,
  checkCapability,
  checkPluginName,
  decideGrants,
  type GrantDecision,
  permissionDenied,
} from '../trust/grants.js';
import type { PolicyTrustLevel } from '../trust/policy.js';
import type { Loader } from './loader.js';
import { loadDiagnostic } from './loader.js';
import type { HostState } from './state.js';
import type { ChangeOptions, GrantResult, GrantStatus, RevokeResult } from './types.js';

/** What `plugin` (as discovered: its permissions are the manifest's request) gets at `level` under the grants now. */
export function decideGrantsFor(s: HostState, plugin: CheckedPlugin, level: PolicyTrustLevel): GrantDecision {
  const { name, version } = plugin.manifest;
  const capabilities = [
    ...capabilitiesFor(s.settings.grants, name, version),
    ...s.store.grants(name).map((g) => g.capability),
  ];
  return decideGrants({ permissions: plugin.permissions, dir: plugin.dir, level, capabilities });
}

export class Grants {
  readonly #s: HostState;
  readonly #loader: Loader;

  constructor(state: HostState, loader: Loader) {
    this.#s = state;
    this.#loader = loader;
  }

  /** Stores the grant, then loads again each version refused for want of a grant. */
  grant(name: string, capability: string, options: ChangeOptions): Promise<GrantResult> {
    return this.#change('grant', name, capability, options, async (granted) => {
      const result: GrantResult = { plugin: name, capability: granted, loaded: [], refused: [] };
      for (const p of [...this.#loader.refused.values()].filter((p) => p.plugin.manifest.name === name)) {
        // Tried once per grant: a load that fails for another reason (its folder is gone) is not retried forever.
        this.#loader.refused.delete(p.plugin.id);
        try {
          result.loaded.push(await this.#loader.load(p));
        } catch (err) {
          const e = PlugbayError.from(err, 'PLUGBAY_LOAD_FAILED');
          this.#loader.record([loadDiagnostic(p.plugin, e)]);
          result.refused.push({ version: p.plugin.manifest.version, code: e.code, message: e.message });
        }
      }
      return result;
    });
  }

  /**
   * Takes the grant back. What runs is what the grants allow: a version that needed the capability is drained and
   * unloaded, and is loaded again by the grant that allows it.
   */
  revoke(name: string, capability: string, options: ChangeOptions): Promise<RevokeResult> {
    return this.#change('revoke', name, capability, options, async (revoked) => {
      const unloaded: string[] = [];
      for (const v of [...this.#s.versions.of(name)]) {
        const requested: CheckedPlugin = { ...v.plugin, permissions: v.plugin.manifest.permissions ?? {} };
        const decision = decideGrantsFor(this.#s, requested, v.trust.level);
        if (decision.denied.length === 0) continue;
        await this.#s.versions.unload(v, this.#s.settings.drainTimeoutMs);
        const known = this.#loader.known.get(requested.id);
        if (known !== undefined) this.#loader.refused.set(requested.id, known);
        const refusal = permissionDenied(requested.manifest, v.trust.level, decision.denied);
        this.#loader.record([loadDiagnostic(requested, refusal)]);
        this.#s.log.warn(
          { plugin: name, version: v.version },
          `${requested.id} unloaded: ${refusal.message}`,
        );
        unloaded.push(v.version);
      }
      return { plugin: name, capability: revoked, unloaded };
    });
  }

  /** Grants in force: the operator's file, then run-time grants. */
  list(name: string | undefined): GrantStatus[] {
    const fromFile = this.#s.settings.grants
      .filter((r) => name === undefined || r.plugin === name)
      .flatMap((r) =>
        r.capabilities.map(
          (capability): GrantStatus => ({
            plugin: r.plugin,
            capability,
            source: 'file',
            ...(r.versions === undefined ? {} : { versions: r.versions }),
          }),
        ),
      );
    const atRunTime = this.#s.store
      .grants(name)
      .map((g): GrantStatus => ({ plugin: g.plugin, capability: g.capability, source: 'admin' }));
    return [...fromFile, ...atRunTime];
  }

  /** Checks the arguments, then (one change per plugin at a time) stores and audits the change and applies it. */
  async #change<T>(
    action: 'grant' | 'revoke',
    name: string,
    capability: string,
    options: ChangeOptions,
    apply: (capability: string) => Promise<T>,
  ): Promise<T> {
    checkPluginName(name);
    const checked = checkCapability(capability);
    return this.#s.locks.exclusive(name, () => {
      const change = { plugin: name, capability: checked };
      this.#s.store.commit({
        ...(action === 'grant' ? { grant: change } : { revoke: change }),
        audit: {
          actor: options.actor ?? 'api',
          action,
          plugin: name,
          reason: options.reason,
          details: { capability: checked },
        },
      });
      const what = action === 'grant' ? `granted ${checked} to` : `revoked ${checked} from`;
      this.#s.log.info({ plugin: name, capability: checked }, `${what} ${name}`);
      return apply(checked);
    });
  }
}
