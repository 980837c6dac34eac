/**
 * What plugbay remembers across restarts: each plugin's route, the history of its stable versions (for rollback),
 * and an audit log of every change. The API is synchronous on purpose: SQLite (better-sqlite3) and memory are both
 * synchronous, and the host can then switch a route in memory and persist it in one step, with no await in between
 * for another call to slip into.
 */

/** What happened. The known actions are listed; others are allowed so that new features need no store change. */
export type AuditAction =
  | 'activate'
  | 'rollback'
  | 'route'
  | 'crashloop'
  | 'crashloop-exit'
  | 'load'
  | 'unload'
  | 'grant'
  | 'revoke'
  | (string & {});

/** An audit entry as the caller gives it; the store adds `id` and `time`. */
export interface AuditInput {
  /** Who did it: `admin-api`, `cli`, `host`, `watcher`, a user name … */
  actor: string;
  action: AuditAction;
  plugin: string;
  version?: string | undefined;
  /** Why, in words: `manual`, `canary promoted`, `crash loop: 5 exits in 60s` … */
  reason?: string | undefined;
  /** Structured facts (the route set, the previous version …); must be JSON-serialisable. */
  details?: Record<string, unknown> | undefined;
}

export interface AuditEntry extends AuditInput {
  /** Increasing; use it to page (`before`). */
  id: number;
  /** ISO 8601 time of the write. */
  time: string;
}

export interface AuditQuery {
  /** Only entries about this plugin. */
  plugin?: string | undefined;
  /** At most this many entries (1..10 000). Default 100. */
  limit?: number | undefined;
  /** Only entries with an id below this one (the next page). */
  before?: number | undefined;
}

/** One version that was made stable, in order of activation. */
export interface StableRecord {
  version: string;
  time: string;
}

/** A route as the store keeps it: any JSON object. The store does not interpret it; the host validates it on read. */
export type StoredRoute = Record<string, unknown>;

/** A capability the operator granted a plugin at run time (`plugbay grant`). The store does not interpret it. */
export interface StoredGrant {
  plugin: string;
  capability: string;
  /** ISO 8601 time it was granted. */
  time: string;
}

/**
 * A progressive rollout as the store keeps it (host/progressive.ts gives it its shape and validates it on read).
 * The store reads only `plugin` (one record per plugin: the current or last rollout) and `updatedAt`, the
 * compare-and-set token it stamps on every write.
 */
export interface StoredRollout {
  plugin: string;
  /** ISO 8601 time of the last write, strictly increasing per plugin. */
  updatedAt: string;
  [field: string]: unknown;
}

/** One atomic change: every part and the audit entry are written together, or nothing is. */
export interface StateChange {
  /** Sets the plugin's route; `null` deletes it. */
  route?: { plugin: string; route: object | null } | undefined;
  /** Makes `version` the plugin's current stable (pushed on its history unless it already is the current one). */
  activate?: { plugin: string; version: string } | undefined;
  /** Returns to the previous stable: pops `from`, which must be the current stable, with a previous one below it. */
  rollback?: { plugin: string; from: string } | undefined;
  /** Grants the plugin a capability (kept as it is when already granted). */
  grant?: { plugin: string; capability: string } | undefined;
  /** Takes a grant back; it must exist. */
  revoke?: { plugin: string; capability: string } | undefined;
  audit: AuditInput;
}

export interface StateStore extends Disposable {
  readonly kind: 'memory' | 'sqlite' | 'postgres';
  /** The plugin's route, or undefined when it has none. A copy: changing it changes nothing stored. */
  route(plugin: string): StoredRoute | undefined;
  /** Every stored route, by plugin name. */
  routes(): Map<string, StoredRoute>;
  /** The plugin's current stable version (the top of its history). */
  stable(plugin: string): string | undefined;
  /** The plugin's stable history, oldest first; the last entry is the current stable. */
  stableHistory(plugin: string): StableRecord[];
  /** Run-time grants, of one plugin or all, ordered by plugin then capability. */
  grants(plugin?: string): StoredGrant[];
  /** Audit entries, newest first. */
  audit(query?: AuditQuery): AuditEntry[];
  /** The plugin's rollout record (the one in progress, or the last one), or undefined. A copy. */
  rollout(plugin: string): StoredRollout | undefined;
  /** Every stored rollout record, by plugin name. */
  rollouts(): StoredRollout[];
  /**
   * Writes the plugin's rollout record if the stored one's `updatedAt` is still `expected` (null: none may be
   * stored), stamping a new `updatedAt` later than the previous one; with `audit`, the entry is written in the
   * same transaction. Otherwise nothing changes and it throws PLUGBAY_ROLLOUT_CONFLICT (`details.current`: the
   * stored record, or null). Returns the record as stored.
   */
  saveRollout(
    rollout: { plugin: string } & Record<string, unknown>,
    expected: string | null,
    audit?: AuditInput,
  ): StoredRollout;
  /** Applies a change atomically; returns the audit entry written. */
  commit(change: StateChange): AuditEntry;
  /** Appends an audit entry that changes nothing else (a crash loop, a load). */
  record(entry: AuditInput): AuditEntry;
  /** Releases the store (the SQLite file and its lock). Idempotent; any other call afterwards throws PLUGBAY_CLOSED. */
  close(): void;
}

export interface StateStoreOptions {
  /** Clock for audit and history times. Default: `() => new Date()`. */
  now?: () => Date;
}
