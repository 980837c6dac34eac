import { access, cp, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
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

export interface ScaffoldOptions {
  name: string;
  lang: Language;
  tier?: TierKind;
  /** The directory the project is created in (as `<parent>/<name without scope>`). Default: the current one. */
  parent?: string;
}

export interface Scaffolded {
  dir: string;
  lang: Language;
  tier: TierKind;
  files: string[];
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
  await rename(staging, dir);
  return { dir, lang: options.lang, tier, files: await listFiles(dir) };
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
