// Summarises a V8 .cpuprofile (node --cpu-prof) by self time: the top functions and the top files (a package
// under node_modules counts as one file per package file; node's own code is `node:<module>`).
// Usage: node bench/dist/cpuprofile-summary.js <file.cpuprofile> [--top N] [--json]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTime {
  name: string;
  ms: number;
  /** Share of all samples, idle included. */
  pct: number;
  /** Self time per request served in the windows (when their count is given). */
  usPerRequest?: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Busy time (idle left out) per request, when the count of requests is given. */
  busyUsPerRequest?: number;
  /** Share of the profile spent idle (waiting in epoll): 100 % minus it is the busy share. */
  idlePct: number;
  functions: SelfTime[];
  files: SelfTime[];
}

/** `file:///…/node_modules/fastify/lib/route.js` → `fastify/lib/route.js`; `node:internal/…` stays. */
export function shortFile(url: string): string {
  if (url === '') return '(native)';
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  if (nm !== -1) return path.slice(nm + '/node_modules/'.length);
  const pkg = path.match(/\/packages\/([^/]+)\/dist\/(.*)$/);
  if (pkg) return `${pkg[1]}/${pkg[2]}`;
  const bench = path.match(/\/bench\/dist\/(.*)$/);
  if (bench) return `bench/${bench[1]}`;
  return path;
}

/** A stretch of the monotonic clock in µs: `process.hrtime.bigint() / 1000n` in any process of this machine. */
export interface Window {
  fromUs: number;
  toUs: number;
}

/**
 * Self time per function and per file. `windows` (V8 stamps samples with the monotonic clock) keep only the
 * samples inside them, so that start-up, shutdown and the other server's rounds stay out; with `requests` (served
 * in those windows) every figure is also given per request.
 */
export function summarise(
  profile: CpuProfile,
  top = 25,
  windows?: Window[],
  requests?: number,
): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const self = new Map<number, number>();
  // timeDeltas[i] is the time from sample i-1 to sample i: it is charged to sample i's frame (as DevTools does).
  // Each sample counts as one sampling interval (the median gap), not as the gap before it: on a busy machine the
  // process is often descheduled, and the sample taken when it runs again would carry the whole wait (tens of ms
  // charged to whatever frame was on the stack, usually a syscall such as writev). Counting samples keeps the
  // figures close to CPU time.
  const gaps = [...profile.timeDeltas].sort((a, b) => a - b);
  const intervalUs = gaps[Math.floor(gaps.length / 2)] ?? 1000;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (windows !== undefined && !windows.some((w) => at >= w.fromUs && at <= w.toUs)) continue;
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + intervalUs);
  }
  const totalUs = [...self.values()].reduce((a, b) => a + b, 0);
  const fns = new Map<string, number>();
  const files = new Map<string, number>();
  let idleUs = 0;
  for (const [id, us] of self) {
    const frame = byId.get(id)!.callFrame;
    const file = shortFile(frame.url);
    const name = frame.functionName || '(anonymous)';
    if (name === '(idle)') idleUs += us;
    const key = frame.url === '' ? name : `${name} ${file}:${frame.lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    const fileKey = frame.url === '' ? name : file;
    files.set(fileKey, (files.get(fileKey) ?? 0) + us);
  }
  const rank = (m: Map<string, number>): SelfTime[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({
        name,
        ms: us / 1000,
        pct: (us / totalUs) * 100,
        ...(requests === undefined ? {} : { usPerRequest: us / requests }),
      }));
  return {
    totalMs: totalUs / 1000,
    ...(requests === undefined ? {} : { busyUsPerRequest: (totalUs - idleUs) / requests }),
    idlePct: (idleUs / totalUs) * 100,
    functions: rank(fns),
    files: rank(files),
  };
}

export function formatSummary(s: ProfileSummary): string {
  const rows = (xs: SelfTime[]) =>
    xs
      .map((x) => `${x.pct.toFixed(1).padStart(5)} %  ${x.ms.toFixed(0).padStart(6)} ms  ${x.name}`)
      .join('\n');
  return [
    `total ${s.totalMs.toFixed(0)} ms, idle ${s.idlePct.toFixed(1)} %`,
    '',
    'self time by function:',
    rows(s.functions),
    '',
    'self time by file:',
    rows(s.files),
  ].join('\n');
}

/**
 * What `b` spends per request beyond `a` (both summarised with `requests`), by function and by file, largest first:
 * what a gap between two servers is made of. Names found in one summary only count 0 in the other (summarise
 * both with a large `top`).
 */
export function compare(a: ProfileSummary, b: ProfileSummary, top = 25): string {
  const diff = (xs: SelfTime[], ys: SelfTime[]) => {
    const m = new Map<string, [number, number]>();
    for (const x of xs) m.set(x.name, [x.usPerRequest ?? 0, 0]);
    for (const y of ys) m.set(y.name, [m.get(y.name)?.[0] ?? 0, y.usPerRequest ?? 0]);
    return [...m]
      .filter(([name]) => name !== '(idle)')
      .sort((p, q) => q[1][1] - q[1][0] - (p[1][1] - p[1][0]))
      .slice(0, top)
      .map(
        ([name, [x, y]]) =>
          `${(y - x).toFixed(2).padStart(7)}  ${x.toFixed(2).padStart(6)}  ${y.toFixed(2).padStart(6)}  ${name}`,
      )
      .join('\n');
  };
  const head = '  added   first  second  (µs per request)';
  // writev is the response's send: the same one syscall per request on both sides (strace -c), whose samples on a
  // shared machine mostly count the time the process waited to run again inside it.
  const writev = (s: ProfileSummary) => s.functions.find((f) => f.name === 'writev')?.usPerRequest ?? 0;
  const busy = (s: ProfileSummary) => (s.busyUsPerRequest ?? 0) - writev(s);
  return [
    `busy µs per request: ${a.busyUsPerRequest?.toFixed(1)} → ${b.busyUsPerRequest?.toFixed(1)}; ` +
      `without writev: ${busy(a).toFixed(1)} → ${busy(b).toFixed(1)} (+${(busy(b) - busy(a)).toFixed(1)})`,
    '',
    'by function:',
    head,
    diff(a.functions, b.functions),
    '',
    'by file:',
    head,
    diff(a.files, b.files),
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, ...rest] = process.argv.slice(2);
  if (file === undefined) {
    console.error('usage: cpuprofile-summary <file.cpuprofile> [--top N] [--json]');
    process.exit(2);
  }
  const topAt = rest.indexOf('--top');
  const top = topAt === -1 ? 25 : Number(rest[topAt + 1]);
  const summary = summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, top);
  console.log(rest.includes('--json') ? JSON.stringify(summary) : formatSummary(summary));
}
