// Helpers for tests that run the real `plugbay` CLI in a child process.
import { type ChildProcess, spawn } from 'node:child_process';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled CLI entry (tests run from dist). */
export const cliPath = fileURLToPath(new URL('../cli/main.js', import.meta.url));
/** The repository root: dist/test-support → packages/plugbay → repo. */
export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `plugbay ...args` to completion. */
export function runPlugbay(args: string[], options: { cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      cwd: options.cwd ?? repoRoot,
      stdio: 'pipe',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts `plugbay ...args` and leaves it running; the caller ends it. */
export function startPlugbay(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): ChildProcess {
  return spawn(process.execPath, [cliPath, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * Makes the repo's node_modules visible from a temp dir, as `npm install @plugbay/sdk` would in a plugin
 * author's project: `plugbay build` resolves the SDK from there.
 */
export async function linkNodeModules(dir: string): Promise<void> {
  await symlink(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
}
