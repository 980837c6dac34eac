import {
  auditEntry,
  casRollout,
  checkAudit,
  checkChange,
  checkNow,
  checkRevoke,
  checkRollback,
  checkRollout,
  closedError,
  normaliseQuery,
  toJson,
} from './checks.js';
import type {
  AuditEntry,
  AuditInput,
  AuditQuery,
  StableRecord,
  StateChange,
  StateStore,
  StateStoreOptions,
  StoredGrant,
  StoredRollout,
  StoredRoute,
} from './types.js';

interface StoredAudit {
  id: number;
  time: string;
  input: AuditInput;
  details: string | undefined;
}

/**
 * The library's default store: state lives as long as the process. Values are kept as JSON text, so what comes out
 * is a copy with the same shape SQLite would give back. A change is prepared fully before anything is mutated, so
 * a failing change leaves nothing half-written.
 */
export class MemoryStateStore implements StateStore {
  readonly kind = 'memory';
  readonly #now: () => Date;
  readonly #routes = new Map<string, string>();
  readonly #history = new Map<string, StableRecord[]>();
  readonly #audit: StoredAudit[] = [];
  /** Run-time grants by `plugin\0capability`. */
  readonly #grants = new Map<string, StoredGrant>();
  /** Rollout records as JSON text, by plugin. */
  readonly #rollouts = new Map<string, string>();
  #closed = false;

  constructor(options: StateStoreOptions = {}) {
    this.#now = checkNow(options.now);
  }

  route(plugin: string): StoredRoute | undefined {
    this.#open();
    const json = this.#routes.get(plugin);
    return json === undefined ? undefined : (JSON.parse(json) as StoredRoute);
  }

  routes(): Map<string, StoredRoute> {
    this.#open();
    return new Map(
      [...this.#routes].sort(([a], [b]) => (a < b ? -1 : 1)).map(([p, json]) => [p, JSON.parse(json)]),
    );
  }

  stable(plugin: string): string | undefined {
    this.#open();
    return this.#history.get(plugin)?.at(-1)?.version;
  }

  stableHistory(plugin: string): StableRecord[] {
    this.#open();
    return (this.#history.get(plugin) ?? []).map((r) => ({ ...r }));
  }

  grants(plugin?: string): StoredGrant[] {
    this.#open();
    return [...this.#grants.values()]
      .filter((g) => plugin === undefined || g.plugin === plugin)
      .sort((a, b) => (a.plugin === b.plugin ? cmp(a.capability, b.capability) : cmp(a.plugin, b.plugin)))
      .map((g) => ({ ...g }));
  }

  audit(query?: AuditQuery): AuditEntry[] {
    this.#open();
    const { plugin, limit, before } = normaliseQuery(query);
    const out: AuditEntry[] = [];
    for (let i = this.#audit.length - 1; i >= 0 && out.length < limit; i--) {
      const a = this.#audit[i]!;
      if (before !== undefined && a.id >= before) continue;
      if (plugin !== undefined && a.input.plugin !== plugin) continue;
      out.push(auditEntry(a.id, a.time, a.input, a.details));
    }
    return out;
  }

  rollout(plugin: string): StoredRollout | undefined {
    this.#open();
    const json = this.#rollouts.get(plugin);
    return json === undefined ? undefined : (JSON.parse(json) as StoredRollout);
  }

  rollouts(): StoredRollout[] {
    this.#open();
    return [...this.#rollouts]
      .sort(([a], [b]) => cmp(a, b))
      .map(([, json]) => JSON.parse(json) as StoredRollout);
  }

  saveRollout(
    rollout: { plugin: string } & Record<string, unknown>,
    expected: string | null,
    audit?: AuditInput,
  ): StoredRollout {
    this.#open();
    checkRollout(rollout, expected, audit);
    const now = this.#now();
    const updatedAt = casRollout(rollout.plugin, this.rollout(rollout.plugin), expected, now);
    const json = toJson({ ...rollout, updatedAt }, 'rollout');
    const entry = audit === undefined ? undefined : this.#prepareAudit(audit, now.toISOString());
    this.#rollouts.set(rollout.plugin, json);
    if (entry !== undefined) this.#audit.push(entry);
    return JSON.parse(json) as StoredRollout;
  }

  commit(change: StateChange): AuditEntry {
    this.#open();
    checkChange(change);
    const time = this.#now().toISOString();
    // Prepare everything that can fail first; mutate only after.
    const routeJson =
      change.route === undefined || change.route.route === null
        ? undefined
        : toJson(change.route.route, 'change.route.route');
    // The stable history changes in place below (a copy of it per switch made each commit cost O(switches so far)).
    let pushStable: StableRecord | undefined;
    if (change.activate !== undefined) {
      const current = this.#history.get(change.activate.plugin);
      if (current?.at(-1)?.version !== change.activate.version)
        pushStable = { version: change.activate.version, time };
    }
    if (change.rollback !== undefined) {
      const current = this.#history.get(change.rollback.plugin) ?? [];
      checkRollback(
        current.map((r) => r.version),
        change.rollback.from,
      );
    }
    const grantKey = (g: { plugin: string; capability: string }) => `${g.plugin}\0${g.capability}`;
    if (change.revoke !== undefined) checkRevoke(this.#grants.has(grantKey(change.revoke)), change.revoke);
    const audit = this.#prepareAudit(change.audit, time);

    if (change.grant !== undefined && !this.#grants.has(grantKey(change.grant))) {
      const { plugin, capability } = change.grant;
      this.#grants.set(grantKey(change.grant), { plugin, capability, time });
    }
    if (change.revoke !== undefined) this.#grants.delete(grantKey(change.revoke));
    if (change.route !== undefined) {
      if (routeJson === undefined) this.#routes.delete(change.route.plugin);
      else this.#routes.set(change.route.plugin, routeJson);
    }
    if (change.rollback !== undefined) this.#history.get(change.rollback.plugin)?.pop();
    else if (pushStable !== undefined) {
      const plugin = change.activate!.plugin;
      const history = this.#history.get(plugin);
      if (history === undefined) this.#history.set(plugin, [pushStable]);
      else history.push(pushStable);
    }
    this.#audit.push(audit);
    return auditEntry(audit.id, audit.time, audit.input, audit.details);
  }

  record(entry: AuditInput): AuditEntry {
    this.#open();
    checkAudit(entry);
    const audit = this.#prepareAudit(entry, this.#now().toISOString());
    this.#audit.push(audit);
    return auditEntry(audit.id, audit.time, audit.input, audit.details);
  }

  close(): void {
    this.#closed = true;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #prepareAudit(input: AuditInput, time: string): StoredAudit {
    const details = input.details === undefined ? undefined : toJson(input.details, 'audit.details');
    const { actor, action, plugin, version, reason } = input;
    return {
      id: (this.#audit.at(-1)?.id ?? 0) + 1,
      time,
      input: { actor, action, plugin, version, reason },
      details,
    };
  }

  #open(): void {
    if (this.#closed) throw closedError(this.kind);
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
