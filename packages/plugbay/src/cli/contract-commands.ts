import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { checkAgainst } from '../contract/check.js';
import { type Change, diffSnapshots } from '../contract/diff.js';
import {
  type ContractSnapshot,
  readSnapshotFile,
  snapshotOf,
  snapshotToJson,
  writeSnapshotFile,
} from '../contract/snapshot.js';
import { PlugbayError } from '../core/errors.js';
import { validateManifest } from '../core/manifest.js';
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
    await writeSnapshotFile(args.out, snapshot);
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
  return withUsageErrors(async () => {
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
  return withUsageErrors(async () => {
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
  if (!isDir) return readSnapshotFile(path);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(path, 'plugin.json'), 'utf8'));
  } catch (err) {
    throw new PlugbayError(
      'PLUGBAY_MANIFEST_INVALID',
      `${path}/plugin.json cannot be read: ${(err as Error).message}`,
    );
  }
  const result = validateManifest(raw);
  if (!('manifest' in result)) {
    const list = result.problems.map((p) => `${p.field}: ${p.message}`).join('; ');
    throw new PlugbayError('PLUGBAY_MANIFEST_INVALID', `${path}/plugin.json is invalid: ${list}`);
  }
  return snapshotOf(result.manifest);
}
