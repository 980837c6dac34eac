import type { ConformanceReport } from './conformance.js';

const marks = { pass: 'PASS', fail: 'FAIL', warn: 'WARN', skip: 'SKIP' } as const;

/** The readable report `plugbay test` prints: one line per check, problem and fix under each failure. */
export function formatReport(report: ConformanceReport): string {
  const who = report.plugin ? `${report.plugin}@${report.version}` : report.dir;
  const lines = [`plugbay test ${who}${report.tier ? ` (tier ${report.tier})` : ''}`];
  for (const check of report.checks) {
    lines.push(`  ${marks[check.status]}  ${check.id.padEnd(8)} ${check.title}`);
    if (check.problem) lines.push(`          problem: ${check.problem}`);
    if (check.fix) lines.push(`          fix:     ${check.fix}`);
    if (check.status !== 'pass')
      for (const note of check.notes ?? []) lines.push(`          note:    ${note}`);
  }
  const failed = report.checks.filter((c) => c.status === 'fail').length;
  lines.push(failed === 0 ? 'ok: every check passed' : `${failed} check(s) failed`);
  return lines.join('\n');
}
