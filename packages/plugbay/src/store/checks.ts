import { PlugbayError } from '../core/errors.js';
import type { AuditEntry, AuditInput, AuditQuery, StateChange, StoredRollout } from './types.js';

// Checks shared by every StateStore, so that both implementations reject the same input with the same error.

export function invalid(field: string, rule: string, message: string): PlugbayError {
  return new PlugbayError('PLUGBAY_INVALID_ARGUMENT', `${field} ${message}`, { details: { field, rule } });
}

function nonEmpty(value: unknown, field: string): void {
  if (typeof value !== 'string' || value === '')
    throw invalid(field, 'non-empty-string', 'must be a non-empty string');
}

function optionalString(value: unknown, field: string): void {
  if (value !== undefined && typeof value !== 'string') throw invalid(field, 'string', 'must be a string');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function checkAudit(audit: unknown, field = 'audit'): asserts audit is AuditInput {
  if (!isPlainObject(audit)) throw invalid(field, 'type', 'must be an object');
  nonEmpty(audit.actor, `${field}.actor`);
  nonEmpty(audit.action, `${field}.action`);
  nonEmpty(audit.plugin, `${field}.plugin`);
  optionalString(audit.version, `${field}.version`);
  optionalString(audit.reason, `${field}.reason`);
  if (audit.details !== undefined && !isPlainObject(audit.details)) {
    throw invalid(`${field}.details`, 'type', 'must be an object');
  }
}

/** Checks the shape of a change (not its preconditions against stored state, which each store checks in its transaction). */
export function checkChange(change: unknown): asserts change is StateChange {
  if (!isPlainObject(change)) throw invalid('change', 'type', 'must be an object');
  checkAudit(change.audit, 'change.audit');
  const { route, activate, rollback, grant, revoke } = change;
  if (route !== undefined) {
    if (!isPlainObject(route)) throw invalid('change.route', 'type', 'must be an object');
    nonEmpty(route.plugin, 'change.route.plugin');
    if (route.route !== null && !isPlainObject(route.route)) {
      throw invalid('change.route.route', 'type', 'must be an object, or null to delete the route');
    }
  }
  if (activate !== undefined && rollback !== undefined) {
    throw invalid('change', 'exclusive', 'must not both activate and roll back');
  }
  checkPart('activate', activate, 'version');
  checkPart('rollback', rollback, 'from');
  if (grant !== undefined && revoke !== undefined)
    throw invalid('change', 'exclusive', 'must not both grant and revoke');
  checkPart('grant', grant, 'capability');
  checkPart('revoke', revoke, 'capability');
}

/** A part of a change, when given: an object naming a plugin and one more non-empty string field. */
function checkPart(name: string, part: unknown, field: string): void {
  if (part === undefined) return;
  if (!isPlainObject(part)) throw invalid(`change.${name}`, 'type', 'must be an object');
  nonEmpty(part.plugin, `change.${name}.plugin`);
  nonEmpty(part[field], `change.${name}.${field}`);
}

/** Throws unless the grant to revoke exists. */
export function checkRevoke(exists: boolean, revoke: { plugin: string; capability: string }): void {
  if (!exists) {
    throw invalid(
      'change.revoke.capability',
      'granted',
      `names no run-time grant of ${revoke.plugin}: ${revoke.capability}`,
    );
  }
}

/** Throws unless `from` is the current stable and a previous one exists: a rollback must not race another change. */
export function checkRollback(history: readonly string[], from: string): void {
  const current = history.at(-1);
  if (current !== from) {
    throw invalid(
      'change.rollback.from',
      'current-stable',
      `must be the current stable (${current ?? 'none'}), got ${from}`,
    );
  }
  if (history.length < 2)
    throw invalid('change.rollback', 'has-previous', `has no stable before ${from} to return to`);
}

/** JSON text of a value, or PLUGBAY_INVALID_ARGUMENT naming the field (BigInt, cycles …). */
export function toJson(value: unknown, field: string): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', `${field} must be JSON-serialisable`, {
      cause: err,
      details: { field, rule: 'json' },
    });
  }
}

export const DEFAULT_AUDIT_LIMIT = 100;
export const MAX_AUDIT_LIMIT = 10_000;

export function normaliseQuery(query: AuditQuery = {}): { plugin?: string; limit: number; before?: number } {
  optionalString(query.plugin, 'query.plugin');
  const limit = query.limit ?? DEFAULT_AUDIT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_LIMIT) {
    throw invalid('query.limit', 'range', `must be an integer from 1 to ${MAX_AUDIT_LIMIT}, got ${limit}`);
  }
  if (query.before !== undefined && !Number.isInteger(query.before)) {
    throw invalid('query.before', 'integer', 'must be an integer audit id');
  }
  return {
    limit,
    ...(query.plugin === undefined ? {} : { plugin: query.plugin }),
    ...(query.before === undefined ? {} : { before: query.before }),
  };
}

export function checkNow(now: unknown): () => Date {
  if (now === undefined) return () => new Date();
  if (typeof now !== 'function') throw invalid('options.now', 'type', 'must be a function returning a Date');
  return now as () => Date;
}

export function closedError(kind: string): PlugbayError {
  return new PlugbayError('PLUGBAY_CLOSED', `the ${kind} state store is closed`);
}

/** An audit row as both SQL stores read it back (details as JSON text). */
export interface AuditRow {
  id: number;
  time: string;
  actor: string;
  action: string;
  plugin: string;
  version: string | null;
  reason: string | null;
  details: string | null;
}

/** The one shape of an audit entry both stores return: absent fields are left out, details are a fresh copy. */
export function auditEntry(
  id: number,
  time: string,
  row: { actor: string; action: string; plugin: string; version?: string | null; reason?: string | null },
  detailsJson: string | null | undefined,
): AuditEntry {
  const entry: AuditEntry = { id, time, actor: row.actor, action: row.action, plugin: row.plugin };
  if (row.version != null) entry.version = row.version;
  if (row.reason != null) entry.reason = row.reason;
  if (detailsJson != null) entry.details = JSON.parse(detailsJson) as Record<string, unknown>;
  return entry;
}

/** Checks a rollout record to save: an object naming its plugin, JSON-serialisable, and the expected token. */
export function checkRollout(rollout: unknown, expected: unknown, audit: unknown): void {
  if (!isPlainObject(rollout)) throw invalid('rollout', 'type', 'must be an object');
  nonEmpty(rollout.plugin, 'rollout.plugin');
  if (expected !== null && typeof expected !== 'string')
    throw invalid('expected', 'type', 'must be the updatedAt read, or null when none is stored');
  if (audit !== undefined) checkAudit(audit);
}

/**
 * The compare-and-set every store does under its write lock: the stored record's updatedAt must be `expected`.
 * Returns the new updatedAt: the clock's time, or 1 ms after the previous one when the clock has not moved past it
 * (two writes in one millisecond, a clock set back), so a token is never reused.
 */
export function casRollout(
  plugin: string,
  current: StoredRollout | undefined,
  expected: string | null,
  now: Date,
): string {
  const stored = current?.updatedAt ?? null;
  if (stored !== expected) {
    throw new PlugbayError(
      'PLUGBAY_ROLLOUT_CONFLICT',
      current === undefined
        ? `no rollout of ${plugin} is stored (expected one with updatedAt ${expected})`
        : `the rollout of ${plugin} changed meanwhile (updatedAt ${stored}, expected ${expected ?? 'none'})`,
      {
        plugin,
        details: { field: 'updatedAt', rule: 'compare-and-set', expected, current: current ?? null },
      },
    );
  }
  const previous = stored === null ? Number.NEGATIVE_INFINITY : Date.parse(stored);
  return new Date(Math.max(now.getTime(), previous + 1)).toISOString();
}
