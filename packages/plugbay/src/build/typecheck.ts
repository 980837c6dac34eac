/**
 * The typecheck of `plugbay build`: esbuild strips types without checking them, so a plugin with a tsconfig.json
 * is checked by its own TypeScript (`tsc --noEmit -p <dir>`, the compiler the project installed, as its editor
 * uses) before it is bundled. No tsconfig.json: nothing to check against, skipped.
 */
import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PlugbayError } from '../core/errors.js';

export type TypecheckResult = { status: 'passed' } | { status: 'skipped'; reason: string };

/** Runs the project's tsc on `root`; throws PLUGBAY_LOAD_FAILED (`details.rule: 'typecheck'`) on type errors. */
export async function typecheck(
  root: string,
  options: { timeoutMs?: number } = {},
): Promise<TypecheckResult> {
  const tsconfig = join(root, 'tsconfig.json');
  if (!(await exists(tsconfig))) return { status: 'skipped', reason: 'no tsconfig.json' };
  let tsc: string;
  try {
    tsc = join(dirname(createRequire(tsconfig).resolve('typescript/package.json')), 'bin/tsc');
  } catch {
    return {
      status: 'skipped',
      reason: 'typescript is not installed for this plugin (npm install -D typescript; --no-typecheck skips)',
    };
  }
  const result = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    execFile(
      process.execPath,
      [tsc, '--noEmit', '--pretty', 'false', '-p', root],
      { cwd: root, timeout: options.timeoutMs ?? 120_000, maxBuffer: 8 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        resolve({ code, stdout: `${stdout}${stderr}` });
      },
    );
  });
  if (result.code === 0) return { status: 'passed' };
  const errors = result.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(0, 50);
  const shown = errors.slice(0, 5).join('; ');
  const more = errors.length > 5 ? ` (and ${errors.length - 5} more)` : '';
  throw new PlugbayError(
    'PLUGBAY_LOAD_FAILED',
    `type errors (tsc --noEmit; plugbay build --no-typecheck skips): ${shown || `tsc exited ${result.code}`}${more}`,
    { details: { rule: 'typecheck', errors } },
  );
}

function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
