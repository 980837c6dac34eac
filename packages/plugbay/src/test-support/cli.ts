// Helpers for tests that run the real `plugbay` CLI in a child process.
import { type ChildProcess, spawn } from 'node:child_process';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cleanup } from './cleanup.js';

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
export function runPlugbay(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, ...options.env },
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
 * Starts `plugbay serve <dir> --port 0 ...extra` with its own state file, waits until its plugins are loaded, and
 * returns its base URL (and the admin listener's, from its log line, with `--admin-port`). Killed after the test.
 */
export async function servePlugbay(
  t: TestContext,
  dir: string,
  extra: string[],
  state: string,
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
) {
  // Its own state file: the default (.plugbay/state.db in the repo) is locked by any other serve running.
  const child = startPlugbay(['serve', dir, '--port', '0', '--state', state, ...extra], options);
  cleanup(t, async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await exitOf(child);
  });
  const listening = waitForLog(child, (l) => typeof l.port === 'number');
  const adminListening = extra.includes('--admin-port')
    ? waitForLog(child, (l) => typeof l.adminUrl === 'string')
    : undefined;
  const ready = waitForLog(child, (l) => l.msg === 'plugbay ready');
  const { port } = await listening;
  const url = `http://127.0.0.1:${port}`;
  const adminUrl = adminListening === undefined ? url : String((await adminListening).adminUrl);
  await ready;
  return { child, url, adminUrl };
}

/**
 * Makes the repo's node_modules visible from a temp dir, as `npm install @plugbay/sdk` would in a plugin
 * author's project: `plugbay build` resolves the SDK from there.
 */
export async function linkNodeModules(dir: string): Promise<void> {
  await symlink(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
}

/** A JSON log line of `plugbay serve`. */
export type LogLine = Record<string, unknown> & { msg?: string };

/**
 * Reads the child's stderr as JSON log lines and resolves with the first that `match` accepts; rejects when the
 * child exits first (with what it printed, for the failure message).
 */
export function waitForLog(child: ChildProcess, match: (line: LogLine) => boolean): Promise<LogLine> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let seen = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl = buffered.indexOf('\n');
      while (nl !== -1) {
        const text = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        seen += `${text}\n`;
        nl = buffered.indexOf('\n');
        let line: LogLine;
        try {
          line = JSON.parse(text) as LogLine;
        } catch {
          continue;
        }
        if (match(line)) {
          stopListening();
          resolve(line);
          return;
        }
      }
    };
    const onExit = (code: number | null) => {
      stopListening();
      reject(
        new Error(`plugbay exited (${code}) before the expected log line; it printed:\n${seen}${buffered}`),
      );
    };
    const stopListening = () => {
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
    };
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Resolves with the exit code once the child has exited. */
export function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/**
 * The child's stdout and stderr lines (a line split across chunks is joined first), handed out in order to
 * whoever waits for a matching one; rejects when the child exits without printing one.
 */
export function outputLines(child: ChildProcess) {
  const seen: string[] = [];
  let wake: (() => void) | undefined;
  const reader = () => {
    let partial = '';
    return (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      seen.push(...parts.filter((l) => l !== ''));
      wake?.();
    };
  };
  child.stdout?.setEncoding('utf8').on('data', reader());
  child.stderr?.setEncoding('utf8').on('data', reader());
  child.once('exit', () => wake?.());
  let from = 0;
  return {
    async next(match: RegExp): Promise<string> {
      for (;;) {
        const i = seen.findIndex((l, k) => k >= from && match.test(l));
        if (i !== -1) {
          from = i + 1;
          return seen[i]!;
        }
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`exited before printing ${match}; it printed:\n${seen.join('\n')}`);
        await new Promise<void>((r) => {
          wake = r;
        });
      }
    },
  };
}
