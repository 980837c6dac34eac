import { basename, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Diagnostic } from '../../core/types.js';
import { discover } from '../../host/discover.js';
import { usageErrors } from '../args.js';
import { type Command, UsageError } from '../io.js';
import { table } from '../table.js';

/** One row of `plugbay check`: a plugin directory and whether the host would load it. */
export interface CheckedRow {
  name: string;
  version: string;
  runtime: string;
  status: 'ok' | 'warnings' | 'rejected';
  dir: string;
}

/** What `plugbay check --json` prints. `ok` is false when any plugin is rejected. */
export interface CheckReport {
  ok: boolean;
  plugins: CheckedRow[];
  diagnostics: Diagnostic[];
}

export const checkCommand: Command = {
  name: 'check',
  usage: `plugbay check [dir] [--json]

Discovers every plugin below dir (each subfolder is one plugin) and runs the checks done before any plugin code
runs: manifest schema, entry path, engines and platform, duplicates. Prints a table of plugins and one of
diagnostics (--json: one JSON object). Default dir: ./plugins. Exits 1 when any plugin is rejected.`,
  async run(args, io) {
    const { positionals, values } = usageErrors(() =>
      parseArgs({ args, allowPositionals: true, strict: true, options: { json: { type: 'boolean' } } }),
    );
    if (positionals.length > 1) throw new UsageError('takes at most one directory');
    const root = resolve(positionals[0] ?? 'plugins');
    const report = await checkReport(root);
    if (values.json) {
      io.out(JSON.stringify(report, null, 2));
    } else {
      io.out(humanReport(root, report));
    }
    return report.ok ? 0 : 1;
  },
};

async function checkReport(root: string): Promise<CheckReport> {
  const { plugins, diagnostics } = await discover(root);
  const rows: CheckedRow[] = plugins.map((p) => ({
    name: p.manifest.name,
    version: p.manifest.version,
    runtime: p.manifest.runtime,
    status: p.warnings.length > 0 ? 'warnings' : 'ok',
    dir: p.dir,
  }));
  // A directory with an error diagnostic was rejected; it appears once, named as well as its manifest allows.
  const rejected = new Map<string, Diagnostic>();
  for (const d of diagnostics) if (d.severity === 'error' && !rejected.has(d.dir)) rejected.set(d.dir, d);
  for (const [dir, d] of rejected) {
    rows.push({
      name: d.plugin ?? basename(dir),
      version: d.version ?? '-',
      runtime: '-',
      status: 'rejected',
      dir,
    });
  }
  rows.sort((a, b) => a.dir.localeCompare(b.dir));
  return { ok: rejected.size === 0, plugins: rows, diagnostics };
}

function humanReport(root: string, report: CheckReport): string {
  const where = (dir: string) => relative(root, dir) || '.';
  const parts: string[] = [];
  if (report.plugins.length === 0) parts.push(`no plugins in ${root}`);
  else {
    parts.push(
      table(
        ['PLUGIN', 'VERSION', 'RUNTIME', 'STATUS', 'DIR'],
        report.plugins.map((p) => [p.name, p.version, p.runtime, p.status, where(p.dir)]),
      ),
    );
  }
  if (report.diagnostics.length > 0) {
    parts.push(
      table(
        ['DIR', 'SEVERITY', 'CODE', 'FIELD', 'RULE', 'MESSAGE'],
        report.diagnostics.map((d) => [
          where(d.dir),
          d.severity,
          d.code,
          d.field ?? '-',
          d.rule ?? '-',
          d.message,
        ]),
      ),
    );
  }
  const rejected = report.plugins.filter((p) => p.status === 'rejected').length;
  parts.push(
    `${report.plugins.length - rejected} plugin(s) ok, ${rejected} rejected, ${report.diagnostics.length} diagnostic(s)`,
  );
  return parts.join('\n\n');
}
