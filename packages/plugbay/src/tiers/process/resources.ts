import { readFileSync } from 'node:fs';
import type { InstanceResources } from '../../core/types.js';

// Linux reports CPU time in clock ticks (USER_HZ, 100 on every mainstream architecture) and memory in pages; Node
// cannot ask sysconf, so these are the Linux constants, and on other systems nothing is reported.
const ticksPerSecond = 100;
const pageBytes = 4096;

/** RSS and CPU seconds of a child process from /proc; an empty object when they cannot be read. */
export function processResources(pid: number): InstanceResources {
  try {
    const statm = readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces, so split after its closing parenthesis).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
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
