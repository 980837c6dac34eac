import path from 'node:path';
import semver from 'semver';
import { PlugbayError } from '../core/errors.js';
import type { Permissions } from '../core/manifest-schema.js';
import { realPath as real } from '../core/real-path.js';
import type { PolicyTrustLevel } from './policy.js';

// A manifest's `permissions` are what a plugin asks for; the operator's grants decide what it gets (DESIGN.md
// "Capabilities are requests; the operator grants"). Pure logic but for resolving paths on disk (symlinks).
//
// A capability, as the operator writes it in a grants file and in `plugbay grant`:
//   fs.read:<absolute path>    read the path and everything below it (fs.read, read-only mounts)
//   fs.write:<absolute path>   read and write it (fs.write, writable mounts)
//   env:<NAME>                 the host's environment variable NAME
//   net:<entry>                a `permissions.net` entry, exactly as the manifest writes it
//   childProcess               spawning child processes (process tier)
// `memoryMb` is a limit, not a capability: it always applies as asked.

export type CapabilityKind = 'fs.read' | 'fs.write' | 'env' | 'net' | 'childProcess';

/** One operator rule: the capabilities granted to a plugin name, optionally only to versions in a semver range. */
export interface GrantRule {
  plugin: string;
  /** semver range, e.g. `^1.2.0`; default every version (prereleases included). */
  versions?: string;
  capabilities: string[];
}

/** A request of the manifest the trust level does not grant and no operator grant covers. */
export interface Denial {
  /** The manifest field, e.g. `permissions.fs.mounts.0`. */
  field: string;
  /** The grant that would allow it, e.g. `fs.read:/etc`. */
  capability: string;
  message: string;
}

export interface GrantDecision {
  /** What the plugin runs with: the requests that are granted (memoryMb as asked). */
  granted: Permissions;
  denied: Denial[];
}

const namePattern = /^(@[a-z0-9][a-z0-9-]*\/)?[a-z0-9][a-z0-9-]*$/;
const envPattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

function invalid(field: string, rule: string, message: string): PlugbayError {
  return new PlugbayError('PLUGBAY_INVALID_ARGUMENT', `${field} ${message}`, { details: { field, rule } });
}

/** Checks one capability string; PLUGBAY_INVALID_ARGUMENT names `field` and the rule. Returns it normalised. */
export function checkCapability(value: unknown, field = 'capability'): string {
  if (typeof value !== 'string' || value === '') throw invalid(field, 'type', 'must be a non-empty string');
  if (value === 'childProcess') return value;
  const colon = value.indexOf(':');
  const kind = colon === -1 ? value : value.slice(0, colon);
  const arg = colon === -1 ? '' : value.slice(colon + 1);
  if (kind === 'fs.read' || kind === 'fs.write') {
    if (!path.isAbsolute(arg)) {
      throw invalid(
        field,
        'absolute-path',
        `must name an absolute host path (${kind}:/path), got "${value}"`,
      );
    }
    return `${kind}:${path.resolve(arg)}`;
  }
  if (kind === 'env') {
    if (!envPattern.test(arg)) throw invalid(field, 'env-name', `must be env:<NAME>, got "${value}"`);
    return value;
  }
  if (kind === 'net') {
    if (arg === '' || /\s/.test(arg))
      throw invalid(field, 'net-host', `must be net:<host[:port]>, got "${value}"`);
    return value;
  }
  throw invalid(
    field,
    'capability',
    `must be fs.read:<path>, fs.write:<path>, env:<NAME>, net:<host[:port]> or childProcess, got "${value}"`,
  );
}

/** Checks a plugin name as the manifest schema does. */
export function checkPluginName(value: unknown, field = 'plugin'): string {
  if (typeof value !== 'string' || !namePattern.test(value)) {
    throw invalid(
      field,
      'pattern',
      'must be a plugin name (lowercase letters, digits, dashes, optional @scope/)',
    );
  }
  return value;
}

/**
 * Checks a grants file (`plugbay serve --grants`): `{ "grants": [{ "plugin", "versions"?, "capabilities" }] }`.
 * Every problem is PLUGBAY_INVALID_ARGUMENT with `details.field` such as `grants.0.capabilities.1`.
 */
export function checkGrants(value: unknown): GrantRule[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('(root)', 'type', 'must be an object with a "grants" array');
  }
  for (const key of Object.keys(value)) {
    if (key !== 'grants' && key !== '$schema')
      throw invalid(key, 'additional-property', 'is not a known field');
  }
  const list = (value as { grants?: unknown }).grants;
  if (!Array.isArray(list)) throw invalid('grants', 'type', 'must be an array of rules');
  return list.map((raw, i) => {
    const at = `grants.${i}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw invalid(at, 'type', 'must be an object');
    const rule = raw as Record<string, unknown>;
    for (const key of Object.keys(rule)) {
      if (!['plugin', 'versions', 'capabilities'].includes(key)) {
        throw invalid(
          `${at}.${key}`,
          'additional-property',
          'is not a known field (plugin, versions, capabilities)',
        );
      }
    }
    const plugin = checkPluginName(rule.plugin, `${at}.plugin`);
    if (
      rule.versions !== undefined &&
      (typeof rule.versions !== 'string' || semver.validRange(rule.versions) === null)
    ) {
      throw invalid(
        `${at}.versions`,
        'semver-range',
        `must be a semver range, got ${JSON.stringify(rule.versions)}`,
      );
    }
    if (!Array.isArray(rule.capabilities) || rule.capabilities.length === 0) {
      throw invalid(`${at}.capabilities`, 'type', 'must be a non-empty array of capabilities');
    }
    const capabilities = rule.capabilities.map((c, j) => checkCapability(c, `${at}.capabilities.${j}`));
    return rule.versions === undefined
      ? { plugin, capabilities }
      : { plugin, versions: rule.versions, capabilities };
  });
}

/** The capabilities the rules give one version. */
export function capabilitiesFor(rules: readonly GrantRule[], plugin: string, version: string): string[] {
  return rules
    .filter(
      (r) =>
        r.plugin === plugin &&
        (r.versions === undefined || semver.satisfies(version, r.versions, { includePrerelease: true })),
    )
    .flatMap((r) => r.capabilities);
}

const within = (child: string, parent: string) =>
  child === parent || child.startsWith(parent.endsWith(path.sep) ? parent : parent + path.sep);

/**
 * Decides what a version runs with. `trusted` gets what it asks for; `community` and `unsigned` get host files
 * only inside their own folder, and nothing else (env, network, child processes) unless `capabilities` (the
 * operator's grants for this version) cover it. Paths are decided on after symlinks are resolved, and `granted`
 * holds those real paths (absolute): the tiers use what was decided on, not a path that may lead elsewhere later.
 */
export function decideGrants(input: {
  permissions: Permissions;
  dir: string;
  level: PolicyTrustLevel;
  capabilities: readonly string[];
}): GrantDecision {
  const { permissions: p, level } = input;
  const all = level === 'trusted';
  const own = real(input.dir);
  const grants = input.capabilities.map((c) => {
    const colon = c.indexOf(':');
    return colon === -1 ? { kind: c, arg: '' } : { kind: c.slice(0, colon), arg: c.slice(colon + 1) };
  });
  const has = (kind: CapabilityKind, arg = '') => all || grants.some((g) => g.kind === kind && g.arg === arg);
  const hostPath = (want: 'fs.read' | 'fs.write', requested: string) => {
    const target = real(path.resolve(input.dir, requested));
    const ok =
      all ||
      within(target, own) ||
      grants.some(
        (g) =>
          (g.kind === 'fs.write' || (want === 'fs.read' && g.kind === 'fs.read')) &&
          within(target, real(g.arg)),
      );
    return { ok, target, capability: `${want}:${target}` };
  };
  const denied: Denial[] = [];
  const deny = (field: string, capability: string, what: string) =>
    denied.push({ field, capability, message: `${field} (${what}) needs the grant ${capability}` });

  const granted: Permissions = {};
  const fs: NonNullable<Permissions['fs']> = {};
  for (const want of ['read', 'write'] as const) {
    const list = p.fs?.[want];
    if (list === undefined) continue;
    fs[want] = list.flatMap((requested, i) => {
      const check = hostPath(`fs.${want}`, requested);
      if (!check.ok) deny(`permissions.fs.${want}.${i}`, check.capability, requested);
      return check.ok ? [check.target] : [];
    });
  }
  if (p.fs?.mounts !== undefined) {
    fs.mounts = p.fs.mounts.flatMap((m, i) => {
      const check = hostPath(m.readOnly === true ? 'fs.read' : 'fs.write', m.host);
      if (!check.ok) deny(`permissions.fs.mounts.${i}`, check.capability, `mount of ${m.host} at ${m.guest}`);
      return check.ok ? [{ ...m, host: check.target }] : [];
    });
  }
  if (p.fs !== undefined) granted.fs = fs;
  if (p.env !== undefined) {
    granted.env = p.env.filter((name, i) => {
      const ok = has('env', name);
      if (!ok) deny(`permissions.env.${i}`, `env:${name}`, name);
      return ok;
    });
  }
  if (p.net !== undefined) {
    granted.net = p.net.filter((entry, i) => {
      const ok = has('net', entry);
      if (!ok) deny(`permissions.net.${i}`, `net:${entry}`, entry);
      return ok;
    });
  }
  if (p.childProcess === true) {
    if (has('childProcess')) granted.childProcess = true;
    else deny('permissions.childProcess', 'childProcess', 'spawning processes');
  } else if (p.childProcess !== undefined) {
    granted.childProcess = p.childProcess;
  }
  if (p.memoryMb !== undefined) granted.memoryMb = p.memoryMb;
  return { granted, denied };
}

/** The load-time refusal: PLUGBAY_PERMISSION_DENIED naming the first request, with every denial in details. */
/** A write request inside the version's own folder (see ownFolderWrites). */
export interface OwnFolderWrite {
  /** The manifest field, e.g. `permissions.fs.write.0`. */
  field: string;
  /** The resolved path. */
  path: string;
}

/**
 * Write requests a version can never have, whatever its trust level or grants: a version runs from a read-only
 * copy of its files (the artifact store), so a write inside its own folder could only change the bytes that were
 * verified. `fs.write` entries and writable mounts are checked, symlinks resolved.
 */
export function ownFolderWrites(permissions: Permissions, dir: string): OwnFolderWrite[] {
  const own = real(dir);
  const found: OwnFolderWrite[] = [];
  const check = (field: string, requested: string) => {
    const target = real(path.resolve(dir, requested));
    if (within(target, own)) found.push({ field, path: target });
  };
  for (const [i, w] of (permissions.fs?.write ?? []).entries()) check(`permissions.fs.write.${i}`, w);
  for (const [i, m] of (permissions.fs?.mounts ?? []).entries())
    if (m.readOnly !== true) check(`permissions.fs.mounts.${i}`, m.host);
  return found;
}

/** The refusal of a version that asks to write inside its own folder (PLUGBAY_PERMISSION_DENIED, `read-only-version`). */
export function ownFolderWriteDenied(
  plugin: { name: string; version: string },
  writes: readonly OwnFolderWrite[],
): PlugbayError {
  const first = writes[0]!;
  return new PlugbayError(
    'PLUGBAY_PERMISSION_DENIED',
    `${plugin.name}@${plugin.version} asks to write inside its own folder (${writes.map((w) => w.field).join(', ')}), ` +
      'which is read-only: a version runs from a verified, read-only copy of its files. Write to a path outside it ' +
      '(an absolute fs.write path or a writable mount the operator grants), or mount it readOnly',
    {
      plugin: plugin.name,
      version: plugin.version,
      details: { field: first.field, rule: 'read-only-version', path: first.path, writes },
    },
  );
}

export function permissionDenied(
  plugin: { name: string; version: string },
  level: PolicyTrustLevel,
  denied: readonly Denial[],
): PlugbayError {
  const first = denied[0]!;
  const list = denied.map((d) => d.message).join('; ');
  return new PlugbayError(
    'PLUGBAY_PERMISSION_DENIED',
    `${plugin.name}@${plugin.version} is ${level} and asks for what the operator has not granted: ${list} ` +
      `(grant with plugbay serve --grants <file> or plugbay grant ${plugin.name} <capability>)`,
    {
      plugin: plugin.name,
      version: plugin.version,
      details: {
        field: first.field,
        rule: 'granted',
        capability: first.capability,
        trustLevel: level,
        denied,
      },
    },
  );
}
