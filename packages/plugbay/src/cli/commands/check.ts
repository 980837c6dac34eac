import { readFile } from 'node:fs/promises';
import { basename, relative, resolve } from 'node:path';
import { verifyContents } from '../../artifact/verify.js';
import { PlugbayError } from '../../core/errors.js';
import type { Permissions } from '../../core/manifest-schema.js';
import type { CheckedPlugin, Diagnostic } from '../../core/types.js';
import { discover, discoverOne, isPluginFolder } from '../../host/discover.js';
import {
  detectSandboxTools,
  type SandboxLayer,
  sandboxGaps,
  sandboxReport,
} from '../../tiers/process/sandbox.js';
import { checkModule } from '../../tiers/wasm/module-check.js';
import {
  capabilitiesFor,
  checkGrants,
  type Denial,
  decideGrants,
  type GrantRule,
  ownFolderWriteDenied,
  ownFolderWrites,
} from '../../trust/grants.js';
import { type Keyring, loadKeyring } from '../../trust/keyring.js';
import type { PolicyTrustLevel } from '../../trust/policy.js';
import { parseCommandArgs } from '../args.js';
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
  /**
   * What the manifest asks for and what the gateway would grant at `level` (the signature's level with --keyring,
   * otherwise `unsigned`, as serve --dev runs an unsigned plugin), with the --grants file; `denied` names each
   * request that would refuse the load and the grant that would allow it.
   */
  permissions?: { level: PolicyTrustLevel; requested: Permissions; granted: Permissions; denied: Denial[] };
}

/** What `plugbay check --json` prints. `ok` is false when any plugin is rejected. */
export interface CheckReport {
  ok: boolean;
  plugins: CheckedRow[];
  diagnostics: Diagnostic[];
  /** What process-tier plugins run without on this machine (only when there is one), e.g. no bubblewrap. */
  sandboxWarning?: string;
}

export const checkCommand: Command = {
  name: 'check',
  usage: `plugbay check [dir] [--json] [--keyring dir] [--grants file]

Discovers every plugin below dir (each subfolder is one plugin) and runs the checks done before any plugin code
runs: manifest schema, entry path, engines and platform, duplicates; a wasm plugin's module is compiled and its
imports checked against what the host provides. Prints a table of plugins and one of
diagnostics (--json: one JSON object). Default dir: ./plugins. Exits 1 when any plugin is rejected.
With --keyring, each plugin's signature is verified too (as plugbay serve --signatures required does): a plugin
whose signature is not valid is rejected, with one diagnostic per reason.
PERMISSIONS: what each plugin asks for against what serve would grant it (docs/grants.md): community and unsigned
plugins get nothing outside their own folder, no env, network or child processes, unless --grants (the file serve
takes) grants it. The level is the signature's with --keyring (a request not granted is then an error), otherwise
unsigned (a warning).`,
  async run(args, io) {
    const { positionals, values } = parseCommandArgs(args, {
      json: { type: 'boolean' },
      keyring: { type: 'string' },
      grants: { type: 'string' },
    });
    if (positionals.length > 1) throw new UsageError('takes at most one directory');
    const root = resolve(positionals[0] ?? 'plugins');
    let keyring: Keyring | undefined;
    if (values.keyring !== undefined) {
      keyring = await loadKeyring(resolve(values.keyring)).catch((err: Error) => {
        throw new UsageError(err.message);
      });
    }
    const grants = values.grants === undefined ? [] : await readGrants(resolve(values.grants));
    const report = await checkReport(root, keyring, grants);
    if (values.json) {
      io.out(JSON.stringify(report, null, 2));
    } else {
      io.out(humanReport(root, report));
    }
    return report.ok ? 0 : 1;
  },
};

async function readGrants(file: string): Promise<GrantRule[]> {
  try {
    return checkGrants(JSON.parse(await readFile(file, 'utf8')));
  } catch (err) {
    throw new UsageError(`--grants ${file}: ${(err as Error).message}`);
  }
}

async function checkReport(
  root: string,
  keyring: Keyring | undefined,
  grants: GrantRule[],
): Promise<CheckReport> {
  // One plugin's own folder is checked as that one plugin; any other folder as a folder of plugins.
  const { plugins, candidates, diagnostics } = (await isPluginFolder(root))
    ? await discoverOne(root)
    : await discover(root);
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
  // Wasm modules are compiled and their imports checked as the wasm tier's load does; nothing runs.
  for (const [i, p] of plugins.entries()) {
    if (p.manifest.runtime === 'wasm') await checkWasm(p, rows[i]!, diagnostics);
  }
  // Signatures and permissions last: their diagnostics belong to plugins that already have a row.
  const levels = new Map<string, PolicyTrustLevel>();
  if (keyring !== undefined) {
    for (const [i, p] of plugins.entries()) {
      // The bytes discovery read (folder or packed file), as the host verifies them at load.
      const v = await verifyContents(candidates[i]!.contents, keyring, p.manifest);
      const row = rows[i]!;
      if (v.status === 'valid') levels.set(p.dir, v.trust ?? 'community');
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
  for (const [i, p] of plugins.entries()) {
    const row = rows[i]!;
    const level = levels.get(p.dir) ?? 'unsigned';
    const { name, version } = p.manifest;
    const capabilities = capabilitiesFor(grants, name, version);
    const { granted, denied } = decideGrants({ permissions: p.permissions, dir: p.dir, level, capabilities });
    row.permissions = { level, requested: p.permissions, granted, denied };
    // Refused at every level: the version runs from a read-only copy of its files.
    const writes = ownFolderWrites(p.permissions, p.dir);
    if (writes.length > 0) {
      const e = ownFolderWriteDenied(p.manifest, writes);
      row.status = 'rejected';
      for (const w of writes) {
        diagnostics.push({
          code: e.code,
          severity: 'error',
          message: e.message,
          dir: p.dir,
          plugin: name,
          version,
          field: w.field,
          rule: 'read-only-version',
          details: { path: w.path },
        });
      }
    }
    if (denied.length === 0) continue;
    // With --keyring the level is known, so serve would refuse the load; without it, it depends on the signature.
    const severity = keyring === undefined ? 'warning' : 'error';
    if (severity === 'error') row.status = 'rejected';
    else if (row.status === 'ok') row.status = 'warnings';
    for (const d of denied) {
      diagnostics.push({
        code: 'PLUGBAY_PERMISSION_DENIED',
        severity,
        message: `${d.message} at the ${level} level`,
        dir: p.dir,
        plugin: name,
        version,
        field: d.field,
        rule: 'granted',
        details: { capability: d.capability, trustLevel: level },
      });
    }
  }
  rows.sort((a, b) => a.dir.localeCompare(b.dir));
  const processPlugins = plugins.some((p) => p.manifest.runtime === 'node' || p.manifest.runtime === 'exec');
  const sandboxWarning = processPlugins ? sandboxGaps(await detectSandboxTools()) : undefined;
  return {
    ok: rows.every((r) => r.status !== 'rejected'),
    plugins: rows,
    diagnostics,
    ...(sandboxWarning === undefined ? {} : { sandboxWarning }),
  };
}

/**
 * Compiles a wasm plugin's module and checks it as the wasm tier's load does: what load would refuse rejects the
 * row; WASI functions the host answers with ENOSYS are a warning (toolchains import functions they never call).
 */
async function checkWasm(p: CheckedPlugin, row: CheckedRow, diagnostics: Diagnostic[]): Promise<void> {
  const about = { dir: p.dir, plugin: p.manifest.name, version: p.manifest.version };
  let enosys: string[];
  try {
    // as the default tier would load it: metered unless the manifest asks for another mode
    const metered = (p.manifest.wasm?.run ?? 'metered') === 'metered';
    enosys = (await checkModule(p, undefined, metered)).audit.enosys;
  } catch (err) {
    const error = PlugbayError.from(err, 'PLUGBAY_LOAD_FAILED');
    const details = error.details ?? {};
    row.status = 'rejected';
    diagnostics.push({
      code: error.code,
      severity: 'error',
      message: error.message,
      ...about,
      field: typeof details.field === 'string' ? details.field : 'entry',
      ...(typeof details.rule === 'string' ? { rule: details.rule } : {}),
      details,
    });
    return;
  }
  if (enosys.length === 0) return;
  if (row.status === 'ok') row.status = 'warnings';
  diagnostics.push({
    code: 'PLUGBAY_LOAD_FAILED',
    severity: 'warning',
    message: `${p.manifest.entry}: imports WASI functions this host does not implement (they answer ENOSYS): ${enosys.join(', ')}`,
    ...about,
    field: 'entry',
    rule: 'wasi-unimplemented',
    details: { enosys },
  });
}

/** Requested capabilities as the operator grants them: `none`, `granted`, or what is missing. */
function permissionsText(p: CheckedRow): string {
  const perms = p.permissions;
  if (perms === undefined) return '-';
  // memoryMb is a limit, not a capability.
  if (Object.keys(perms.requested).every((k) => k === 'memoryMb')) return 'none';
  if (perms.denied.length === 0) return `granted (${perms.level})`;
  return `needs ${perms.denied.map((d) => d.capability).join(', ')}`;
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
  if (report.plugins.length === 0) {
    parts.push(
      `no plugins in ${root} (plugbay check takes a folder of plugin folders, or one plugin folder with its plugin.json; a TypeScript plugin has one after plugbay build)`,
    );
  } else {
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
          'PERMISSIONS',
          'SANDBOX (process tier)',
          'DIR',
        ],
        report.plugins.map((p) => [
          p.name,
          p.version,
          p.runtime,
          p.status,
          ...(signed ? [signature(p)] : []),
          permissionsText(p),
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
          // The FIELD column already names the field: no "runtime: runtime: is required".
          d.field !== undefined && d.message.startsWith(`${d.field}: `)
            ? d.message.slice(d.field.length + 2)
            : d.message,
        ]),
      ),
    );
  }
  if (report.sandboxWarning !== undefined) parts.push(`warning: ${report.sandboxWarning}`);
  const rejected = report.plugins.filter((p) => p.status === 'rejected').length;
  parts.push(
    `${report.plugins.length - rejected} plugin(s) ok, ${rejected} rejected, ${report.diagnostics.length} diagnostic(s)`,
  );
  return parts.join('\n\n');
}
