import { basename, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { verifyContents } from '../../artifact/verify.js';
import type { Diagnostic } from '../../core/types.js';
import { discover } from '../../host/discover.js';
import { type SandboxLayer, sandboxReport } from '../../tiers/process/sandbox.js';
import { type Keyring, loadKeyring } from '../../trust/keyring.js';
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
  /** With --keyring: the signature status, the key's trust level and id. */
  signature?: { status: string; trust?: string; keyId?: string };
  /**
   * The OS sandbox layers the process tier applies to this plugin on this machine (detected now; a layer whose tool
   * is missing is listed with applied: false). Wasm plugins are sandboxed by WASI instead: empty.
   */
  sandbox?: SandboxLayer[];
}

/** What `plugbay check --json` prints. `ok` is false when any plugin is rejected. */
export interface CheckReport {
  ok: boolean;
  plugins: CheckedRow[];
  diagnostics: Diagnostic[];
}

export const checkCommand: Command = {
  name: 'check',
  usage: `plugbay check [dir] [--json] [--keyring dir]

Discovers every plugin below dir (each subfolder is one plugin) and runs the checks done before any plugin code
runs: manifest schema, entry path, engines and platform, duplicates. Prints a table of plugins and one of
diagnostics (--json: one JSON object). Default dir: ./plugins. Exits 1 when any plugin is rejected.
With --keyring, each plugin's signature is verified too (as plugbay serve --signatures required does): a plugin
whose signature is not valid is rejected, with one diagnostic per reason.`,
  async run(args, io) {
    const { positionals, values } = usageErrors(() =>
      parseArgs({
        args,
        allowPositionals: true,
        strict: true,
        options: { json: { type: 'boolean' }, keyring: { type: 'string' } },
      }),
    );
    if (positionals.length > 1) throw new UsageError('takes at most one directory');
    const root = resolve(positionals[0] ?? 'plugins');
    let keyring: Keyring | undefined;
    if (values.keyring !== undefined) {
      keyring = await loadKeyring(resolve(values.keyring)).catch((err: Error) => {
        throw new UsageError(err.message);
      });
    }
    const report = await checkReport(root, keyring);
    if (values.json) {
      io.out(JSON.stringify(report, null, 2));
    } else {
      io.out(humanReport(root, report));
    }
    return report.ok ? 0 : 1;
  },
};

async function checkReport(root: string, keyring: Keyring | undefined): Promise<CheckReport> {
  const { plugins, candidates, diagnostics } = await discover(root);
  const rows: CheckedRow[] = await Promise.all(
    plugins.map(async (p) => ({
      name: p.manifest.name,
      version: p.manifest.version,
      runtime: p.manifest.runtime,
      status: p.warnings.length > 0 ? ('warnings' as const) : ('ok' as const),
      dir: p.dir,
      sandbox: await sandboxReport(p.manifest),
    })),
  );
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
  // Signatures last: their diagnostics belong to plugins that already have a row.
  if (keyring !== undefined) {
    for (const [i, p] of plugins.entries()) {
      // The bytes discovery read (folder or packed file), as the host verifies them at load.
      const v = await verifyContents(candidates[i]!.contents, keyring, p.manifest);
      const row = rows[i]!;
      row.signature = { status: v.status };
      if (v.trust !== undefined) row.signature.trust = v.trust;
      if (v.keyId !== undefined) row.signature.keyId = v.keyId;
      if (v.status === 'valid') continue;
      row.status = 'rejected';
      for (const r of v.reasons) {
        const d: Diagnostic = {
          code: 'PLUGBAY_SIGNATURE_INVALID',
          severity: 'error',
          message: r.message,
          dir: p.dir,
          plugin: p.manifest.name,
          version: p.manifest.version,
          rule: r.rule,
          details: { status: v.status, ...r },
        };
        diagnostics.push(d);
      }
    }
  }
  rows.sort((a, b) => a.dir.localeCompare(b.dir));
  return { ok: rows.every((r) => r.status !== 'rejected'), plugins: rows, diagnostics };
}

/** Only layers that really apply are named; `none` when none does (never claim a missing one). */
function sandboxText(p: CheckedRow): string {
  if (p.runtime === 'wasm') return 'wasm: WASI capabilities';
  if (p.sandbox === undefined) return '-';
  const applied = p.sandbox.filter((l) => l.applied).map((l) => l.layer);
  return applied.length === 0 ? 'none' : applied.join(' + ');
}

function humanReport(root: string, report: CheckReport): string {
  const where = (dir: string) => relative(root, dir) || '.';
  const parts: string[] = [];
  if (report.plugins.length === 0) parts.push(`no plugins in ${root}`);
  else {
    const signed = report.plugins.some((p) => p.signature !== undefined);
    const signature = (p: CheckedRow) =>
      p.signature === undefined
        ? '-'
        : p.signature.trust === undefined
          ? p.signature.status
          : `${p.signature.status} (${p.signature.trust}, ${p.signature.keyId})`;
    parts.push(
      table(
        [
          'PLUGIN',
          'VERSION',
          'RUNTIME',
          'STATUS',
          ...(signed ? ['SIGNATURE'] : []),
          'SANDBOX (process tier)',
          'DIR',
        ],
        report.plugins.map((p) => [
          p.name,
          p.version,
          p.runtime,
          p.status,
          ...(signed ? [signature(p)] : []),
          sandboxText(p),
          where(p.dir),
        ]),
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
