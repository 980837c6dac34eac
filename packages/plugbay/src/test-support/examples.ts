// The examples `npm start` serves (examples/plugins), as the tests that cover them see them: each with its parsed
// plugin.json and, when its toolchain is missing here, why it was not built. Which language an example is and
// whether its toolchain is installed come from scripts/lib/toolchains.mjs, the module the build itself uses.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Manifest } from '../core/manifest.js';
import { repoRoot } from './cli.js';

export const examplesDir = join(repoRoot, 'examples/plugins');

/** Broken on purpose (README tour, `plugbay check`): never loads. */
const brokenOnPurpose = new Set(['broken-manifest']);

export type ExampleLanguage = 'ts' | 'c' | 'rust' | 'assemblyscript' | 'go';

export interface Example {
  /** The directory name (greeter@1.0.0, hash, …). */
  dirName: string;
  dir: string;
  lang: ExampleLanguage;
  manifest: Manifest;
  /** Set when the example's toolchain is not installed here: the tool that is missing. */
  missingToolchain?: string;
}

interface Toolchains {
  languageOf(dir: string): Exclude<ExampleLanguage, 'ts'> | undefined;
  toolchains: Record<Exclude<ExampleLanguage, 'ts'>, { missing(): string | undefined }>;
}

/** Every example but the broken one, sorted by directory. Fails when one has no plugin.json (not built). */
export async function listExamples(): Promise<Example[]> {
  // A plain script outside the TS project, so imported at run time by its path.
  const lib = (await import(pathToFileURL(join(repoRoot, 'scripts/lib/toolchains.mjs')).href)) as Toolchains;
  const entries = await readdir(examplesDir, { withFileTypes: true });
  const examples: Example[] = [];
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    if (brokenOnPurpose.has(entry.name)) continue;
    const dir = join(examplesDir, entry.name);
    const lang = lib.languageOf(dir) ?? 'ts';
    let manifest: Manifest;
    try {
      manifest = JSON.parse(await readFile(join(dir, 'plugin.json'), 'utf8')) as Manifest;
    } catch (err) {
      throw new Error(
        `examples are not built (${entry.name}: ${(err as Error).message}): run \`npm run build\``,
      );
    }
    const missing = lang === 'ts' ? undefined : lib.toolchains[lang].missing();
    examples.push({
      dirName: entry.name,
      dir,
      lang,
      manifest,
      ...(missing ? { missingToolchain: missing } : {}),
    });
  }
  return examples;
}

/**
 * Why a test must skip this example, or false. CI installs every toolchain, so there a missing one is a failure,
 * never a skip (the build already failed; the test then fails on the missing plugin).
 */
export function skipReason(example: Example): string | false {
  return example.missingToolchain && !process.env.CI
    ? `${example.dirName}: ${example.missingToolchain} is not installed (bash scripts/setup.sh examples)`
    : false;
}
