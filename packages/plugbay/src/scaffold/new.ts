import { access, cp, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PlugbayError } from '../core/errors.js';
import { manifestSchema } from '../core/manifest-schema.js';
import { didYouMean } from '../core/suggest.js';
import type { TierKind } from '../core/types.js';

export const languages = ['ts', 'assemblyscript', 'c', 'rust', 'go'] as const;
export type Language = (typeof languages)[number];

/** The tiers each language's plugins can run in; the first is the default. */
export const tiersOf: Record<Language, readonly TierKind[]> = {
  ts: ['thread', 'inline', 'process'],
  assemblyscript: ['wasm'],
  c: ['wasm'],
  rust: ['wasm'],
  go: ['process'],
};

/** Where the templates are: packages/plugbay/templates (dist/scaffold → ../../templates). */
export const templatesDir = fileURLToPath(new URL('../../templates/', import.meta.url));

/** The packages a project's package.json names that this install of plugbay can provide. */
const ownPackages = ['plugbay', '@plugbay/sdk'] as const;

export interface ScaffoldOptions {
  name: string;
  lang: Language;
  tier?: TierKind;
  /** The directory the project is created in (as `<parent>/<name without scope>`). Default: the current one. */
  parent?: string;
  /**
   * Where the project's `plugbay` and `@plugbay/sdk` come from. `local` (the default): `file:` links to the plugbay
   * install that makes the scaffold (so `npm install` needs no registry for them, and the versions match the
   * CLI's); `registry`: semver ranges, for when the packages are published to the registry the project uses.
   */
  deps?: 'local' | 'registry';
}

export interface Scaffolded {
  dir: string;
  lang: Language;
  tier: TierKind;
  files: string[];
  /** The specs written for plugbay's own packages (`file:…` with deps `local`), by package name. */
  dependencies: Record<string, string>;
}

const namePattern = new RegExp(manifestSchema.properties.name.pattern as string);

/** Checks the options at once; PLUGBAY_INVALID_ARGUMENT lists every broken rule. */
export function checkScaffoldOptions(o: ScaffoldOptions): { tier: TierKind } {
  const problems: string[] = [];
  if (typeof o.name !== 'string' || !namePattern.test(o.name) || o.name.length > 214) {
    problems.push(
      `name "${o.name}" must be lowercase letters, digits and dashes, starting with a letter or digit, optionally @scope/ (the manifest's rule)`,
    );
  }
  const knownLanguage = languages.includes(o.lang);
  if (!knownLanguage) {
    problems.push(
      `lang "${o.lang}" is not one plugbay new makes: use ${languages.join(', ')}${didYouMean(String(o.lang), languages)}`,
    );
  }
  const allowed = tiersOf[o.lang] ?? [];
  const tier = o.tier ?? allowed[0];
  // An unknown language has no tiers to check: its own problem says it all.
  if (knownLanguage && (tier === undefined || (o.tier !== undefined && !allowed.includes(o.tier)))) {
    problems.push(`tier "${o.tier}" does not run ${o.lang} plugins; use ${allowed.join(' or ') || '-'}`);
  }
  if (problems.length > 0 || tier === undefined) {
    throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', problems.join('; '), { details: { problems } });
  }
  return { tier };
}

/**
 * Creates a plugin project from templates/<lang>: placeholders __NAME__, __SLUG__ and __TIER__ are filled in and
 * `_gitignore` becomes `.gitignore` (npm drops .gitignore files from packages). Refuses an existing directory.
 */
export async function scaffold(options: ScaffoldOptions): Promise<Scaffolded> {
  const { tier } = checkScaffoldOptions(options);
  const slug = options.name.replace(/^@/, '').replace('/', '-');
  const dir = resolve(options.parent ?? '.', options.name.replace(/^@[^/]+\//, ''));
  if (await exists(dir)) {
    throw new PlugbayError(
      'PLUGBAY_INVALID_ARGUMENT',
      `${dir} already exists; plugbay new never overwrites`,
      {
        details: { dir },
      },
    );
  }
  await mkdir(resolve(dir, '..'), { recursive: true });
  // Copy to a sibling first and rename, so a failure leaves no half-made project behind.
  const staging = `${dir}.plugbay-new-${process.pid}`;
  await cp(join(templatesDir, options.lang), staging, { recursive: true, errorOnExist: true, force: false });
  const files = await listFiles(staging);
  for (const file of files) {
    const path = join(staging, file);
    const text = await readFile(path, 'utf8');
    const filled = text
      .replaceAll('__NAME__', options.name)
      .replaceAll('__SLUG__', slug)
      .replaceAll('__TIER__', tier);
    if (filled !== text) await writeFile(path, filled);
  }
  for (const file of files.filter((f) => f.endsWith('_gitignore'))) {
    await rename(join(staging, file), join(staging, file.replace(/_gitignore$/, '.gitignore')));
  }
  const dependencies =
    options.deps === 'registry' || !files.includes('package.json')
      ? {}
      : await linkOwnPackages(join(staging, 'package.json'), dir);
  await rename(staging, dir);
  return { dir, lang: options.lang, tier, files: await listFiles(dir), dependencies };
}

/**
 * Points the project's plugbay and @plugbay/sdk at this install (relative `file:` paths from the project's final
 * `dir`): npm links them instead of asking a registry that may not have them. Returns what it wrote.
 */
async function linkOwnPackages(packageJson: string, dir: string): Promise<Record<string, string>> {
  const pkg = JSON.parse(await readFile(packageJson, 'utf8')) as Record<string, Record<string, string>>;
  const written: Record<string, string> = {};
  for (const name of ownPackages) {
    for (const field of ['dependencies', 'devDependencies'] as const) {
      const deps = pkg[field];
      if (deps?.[name] === undefined) continue;
      const path = relative(dir, installedPackageDir(name)).split(sep).join('/');
      deps[name] = `file:${path}`;
      written[name] = deps[name];
    }
  }
  await writeFile(packageJson, `${JSON.stringify(pkg, null, 2)}\n`);
  return written;
}

/** The folder of plugbay (this package) or of the @plugbay/sdk it resolves, symlinks followed. */
function installedPackageDir(name: (typeof ownPackages)[number]): string {
  if (name === 'plugbay') return dirname(templatesDir);
  return dirname(createRequire(import.meta.url).resolve('@plugbay/sdk/package.json'));
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function listFiles(root: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(root, prefix), { withFileTypes: true })) {
    const rel = join(prefix, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(root, rel)));
    else out.push(rel);
  }
  return out.sort();
}
