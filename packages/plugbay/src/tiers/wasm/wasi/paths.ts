/**
 * Path resolution inside a mount without ever letting the kernel follow a symlink. Node has no openat(), but on
 * Linux `/proc/self/fd/N/name` names `name` inside the directory open as N, whatever happens to that directory's
 * path afterwards. So a guest path is walked one component at a time from the directory descriptor it is relative
 * to (a preopen, or a directory the guest opened below one): each directory is opened with O_NOFOLLOW | O_DIRECTORY
 * relative to the descriptor of its parent, and the final call (open, stat, mkdir, unlink, ...) names its entry
 * relative to the descriptor of the last directory. A symlink met on the way is read and its text walked the same
 * way (absolute text is refused, `..` cannot climb above the starting descriptor), so nothing outside the mount is
 * ever reached, even when a directory on the path is swapped for a symlink
 * while the walk runs: the swapped-in symlink is either never looked at (the walk holds the directory's descriptor)
 * or met as a symlink and walked as text.
 * Without /proc (not Linux) the same walk uses host path strings: symlinks are still walked as text, but a
 * directory swapped between two steps is followed by the kernel; docs/security-model.md says so.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { E, WasiError } from './errno.js';

const MAX_SYMLINKS = 40;
/**
 * The walk holds a host descriptor per directory level (for `..`); a path deeper than this is NAMETOOLONG, so one
 * call cannot exhaust the process's descriptors (a guest builds any depth one level at a time through descriptors).
 */
export const MAX_DEPTH = 1024;
const procFd = (() => {
  try {
    return fs.statSync('/proc/self/fd').isDirectory();
  } catch {
    return false;
  }
})();

/** Test seam: runs before each step of a walk touches the filesystem (the race tests swap directories here). */
export const walkSteps: { before?: (step: string) => void } = {};

/** A directory descriptor of the host, with the host path it was opened at (for the no-/proc fallback). */
export interface HostDir {
  fd: number;
  hostPath: string;
}

/** The host path naming `name` inside `dir`: through /proc/self/fd when there is one. */
export function at(dir: HostDir, name: string): string {
  return procFd ? `/proc/self/fd/${dir.fd}/${name}` : path.join(dir.hostPath, name);
}

/** The host path directory descriptor `fd` really names (from /proc), or undefined without /proc. */
export function openedPath(fd: number): string | undefined {
  return procFd ? fs.readlinkSync(`/proc/self/fd/${fd}`) : undefined;
}

const DIR_FLAGS = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW;

/** The end of a walk: the directory holding the entry (open; close() it) and the entry's name in it. */
export interface Walk {
  dir: HostDir;
  /** `.` when the path names the directory itself (`a/..`, `.`, ``). */
  name: string;
  /** The path ended with `/` (or `/.`): the entry must be a directory. */
  mustBeDir: boolean;
  /** Components from the mount root to `dir`. */
  rel: string[];
  close(): void;
}

/**
 * Walks `guestPath` from directory `start` (open; `startRel`: its components below the mount root), which is
 * the walk's own root as the spec wants: `..` cannot climb above it even inside the mount. A final symlink is walked
 * too under `follow` (lookupflags SYMLINK_FOLLOW), and under `nofollow` when the path ends with `/`; under
 * `entry` (unlink, rmdir, rename, mkdir, link and symlink names) it is always the entry itself, as the kernel
 * treats those calls' last component.
 */
export function walk(
  start: HostDir,
  startRel: readonly string[],
  guestPath: string,
  final: 'follow' | 'nofollow' | 'entry',
): Walk {
  if (guestPath.includes('\0')) throw new WasiError(E.INVAL);
  if (guestPath.startsWith('/')) throw new WasiError(E.NOTCAPABLE);
  if (guestPath === '') throw new WasiError(E.NOENT);
  const stack: HostDir[] = [start];
  const rel: string[] = [...startRel];
  const closeAll = () => {
    for (const d of stack.splice(1)) fs.closeSync(d.fd);
  };
  try {
    let queue = guestPath.split('/');
    let mustBeDir = false;
    let links = 0;
    while (queue.length > 0) {
      const seg = queue.shift()!;
      const last = queue.every((s) => s === '');
      if (last && queue.length > 0) mustBeDir = true;
      if (seg === '' || seg === '.') {
        if (last && seg === '.') mustBeDir = true;
        continue;
      }
      if (seg === '..') {
        if (stack.length === 1) throw new WasiError(E.NOTCAPABLE);
        fs.closeSync(stack.pop()!.fd);
        rel.pop();
        if (last) mustBeDir = true;
        continue;
      }
      const top = stack.at(-1)!;
      const expand = (target: string) => {
        if (++links > MAX_SYMLINKS) throw new WasiError(E.LOOP);
        if (target.startsWith('/')) throw new WasiError(E.NOTCAPABLE);
        queue = [...target.split('/'), ...queue];
      };
      if (!last) {
        // A directory on the way: opened without following; only if that fails is it looked at (one syscall
        // per component when there is no symlink).
        try {
          descend(stack, rel, seg);
        } catch (err) {
          const code = (err as { code?: string }).code;
          const target = code === 'ENOTDIR' || code === 'ELOOP' ? readSymlink(top, seg) : undefined;
          if (target === undefined) throw err;
          expand(target);
        }
        continue;
      }
      if (final === 'follow' || (mustBeDir && final === 'nofollow')) {
        walkSteps.before?.(`lstat ${rel.concat(seg).join('/')}`);
        const target = readSymlink(top, seg);
        if (target !== undefined) {
          expand(target);
          continue;
        }
      }
      return end(start, stack, rel, seg, mustBeDir);
    }
    // The path named a directory already on the stack (`.`, `a/..`, `a/`): its entry is `.` in it.
    return end(start, stack, rel, '.', true);
  } catch (err) {
    closeAll();
    throw err;
  }
}

/** Hands the top of the stack to the caller (who closes it) and closes the directories below it. */
function end(start: HostDir, stack: HostDir[], rel: string[], name: string, mustBeDir: boolean): Walk {
  const dir = stack.pop()!;
  for (const d of stack.splice(1)) fs.closeSync(d.fd);
  return {
    dir,
    name,
    mustBeDir,
    rel: rel.slice(),
    close: () => {
      if (dir !== start) fs.closeSync(dir.fd);
    },
  };
}

/** Opens directory `seg` below the top of the stack, never following a symlink (ELOOP/ENOTDIR if it is one). */
function descend(stack: HostDir[], rel: string[], seg: string): void {
  const top = stack.at(-1)!;
  if (stack.length > MAX_DEPTH) throw new WasiError(E.NAMETOOLONG);
  walkSteps.before?.(`open ${rel.concat(seg).join('/')}`);
  const fd = fs.openSync(at(top, seg), DIR_FLAGS);
  stack.push({ fd, hostPath: path.join(top.hostPath, seg) });
  rel.push(seg);
}

/** The text of `name` in `dir` if it is a symlink; undefined if it is anything else or does not exist. */
function readSymlink(dir: HostDir, name: string): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(at(dir, name));
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
  if (!st.isSymbolicLink()) return undefined;
  return fs.readlinkSync(at(dir, name));
}
