/**
 * The host's content-addressed store of plugin versions: `<root>/<digest>/` holds a version's file set, each file
 * with its source's read and execute bits and no write bit (an owner-only file stays owner-only), directories 0555. Written to a temp dir and renamed into place in one step, so a
 * digest directory is either complete or absent; an existing one is reused. Tiers load only from here.
 */
import { randomBytes } from 'node:crypto';
import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PlugbayError } from '../core/errors.js';
import { digestOf, type VersionContents } from './contents.js';
import { readFolder } from './read.js';

export interface ArtifactStore {
  /** The store's directory. */
  readonly root: string;
  /** Writes `contents` under its digest (or reuses the directory already there); returns both. */
  put(contents: VersionContents): Promise<{ digest: string; dir: string }>;
  /** Removes the store when it is the host's own temp dir; a given directory stays. Idempotent. */
  close(): Promise<void>;
}

/** A store in `root` (created if needed), or, without one, in a fresh temp dir removed at close. */
export async function openArtifactStore(root?: string): Promise<ArtifactStore> {
  const owned = root === undefined;
  const dir = owned ? await mkdtemp(join(tmpdir(), 'plugbay-artifacts-')) : root;
  try {
    await mkdir(dir, { recursive: true });
    // Traversable by a plugin's own uid (process tier); the versions themselves are read-only.
    await chmod(dir, 0o755);
    await linkSdk(dir);
  } catch (err) {
    throw new PlugbayError(
      'PLUGBAY_INVALID_ARGUMENT',
      `options.artifactsDir: cannot create ${dir}: ${(err as Error).message}`,
      {
        cause: err,
        details: { option: 'artifactsDir' },
      },
    );
  }
  let closed = false;
  return {
    root: dir,
    async put(contents) {
      const digest = digestOf(contents);
      const target = join(dir, digest);
      if (await intact(target, digest)) return { digest, dir: target };
      const temp = join(dir, `.tmp-${digest.slice(0, 12)}-${randomBytes(6).toString('hex')}`);
      try {
        await writeTree(temp, contents);
        await rename(temp, target);
      } catch (err) {
        await removeTree(temp);
        // Another load of the same bytes renamed its copy first: that one is as good.
        if (await exists(target)) return { digest, dir: target };
        throw new PlugbayError(
          'PLUGBAY_LOAD_FAILED',
          `cannot store ${contents.source}: ${(err as Error).message}`,
          {
            cause: err,
            details: { artifactsDir: dir },
          },
        );
      }
      return { digest, dir: target };
    },
    async close() {
      if (closed || !owned) return;
      closed = true;
      await removeTree(dir);
    },
  };
}

/**
 * `<root>/node_modules/@plugbay/sdk` → the host's own SDK: a version importing `@plugbay/sdk` unbundled gets the
 * host's copy (host code, like the process tier's SDK entry); anything else a version imports must be in it.
 */
async function linkSdk(root: string): Promise<void> {
  const sdk = dirname(dirname(fileURLToPath(import.meta.resolve('@plugbay/sdk'))));
  const link = join(root, 'node_modules', '@plugbay', 'sdk');
  await mkdir(dirname(link), { recursive: true });
  const current = await readlink(link).catch(() => undefined);
  if (current === sdk) return;
  if (current !== undefined) await rm(link, { force: true });
  await symlink(sdk, link).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err; // another host on the same store linked it first
  });
}

async function writeTree(root: string, contents: VersionContents): Promise<void> {
  await mkdir(root, { mode: 0o700 });
  const dirs = new Set<string>();
  for (const [path, file] of contents.files) {
    const full = join(root, path);
    for (let d = dirname(full); d !== root && !dirs.has(d); d = dirname(d)) dirs.add(d);
    await mkdir(dirname(full), { recursive: true, mode: 0o700 });
    if ('symlink' in file) await symlink(file.symlink, full);
    else await writeFile(full, file.bytes, { flag: 'wx', mode: file.mode });
  }
  // Deepest first, so that a directory is made read-only only once everything below it is written.
  for (const d of [...dirs, root].sort((a, b) => b.length - a.length)) await chmod(d, 0o555);
}

/** rm -r of a tree made read-only: directories get their write bit back first (root needs none; others do). */
export async function removeTree(root: string): Promise<void> {
  const walk = async (d: string): Promise<void> => {
    await chmod(d, 0o700).catch(() => {});
    const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) if (e.isDirectory()) await walk(join(d, e.name));
  };
  await walk(root);
  await rm(root, { recursive: true, force: true });
}

/**
 * True when `target` holds exactly the version `digest` names. A copy that differs (written by someone else than
 * the host) is removed, so that it is written again from the verified bytes.
 */
async function intact(target: string, digest: string): Promise<boolean> {
  if (!(await exists(target))) return false;
  const stored = await readFolder(target).catch(() => undefined);
  if (stored !== undefined && digestOf(stored) === digest) return true;
  await removeTree(target);
  return false;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
