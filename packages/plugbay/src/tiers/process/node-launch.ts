/**
 * The command line of a Node plugin: the SDK's process entry under Node's permission model (inside the OS layers of
 * sandbox.ts, which bind the same paths read-only).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CheckedPlugin } from '../../core/types.js';
import { declaredEnv } from '../env.js';

/**
 * Directories a package needs to be loaded: its own and those of its dependencies, found the way Node's resolver
 * walks node_modules. Both the path as seen through symlinks (the resolver checks that one) and the real path.
 */
export function packageClosure(fromFile: string, names: string[]): string[] {
  const dirs = new Set<string>();
  const find = (fromDir: string, name: string): string | undefined => {
    let dir = fromDir;
    for (;;) {
      const candidate = path.join(dir, 'node_modules', name);
      if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
      const parent = path.dirname(dir);
      if (parent === dir) return undefined;
      dir = parent;
    }
  };
  const visit = (fromDir: string, name: string): void => {
    const found = find(fromDir, name);
    if (found === undefined) return; // optional or absent: loading it fails with an error naming it
    const real = fs.realpathSync(found);
    if (dirs.has(real)) return;
    dirs.add(real);
    dirs.add(found);
    const pkg = JSON.parse(fs.readFileSync(path.join(real, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    for (const dep of Object.keys(pkg.dependencies ?? {})) visit(real, dep);
  };
  for (const name of names) visit(path.dirname(fromFile), name);
  return [...dirs];
}

/** The package directory holding `file` (the nearest package.json above it). */
export function packageDirOf(file: string): string {
  let dir = path.dirname(fs.realpathSync(file));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return path.dirname(file);
    dir = parent;
  }
  return dir;
}

export interface NodeLaunchInput {
  plugin: CheckedPlugin;
  /** Path of the SDK's process entry (`@plugbay/sdk/process/main`). */
  sdkEntry: string;
  carrier: 'frames' | 'grpc';
  nodePath: string;
}

// Each launch asks the same questions of the file system and of Node: answered once per process, since they cost
// a cold start ~5 ms (frames) to ~15 ms (grpc, whose dependency closure reads a dozen package.json files).
const sdkDirsMemo = new Map<string, string[]>();
let permissionFlagMemo: string | undefined;

/** What the SDK's process entry needs to read: its package and, for the grpc carrier, grpc-js and its dependencies. */
function sdkReadDirs(sdkEntry: string, carrier: 'frames' | 'grpc'): string[] {
  const key = `${carrier}:${sdkEntry}`;
  let dirs = sdkDirsMemo.get(key);
  if (dirs === undefined) {
    dirs = [packageDirOf(sdkEntry)];
    // grpc-js is loaded only for the grpc carrier: only then may the plugin read it.
    if (carrier === 'grpc') dirs.push(...packageClosure(sdkEntry, ['@grpc/grpc-js']));
    sdkDirsMemo.set(key, dirs);
  }
  return dirs;
}

/** What a Node plugin's runtime reads besides its own folder: the node binary, the SDK (and grpc-js). */
export function nodeRuntimePaths(input: NodeLaunchInput): string[] {
  return [fs.realpathSync(input.nodePath), ...sdkReadDirs(input.sdkEntry, input.carrier)];
}

/** Node 22.13+/23.5+ call the flag --permission (the experimental name goes away later). */
function permissionFlag(): string {
  permissionFlagMemo ??= process.allowedNodeEnvironmentFlags.has('--permission')
    ? '--permission'
    : '--experimental-permission';
  return permissionFlagMemo;
}

/** Node flags from the manifest's permissions (DESIGN.md "Node facts": untrusted JS gets the permission model). */
export function nodeArgs(input: NodeLaunchInput): string[] {
  const { plugin, sdkEntry } = input;
  const perms = plugin.permissions;
  const read = new Set<string>([fs.realpathSync(plugin.dir), ...sdkReadDirs(sdkEntry, input.carrier)]);
  for (const p of perms.fs?.read ?? []) read.add(path.resolve(plugin.dir, p));
  const args = [permissionFlag(), '--disable-warning=ExperimentalWarning'];
  for (const p of read) args.push(`--allow-fs-read=${p}`);
  for (const p of perms.fs?.write ?? []) args.push(`--allow-fs-write=${path.resolve(plugin.dir, p)}`);
  if (perms.childProcess === true) args.push('--allow-child-process');
  // Never --allow-worker or --allow-addons: the manifest has no way to ask for them (DESIGN.md).
  if (perms.memoryMb !== undefined) args.push(`--max-old-space-size=${perms.memoryMb}`);
  // Its real path: Node resolves a symlinked main through paths the permission model does not let it read (the
  // host's import.meta.resolve has been seen to answer with the node_modules symlink).
  args.push(fs.realpathSync(sdkEntry));
  return args;
}

/** Only the variables the plugin declared, plus the launch protocol's own. */
export function pluginEnv(
  declared: readonly string[] | undefined,
  launchVars: Record<string, string>,
): Record<string, string> {
  return { ...declaredEnv(declared ?? []), ...launchVars };
}

const grpcUrlMemo = new Map<string, string | undefined>();

/** The real file URL of grpc-js as the SDK entry would load it (passed to the plugin as PLUGBAY_GRPC_MODULE). */
export function grpcModuleUrl(sdkEntry: string): string | undefined {
  if (grpcUrlMemo.has(sdkEntry)) return grpcUrlMemo.get(sdkEntry);
  let url: string | undefined;
  try {
    url = pathToFileURL(createRequire(sdkEntry).resolve('@grpc/grpc-js')).href;
  } catch {
    url = undefined;
  }
  grpcUrlMemo.set(sdkEntry, url);
  return url;
}
