/**
 * The per-host directory for plugin sockets: `<root>/plugbay-<host pid>-XXXXXX`, removed on close. Directories left
 * by hosts that died (their pid is gone) are removed when a new one is made.
 */
import fs from 'node:fs';
import path from 'node:path';

const pattern = /^plugbay-(\d+)-/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes socket dirs of dead hosts under `root`; returns what was removed. */
export function cleanStaleSocketDirs(root: string): string[] {
  const removed: string[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync(root);
  } catch {
    return removed;
  }
  for (const name of entries) {
    const m = pattern.exec(name);
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || alive(pid)) continue;
    try {
      fs.rmSync(path.join(root, name), { recursive: true, force: true });
      removed.push(name);
    } catch {
      // another host cleaning at the same time, or not ours to remove
    }
  }
  return removed;
}

export function makeSocketDir(root: string): string {
  cleanStaleSocketDirs(root);
  const dir = fs.mkdtempSync(path.join(root, `plugbay-${process.pid}-`));
  // Others may pass (not list): a plugin with its own uid and no bind mount reaches its own launch dir in it.
  fs.chmodSync(dir, 0o711);
  return dir;
}
