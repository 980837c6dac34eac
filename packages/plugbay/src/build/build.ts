/**
 * `plugbay build`: turns a TypeScript plugin (`src/index.ts`, default export made with definePlugin) into a
 * self-contained bundle (`dist/plugin.js`, SDK and TypeBox included) and the `plugin.json` generated from its
 * definition, so the manifest is never written by hand.
 */
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type BuildOptions as BuildOptionsOfEsbuild, build as esbuild, type Message } from 'esbuild';
import { PlugbayError } from '../core/errors.js';
import { type Manifest, validateManifest } from '../core/manifest.js';
import { hostVersion } from '../core/version.js';
import { type DescribedPlugin, describeBundle } from './describe.js';
import { type TypecheckResult, typecheck } from './typecheck.js';

/** Where a TS plugin's source entry sits, relative to its directory. */
export const sourceEntry = 'src/index.ts';
/** Where the bundle goes, relative to the plugin directory; also the manifest's `entry`. */
export const bundleEntry = 'dist/plugin.js';

export interface BuiltPlugin {
  dir: string;
  manifest: Manifest;
}

/** One directory `buildPlugins` looked at: built, failed, or not a TS plugin. */
export type BuildOutcome =
  | { dir: string; status: 'built'; manifest: Manifest; typecheck?: TypecheckResult }
  | { dir: string; status: 'failed'; error: PlugbayError }
  | { dir: string; status: 'skipped'; reason: string };

/** True when `dir` holds a TS plugin plugbay can build (`src/index.ts`). */
export async function isTsPlugin(dir: string): Promise<boolean> {
  try {
    return (await stat(join(dir, sourceEntry))).isFile();
  } catch {
    return false;
  }
}

/**
 * Builds `dir` when it is a TS plugin; otherwise builds every subfolder that is one and reports the others as
 * skipped (so `plugbay build examples/plugins` builds the TS examples and leaves hand-written ones alone).
 * Never throws for one plugin's failure: each outcome says what happened.
 */
export async function buildPlugins(dir: string, options: BuildOptions = {}): Promise<BuildOutcome[]> {
  const root = resolve(dir);
  if (await isTsPlugin(root)) return [await outcomeOf(root, options)];
  let entries: string[];
  try {
    entries = (await readdir(root, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch (err) {
    const error = PlugbayError.from(err, 'PLUGBAY_INVALID_ARGUMENT');
    error.message = `cannot read ${root}: ${error.message}`;
    return [{ dir: root, status: 'failed', error }];
  }
  const outcomes: BuildOutcome[] = [];
  // One at a time: each build forks a child, and the machine may be small.
  for (const name of entries) {
    const sub = join(root, name);
    outcomes.push(
      (await isTsPlugin(sub))
        ? await outcomeOf(sub, options)
        : { dir: sub, status: 'skipped', reason: `no ${sourceEntry}` },
    );
  }
  return outcomes;
}

export interface BuildOptions {
  /** Run the plugin's TypeScript (`tsc --noEmit`) first when it has a tsconfig.json. Default: true. */
  typecheck?: boolean;
}

async function outcomeOf(dir: string, options: BuildOptions): Promise<BuildOutcome> {
  try {
    const checked = options.typecheck === false ? undefined : await typecheck(dir);
    return { status: 'built', ...(await buildPlugin(dir)), ...(checked ? { typecheck: checked } : {}) };
  } catch (err) {
    return { dir, status: 'failed', error: PlugbayError.from(err, 'PLUGBAY_LOAD_FAILED') };
  }
}

/** Bundles one TS plugin, reads its definition in a child process, and writes a validated plugin.json. */
export async function buildPlugin(dir: string): Promise<BuiltPlugin> {
  const root = resolve(dir);
  const outfile = join(root, bundleEntry);
  await bundle(root, outfile);
  return writeManifest(root);
}

/** After a bundle: reads its definition in a child process and writes a validated plugin.json. */
export async function writeManifest(root: string): Promise<BuiltPlugin> {
  const outfile = join(root, bundleEntry);
  // Node reads dist/plugin.js as ESM only when the nearest package.json says so; plugin dirs need not have one.
  await writeFile(join(root, 'dist', 'package.json'), '{ "type": "module" }\n');
  const definition = await describeBundle(outfile);
  const candidate = manifestOf(definition);
  const result = validateManifest(candidate);
  if (result.problems.length > 0) {
    const list = result.problems.map((p) => `${p.field}: ${p.message}`).join('; ');
    throw new PlugbayError(
      'PLUGBAY_MANIFEST_INVALID',
      `the definition in ${root} makes an invalid manifest: ${list}`,
      {
        details: { problems: result.problems },
      },
    );
  }
  await writeFile(join(root, 'plugin.json'), `${JSON.stringify(candidate, null, 2)}\n`);
  return { dir: root, manifest: candidate as Manifest };
}

/** esbuild's options for a plugin's bundle: `plugbay build` and `plugbay build --watch` build the same. */
export function bundleOptions(root: string) {
  return {
    entryPoints: [join(root, sourceEntry)],
    outfile: join(root, bundleEntry),
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Paths in the bundle's comments are relative to this, so the output does not depend on the caller's cwd.
    absWorkingDir: root,
    // Inline, so it travels inside the signed entry; without sources' text (they stay out of the artifact): a
    // throw maps back to src/index.ts:line (importPlugin in the SDK turns source maps on).
    sourcemap: 'inline',
    sourcesContent: false,
    // CommonJS dependencies bundled into ESM may call require() for Node built-ins.
    banner: {
      js: "import { createRequire as __plugbayCreateRequire } from 'node:module';\nconst require = __plugbayCreateRequire(import.meta.url);",
    },
    logLevel: 'silent',
  } satisfies BuildOptionsOfEsbuild;
}

/** esbuild's messages as `file:line: text`. */
export function bundleErrors(errors: Message[]): string[] {
  return errors.map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text));
}

async function bundle(root: string, outfile: string): Promise<void> {
  await mkdir(join(root, 'dist'), { recursive: true });
  try {
    await esbuild({
      ...bundleOptions(root),
      outfile,
    });
  } catch (err) {
    const text = bundleErrors((err as { errors?: Message[] }).errors ?? []);
    throw new PlugbayError(
      'PLUGBAY_LOAD_FAILED',
      `bundling ${join(root, sourceEntry)} failed: ${text.join('; ') || String(err)}`,
      {
        cause: err,
        details: { errors: text },
      },
    );
  }
}

/** The manifest of a definition, fields in a fixed order so that rebuilding gives the same bytes. */
export function manifestOf(def: DescribedPlugin): Record<string, unknown> {
  const [major, minor] = hostVersion.split('.');
  const functions: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(def.functions ?? {})) {
    functions[name] = pick({
      description: fn.description,
      input: fn.input,
      output: fn.output,
      timeoutMs: fn.timeoutMs,
      idempotent: fn.idempotent,
      examples: fn.examples,
    });
  }
  return pick({
    name: def.name,
    version: def.version,
    description: def.description,
    runtime: 'node',
    entry: bundleEntry,
    // What pack packs and sign signs: the bundle and the package.json that makes it ESM; never src/ or node_modules.
    files: ['dist/plugin.js', 'dist/package.json'],
    engines: { plugbay: def.engines?.plugbay ?? `^${major}.${minor}`, node: def.engines?.node ?? '>=20' },
    implements: def.implements,
    functions,
    permissions: def.permissions,
    config: def.config,
  });
}

function pick(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}
