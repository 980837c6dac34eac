import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { InstanceResources } from '../../core/types.js';

// Linux reports CPU time in clock ticks (USER_HZ, 100 on every mainstream architecture) and memory in pages; Node
// cannot ask sysconf, so these are the Linux constants, and on other systems nothing is reported.
const ticksPerSecond = 100;
const pageBytes = 4096;

/** The launchers the OS layers put between the host and a plugin (sandbox.ts); they exec or wait, never serve. */
const wrappers = new Set(['setpriv', 'prlimit', 'bwrap', 'unshare']);
/** The plugin process found below each spawned pid: found once, looked for again only when it is gone. */
const pluginPids = new Map<number, number>();

function fieldsOf(pid: number): { comm: string; rest: string[] } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces, so split after its closing parenthesis).
  return {
    comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    rest: stat.slice(stat.lastIndexOf(')') + 2).split(' '),
  };
}

/** The first process below `pid` that is not a sandbox launcher (`pid` itself when it is none): the plugin. */
function pluginPidBelow(pid: number): number {
  const known = pluginPids.get(pid);
  if (known !== undefined && existsSync(`/proc/${known}`)) return known;
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(fieldsOf(Number(entry)).rest[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // exited meanwhile
    }
  }
  for (const top of pluginPids.keys())
    if (!children.has(top) && !existsSync(`/proc/${top}`)) pluginPids.delete(top);
  let at = pid;
  while (wrappers.has(fieldsOf(at).comm)) {
    const next = children.get(at)?.[0];
    if (next === undefined) break;
    at = next;
  }
  pluginPids.set(pid, at);
  return at;
}

/**
 * RSS and CPU seconds of a plugin's process from /proc, given the pid the host spawned (the plugin's own process
 * below the sandbox launchers is what is measured); an empty object when they cannot be read.
 */
export function processResources(spawnedPid: number): InstanceResources {
  try {
    const pid = pluginPidBelow(spawnedPid);
    const statm = readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ');
    const fields = fieldsOf(pid).rest;
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const residentPages = Number(statm[1]);
    const out: InstanceResources = {};
    if (Number.isFinite(residentPages)) out.rssBytes = residentPages * pageBytes;
    if (Number.isFinite(utime) && Number.isFinite(stime)) out.cpuSeconds = (utime + stime) / ticksPerSecond;
    return out;
  } catch {
    return {};
  }
}
