/** Test support (not shipped behaviour): builds the wasm fixtures once and wraps a .wasm as a checked plugin. */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateManifest } from '../../core/manifest.js';
import type { CheckedPlugin, LoadOptions, PluginLogLine } from '../../core/types.js';
import { RecordingLog } from '../test-support.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../..');
const buildDir = path.join(repoRoot, 'test/fixtures/wasm/build');
let built: { built: string[]; skipped: Record<string, string> } | undefined;

/** Runs scripts/build-wasm-fixtures.mjs (once per process) and returns what was built or skipped. */
export function buildFixtures(): { built: string[]; skipped: Record<string, string> } {
  if (built === undefined) {
    execFileSync(process.execPath, [path.join(repoRoot, 'scripts/build-wasm-fixtures.mjs')], {
      stdio: 'pipe',
    });
    built = JSON.parse(readFileSync(path.join(buildDir, 'status.json'), 'utf8')) as typeof built;
  }
  return built!;
}

export function fixture(name: string): string {
  buildFixtures();
  return path.join(buildDir, `${name}.wasm`);
}

/** A temp plugin dir holding the module as plugin.wasm and a manifest; `cleanup` removes it. */
export function wasmPlugin(
  wasm: string,
  extra: Record<string, unknown> = {},
): { plugin: CheckedPlugin; dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'plugbay-wasm-'));
  copyFileSync(wasm, path.join(dir, 'plugin.wasm'));
  const raw = {
    name: path.basename(wasm, '.wasm').replace(/[^a-z0-9-]/g, '-'),
    version: '1.0.0',
    runtime: 'wasm',
    entry: 'plugin.wasm',
    functions: {},
    ...extra,
  };
  writeFileSync(path.join(dir, 'plugin.json'), JSON.stringify(raw, null, 2));
  const checked = validateManifest(raw);
  if (!('manifest' in checked)) throw new Error(`bad test manifest: ${JSON.stringify(checked.problems)}`);
  const m = checked.manifest;
  return {
    plugin: {
      id: `${m.name}@${m.version}`,
      dir,
      manifest: m,
      entryPath: path.join(dir, 'plugin.wasm'),
      permissions: m.permissions ?? {},
      warnings: [],
    },
    dir,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** LoadOptions whose log lines are collected in `lines`. */
export function loadOptions(
  signal: AbortSignal = new AbortController().signal,
): LoadOptions & { lines: PluginLogLine[] } {
  const log = new RecordingLog();
  return { log, signal, lines: log.lines };
}
