import { constants, readFileSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { checkAgainst } from '../contract/check.js';
import type { Change } from '../contract/diff.js';
import { diffSnapshots } from '../contract/gate.js';
import {
  type ContractSnapshot,
  parseSnapshot,
  snapshotOf,
  snapshotToJson,
  writeSnapshotFile,
} from '../contract/snapshot.js';
import { PlugbayError } from '../core/errors.js';
import { type CommandResult, withUsageErrors } from './command-result.js';

// Exit codes of the contract commands: 0 compatible / passed, 1 breaking / failed, 2 usage or unreadable input.

/** `plugbay contract snapshot <pluginDir> [--out file]`: the snapshot JSON, written to `out` or returned as output. */
export async function contractSnapshotCommand(args: {
  pluginDir: string;
  out?: string;
}): Promise<CommandResult> {
  return withUsageErrors(async () => {
    const snapshot = await loadSnapshot(args.pluginDir);
    if (args.out === undefined) return { exitCode: 0, output: snapshotToJson(snapshot) };
    try {
      await writeSnapshotFile(args.out, snapshot);
    } catch (err) {
      // A missing directory or a directory in the way: the user's input, not a bug (no stack trace).
      throw new PlugbayError(
        'PLUGBAY_INVALID_ARGUMENT',
        `cannot write ${args.out}: ${(err as Error).message}`,
      );
    }
    return {
      exitCode: 0,
      output: `wrote ${args.out} (${snapshot.name}@${snapshot.version}, ${Object.keys(snapshot.functions).length} functions)\n`,
    };
  });
}

/** What diff and check print: JSON with `json`; `allowUnknown` counts unknown changes as compatible. */
interface CompareOptions {
  json?: boolean;
  allowUnknown?: boolean;
}

/** `plugbay contract diff <old> <new> [--json] [--allow-unknown]`; each side a snapshot file or a plugin directory. */
export async function contractDiffCommand(
  args: { before: string; after: string } & CompareOptions,
): Promise<CommandResult> {
  return jsonErrors(args.json, async () => {
    const result = diffSnapshots(await loadSnapshot(args.before), await loadSnapshot(args.after), {
      allowUnknown: args.allowUnknown,
    });
    return printed(result.breaking ? 1 : 0, args.json, result, () => {
      const { breaking, compatible, unknown } = result.counts;
      return [
        ...result.changes.map(formatChange),
        `${breaking} breaking, ${compatible} compatible, ${unknown} unknown${args.allowUnknown ? ' (allowed)' : ''}`,
      ];
    });
  });
}

/** `plugbay contract check <pluginDir> --against <snapshot> [--json] [--allow-unknown]`: the CI gate. */
export async function contractCheckCommand(
  args: { pluginDir: string; against: string } & CompareOptions,
): Promise<CommandResult> {
  return jsonErrors(args.json, async () => {
    const result = checkAgainst(await loadSnapshot(args.against), await loadSnapshot(args.pluginDir), {
      allowUnknown: args.allowUnknown,
    });
    return printed(result.ok ? 0 : 1, args.json, result, () => [
      ...result.errors.map((e) => `error: ${e.message}`),
      ...result.warnings.map((w) => `warning: ${w.message}`),
      result.ok
        ? `ok (${result.changes.length} changes, bump: ${result.bump})`
        : `failed: ${result.errors.length} error(s)`,
    ]);
  });
}

/** Exit 2 on a bad input, as withUsageErrors; with `json` the error is `{"error": {code, message}}` too. */
async function jsonErrors(
  json: boolean | undefined,
  run: () => Promise<CommandResult>,
): Promise<CommandResult> {
  if (!json) return withUsageErrors(run);
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof PlugbayError)) throw err;
    return {
      exitCode: 2,
      output: `${JSON.stringify({ error: { code: err.code, message: err.message } })}\n`,
    };
  }
}

/** The result as indented JSON with `json`, otherwise the lines. */
function printed(
  exitCode: number,
  json: boolean | undefined,
  result: unknown,
  lines: () => string[],
): CommandResult {
  return { exitCode, output: json ? `${JSON.stringify(result, null, 2)}\n` : `${lines().join('\n')}\n` };
}

function formatChange(c: Change): string {
  return `${c.verdict.padEnd(10)} ${c.rule.padEnd(36)} ${c.message}`;
}

/** A snapshot file, or a plugin directory (its plugin.json). */
export async function loadSnapshot(path: string): Promise<ContractSnapshot> {
  let isDir = false;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (err) {
    throw new PlugbayError('PLUGBAY_INVALID_ARGUMENT', `${path} cannot be read: ${(err as Error).message}`);
  }
  if (!isDir) return parseSnapshot(await readJson(path, 'PLUGBAY_INVALID_ARGUMENT'), path);
  const manifestPath = join(path, 'plugin.json');
  // Loaded only for a plugin folder: diffing two snapshot files (a CI gate's usual job) skips their start-up cost.
  const [{ validateManifest }, { completeGoPluginManifest }] = await Promise.all([
    import('../core/manifest.js'),
    import('../tiers/process/proto-manifest.js'),
  ]);
  let result = validateManifest(await readJson(manifestPath, 'PLUGBAY_MANIFEST_INVALID'));
  // go-plugin: the functions and schemas the host derives from the .proto are the contract.
  if ('manifest' in result)
    result = completeGoPluginManifest(result.manifest, (file) => readInside(path, file));
  if (!('manifest' in result)) {
    const list = result.problems.map((p) => `${p.field}: ${p.message}`).join('; ');
    throw new PlugbayError('PLUGBAY_MANIFEST_INVALID', `${manifestPath} is invalid: ${list}`);
  }
  return snapshotOf(result.manifest);
}

/** A file of the plugin folder as text; undefined when absent or outside the folder. */
function readInside(dir: string, file: string): string | undefined {
  const full = resolve(dir, file);
  const rel = relative(resolve(dir), full);
  if (rel.startsWith('..') || isAbsolute(rel)) return undefined;
  try {
    return readFileSync(full, 'utf8');
  } catch {
    return undefined;
  }
}

/** Far above any real contract; a bigger file is a mistake, not something to parse. */
const maxFileBytes = 64 * 1024 * 1024;

/**
 * Parses a JSON file, BOM or not. Opened non-blocking and checked with fstat before reading: a FIFO (or a device)
 * would block the read forever, and a huge file would fill the memory.
 */
async function readJson(
  path: string,
  code: 'PLUGBAY_INVALID_ARGUMENT' | 'PLUGBAY_MANIFEST_INVALID',
): Promise<unknown> {
  const fail = (reason: string): never => {
    throw new PlugbayError(code, `${path} cannot be read: ${reason}`);
  };
  let text = '';
  try {
    const file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const info = await file.stat();
      if (!info.isFile()) fail('not a regular file');
      if (info.size > maxFileBytes) fail(`larger than ${maxFileBytes / 1024 / 1024} MiB`);
      text = await file.readFile('utf8');
    } finally {
      await file.close();
    }
  } catch (err) {
    if (err instanceof PlugbayError) throw err;
    fail((err as Error).message);
  }
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    return fail((err as Error).message);
  }
}
