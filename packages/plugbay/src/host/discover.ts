import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { checkEngines } from '../core/engine.js';
import type { ErrorCode } from '../core/errors.js';
import { validateManifest } from '../core/manifest.js';
import type { CheckedPlugin, Diagnostic } from '../core/types.js';

export const manifestFile = 'plugin.json';

export interface DiscoveryResult {
  plugins: CheckedPlugin[];
  /** Every problem found; plugins with an `error` diagnostic are not in `plugins`. */
  diagnostics: Diagnostic[];
}

/**
 * Scans `root`: each subfolder is one plugin (several versions of a plugin sit side by side, e.g. `greeter@1.0.0/`).
 * Nothing here runs plugin code. A broken plugin becomes diagnostics and is skipped; the rest are returned.
 */
export async function discover(root: string): Promise<DiscoveryResult> {
  const dir = resolve(root);
  let entries: string[];
  try {
    entries = (await readdir(dir, { withFileTypes: true }))
      .filter((e) => (e.isDirectory() || e.isSymbolicLink()) && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort();
  } catch (err) {
    return {
      plugins: [],
      diagnostics: [
        diag('PLUGBAY_LOAD_FAILED', dir, `cannot read plugin directory: ${(err as Error).message}`),
      ],
    };
  }
  const results = await Promise.all(entries.map((name) => checkPluginDir(join(dir, name))));
  const diagnostics = results.flatMap((r) => r.diagnostics);
  const byId = new Map<string, CheckedPlugin[]>(); // Map.groupBy is Node 21+
  for (const { plugin } of results) {
    if (plugin) byId.set(plugin.id, [...(byId.get(plugin.id) ?? []), plugin]);
  }
  const plugins: CheckedPlugin[] = [];
  for (const [id, copies] of byId) {
    if (copies.length === 1) {
      plugins.push(copies[0]!);
      continue;
    }
    // Which copy is meant cannot be known: refuse all of them rather than let one silently win.
    const dirs = copies.map((p) => p.dir);
    for (const p of copies) {
      diagnostics.push({
        ...diag(
          'PLUGBAY_DUPLICATE_PLUGIN',
          p.dir,
          `${id} is declared by ${copies.length} directories: ${dirs.join(', ')}`,
        ),
        plugin: p.manifest.name,
        version: p.manifest.version,
        details: { dirs },
      });
    }
  }
  return { plugins, diagnostics };
}

/** Reads and checks one plugin directory: manifest, entry path, engines and platform. Runs no plugin code. */
export async function checkPluginDir(
  pluginDir: string,
): Promise<{ plugin?: CheckedPlugin; diagnostics: Diagnostic[] }> {
  const dir = resolve(pluginDir);
  const fail = (d: Diagnostic) => ({ diagnostics: [d] });
  let text: string;
  try {
    text = await readFile(join(dir, manifestFile), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT'
        ? `${manifestFile} is missing`
        : `${manifestFile} cannot be read: ${(err as Error).message}`;
    return fail({ ...diag('PLUGBAY_MANIFEST_INVALID', dir, message), field: manifestFile, rule: 'readable' });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const message = `${manifestFile} is not valid JSON: ${(err as Error).message}`;
    return fail({ ...diag('PLUGBAY_MANIFEST_INVALID', dir, message), field: manifestFile, rule: 'json' });
  }
  const named = nameOf(raw);
  const result = validateManifest(raw);
  if (result.problems.length > 0) {
    return {
      diagnostics: result.problems.map((p) => ({
        ...diag('PLUGBAY_MANIFEST_INVALID', dir, `${p.field}: ${p.message}`),
        ...named,
        field: p.field,
        rule: p.rule,
      })),
    };
  }
  const manifest = (result as { manifest: CheckedPlugin['manifest'] }).manifest;
  const source = { plugin: manifest.name, version: manifest.version };
  const diagnostics: Diagnostic[] = [];

  const entry = await resolveEntry(dir, manifest.entry);
  if ('problem' in entry) {
    diagnostics.push({
      ...diag('PLUGBAY_MANIFEST_INVALID', dir, `entry: ${entry.problem}`),
      ...source,
      field: 'entry',
      rule: entry.rule,
    });
  }
  for (const m of checkEngines(manifest)) {
    diagnostics.push({
      ...diag('PLUGBAY_ENGINE_MISMATCH', dir, `${m.field}: ${m.message}`),
      ...source,
      field: m.field,
      rule: m.field,
      details: { required: m.required, actual: m.actual },
    });
  }
  if (diagnostics.length > 0) return { diagnostics };

  const warnings: Diagnostic[] = [];
  const folder = dir.slice(dir.lastIndexOf(sep) + 1);
  if (folder.includes('@') && !folder.startsWith('@') && folder !== `${manifest.name}@${manifest.version}`) {
    warnings.push({
      ...diag(
        'PLUGBAY_MANIFEST_INVALID',
        dir,
        `folder name ${folder} does not match ${manifest.name}@${manifest.version}`,
      ),
      ...source,
      severity: 'warning',
      rule: 'folder-name',
    });
  }
  const plugin: CheckedPlugin = {
    id: `${manifest.name}@${manifest.version}`,
    dir,
    manifest,
    entryPath: (entry as { path: string }).path,
    permissions: manifest.permissions ?? {},
    warnings,
  };
  return { plugin, diagnostics: warnings };
}

/** Resolves the entry on disk and proves it stays inside the plugin directory, symlinks included. */
async function resolveEntry(
  dir: string,
  entry: string,
): Promise<{ path: string } | { problem: string; rule: string }> {
  let realDir: string;
  let realEntry: string;
  try {
    realDir = await realpath(dir);
    realEntry = await realpath(join(dir, entry));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { problem: `file ${entry} does not exist`, rule: 'exists' };
    return { problem: `cannot resolve ${entry}: ${(err as Error).message}`, rule: 'readable' };
  }
  const rel = relative(realDir, realEntry);
  if (rel === '' || rel.startsWith('..') || resolve(realDir, rel) !== realEntry) {
    return {
      problem: `${entry} resolves to ${realEntry}, outside the plugin directory`,
      rule: 'inside-plugin-dir',
    };
  }
  try {
    if (!(await stat(realEntry)).isFile()) return { problem: `${entry} is not a file`, rule: 'file' };
  } catch (err) {
    return { problem: `cannot stat ${entry}: ${(err as Error).message}`, rule: 'readable' };
  }
  return { path: realEntry };
}

function diag(code: ErrorCode, dir: string, message: string): Diagnostic {
  return { code, severity: 'error', message, dir };
}

/** Name and version for diagnostics of a manifest that failed validation, when it has them. */
function nameOf(raw: unknown): { plugin?: string; version?: string } {
  const r = raw as { name?: unknown; version?: unknown } | null;
  const out: { plugin?: string; version?: string } = {};
  if (typeof r?.name === 'string') out.plugin = r.name;
  if (typeof r?.version === 'string') out.version = r.version;
  return out;
}
