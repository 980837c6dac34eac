import semver from 'semver';
import type { Change, DiffOptions } from './diff.js';
import { diffSnapshots } from './gate.js';
import type { ContractSnapshot } from './snapshot.js';

/** How the version moved from the old snapshot to the new one. 0.x: a minor step counts as major (semver §4). */
export type VersionBump = 'major' | 'minor' | 'patch' | 'none' | 'downgrade';

export interface CheckFinding {
  /** `breaking-without-major`, `unknown-without-major`, `addition-without-minor`, `name-changed`, `version-invalid`, `version-downgrade`, `unknown-allowed`. */
  rule: string;
  message: string;
  change?: Change;
}

export interface CheckResult {
  /** False when there is an error: the CI gate fails. */
  ok: boolean;
  bump: VersionBump | undefined;
  errors: CheckFinding[];
  warnings: CheckFinding[];
  changes: Change[];
}

/**
 * The CI gate: compares the committed snapshot (`before`) with the plugin's current one (`after`). A breaking change
 * (or an unknown one, unless `allowUnknown`) needs a major version bump; a compatible change without at least a
 * minor bump is a warning. Every error names the function, the field and the rule.
 */
export function checkAgainst(
  before: ContractSnapshot,
  after: ContractSnapshot,
  options: DiffOptions = {},
): CheckResult {
  const errors: CheckFinding[] = [];
  const warnings: CheckFinding[] = [];
  if (before.name !== after.name) {
    errors.push({
      rule: 'name-changed',
      message: `name changed from ${before.name} to ${after.name}; compare snapshots of one plugin`,
    });
  }
  const bump = bumpOf(before.version, after.version);
  if (bump === undefined) {
    errors.push({
      rule: 'version-invalid',
      message: `versions must be semver: ${before.version} → ${after.version}`,
    });
  } else if (bump === 'downgrade') {
    errors.push({
      rule: 'version-downgrade',
      message: `version went down from ${before.version} to ${after.version}`,
    });
  }
  const { changes } = diffSnapshots(before, after, options);
  for (const change of changes) {
    if (change.verdict === 'breaking' || (change.verdict === 'unknown' && !options.allowUnknown)) {
      if (bump !== 'major') {
        const rule = change.verdict === 'breaking' ? 'breaking-without-major' : 'unknown-without-major';
        errors.push({
          rule,
          change,
          message: `${change.message} [${change.rule}, ${change.verdict}]: needs a major version bump: ${expected(before.version, after.version, 'major')}`,
        });
      }
    } else if (change.verdict === 'unknown') {
      warnings.push({
        rule: 'unknown-allowed',
        change,
        message: `${change.message} [${change.rule}, unknown, allowed]`,
      });
    } else if (bump !== 'major' && bump !== 'minor') {
      warnings.push({
        rule: 'addition-without-minor',
        change,
        message: `${change.message} [${change.rule}, compatible]: expected at least a minor version bump: ${expected(before.version, after.version, 'minor')}`,
      });
    }
  }
  return { ok: errors.length === 0, bump, errors, warnings, changes };
}

/**
 * `0.2.0 → 1.0.0 (found 0.2.1)`: the least version with the bump. A break on 0.x asks for 1.0.0 (the first stable
 * release says so), although bumpOf also lets a 0.x minor step pass.
 */
function expected(before: string, after: string, level: 'major' | 'minor'): string {
  const v = semver.parse(before);
  if (v === null) return `${before} → ? (found ${after})`;
  // Built by hand, not semver.inc: inc('1.0.0-rc.1', 'major') is 1.0.0, which bumpOf counts as a patch.
  const next = level === 'major' ? `${v.major + 1}.0.0` : `${v.major}.${v.minor + 1}.0`;
  return `${before} → ${next} (found ${after})`;
}

export function bumpOf(before: string, after: string): VersionBump | undefined {
  const a = semver.parse(before);
  const b = semver.parse(after);
  if (a === null || b === null) return undefined;
  const order = semver.compare(b, a);
  if (order < 0) return 'downgrade';
  if (order === 0) return 'none';
  if (b.major !== a.major) return 'major';
  if (a.major === 0 && b.minor !== a.minor) return 'major';
  if (b.minor !== a.minor) return 'minor';
  if (a.major === 0 && a.minor === 0 && b.patch !== a.patch) return 'major'; // 0.0.x: every release may break
  return 'patch';
}
