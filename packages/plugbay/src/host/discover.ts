import { access, readdir } from 'node:fs/promises';
import { basename, join, posix, resolve } from 'node:path';
import { digestOf, resolveInside, type VersionContents } from '../artifact/contents.js';
import { isPackedFile } from '../artifact/pack.js';
import { readVersion } from '../artifact/read.js';
import { checkEngines } from '../core/engine.js';
import { type ErrorCode, PlugbayError } from '../core/errors.js';
import { manifestFileName } from '../core/file-set.js';
import { validateManifest } from '../core/manifest.js';
import type { CheckedPlugin, Diagnostic } from '../core/types.js';
import { completeGoPluginManifest } from '../tiers/process/proto-manifest.js';

export const manifestFile = manifestFileName;

/** A checked version with the bytes it was checked from: what the host verifies, stores and loads. */
export interface Candidate {
  plugin: CheckedPlugin;
  contents: VersionContents;
}

export interface DiscoveryResult {
  plugins: CheckedPlugin[];
  /** The same plugins with their contents, in the same order. */
  candidates: Candidate[];
  /** Every problem found; plugins with an `error` diagnostic are not in `plugins`. */
  diagnostics: Diagnostic[];
}

/**
 * Scans `root`: each subfolder and each packed file (`*.plugbay.tgz`) is one plugin version (several versions of a
 * plugin sit side by side, e.g. `greeter@1.0.0/`). Each is read once into memory. Nothing here runs plugin code. A broken plugin becomes diagnostics and is skipped; the rest are returned.
 */
export async function discover(root: string): Promise<DiscoveryResult> {
  const dir = resolve(root);
  let entries: string[];
  try {
    entries = (await readdir(dir, { withFileTypes: true }))
      .filter(
        (e) =>
          !e.name.startsWith('.') &&
          (e.isDirectory() || e.isSymbolicLink() || (e.isFile() && isPackedFile(e.name))),
      )
      .map((e) => e.name)
      .sort();
  } catch (err) {
    return {
      plugins: [],
      candidates: [],
      diagnostics: [
        diag('PLUGBAY_LOAD_FAILED', dir, `cannot read plugin directory: ${(err as Error).message}`),
      ],
    };
  }
  const results = await Promise.all(entries.map((name) => checkPluginDir(join(dir, name))));
  const diagnostics = results.flatMap((r) => r.diagnostics);
  const byId = new Map<string, Candidate[]>(); // Map.groupBy is Node 21+
  for (const { plugin, contents } of results) {
    if (plugin && contents) byId.set(plugin.id, [...(byId.get(plugin.id) ?? []), { plugin, contents }]);
  }
  const candidates: Candidate[] = [];
  for (const [id, copies] of byId) {
    if (copies.length === 1) {
      candidates.push(copies[0]!);
      continue;
    }
    // Which copy is meant cannot be known: refuse all of them rather than let one silently win.
    const dirs = copies.map((c) => c.plugin.dir);
    for (const { plugin: p } of copies) {
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
  return { plugins: candidates.map((c) => c.plugin), candidates, diagnostics };
}

/** Whether `dir` is one plugin's own folder (it has a plugin.json) rather than a folder of plugins. */
export function isPluginFolder(dir: string): Promise<boolean> {
  return access(join(resolve(dir), manifestFile)).then(
    () => true,
    () => false,
  );
}

/** discover() for one plugin folder or packed file: the same result, with at most one plugin. */
export async function discoverOne(pluginDir: string): Promise<DiscoveryResult> {
  const { plugin, contents, diagnostics } = await checkPluginDir(pluginDir);
  const candidates = plugin !== undefined && contents !== undefined ? [{ plugin, contents }] : [];
  return { plugins: candidates.map((c) => c.plugin), candidates, diagnostics };
}

/**
 * Reads one plugin version (a folder or a packed file) once into memory and checks it: manifest, entry path,
 * engines and platform, all from the bytes read. Runs no plugin code. The plugin's `dir` is the path given.
 */
export async function checkPluginDir(
  pluginDir: string,
): Promise<{ plugin?: CheckedPlugin; contents?: VersionContents; diagnostics: Diagnostic[] }> {
  const dir = resolve(pluginDir);
  let contents: VersionContents;
  try {
    contents = await readVersion(dir);
  } catch (err) {
    const e = PlugbayError.from(err, 'PLUGBAY_ARTIFACT_INVALID');
    const rule = typeof e.details?.rule === 'string' ? e.details.rule : 'readable';
    const field = typeof e.details?.field === 'string' ? { field: e.details.field } : {};
    return {
      diagnostics: [
        { ...diag(e.code, dir, e.message), ...field, rule, ...(e.details ? { details: e.details } : {}) },
      ],
    };
  }
  const checked = checkContents(contents);
  return checked.plugin === undefined ? checked : { ...checked, contents };
}

/** Checks a version's contents: manifest (parsed from its bytes), entry, engines and platform. */
export function checkContents(contents: VersionContents): {
  plugin?: CheckedPlugin;
  diagnostics: Diagnostic[];
} {
  const dir = contents.source;
  const fail = (d: Diagnostic) => ({ diagnostics: [d] });
  const manifestBytes = contents.files.get(manifestFile);
  if (manifestBytes === undefined || 'symlink' in manifestBytes) {
    return fail({
      ...diag('PLUGBAY_MANIFEST_INVALID', dir, `${manifestFile} is missing`),
      field: manifestFile,
      rule: 'readable',
    });
  }
  const text = manifestBytes.bytes.toString('utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const message = `${manifestFile} is not valid JSON: ${(err as Error).message}`;
    return fail({ ...diag('PLUGBAY_MANIFEST_INVALID', dir, message), field: manifestFile, rule: 'json' });
  }
  const named = nameOf(raw);
  let result = validateManifest(raw);
  // A go-plugin plugin's functions come from its .proto, read from these same bytes.
  if ('manifest' in result)
    result = completeGoPluginManifest(result.manifest, (file) => textOf(contents, file));
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

  const entry = resolveEntry(contents, manifest.entry);
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
  const folder = basename(dir);
  if (
    contents.kind === 'folder' &&
    folder.includes('@') &&
    !folder.startsWith('@') &&
    folder !== `${manifest.name}@${manifest.version}`
  ) {
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
    entryPath: join(dir, (entry as { path: string }).path),
    digest: digestOf(contents),
    source: dir,
    permissions: manifest.permissions ?? {},
    warnings,
  };
  return { plugin, diagnostics: warnings };
}

/** A file of the version as text, symlinks followed inside the version only; undefined when absent. */
function textOf(contents: VersionContents, file: string): string | undefined {
  const path = resolveInside(contents, file);
  const found = path === undefined ? undefined : contents.files.get(path);
  return found !== undefined && 'bytes' in found ? found.bytes.toString('utf8') : undefined;
}

/** Resolves the entry in the version's files (symlinks followed inside the version only). */
function resolveEntry(
  contents: VersionContents,
  entry: string,
): { path: string } | { problem: string; rule: string } {
  const path = resolveInside(contents, entry);
  if (path !== undefined) return { path };
  const normal = posix.normalize(entry);
  const linked = normal.split('/').some((_, i, parts) => {
    const f = contents.files.get(parts.slice(0, i + 1).join('/'));
    return f !== undefined && 'symlink' in f;
  });
  if (linked) return { problem: `${entry} resolves outside the plugin directory`, rule: 'inside-plugin-dir' };
  return { problem: `file ${entry} does not exist`, rule: 'exists' };
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
